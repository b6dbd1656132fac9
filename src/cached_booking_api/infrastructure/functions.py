"""How the construct builds its Lambda functions: Python 3.14 on arm64, Powertools, X-Ray, own role and log group,
the environment of the function's settings class, and the user's ``function_props`` overrides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from aws_cdk import Duration, RemovalPolicy, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..runtime.emf import DETAILED_METRICS_ENV
from ..runtime.settings import FunctionSettings
from ..tools import bundling
from .durations import hours, seconds
from .nag import acknowledge
from .observability import ObservabilityOptions, application_log_level, detailed_metrics_flag, system_log_level

# ENI management for functions in a VPC: these actions do not support resource-level permissions.
_VPC_ACCESS_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


#: Function props the construct decides (what its least privilege, logging, tracing and time budget rest on); a
#: ``function_props`` override may repeat them only with the same value. Everything else it may override.
OWNED_FUNCTION_PROPS: dict[str, str] = {
    "role": "each function has its own least-privilege role; add statements to the function's ``role`` attribute",
    "vpc": "use the construct's vpc prop",
    "vpc_subnets": "use the construct's vpc prop (its private subnets are used)",
    "security_groups": "the construct creates one per function; add rules to its security group attribute",
    "allow_public_subnet": "the functions run in private subnets only",
    "allow_all_outbound": "egress is limited to what each function needs",
    "log_group": "the construct creates one per function (retention: the log_retention prop)",
    "log_retention": "use the construct's log_retention prop",
    "logging_format": "the handlers log JSON (Powertools)",
    "application_log_level": "use the construct's observability prop",
    "application_log_level_v2": "use the construct's observability prop",
    "system_log_level": "use the construct's observability prop",
    "system_log_level_v2": "use the construct's observability prop",
    "logging_config": "use the construct's observability prop",
    "tracing": "X-Ray active tracing; sampling is the observability prop",
    "architecture": "the bundle is built for arm64",
    "on_failure": "the construct routes failed asynchronous invocations to its dead-letter queues",
    "on_success": "the construct configures asynchronous invocation",
    "max_event_age": "the construct configures asynchronous invocation",
    "retry_attempts": "the construct configures asynchronous invocation",
}


def given_props(options: object | None) -> dict[str, object]:
    """The props set on a jsii struct (e.g. ``lambda_.FunctionOptions``), by Python name."""
    if options is None:
        return {}
    values = getattr(options, "_values", None)
    if not isinstance(values, dict):
        raise TypeError(f"expected a props struct such as aws_lambda.FunctionOptions, got {type(options).__name__}")
    return {name: value for name, value in values.items() if value is not None}


def timeout_from(
    overrides: lambda_.FunctionOptions | None, default: int, *, prop: str, limit: int | None = None
) -> int:
    """The function's timeout in whole seconds: the override's, else ``default`` (its settings class's).

    A token (``Duration.seconds(token)``) is returned as it is, unchecked.

    Raises:
        ValueError: not whole seconds, or above ``limit`` (API Gateway's integration timeout for API functions).
    """
    timeout = given_props(overrides).get("timeout")
    if timeout is None:
        return default
    assert isinstance(timeout, Duration)
    if timeout.is_unresolved():  # known at deploy time only: passed on unchecked, as aws-cdk-lib does
        try:
            return cast(int, timeout.to_seconds())  # the token itself (the function and its settings take seconds)
        except Exception as exc:  # jsii: a token duration cannot be converted to another unit
            raise ValueError(f"{prop}.timeout: a token duration cannot be converted to seconds. Give "
                             "Duration.seconds(token).") from exc  # fmt: skip
    seconds = float(timeout.to_seconds())
    if not seconds.is_integer() or seconds < 1:
        raise ValueError(f"{prop}.timeout: use whole seconds, at least 1 (got {seconds:g} s).")
    if limit is not None and seconds > limit:
        raise ValueError(f"{prop}.timeout: {seconds:g} s is above {limit} s. API Gateway gives up on an integration "
                         "after 29 s; the function must answer before.")  # fmt: skip
    return int(seconds)


def deploy_time_numbers(environment: Mapping[str, str]) -> dict[str, str]:
    """The environment with every number known at deploy time only (a token, e.g. a ``CfnParameter`` value given as a
    prop) written as the token's string, which CloudFormation resolves. The settings (runtime code, no CDK) write a
    number token as the float it is in Python (about -1.89e+289, as a whole number): the value would deploy as that."""
    rewritten = dict(environment)
    for name, value in environment.items():
        try:
            number = float(value)
        except ValueError:
            continue
        if abs(number) > 1e200 and Token.is_unresolved(number):  # only a token is that large: one jsii call each
            rewritten[name] = Token.as_string(number)
    return rewritten


@dataclass(frozen=True)
class FunctionDefaults:
    """What every function of one ``CachedSearchApi`` shares: the handler code asset (one asset for all, staged
    once), log retention, log levels (``observability``) and Lambda's service principal."""

    code: lambda_.Code
    log_retention: logs.RetentionDays
    observability: ObservabilityOptions
    principal: iam.ServicePrincipal

    @classmethod
    def create(cls, *, log_retention: logs.RetentionDays, observability: ObservabilityOptions) -> FunctionDefaults:
        """The defaults of one construct instance (its own code asset: an asset belongs to one stack)."""
        return cls(bundling.handler_code(), log_retention, observability, iam.ServicePrincipal("lambda.amazonaws.com"))


class PythonFunction(Construct):
    """The handler of ``settings`` (``cached_booking_api.runtime.handlers.<settings.handler_module>``) with a role that
    holds only what it is granted; its environment is ``settings.to_environment()`` and its timeout
    ``settings.timeout_seconds``.

    Attributes: ``function``, ``role``, ``log_group``, ``settings``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: FunctionSettings,
        description: str,
        defaults: FunctionDefaults,
        memory_size: int = 512,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] = (),
        reserved_concurrent_executions: int | None = None,
        log_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        asynchronous: bool = False,
        wildcard_actions_reason: str = "",
        overrides: lambda_.FunctionOptions | None = None,
        overrides_prop: str = "function_props",
        search: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.log_group = logs.LogGroup(
            self, "Logs", retention=defaults.log_retention, removal_policy=log_removal_policy
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=defaults.principal,
            description=f"{description} (least privilege, no managed policies)",
        )
        # Grant.add_to_principal: one round trip, where role.add_to_principal_policy(PolicyStatement(...)) takes four.
        iam.Grant.add_to_principal(
            grantee=self.role,
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resource_arns=[self.log_group.log_group_arn],  # the group's ARN ends in ":*": its streams
        )
        if vpc is not None:
            iam.Grant.add_to_principal(grantee=self.role, actions=_VPC_ACCESS_ACTIONS, resource_arns=["*"])
        observability = defaults.observability
        environment = {
            "POWERTOOLS_LOG_LEVEL": application_log_level(observability, search=search),
            **deploy_time_numbers(settings.to_environment()),
        }
        props: dict[str, object] = {
            "description": description,
            "memory_size": memory_size,
            "reserved_concurrent_executions": reserved_concurrent_executions,
            "role": self.role,
            "tracing": lambda_.Tracing.ACTIVE,
            "log_group": self.log_group,
            "logging_format": lambda_.LoggingFormat.JSON,
            "architecture": bundling.ARCHITECTURE,
            "vpc": vpc,
            "vpc_subnets": vpc_subnets,
            "security_groups": list(security_groups) or None,
            "allow_public_subnet": False,
        }
        for name, value in given_props(overrides).items():
            prop = f"{overrides_prop}.{name}"
            if name in OWNED_FUNCTION_PROPS:
                if props.get(name) is not value:
                    raise ValueError(f"{prop}: set by the construct ({OWNED_FUNCTION_PROPS[name]}). Remove it.")
            elif name == "timeout":
                assert isinstance(value, Duration)
                if value.to_seconds() != settings.timeout_seconds:  # the settings carry it to the handler
                    raise ValueError(f"{prop}: {value.to_seconds():g} s differs from the settings' timeout_seconds "
                                     f"({settings.timeout_seconds}); build them with timeout_from().")  # fmt: skip
            elif name == "environment":
                assert isinstance(value, Mapping)
                clash = sorted(set(value) & set(environment))
                if clash:
                    raise ValueError(f"{prop}: {', '.join(clash)} belong to the function's settings "
                                     f"({type(settings).__name__}); use the construct's props.")  # fmt: skip
                environment.update(value)
            else:
                props[name] = value
        environment[DETAILED_METRICS_ENV] = detailed_metrics_flag(observability)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=bundling.RUNTIME,
            code=defaults.code,
            handler=f"cached_booking_api.runtime.handlers.{settings.handler_module}.handler",
            timeout=seconds(settings.timeout_seconds),
            environment=environment,
            system_log_level_v2=system_log_level(observability),
            **props,  # type: ignore[arg-type]
        )
        if not asynchronous:
            acknowledge(
                self.function,
                "Serverless-LambdaDLQ",
                "Invoked synchronously (API Gateway proxy): a failed request is answered to the caller, there is no "
                "event to dead-letter.",
            )
        wildcards = (
            "Lambda ENI management (ec2:CreateNetworkInterface & co.) and X-Ray PutTraceSegments do not support "
            "resource-level permissions; the role holds only those on '*'."
            if vpc is not None
            else "X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions."
        )
        acknowledge(
            self.role.node.find_child("DefaultPolicy"), "AwsSolutions-IAM5[Resource::*]",
            wildcards + wildcard_actions_reason,
        )  # fmt: skip


def dead_lettered_function(
    scope: Construct,
    construct_id: str,
    *,
    settings: FunctionSettings,
    description: str,
    defaults: FunctionDefaults,
    dead_letter_queue: sqs.Queue,
    dead_letter_reason: str,
    on_failure: bool = True,
    overrides: lambda_.FunctionOptions | None = None,
    overrides_prop: str = "function_props",
) -> PythonFunction:
    """A small function outside the VPC (256 MB, not invoked by the API) whose failures end in ``dead_letter_queue``.

    ``on_failure``: it is invoked asynchronously (a log subscription, an EventBridge rule): Lambda retries a failed
    invocation twice within 6 hours, then records it in the queue (on-failure destination), and the handler may put
    events it rejects there too. Without it (a synchronous caller such as an EventBridge Pipe), the caller owns the
    queue. ``dead_letter_reason`` is the cdk-nag acknowledgment of Serverless-LambdaDLQ: where failures go instead of a
    DeadLetterConfig.
    """
    function = PythonFunction(
        scope,
        construct_id,
        settings=settings,
        description=description,
        defaults=defaults,
        memory_size=256,
        asynchronous=True,  # not an API handler: its own acknowledgment below
        overrides=overrides,
        overrides_prop=overrides_prop,
    )
    if on_failure:
        # The destination also grants the role sqs:SendMessage on the queue, which the handler uses for rejected
        # events.
        function.function.configure_async_invoke(
            retry_attempts=2, max_event_age=hours(6), on_failure=destinations.SqsDestination(dead_letter_queue)
        )
    acknowledge(function.function, "Serverless-LambdaDLQ", dead_letter_reason)
    return function
