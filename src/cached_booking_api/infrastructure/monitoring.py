"""Alarms (rates and percentiles, never averages) with a pluggable action, and a dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..runtime import metric_names
from ..runtime.emf import ALARMED
from .cache_cluster import ALARM_RATIO, Cache
from .durations import hours, minutes
from .options import AlarmOptions

PERIOD = minutes(5)
#: The API p99 latency that alarms (default of ``AlarmOptions.api_p99_latency``: 2 seconds), in milliseconds.
API_P99_LATENCY_MS = 2_000
#: How far the invalidation consumer may fall behind the stream before ``InvalidationIteratorAge`` alarms (default of
#: ``AlarmOptions.invalidation_iterator_age``), in milliseconds and as ``Duration.to_human_string`` writes it: the
#: defaults are known here, where a ``Duration`` would be asked of aws-cdk-lib's Node process (a round trip each).
INVALIDATION_ITERATOR_AGE_MS, INVALIDATION_ITERATOR_AGE_TEXT = 60_000, "1 minute"


def emf_metric(
    namespace: str,
    name: str,
    service_names: Mapping[str, str],
    *,
    statistic: str = "Sum",
    period: Duration = PERIOD,
) -> cloudwatch.Metric:
    """An EMF metric of the handlers (``runtime.metric_names``), with the ``service`` dimension of the function that
    emits it (``metric_names.EMITTED_BY``; ``service_names`` maps each function to its Powertools service name)."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map={"service": service_names[metric_names.EMITTED_BY[name]]},
        statistic=statistic,
        period=period,
    )


