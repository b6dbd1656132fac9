"""The REST API: regional, API key + usage plan linked to the stage, request validation, access logs, tracing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, Names, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..runtime import config
from .nag import acknowledge, acknowledge_each
from .options import ThrottleOptions

OPENAPI_DOCUMENT = Path(__file__).resolve().parent.parent / "runtime" / "openapi.json"
CORS_HEADERS = list(config.CORS_ALLOW_HEADERS)


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the runtime models generate (read, never imported: no Pydantic here)."""
    document: dict[str, Any] = json.loads(OPENAPI_DOCUMENT.read_text(encoding="utf-8"))
    return document


def request_parameters(path: str, method: str) -> dict[str, bool]:
    """API Gateway request parameters (query strings and headers) of an operation, required or not."""
    operation = openapi_document()["paths"][path][method]
    return {
        f"method.request.{'querystring' if p['in'] == 'query' else p['in']}.{p['name']}": bool(p["required"])
        for p in operation.get("parameters", [])
        if p["in"] in ("query", "header")
    }


_SCHEMA_KEYWORDS = {
    "type": "type", "pattern": "pattern", "minLength": "min_length", "maxLength": "max_length",
    "minimum": "minimum", "maximum": "maximum", "required": "required", "description": "description",
}  # fmt: skip


def gateway_model_schema(name: str) -> apigw.JsonSchema:
    """An API Gateway (JSON Schema draft 4) model of a component schema, references inlined."""
    schemas = openapi_document()["components"]["schemas"]

    def convert(schema: dict[str, Any]) -> apigw.JsonSchema:
        if "$ref" in schema:
            return convert(schemas[schema["$ref"].rsplit("/", 1)[-1]])
        kwargs: dict[str, Any] = {}
        for key, prop in _SCHEMA_KEYWORDS.items():
            if key in schema:
                kwargs[prop] = schema[key]
        if "type" in kwargs:
            kwargs["type"] = apigw.JsonSchemaType[str(kwargs["type"]).upper()]
        if "properties" in schema:
            kwargs["properties"] = {key: convert(value) for key, value in schema["properties"].items()}
        if schema.get("additionalProperties") is False:
            kwargs["additional_properties"] = False
        return apigw.JsonSchema(schema=apigw.JsonSchemaVersion.DRAFT4, **kwargs)

    return convert(schemas[name])


