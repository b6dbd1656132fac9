"""``CachedSearchApi``: the L3 construct, composing one small module per concern."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Annotations, Aspects, Duration, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_xray as xray
from constructs import Construct

from ..runtime import config, metric_names
from ..runtime.emf import ALARMED
from ..runtime.settings import (
    BookingSettings,
    CacheConnectionSettings,
    ForwarderSettings,
    FunctionSettings,
    InvalidationSettings,
    SearchSettings,
)
from .analytics import Analytics
from .cache_cluster import Cache
from .durations import days
from .event_bus import Events
from .functions import FunctionDefaults, PythonFunction, timeout_from
from .invalidation_consumer import Invalidation
from .inventory_inbound import InventoryInbound, validate_inventory_sources
from .monitoring import PERIOD, Monitoring, emf_metric
from .network import Network
from .observability import ObservabilityOptions, sampling_rule
from .options import AlarmOptions, CacheOptions, ThrottleOptions
from .outbox_pipe import Outbox
from .regulated import RegulatedAspect, RegulatedProfile
from .rest_api import Api
from .table import Data
from .tokens import unresolved

#: API Gateway gives up on an integration after 29 s: the API functions' timeouts stay below.
API_FUNCTION_TIMEOUT_LIMIT = 28
#: The functions ``function_props`` may override, by key (the handler module each runs).
FUNCTIONS = ("search", "bookings", "invalidation", "forwarder")


class CachedSearchApi(Construct):
    """A production-grade booking API: cached search, idempotent bookings that never oversell, reliable events.

    API Gateway (REST, regional, API key + usage plan on the stage) → a search Lambda (in the VPC) with a Valkey/Redis
    cache (IAM auth, TLS) in front of DynamoDB, and a booking Lambda whose one transaction decrements inventory,
    writes the booking and an outbox event; an EventBridge Pipe publishes booking.confirmed, a log subscription
    publishes search.completed; a stream consumer invalidates the cache; rules feed your targets and an analytics
    store (Firehose → S3); alarms (and, on request, a dashboard) watch it all.

    Every created resource is a public attribute (below); the ``cache`` attribute is the ``Cache`` construct, which
    exposes the cache's own resources.
    """

    vpc: ec2.IVpc
    """The VPC of the cache and the search function (created, or the one passed in)."""
    flow_log_group: logs.LogGroup | None
    """Flow logs of the created VPC (None for a bring-your-own VPC)."""
    cache: Cache
    """The cache construct: ``serverless_cache`` or ``replication_group``, ``user``, ``user_group``,
    ``security_group``."""
    table: dynamodb.ITable
    """The DynamoDB table (key schema in ``cached_booking_api.runtime.schema``): created, or the one passed in."""
    idempotency_table: dynamodb.Table
    """Idempotency records of ``POST /bookings`` (24 h TTL)."""
    booking_function: lambda_.Function
    """The ``POST /bookings`` and ``GET /bookings/{bookingId}`` handler (outside the VPC: it needs no cache)."""
    booking_role: iam.Role
    """The booking function's role: the transaction's item-level actions, idempotency records, logs, X-Ray."""
    outbox_pipe: pipes.CfnPipe
    """EventBridge Pipe: table stream (outbox items: booking.confirmed, booking.cancelled) → the outbox publisher."""
    outbox_dead_letter_queue: sqs.Queue
    """Outbox events the Pipe could not deliver (alarmed)."""
    outbox_publisher_function: lambda_.Function
    """The outbox Pipe's target (outside the VPC): puts booking.confirmed and booking.cancelled on the bus."""
    inventory_events_function: lambda_.Function | None
    """Applies ``inventory.updated`` events from ``inventory_sources`` (None without sources)."""
    inventory_events_rule: events.Rule | None
    """Routes ``inventory.updated`` of ``inventory_sources`` to ``inventory_events_function`` (None without sources)."""
    inventory_events_dead_letter_queue: sqs.Queue | None
    """Inventory events that could not be applied, with the reason (alarmed; None without sources)."""
    invalidation_function: lambda_.Function
    """Stream consumer (in the VPC) that writes inventory changes through to the search cache."""
    invalidation_failure_queue: sqs.Queue
    """Stream batches the consumer failed on, after retries and bisection."""
    booking_events_rule: events.Rule | None
    """Routes ``booking.*`` to ``booking_event_targets`` (None when no targets are given)."""
    analytics_bucket: s3.IBucket | None
    """Where analytics events land (None when ``analytics=False``)."""
    analytics_delivery_stream: firehose.CfnDeliveryStream | None
    """Firehose stream feeding ``analytics_bucket`` (None when ``analytics=False``)."""
    analytics_rule: events.Rule | None
    """Routes booking.* and search.completed to the analytics store (None when ``analytics=False``)."""
    search_function: lambda_.Function
    """The ``GET /search`` handler (in the VPC)."""
    search_role: iam.Role
    """The search function's role: reads on the table, ``elasticache:Connect``, its own logs, X-Ray, ENIs."""
    search_log_group: logs.LogGroup
    """The search function's log group (the search.completed subscription reads it)."""
    search_security_group: ec2.SecurityGroup
    """The search function's security group (egress to the cache and HTTPS only)."""
    rest_api: apigw.RestApi
    """The REST API (regional)."""
    stage: apigw.Stage
    """The API's stage (access logs, tracing, throttling, usage plan)."""
    api_key: apigw.IApiKey
    """The first partner's API key (its value is in API Gateway; the key id is ``api_key.key_id``)."""
    usage_plan: apigw.UsagePlan
    """The usage plan, linked to ``stage``, holding ``api_key``."""
    api_keys: dict[str, apigw.IApiKey]
    """One API key per partner (``throttle.partners``; ``default`` when none is listed)."""
    usage_plans: dict[str, apigw.UsagePlan]
    """One usage plan per partner, linked to ``stage`` (its throttle, quota and ``POST /bookings`` limit)."""
    access_log_group: logs.LogGroup
    """The API's JSON access logs."""
    event_bus: events.IEventBus
    """The EventBridge bus (created, or the one passed in)."""
    archive: events.Archive | None
    """The created bus's archive (None for a bring-your-own bus)."""
    forwarder_function: lambda_.Function
    """Turns search.completed log lines into bus events (outside the VPC)."""
    forwarder_dead_letter_queue: sqs.Queue
    """Where events that could not be put on the bus, and failed forwarder invocations, end up."""
    search_completed_rule: events.Rule | None
    """Routes search.completed to ``search_event_targets`` (None when no targets are given)."""
    alarms: dict[str, cloudwatch.Alarm]
    """Alarms by name: Api5xxRate, ApiLatencyP99, SearchErrorRate, SearchThrottles, BookingErrorRate,
    InvalidationErrors, ForwarderErrors, DynamoDbThrottles, CacheCircuitOpen, CacheErrors, ApiThrottled, and one
    ``<Name>DeadLetters`` per dead-letter queue (Outbox, Forwarder, Invalidation, Analytics, InventoryEvents)."""
    dashboard: cloudwatch.Dashboard | None
    """The CloudWatch dashboard (API, Lambda, cache outcomes and hit ratio, DynamoDB, alarms); None unless
    ``ObservabilityOptions(dashboard=True)``."""
    trace_sampling_rule: xray.CfnSamplingRule
    """The X-Ray sampling rule of the API's stage (``observability`` prop)."""
    regulated_profile: RegulatedProfile | None
    """Keys and backups of ``regulated=True`` (``logs_key``, ``data_key``, ``backup_vault``, ``backup_plan``); None
    otherwise."""
    metrics_namespace: str
    """The CloudWatch namespace of the handlers' EMF metrics (see ``metric()``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc | None = None,
        vpc_has_dynamodb_endpoint: bool = False,
        cache: CacheOptions | None = None,
        throttle: ThrottleOptions | None = None,
        alarms: AlarmOptions | None = None,
        alarm_topic: sns.ITopic | None = None,
        event_bus: events.IEventBus | None = None,
        event_source: str = ForwarderSettings.event_source,
        search_event_targets: Sequence[events.IRuleTarget] = (),
        booking_event_targets: Sequence[events.IRuleTarget] = (),
        analytics: bool = True,
        analytics_bucket: s3.IBucket | None = None,
        analytics_retention: Duration | None = None,
        archive_retention: Duration | None = None,
        cors_allowed_origins: Sequence[str] = (),
        authorizer: apigw.IAuthorizer | None = None,
        iam_authorization: bool = False,
        web_acl_arn: str | None = None,
        api_cloud_watch_role: bool = True,
        stage_name: str = "prod",
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        search_reserved_concurrency: int | None = None,
        search_memory_size: int = 512,
        booking_memory_size: int = 512,
        table_removal_policy: RemovalPolicy | None = None,
        metrics_namespace: str = FunctionSettings.metrics_namespace,
        observability: ObservabilityOptions | None = None,
        regulated: bool = False,
        table: dynamodb.ITable | None = None,
        table_props: Mapping[str, Any] | None = None,
        function_props: Mapping[str, lambda_.FunctionOptions] | None = None,
        inventory_sources: Sequence[str] = (),
        cancellation_cutoff: Duration | None = None,
    ) -> None:
        """Build the API.

        Args:
            scope: Parent construct.
            construct_id: Construct id.
            vpc: Bring your own VPC (its private subnets host the cache and the search function). Default: a created
                VPC with two AZs of private isolated subnets, no NAT gateway, a DynamoDB gateway endpoint, flow logs.
                For your own VPC, the construct adds a DynamoDB gateway endpoint on the route tables of the subnets
                the functions use (see README "Deploying").
            vpc_has_dynamodb_endpoint: Your ``vpc`` already routes the functions' subnets to DynamoDB through a
                gateway endpoint: add none. Default: False.
            cache: Cache mode, engine and timings. Default: ``CacheOptions()`` (serverless Valkey, TTL 5 min).
            throttle: Stage limits from the expected load (default peak 250 rps → stage 500 rps / burst 1000,
                ``POST /bookings`` 50 rps), and one key + usage plan per partner (default: one key, 100 rps, burst
                200, no quota). Default: ``ThrottleOptions()``.
            alarms: Alarm thresholds. Default: ``AlarmOptions()``.
            alarm_topic: SNS topic notified when an alarm fires or recovers. Default: none (alarms only).
            event_bus: Bring your own EventBridge bus. Default: a created bus with an archive.
            event_source: The ``source`` of every event. Default: ``booking.platform``.
            search_event_targets: Targets of the ``search.completed`` rule (e.g. a partner's SQS queue; give each a
                dead-letter queue and retry policy). Default: none.
            booking_event_targets: Targets of the ``booking.*`` rule (e.g. a partner system). Default: none.
            analytics: Send booking.* and search.completed to Firehose → S3 (partitioned by date). Default: True.
            analytics_bucket: Bring your own analytics bucket (it must block public access and enforce TLS).
                Default: a created bucket (SSE-S3, access logs, lifecycle). Requires ``analytics=True``.
            analytics_retention: How long the created analytics bucket keeps events. Default: 400 days.
            archive_retention: How long the created bus's archive keeps events. Default: 30 days.
            cors_allowed_origins: Origins allowed by CORS. Default: none (no CORS preflight at all).
            authorizer: A Cognito or Lambda authorizer for every method (API keys identify clients, they do not
                authorize them). Default: none. Mutually exclusive with ``iam_authorization``.
            iam_authorization: Require SigV4 (IAM) on every method. Default: False.
            web_acl_arn: A WAFv2 web ACL to associate with the stage. Default: none.
            api_cloud_watch_role: Create the account-level role API Gateway needs for execution logs. Default: True;
                set False when the account already has one.
            stage_name: API stage. Default: ``prod``.
            log_retention: Retention of every log group. Default: one month.
            search_reserved_concurrency: Reserved concurrency of the search function. Default: none (unreserved).
            search_memory_size: Search function memory in MB (128-10240). Default: 512.
            booking_memory_size: Booking function memory in MB (128-10240). Default: 512.
            table_removal_policy: What happens to the created table when the stack is deleted. Default: RETAIN
                (with deletion protection). Not with ``table``.
            metrics_namespace: CloudWatch namespace of the EMF metrics. Default: ``CachedBookingApi``.
            observability: X-Ray sampling rule of the API, log levels of the functions, which EMF metrics they
                publish and the optional dashboard (the X-Ray and CloudWatch bill). Default: ``ObservabilityOptions()``
                (5 % of requests traced, no reservoir; INFO; platform WARN; alarmed metrics only; no dashboard).
            regulated: What auditors of payment and health data ask for (README "Regulated workloads"): customer
                managed KMS keys, rotated, for every log group, the tables, the dead-letter queues, the bus and its
                archive and the analytics bucket; versioned buckets; the tables in a daily AWS Backup plan; reserved
                concurrency on every function; a dead-letter path for every asynchronous invocation (a bus
                dead-letter queue too). Requires ``web_acl_arn`` and ``alarm_topic``. Default: False (lean).
            inventory_sources: EventBridge sources (e.g. ``["pms.acme"]``) whose ``inventory.updated`` events on the
                bus change capacity: a rule takes them to a consumer that applies each once per (source, eventId),
                never below what is booked, with a dead-letter queue and an alarm. Grant each external system
                ``events:PutEvents`` on the bus with the condition ``events:source`` = its source. Default: none (no
                inbound consumer).
            cancellation_cutoff: How long before 00:00 UTC of the check-in day a booking can no longer be
                cancelled (``DELETE`` answers 409 ``CANCELLATION_CLOSED``); ``Duration.seconds(0)``: until check-in day
                starts. Whole seconds, at most 365 days. Default: none (cancellation always open).

            table: Bring your own table (an ``ITable``, e.g. ``dynamodb.Table.from_table_attributes(table_arn=...,
                table_stream_arn=..., global_indexes=["byDestination", "inventoryByDestination"])``): the construct
                creates none and grants each function only what it needs on it (and on its KMS key, if any). It must
                have the key schema, NEW_AND_OLD_IMAGES stream, indexes and TTL attribute of
                ``cached_booking_api.runtime.schema``. Default: a created table.
            table_props: Overrides of the created table's ``dynamodb.Table`` props, by keyword (e.g.
                ``{"encryption_key": key, "contributor_insights_enabled": True}``). The key schema, stream and TTL
                attribute are the construct's: giving another value is an error. Not with ``table``.
            function_props: Overrides of a function's props, by function (``search``, ``bookings``,
                ``invalidation``, ``forwarder``), as ``lambda_.FunctionOptions`` (e.g. memory, reserved
                concurrency, environment encryption key, extra environment variables). A timeout override reaches
                the handler's time budget (``FUNCTION_TIMEOUT_SECONDS``). What least privilege, logging and tracing
                rest on (role, VPC, security groups, log group, tracing, asynchronous invocation) is the
                construct's: giving another value is an error, as is an environment variable of the settings.

        Raises:
            ValueError: an invalid prop or combination; the message names the prop and the fix.
        """
        super().__init__(scope, construct_id)
        cache = cache or CacheOptions()
        throttle = throttle or ThrottleOptions()
        alarms = alarms or AlarmOptions()
        observability = observability or ObservabilityOptions()
        observability.validate()
        _validate(cache, throttle, alarms, authorizer, iam_authorization, search_reserved_concurrency,
                  stage_name, event_source, cors_allowed_origins)  # fmt: skip
        for prop, size in (("search_memory_size", search_memory_size), ("booking_memory_size", booking_memory_size)):
            if not _unresolved(size) and not 128 <= size <= 10240:
                raise ValueError(f"{prop}: must be 128 to 10240 MB. The default, 512, suits most loads.")
        overrides = dict(function_props or {})
        for name, options in overrides.items():
            if name not in FUNCTIONS:
                raise ValueError(f"function_props: {name!r} is not a function of the construct. Use one of "
                                 f"{', '.join(FUNCTIONS)}.")  # fmt: skip
            if not isinstance(options, lambda_.FunctionOptions):
                raise ValueError(f"function_props[{name!r}]: give an aws_lambda.FunctionOptions(...), not "
                                 f"{type(options).__name__}.")  # fmt: skip
        if analytics_bucket is not None and not analytics:
            raise ValueError("analytics_bucket: given while analytics=False. Drop analytics_bucket, or set "
                             "analytics=True to send events to it.")  # fmt: skip
        if analytics_bucket is not None and analytics_retention is not None:
            raise ValueError("analytics_retention: applies to the created bucket only. Set the lifecycle on your "
                             "own analytics_bucket instead.")  # fmt: skip
        if regulated and not web_acl_arn:
            raise ValueError("web_acl_arn: required with regulated=True (PCI DSS 6.6 and NIST SC-7 ask for a web "
                             "application firewall in front of the API). Pass the ARN of a WAFv2 web ACL with scope "
                             "REGIONAL, e.g. one with the AWS managed core rule set.")  # fmt: skip
        if regulated and alarm_topic is None:
            raise ValueError("alarm_topic: required with regulated=True (an alarm nobody receives is no control). "
                             "Pass an SNS topic, encrypted with a customer managed key.")  # fmt: skip
        # Created first: the builders below look it up (regulated_profile) to protect what they create.
        self.regulated_profile = RegulatedProfile(self) if regulated else None

        sources = validate_inventory_sources(inventory_sources, event_source)
        cutoff_seconds = _cancellation_cutoff_seconds(cancellation_cutoff)
        service_prefix = _service_prefix(self)
        search_service_name = f"{service_prefix}-search"
        self.metrics_namespace = metrics_namespace
        self._detailed_metrics = observability.detailed_metrics
        self._service_names = {name: f"{service_prefix}-{name}" for name in FUNCTIONS}

        # One code asset, log retention and log levels for every function (all of them are PythonFunctions).
        defaults = FunctionDefaults.create(log_retention=log_retention, observability=observability)
        network = Network(self, "Network", vpc=vpc, log_retention=log_retention,
                          vpc_has_dynamodb_endpoint=vpc_has_dynamodb_endpoint)  # fmt: skip
        self.vpc = network.vpc
        self.flow_log_group = network.flow_log_group
        self.cache = Cache(self, "Cache", options=cache, vpc=network.vpc, subnets=network.subnets)
        data = Data(self, "Data", removal_policy=table_removal_policy, table=table, table_props=table_props)
        self.table = data.table
        self.idempotency_table = data.idempotency_table

        self.search_security_group = ec2.SecurityGroup(
            self, "SearchSecurityGroup", vpc=network.vpc, allow_all_outbound=False,
            description="Search function: egress to the cache and DynamoDB only",
        )  # fmt: skip
        self.cache.allow_from(self.search_security_group)
        network.allow_dynamodb(self.search_security_group)  # HTTPS to DynamoDB's prefix list (the gateway endpoint)
        # One list of origins: the preflight (Api), the gateway responses (Api) and every Lambda answer (the settings).
        origins = tuple(cors_allowed_origins)
        connection = _cache_connection(self.cache, cache)
        table_name = self.table.table_name  # read once (search and booking settings)
        search = PythonFunction(
            self,
            "Search",
            settings=SearchSettings(
                service_name=search_service_name,
                metrics_namespace=metrics_namespace,
                timeout_seconds=timeout_from(
                    overrides.get("search"),
                    SearchSettings.timeout_seconds,
                    prop="function_props['search']",
                    limit=API_FUNCTION_TIMEOUT_LIMIT,
                ),
                table_name=table_name,
                cache=connection,
                timings=cache.timings(),
                circuit_breaker=cache.circuit_breaker(),
                cors_allowed_origins=origins,
            ),  # fmt: skip
            description="cached-booking-api GET /search",
            defaults=defaults,
            search=True,
            memory_size=search_memory_size,
            vpc=network.vpc,
            vpc_subnets=network.subnets,
            security_groups=[self.search_security_group],
            reserved_concurrent_executions=search_reserved_concurrency,
            overrides=overrides.get("search"),
            overrides_prop="function_props['search']",
        )
        assert isinstance(search.settings, SearchSettings)
        _check_time_budget(search.settings)
        self.search_function = search.function
        self.search_role = search.role
        self.search_log_group = search.log_group
        data.grant_search_reads(self.search_role)
        self.cache.grant_connect(self.search_role)

        booking = PythonFunction(
            self,
            "Booking",
            settings=BookingSettings(
                service_name=f"{service_prefix}-bookings",
                metrics_namespace=metrics_namespace,
                timeout_seconds=timeout_from(
                    overrides.get("bookings"),
                    BookingSettings.timeout_seconds,
                    prop="function_props['bookings']",
                    limit=API_FUNCTION_TIMEOUT_LIMIT,
                ),
                table_name=table_name,
                idempotency_table_name=self.idempotency_table.table_name,
                cors_allowed_origins=origins,
                cancellation_cutoff_seconds=cutoff_seconds,
            ),  # fmt: skip
            description="cached-booking-api POST /bookings, GET /bookings/{bookingId}",
            defaults=defaults,
            memory_size=booking_memory_size,
            overrides=overrides.get("bookings"),
            overrides_prop="function_props['bookings']",
        )
        self.booking_function = booking.function
        self.booking_role = booking.role
        data.grant_booking_writes(self.booking_role)

        api = Api(
            self,
            "Api",
            search_function=self.search_function,
            booking_function=self.booking_function,
            stage_name=stage_name,
            throttle=throttle,
            log_retention=log_retention,
            cors_allowed_origins=cors_allowed_origins,
            authorizer=authorizer,
            iam_authorization=iam_authorization,
            cloud_watch_role=api_cloud_watch_role,
            web_acl_arn=web_acl_arn,
        )
        self.rest_api = api.rest_api
        self.stage = api.stage
        self.api_key = api.api_key
        self.usage_plan = api.usage_plan
        self.api_keys = api.api_keys
        self.usage_plans = api.usage_plans
        self.access_log_group = api.access_log_group

        fan_out = Events(
            self,
            "Events",
            event_bus=event_bus,
            event_source=event_source,
            archive_retention=archive_retention or days(30),
            search_log_group=self.search_log_group,
            search_event_targets=search_event_targets,
            service_prefix=service_prefix,
            metrics_namespace=metrics_namespace,
            defaults=defaults,
            function_overrides=overrides.get("forwarder"),
        )
        self.event_bus = fan_out.event_bus
        self.archive = fan_out.archive
        self.forwarder_function = fan_out.forwarder_function
        self.forwarder_dead_letter_queue = fan_out.forwarder_dead_letter_queue
        self.search_completed_rule = fan_out.search_completed_rule
        self.booking_events_rule = fan_out.add_rule(
            "BookingEventsRule", "booking.* to the configured targets",
            events.Match.prefix("booking."), booking_event_targets,
        )  # fmt: skip

        outbox = Outbox(
            self, "Outbox", table=self.table, event_bus=self.event_bus, event_source=event_source,
            service_name=f"{service_prefix}-outbox", metrics_namespace=metrics_namespace, defaults=defaults,
        )  # fmt: skip
        self.outbox_publisher_function = outbox.publisher.function
        self.outbox_pipe = outbox.pipe
        self.outbox_dead_letter_queue = outbox.dead_letter_queue
        invalidation = Invalidation(
            self,
            "Invalidation",
            table=self.table,
            cache=self.cache,
            vpc=network.vpc,
            subnets=network.subnets,
            settings=InvalidationSettings(
                service_name=f"{service_prefix}-invalidation",
                metrics_namespace=metrics_namespace,
                timeout_seconds=timeout_from(
                    overrides.get("invalidation"),
                    InvalidationSettings.timeout_seconds,
                    prop="function_props['invalidation']",
                ),
                cache=connection,
            ),  # fmt: skip
            defaults=defaults,
            function_overrides=overrides.get("invalidation"),
        )
        self.invalidation_function = invalidation.consumer.function
        self.invalidation_failure_queue = invalidation.failure_queue

        self.inventory_events_function = None
        self.inventory_events_rule = None
        self.inventory_events_dead_letter_queue = None
        if sources:
            inbound = InventoryInbound(
                self, "InventoryEvents", table=self.table, event_bus=self.event_bus, sources=sources,
                service_name=f"{service_prefix}-inventory", metrics_namespace=metrics_namespace, defaults=defaults,
            )  # fmt: skip
            self.inventory_events_function = inbound.consumer.function
            self.inventory_events_rule = inbound.rule
            self.inventory_events_dead_letter_queue = inbound.dead_letter_queue

        self.analytics_bucket = None
        self.analytics_delivery_stream = None
        self.analytics_rule = None
        analytics_dead_letter_queue: sqs.Queue | None = None
        if analytics:
            sink = Analytics(
                self,
                "Analytics",
                event_bus=self.event_bus,
                event_source=event_source,
                bucket=analytics_bucket,
                retention=analytics_retention or days(400),
                log_retention=log_retention,
            )
            self.analytics_bucket = sink.bucket
            self.analytics_delivery_stream = sink.delivery_stream
            self.analytics_rule = sink.rule
            analytics_dead_letter_queue = sink.dead_letter_queue

        monitoring = Monitoring(
            self,
            "Monitoring",
            options=alarms,
            alarm_topic=alarm_topic,
            stage=self.stage,
            access_log_group=self.access_log_group,
            search_function=self.search_function,
            booking_function=self.booking_function,
            invalidation_function=self.invalidation_function,
            dead_letter_queues={
                "Outbox": self.outbox_dead_letter_queue,
                "Forwarder": self.forwarder_dead_letter_queue,
                "Invalidation": self.invalidation_failure_queue,
                **({"Analytics": analytics_dead_letter_queue} if analytics_dead_letter_queue else {}),
                **({"Bus": fan_out.bus_dead_letter_queue} if fan_out.bus_dead_letter_queue else {}),
                **(
                    {"InventoryEvents": self.inventory_events_dead_letter_queue}
                    if self.inventory_events_dead_letter_queue
                    else {}
                ),
            },
            table=self.table,
            cache=self.cache,
            metrics_namespace=metrics_namespace,
            service_names=self._service_names,
            dashboard=observability.dashboard,
            detailed_metrics=observability.detailed_metrics,
        )
        self.alarms = monitoring.alarms
        self.dashboard = monitoring.dashboard
        self.trace_sampling_rule = sampling_rule(
            self, observability, rest_api_name=self.rest_api.rest_api_name, stage_name=stage_name
        )
        if self.regulated_profile is not None:
            # Tables this construct creates (a table you bring stays in your own backup plan).
            created = [t for t in (self.table, self.idempotency_table) if isinstance(t, dynamodb.Table)]
            self.regulated_profile.add_tables(created)
            # At synthesis: every log group and function under this construct by then, whoever added it.
            Aspects.of(self).add(RegulatedAspect(self, self.regulated_profile))

    @property
    def url(self) -> str:
        """The stage's invoke URL (a token until deployment)."""
        return self.rest_api.url

    # -- metrics a user can alarm on or graph (the EMF metrics of runtime/metric_names.py) --------------------------
    def metric(self, metric_name: str, *, statistic: str = "Sum", period: Duration | None = None) -> cloudwatch.Metric:
        """One of the handlers' EMF metrics (a name of ``cached_booking_api.runtime.metric_names``), with the
        ``service`` dimension of the function that emits it. Default: Sum over 5 minutes. Metrics outside
        ``runtime.emf.ALARMED`` are published only with ``ObservabilityOptions(detailed_metrics=True)`` (a synth
        warning says so otherwise).

        Raises:
            ValueError: ``metric_name`` is not a metric the handlers emit.
        """
        if metric_name not in metric_names.EMITTED_BY:
            raise ValueError(f"metric_name: {metric_name!r} is not emitted by the handlers. Use one of "
                             f"{', '.join(sorted(metric_names.EMITTED_BY))}.")  # fmt: skip
        if metric_name not in ALARMED and not self._detailed_metrics:
            Annotations.of(self).add_warning_v2(
                f"cached-booking-api:metric-not-published:{metric_name}",
                f"metric_{metric_name}: the handlers publish {metric_name} only with "
                "observability=ObservabilityOptions(detailed_metrics=True); an alarm on it would see no data.",
            )
        return emf_metric(self.metrics_namespace, metric_name, self._service_names, statistic=statistic,
                          period=period or PERIOD)  # fmt: skip

    def metric_cache_hits(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Searches answered from a fresh cache entry (Sum)."""
        return self.metric(metric_names.CACHE_HIT, period=period)

    def metric_cache_misses(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Searches loaded from DynamoDB and cached (Sum)."""
        return self.metric(metric_names.CACHE_MISS, period=period)

    def metric_cache_bypasses(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Searches answered without the cache: cache down, slow or circuit open (Sum)."""
        return self.metric(metric_names.CACHE_BYPASS, period=period)

    def metric_cache_errors(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Cache calls that failed or timed out (Sum)."""
        return self.metric(metric_names.CACHE_ERROR, period=period)

    def metric_circuit_opened(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Times the cache circuit breaker opened (Sum)."""
        return self.metric(metric_names.CIRCUIT_OPEN, period=period)

    def metric_search_latency(self, *, statistic: str = "p99", period: Duration | None = None) -> cloudwatch.Metric:
        """Handler time of a search in milliseconds (default p99: alarm on percentiles, not averages)."""
        return self.metric(metric_names.SEARCH_LATENCY, statistic=statistic, period=period)

    def metric_bookings_confirmed(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Bookings confirmed (Sum)."""
        return self.metric(metric_names.BOOKING_CONFIRMED, period=period)

    def metric_bookings_cancelled(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Cancellations answered 200 (Sum)."""
        return self.metric(metric_names.BOOKING_CANCELLED, period=period)

    def metric_cache_invalidations(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Cache scopes the stream consumer wrote: one per destination-month whose inventory it wrote through, one per
        destination whose catalogue changed (Sum)."""
        return self.metric(metric_names.CACHE_INVALIDATIONS, period=period)

    def metric_cache_hit_ratio(self, *, period: Duration | None = None) -> cloudwatch.MathExpression:
        """Percentage of searches answered from the cache (fresh or stale) over searches that used it."""
        period = period or PERIOD
        return cloudwatch.MathExpression(
            expression="IF(h + m + s > 0, 100 * (h + s) / (h + m + s), 0)",
            using_metrics={
                "h": self.metric(metric_names.CACHE_HIT, period=period),
                "m": self.metric(metric_names.CACHE_MISS, period=period),
                "s": self.metric(metric_names.CACHE_STALE, period=period),
            },
            label="Cache hit %",
            period=period,
        )


def _service_prefix(scope: Construct) -> str:
    """A short name unique to this construct's stack and path: keeps metrics of two instances apart."""
    stack = Stack.of(scope)
    digest = hashlib.sha256(f"{stack.stack_name}/{Names.unique_id(scope)}".encode()).hexdigest()[:8]
    return f"cba-{digest}"


def _cancellation_cutoff_seconds(cutoff: Duration | None) -> float | None:
    """The booking function's ``CANCELLATION_CUTOFF_SECONDS`` (None without a cut-off)."""
    if cutoff is None:
        return None
    if Token.is_unresolved(cutoff.to_milliseconds()):
        raise ValueError("cancellation_cutoff: must be a concrete duration, e.g. Duration.hours(24), not a token.")
    milliseconds = cutoff.to_milliseconds()
    if milliseconds % 1000 or not 0 <= milliseconds <= 365 * 24 * 3600 * 1000:
        raise ValueError(
            f"cancellation_cutoff: {cutoff.to_human_string()} is not allowed. Use whole seconds from 0 to 365 days, "
            "e.g. Duration.hours(24) to close cancellation a day before check-in."
        )
    return float(milliseconds // 1000)


def _cache_connection(cache: Cache, options: CacheOptions) -> CacheConnectionSettings:
    """How the functions in the VPC reach the cache (IAM auth; serverless caches are cluster-mode)."""
    return CacheConnectionSettings(
        endpoint=cache.endpoint_address,
        port=cache.endpoint_port,
        user_id=cache.user.user_id,
        cache_name=cache.cache_name,
        serverless=cache.serverless,
        cluster_mode=cache.serverless,
        timeout_ms=options.timeout_ms,
        connect_timeout_ms=options.connect_timeout_ms,
    )


def _check_time_budget(settings: SearchSettings) -> None:
    """The search derives its DynamoDB retries and single-flight lock from its timeout and cache timeouts (and
    refuses to start when a load cannot fit): refuse at synth what cannot fit, naming the props. Cache or function
    timeouts given as tokens are known at deploy time only and are not checked here (the handler still refuses to start
    on them)."""
    given = (settings.cache.timeout_ms, settings.cache.connect_timeout_ms, settings.timeout_seconds)
    if any(_unresolved(value) for value in given):
        return
    try:
        config.dynamodb_client_config(
            settings.dynamodb, function_timeout_seconds=settings.timeout_seconds, cache=settings.cache
        )
    except ValueError as exc:
        raise ValueError(
            f"cache.timeout_ms / cache.connect_timeout_ms: {settings.cache.timeout_ms} ms / "
            f"{settings.cache.connect_timeout_ms} ms leave no time for a search's DynamoDB load within its "
            f"{settings.timeout_seconds} s timeout (function_props['search'].timeout) ({exc}). Lower them (defaults "
            f"{CacheConnectionSettings.timeout_ms} ms / {CacheConnectionSettings.connect_timeout_ms} ms), or raise "
            "the timeout."
        ) from exc


def _unresolved(value: object) -> bool:
    """Whether ``value`` is a token (a ``CfnParameter`` value, an attribute of another resource): CloudFormation
    resolves it at deploy time, so it cannot be checked here and is not (as aws-cdk-lib does, ``Token.is_unresolved``).
    """
    return unresolved(value)


def _validate(
    cache: CacheOptions,
    throttle: ThrottleOptions,
    alarms: AlarmOptions,
    authorizer: apigw.IAuthorizer | None,
    iam_authorization: bool,
    search_reserved_concurrency: int | None,
    stage_name: str,
    event_source: str,
    cors_allowed_origins: Sequence[str],
) -> None:
    cache.validate()
    throttle.validate()
    alarms.validate()
    if authorizer is not None and iam_authorization:
        raise ValueError("authorizer, iam_authorization: pick one. Pass authorizer for Cognito/Lambda, or "
                         "iam_authorization=True for SigV4, not both.")  # fmt: skip
    if (
        search_reserved_concurrency is not None
        and not _unresolved(search_reserved_concurrency)
        and search_reserved_concurrency < 1
    ):
        raise ValueError("search_reserved_concurrency: must be at least 1. Leave it None for unreserved concurrency.")
    if _unresolved(stage_name):
        raise ValueError("stage_name: must be a literal name, not a token: aws-cdk-lib names the stage's constructs "
                         "after it. Give e.g. 'prod'.")  # fmt: skip
    if not stage_name or not stage_name.replace("_", "").replace("-", "").isalnum():
        raise ValueError("stage_name: use letters, digits, '-' and '_' only (e.g. 'prod').")
    if not _unresolved(event_source) and (not event_source or event_source.startswith("aws.")):
        raise ValueError("event_source: must be non-empty and must not start with 'aws.' (reserved by AWS).")
    for origin in cors_allowed_origins:
        if not _unresolved(origin) and (origin == "*" or not origin.startswith(("https://", "http://localhost"))):
            raise ValueError(f"cors_allowed_origins: {origin!r} is not allowed. List exact origins such as "
                             "'https://app.example.com' ('*' is refused).")  # fmt: skip
