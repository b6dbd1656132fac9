"""The REST API: regional, API key + usage plan linked to the stage, request validation, access logs, tracing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .nag import acknowledge
from .options import ThrottleOptions

OPENAPI_DOCUMENT = Path(__file__).resolve().parent / "runtime" / "openapi.json"
CORS_HEADERS = ["Content-Type", "x-api-key", "Idempotency-Key", "Authorization", "X-Amz-Date", "X-Amz-Security-Token"]


def required_query_parameters(path: str, method: str = "get") -> dict[str, bool]:
    """API Gateway request parameters of an operation, from the OpenAPI document the runtime models generate."""
    operation = json.loads(OPENAPI_DOCUMENT.read_text(encoding="utf-8"))["paths"][path][method]
    return {
        f"method.request.querystring.{p['name']}": bool(p["required"])
        for p in operation["parameters"]
        if p["in"] == "query"
    }


class Api(Construct):
    """Attributes: ``rest_api``, ``stage``, ``api_key``, ``usage_plan``, ``access_log_group``, ``request_validator``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        search_function: lambda_.IFunction,
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
                throttling_rate_limit=throttle.rate_limit,
                throttling_burst_limit=throttle.burst_limit,
            ),
            default_method_options=method_auth,
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(cors_allowed_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=CORS_HEADERS,
            )
            if cors_allowed_origins
            else None,
        )
        self.stage = self.rest_api.deployment_stage
        self.request_validator = self.rest_api.add_request_validator(
            "Validator", validate_request_parameters=True, validate_request_body=True
        )
        search = self.rest_api.root.add_resource("search")
        search.add_method(
            "GET",
            apigw.LambdaIntegration(search_function, proxy=True),
            request_parameters=required_query_parameters("/search"),
            request_validator=self.request_validator,
        )

        self.api_key = self.rest_api.add_api_key("ApiKey", description="cached-booking-api client key")
        self.usage_plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            description="cached-booking-api clients",
            throttle=apigw.ThrottleSettings(rate_limit=throttle.rate_limit, burst_limit=throttle.burst_limit),
            quota=apigw.QuotaSettings(limit=throttle.quota_limit, period=apigw.Period[throttle.quota_period])
            if throttle.quota_limit
            else None,
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.stage)],
        )
        self.usage_plan.add_api_key(self.api_key)

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
        if authorizer is None or authorizer.authorization_type != apigw.AuthorizationType.COGNITO:
            for method in self.rest_api.methods:
                acknowledge(
                    method,
                    "AwsSolutions-COG4",
                    "Clients are partner systems identified by API key (usage plan); user authorization is the "
                    "optional authorizer prop (IAM, Lambda or Cognito), chosen by the platform team.",
                )
        if authorizer is None and not iam_authorization:
            for method in self.rest_api.methods:
                acknowledge(
                    method,
                    "AwsSolutions-APIG4",
                    "Every method requires an API key bound to a throttled usage plan; an IAM/Cognito/Lambda "
                    "authorizer is opt-in (props authorizer / iam_authorization). CORS preflight must stay open.",
                )