class Api(Construct):
    """Attributes: ``rest_api``, ``stage``, ``api_keys`` and ``usage_plans`` (by partner name; ``api_key`` and
    ``usage_plan`` are the first), ``booking_method``, ``access_log_group``, ``request_validator``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        search_function: lambda_.IFunction,
        booking_function: lambda_.IFunction,
        stage_name: str,
        throttle: ThrottleOptions,
        log_retention: logs.RetentionDays,
        cors_allowed_origins: Sequence[str],
        authorizer: apigw.IAuthorizer | None,
        iam_authorization: bool,
        cloud_watch_role: bool,
        web_acl_arn: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_log_group = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        if authorizer is not None:
            method_auth = apigw.MethodOptions(
                api_key_required=True, authorizer=authorizer, authorization_type=authorizer.authorization_type
            )
        elif iam_authorization:
            method_auth = apigw.MethodOptions(api_key_required=True, authorization_type=apigw.AuthorizationType.IAM)
        else:
            method_auth = apigw.MethodOptions(api_key_required=True)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            # API Gateway metrics are keyed by ApiName: two instances must never share one.
            rest_api_name=Names.unique_resource_name(self, max_length=128, separator="-"),
            description="cached-booking-api",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=cloud_watch_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if cloud_watch_role else None,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),  # fmt: skip
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                tracing_enabled=True,
                metrics_enabled=True,
                # Stage limits apply to all clients together: sized from the expected total load, above every plan.
                throttling_rate_limit=throttle.stage_rate_limit,
                throttling_burst_limit=throttle.stage_burst_limit,
                method_options={
                    "/bookings/POST": apigw.MethodDeploymentOptions(
                        throttling_rate_limit=throttle.booking_method_rate_limit,
                        throttling_burst_limit=max(1, int(throttle.booking_method_rate_limit * 2)),
                    )
                },
            ),
            default_method_options=method_auth,
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(cors_allowed_origins),
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=CORS_HEADERS,
            )
            if cors_allowed_origins
            else None,
        )
        self.stage = self.rest_api.deployment_stage
        self.request_validator = self.rest_api.add_request_validator(
            "Validator", validate_request_parameters=True, validate_request_body=True
        )
        root = self.rest_api.root
        search = root.add_resource("search")
        search.add_method(
            "GET",
            apigw.LambdaIntegration(search_function, proxy=True),
            request_parameters=request_parameters("/search", "get"),
            request_validator=self.request_validator,
        )
        self.booking_request_model = self.rest_api.add_model(
            "BookingRequestModel", content_type="application/json", schema=gateway_model_schema("BookingRequest")
        )
        bookings = root.add_resource("bookings")
        # One integration for the booking function's three methods (each binds it to itself: its own permission).
        booking_integration = apigw.LambdaIntegration(booking_function, proxy=True)
        self.booking_method = bookings.add_method(
            "POST",
            booking_integration,
            request_parameters=request_parameters("/bookings", "post"),
            request_models={"application/json": self.booking_request_model},
            request_validator=self.request_validator,
        )
        booking = bookings.add_resource("{bookingId}")
        for verb in ("GET", "DELETE"):  # read and cancel: both scoped to the API key that made the booking
            booking.add_method(
                verb,
                booking_integration,
                request_parameters={"method.request.path.bookingId": True},
                request_validator=self.request_validator,
            )
        self._error_responses(cors_allowed_origins)

        # One API key and usage plan per partner (usage-plan limits apply per key), each below the stage limit.
        self.api_keys: dict[str, apigw.IApiKey] = {}
        self.usage_plans: dict[str, apigw.UsagePlan] = {}
        for partner in throttle.effective_partners:
            suffix = "" if partner.name == "default" and not throttle.partners else partner.name
            key = self.rest_api.add_api_key(f"ApiKey{suffix}", description=f"cached-booking-api key: {partner.name}")
            booking_rate = min(partner.rate_limit, throttle.booking_method_rate_limit)
            plan = self.rest_api.add_usage_plan(
                f"UsagePlan{suffix}",
                description=f"cached-booking-api partner {partner.name}",
                throttle=apigw.ThrottleSettings(rate_limit=partner.rate_limit, burst_limit=partner.burst_limit),
                quota=apigw.QuotaSettings(limit=partner.quota_limit, period=apigw.Period[partner.quota_period])
                if partner.quota_limit
                else None,
                api_stages=[
                    apigw.UsagePlanPerApiStage(
                        api=self.rest_api,
                        stage=self.stage,
                        throttle=[
                            apigw.ThrottlingPerMethod(
                                method=self.booking_method,
                                throttle=apigw.ThrottleSettings(
                                    rate_limit=booking_rate, burst_limit=max(1, min(partner.burst_limit,
                                                                                   int(booking_rate * 2)))
                                ),
                            )
                        ],
                    )
                ],
            )  # fmt: skip
            plan.add_api_key(key)
            self.api_keys[partner.name] = key
            self.usage_plans[partner.name] = plan
        first = throttle.effective_partners[0].name
        self.api_key = self.api_keys[first]
        self.usage_plan = self.usage_plans[first]

        if web_acl_arn:
            from aws_cdk import aws_wafv2 as wafv2

            wafv2.CfnWebACLAssociation(self, "WebAcl", resource_arn=self.stage.stage_arn, web_acl_arn=web_acl_arn)
        else:
            acknowledge(
                self.stage,
                "AwsSolutions-APIG3",
                "WAF is opt-in (prop web_acl_arn): every method needs an API key and the usage plan throttles each "
                "key; a web ACL adds >= $5/month plus per-request fees the default configuration avoids.",
            )
        if cloud_watch_role:
            acknowledge(
                self.rest_api.node.find_child("CloudWatchRole"),
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                "The account-level role API Gateway needs for execution logs; AWS documents this managed policy "
                "for it and it grants only CloudWatch Logs writes. Turn off with cloud_watch_role=False when the "
                "account already has one.",
            )
        method_findings: list[tuple[str, str]] = []
        if authorizer is None or authorizer.authorization_type != apigw.AuthorizationType.COGNITO:
            method_findings.append((
                "AwsSolutions-COG4",
                "Clients are partner systems identified by API key (usage plan); user authorization is the optional "
                "authorizer prop (IAM, Lambda or Cognito), chosen by the platform team.",
            ))  # fmt: skip
        if authorizer is None and not iam_authorization:
            method_findings.append((
                "AwsSolutions-APIG4",
                "Every method requires an API key bound to a throttled usage plan; an IAM/Cognito/Lambda authorizer "
                "is opt-in (props authorizer / iam_authorization). CORS preflight must stay open.",
            ))  # fmt: skip
        if method_findings:
            for method in self.rest_api.methods:
                acknowledge_each(method, method_findings)

    def _error_responses(self, cors_allowed_origins: Sequence[str]) -> None:
        """Answers API Gateway gives itself (validation, missing key, throttling) in the contract's error format,
        readable by the first allowed CORS origin (gateway responses map static headers only: no per-request choice)."""
        headers: dict[str, str] = {}
        if cors_allowed_origins:
            headers = {"Access-Control-Allow-Origin": f"'{cors_allowed_origins[0]}'", "Vary": "'Origin'"}
            if len(cors_allowed_origins) > 1:
                Annotations.of(self).add_warning_v2(
                    "cached-booking-api:cors-gateway-responses",
                    "cors_allowed_origins lists several origins: API Gateway's own error answers (400 from request "
                    f"validation, 403, 429, 5xx) carry Access-Control-Allow-Origin {cors_allowed_origins[0]!r} "
                    "only, because gateway responses can map static headers only. The Lambda answers and the "
                    "preflight serve every listed origin.",
                )
        for name, response_type, code, message in GATEWAY_RESPONSES:
            self.rest_api.add_gateway_response(
                name, type=response_type, templates={"application/json": gateway_response_template(code, message)},
                response_headers=headers or None,
            )  # fmt: skip


#: ``$context.error.messageString`` is "the quoted value of $context.error.message": it may stand in place of a JSON
#: string. Gateway response templates are not VTL and escape nothing, so ``$context.error.validationErrorString``
#: (which holds double quotes) can never be embedded.
QUOTED_MESSAGE = "$context.error.messageString"

GATEWAY_RESPONSES: tuple[tuple[str, apigw.ResponseType, str, str], ...] = (
    ("ValidationErrorBAD_REQUEST_BODY", apigw.ResponseType.BAD_REQUEST_BODY, "VALIDATION_ERROR", QUOTED_MESSAGE),
    ("ValidationErrorBAD_REQUEST_PARAMETERS", apigw.ResponseType.BAD_REQUEST_PARAMETERS, "VALIDATION_ERROR",
     QUOTED_MESSAGE),
    ("ForbiddenINVALID_API_KEY", apigw.ResponseType.INVALID_API_KEY, "FORBIDDEN", "Missing or invalid API key."),
    ("ForbiddenMISSING_AUTHENTICATION_TOKEN", apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "FORBIDDEN",
     "Missing or invalid API key."),
    ("ForbiddenACCESS_DENIED", apigw.ResponseType.ACCESS_DENIED, "FORBIDDEN", "Access denied."),
    ("TooManyRequestsTHROTTLED", apigw.ResponseType.THROTTLED, "TOO_MANY_REQUESTS",
     "Rate limit exceeded; retry later."),
    ("TooManyRequestsQUOTA_EXCEEDED", apigw.ResponseType.QUOTA_EXCEEDED, "TOO_MANY_REQUESTS",
     "Quota exceeded for this API key."),
    ("PayloadTooLargeREQUEST_TOO_LARGE", apigw.ResponseType.REQUEST_TOO_LARGE, "PAYLOAD_TOO_LARGE",
     "The request is too large."),
    ("InternalErrorDEFAULT_5XX", apigw.ResponseType.DEFAULT_5_XX, "INTERNAL_ERROR", "Internal error."),
)  # fmt: skip


def gateway_response_template(code: str, message: str) -> str:
    """The body template of a gateway response: the contract's error JSON, the message constant or the quoted
    ``$context.error.messageString``."""
    if message == QUOTED_MESSAGE:
        return '{"error": {"code": "%s", "message": %s, "details": []}}' % (code, QUOTED_MESSAGE)  # noqa: UP031
    return json.dumps({"error": {"code": code, "message": message, "details": []}})