class Monitoring(Construct):
    """Attributes: ``alarms`` (name → Alarm), ``dashboard`` (None unless ``dashboard=True``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: AlarmOptions,
        alarm_topic: sns.ITopic | None,
        stage: apigw.Stage,
        access_log_group: logs.ILogGroup,
        search_function: lambda_.Function,
        booking_function: lambda_.Function,
        invalidation_function: lambda_.Function,
        dead_letter_queues: dict[str, sqs.IQueue],
        table: dynamodb.ITable,
        metrics_namespace: str,
        service_names: Mapping[str, str],
        cache: Cache | None = None,
        dashboard: bool = False,
        detailed_metrics: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)

        search_service_name = service_names["search"]
        table_name = table.table_name  # read once: each read of an attribute is a round trip to aws-cdk-lib

        def emf(name: str, statistic: str = "Sum") -> cloudwatch.Metric:
            return emf_metric(metrics_namespace, name, service_names, statistic=statistic)

        def rate(expression: str, label: str, **metrics: cloudwatch.IMetric) -> cloudwatch.MathExpression:
            return cloudwatch.MathExpression(expression=expression, using_metrics=metrics, label=label, period=PERIOD)

        def error_rate(
            function: lambda_.Function, name: str, threshold: float
        ) -> tuple[cloudwatch.IMetric, float, str]:
            errors_percent = rate(
                "IF(invocations > 0, 100 * errors / invocations, 0)",
                f"{name} errors %",
                errors=function.metric_errors(statistic="Sum", period=PERIOD),
                invocations=function.metric_invocations(statistic="Sum", period=PERIOD),
            )
            return errors_percent, threshold, f"{name} function errors above the allowed percentage of invocations"

        p99 = options.api_p99_latency.to_milliseconds() if options.api_p99_latency else API_P99_LATENCY_MS
        sum_: dict[str, Any] = {"statistic": "Sum", "period": PERIOD}
        definitions: dict[str, tuple[cloudwatch.IMetric, float, str]] = {
            # 5XXError's Average is the 5xx rate (API Gateway's metrics doc): one billed metric, not 5XXError / Count.
            "Api5xxRate": (
                rate("100 * errors", "API 5xx %", errors=stage.metric_server_error(statistic="Average", period=PERIOD)),
                options.api_5xx_rate_percent,
                "API 5xx responses above the allowed percentage of requests",
            ),
            "ApiLatencyP99": (
                stage.metric_latency(statistic="p99", period=PERIOD),
                p99,
                "API p99 latency above the threshold (ms)",
            ),
            "SearchErrorRate": error_rate(search_function, "Search", options.search_error_rate_percent),
            "SearchThrottles": (search_function.metric_throttles(**sum_), 1, "Search function throttled"),
            "BookingErrorRate": error_rate(booking_function, "Booking", options.booking_error_rate_percent),
            # No Errors alarms on the invalidation consumer and the forwarder: a failure either recovers on retry or
            # ends in their dead-letter queues (alarmed below); a consumer that keeps failing falls behind the stream
            # (InvalidationIteratorAge). README "Cost" has the alarm table.
            "DynamoDbThrottles": (
                _throttles(table_name, "Read", "Query"),
                1,
                "DynamoDB throttled reads: table read events of any operation, or a Query on the table or an index",
            ),
            "CacheCircuitOpen": (
                emf(metric_names.CIRCUIT_OPEN),
                1,
                "Cache circuit breaker opened: searches bypass the cache",
            ),
            "CacheErrors": (emf(metric_names.CACHE_ERROR), options.cache_errors_per_5_minutes, "Cache call failures"),
        }
        definitions["DynamoDbWriteThrottles"] = (
            _throttles(table_name, "Write", "TransactWriteItems"),
            1,
            "DynamoDB throttled writes: table write events of any operation (loads included), or a transaction "
            "(booking, cancellation, inventory update) throttled on the table or an index",
        )
        age = options.invalidation_iterator_age
        age_ms, age_text = (
            (age.to_milliseconds(), age.to_human_string())
            if age
            else (INVALIDATION_ITERATOR_AGE_MS, INVALIDATION_ITERATOR_AGE_TEXT)
        )
        definitions["InvalidationIteratorAge"] = (
            invalidation_function.metric("IteratorAge", statistic="Maximum", period=PERIOD),
            age_ms,
            f"The cache invalidation consumer is {age_text} or more behind the table stream: "
            "searches serve stale availability for that long",
        )
        if cache is not None and cache.serverless_cache is not None:
            definitions.update(_serverless_cache_alarms(cache))
        # API Gateway has no 429 metric of its own: the JSON access log's status feeds one (all keys together).
        throttled = logs.MetricFilter(
            self, "Throttled429", log_group=access_log_group,
            filter_pattern=logs.FilterPattern.literal('{ $.status = "429" }'),
            metric_namespace=metrics_namespace, metric_name=f"{search_service_name}-api-429", metric_value="1",
        ).metric(statistic="Sum", period=PERIOD)  # fmt: skip
        # No default value: the metric has data (and is billed) only in hours with a 429; FILL reads the gaps as 0.
        definitions["ApiThrottled"] = (
            rate(
                "IF(requests > 0, 100 * FILL(throttled, 0) / requests, 0)",
                "API 429 %",
                throttled=throttled,
                requests=stage.metric_count(**sum_),
            ),  # fmt: skip
            options.api_throttled_rate_percent,
            "API 429 answers (usage plan or stage throttling) above the allowed percentage of requests",
        )
        for name, queue in dead_letter_queues.items():
            definitions[f"{name}DeadLetters"] = (
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                1,
                f"Messages waiting in the {name} dead-letter queue: something was not delivered",
            )
        if alarm_topic is not None:
            _let_cloudwatch_use_the_topic_key(self, alarm_topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        action = cw_actions.SnsAction(alarm_topic) if alarm_topic is not None else None  # one object: fewer jsii calls
        for name, (metric, threshold, description) in definitions.items():
            alarm = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=options.evaluation_periods,
                datapoints_to_alarm=options.datapoints_to_alarm,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            if action is not None:
                alarm.add_alarm_action(action)
                alarm.add_ok_action(action)
            self.alarms[name] = alarm

        self.dashboard: cloudwatch.Dashboard | None = None
        if dashboard:
            self.dashboard = self._dashboard(stage, search_function, table, emf, rate, sum_, detailed_metrics,
                                             definitions["DynamoDbThrottles"][0])  # fmt: skip

    def _dashboard(self, stage: apigw.Stage, search_function: lambda_.Function, table: dynamodb.ITable,
                   emf: Any, rate: Any, sum_: dict[str, Any], detailed_metrics: bool,
                   throttles: cloudwatch.IMetric) -> cloudwatch.Dashboard:  # fmt: skip
        """The optional dashboard ($3/month): the API, the search function, the cache and the alarms in one view."""
        hit_ratio = rate("IF(h + m + s > 0, 100 * (h + s) / (h + m + s), 0)", "Cache hit %",
                         h=emf(metric_names.CACHE_HIT), m=emf(metric_names.CACHE_MISS),
                         s=emf(metric_names.CACHE_STALE))  # fmt: skip
        outcomes = [name for name in metric_names.CACHE_OUTCOMES if detailed_metrics or name in ALARMED]
        latency = ([emf(metric_names.SEARCH_LATENCY, "p50"), emf(metric_names.SEARCH_LATENCY, "p99")]
                   if detailed_metrics else
                   [search_function.metric_duration(statistic=p, period=PERIOD) for p in ("p50", "p99")])  # fmt: skip
        board = cloudwatch.Dashboard(self, "Dashboard", default_interval=hours(6))
        board.add_widgets(
            cloudwatch.GraphWidget(title="API requests / 4xx / 5xx", left=[
                stage.metric_count(**sum_), stage.metric_client_error(**sum_), stage.metric_server_error(**sum_)]),
            cloudwatch.GraphWidget(title="API latency p50 / p99 (ms)", left=[
                stage.metric_latency(statistic=p, period=PERIOD) for p in ("p50", "p99")]),
            cloudwatch.GraphWidget(title="Search function", left=[
                search_function.metric_invocations(**sum_), search_function.metric_errors(**sum_),
                search_function.metric_throttles(**sum_)]),
        )  # fmt: skip
        board.add_widgets(
            cloudwatch.GraphWidget(title="Cache outcomes", left=[emf(name) for name in outcomes]),
            cloudwatch.GraphWidget(title="Cache hit ratio (%)", left=[hit_ratio]),
            cloudwatch.GraphWidget(title="Search latency p50 / p99 (ms)", left=latency),
            cloudwatch.GraphWidget(title="DynamoDB consumed RCU / throttles", left=[
                table.metric_consumed_read_capacity_units(**sum_)], right=[throttles]),
        )  # fmt: skip
        board.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24))
        return board


def _throttles(table_name: str, kind: str, operation: str) -> cloudwatch.MathExpression:
    """Throttled ``kind`` (Read/Write) work on the table named ``table_name``, in two metrics: the table's
    ``<kind>ThrottleEvents`` (every operation's events on the table, partial batches included, but not an index's
    events) and ``ThrottledRequests`` of the one operation (its API name) that touches the indexes at run time (Query
    for reads, TransactWriteItems for writes), which counts a request once if any of its events, on the table or an
    index, is throttled."""

    def metric(name: str, **dimensions: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace="AWS/DynamoDB", metric_name=name, statistic="Sum", period=PERIOD,
                                 dimensions_map={"TableName": table_name, **dimensions})  # fmt: skip

    events, requests = metric(f"{kind}ThrottleEvents"), metric("ThrottledRequests", Operation=operation)
    return cloudwatch.MathExpression(expression="FILL(events, 0) + FILL(requests, 0)",
                                     using_metrics={"events": events, "requests": requests},
                                     label=f"DynamoDB throttled {kind.lower()}s", period=PERIOD)  # fmt: skip


def _serverless_cache_alarms(cache: Cache) -> dict[str, tuple[cloudwatch.IMetric, float, str]]:
    """Alarms at 75 % of the serverless cache's ECPU/s and storage caps, and on throttled commands.

    Serverless caches publish their metrics under the ``clusterId`` dimension (the cache name).
    """
    assert cache.max_ecpu_per_second is not None and cache.max_data_storage_gb is not None

    def metric(name: str, statistic: str, period: Duration = PERIOD) -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace="AWS/ElastiCache", metric_name=name, statistic=statistic, period=period,
                                 dimensions_map={"clusterId": cache.cache_name})  # fmt: skip

    ecpu_per_second = cloudwatch.MathExpression(
        expression="ecpu / 60",
        using_metrics={"ecpu": metric("ElastiCacheProcessingUnits", "Sum", minutes(1))},
        label="Cache ECPU/s",
        period=minutes(1),
    )
    return {
        "CacheEcpuNearLimit": (
            ecpu_per_second,
            ALARM_RATIO * cache.max_ecpu_per_second,
            f"Cache at 75 % of its {cache.max_ecpu_per_second} ECPU/s cap: above the cap ElastiCache throttles and "
            "searches fall back to DynamoDB. Raise CacheOptions.expected_peak_searches_per_second.",
        ),
        "CacheStorageNearLimit": (
            metric("BytesUsedForCache", "Maximum"),
            ALARM_RATIO * cache.max_data_storage_gb * 1e9,
            f"Cache data at 75 % of its {cache.max_data_storage_gb} GB cap: at the cap ElastiCache evicts entries.",
        ),
        "CacheThrottledCommands": (
            metric("ThrottledCmds", "Sum"),
            1,
            "ElastiCache throttled cache commands (cap reached, or load rising faster than the cache scales)",
        ),
    }


def _let_cloudwatch_use_the_topic_key(scope: Construct, topic: sns.ITopic) -> None:
    """CloudWatch publishes to a KMS-encrypted topic only when the key policy lets ``cloudwatch.amazonaws.com`` use the
    key: grant it on a key of this app (scoped to this account's alarms), else warn at synth naming the statement."""
    key = topic.master_key
    if key is None:
        return
    stack = Stack.of(scope)
    statement = iam.PolicyStatement(
        sid="AllowCloudWatchAlarmsToUseTheKey",
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions=["kms:Decrypt", "kms:GenerateDataKey*"],
        resources=["*"],
        conditions={
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"},
        },
    )
    if not key.add_to_resource_policy(statement, allow_no_op=True).statement_added:
        Annotations.of(scope).add_warning_v2(
            "cached-booking-api:alarm-topic-key",
            "alarm_topic is encrypted with a KMS key this app cannot change: CloudWatch alarms will not be delivered "
            "unless its key policy allows principal cloudwatch.amazonaws.com the actions kms:Decrypt and "
            "kms:GenerateDataKey* (Resource *, conditions aws:SourceAccount = this account and aws:SourceArn like "
            "arn:aws:cloudwatch:<region>:<account>:alarm:*). Add that statement to the key policy.",
        )
