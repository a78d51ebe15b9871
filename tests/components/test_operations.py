"""Operations under mocks, every stack: alarms on every stage, the stack alarm, dashboards, budgets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from components.operations.alerting import ALARM_KIND_TAG
from components.support.region import BILLING_REGION, COST_ALLOCATION_TAG, GLOBAL_ACCELERATOR_API_REGION
from preview.harness import computed_attributes
from runtime.ingest.metrics import EMF_DIMENSION, EMF_NAMESPACE, IngestMetrics
from runtime.names import RegionNames, StackNames
from runtime.sessionizer.metrics import LATE_REASON_DIMENSION, LATE_REASONS
from runtime.stack import Settings
from tests.graph import (
    ALB,
    APPLICATION,
    FIREHOSE,
    FUNCTION,
    INFLUX_INSTANCE,
    QUEUE,
    REPLICATION,
    SERVICE,
    STREAM,
    TABLE,
    TARGET_GROUP,
    Graph,
    Resource,
)

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
TOPIC = "aws:sns/topic:Topic"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
BUDGET = "aws:budgets/budget:Budget"
ANOMALY_MONITOR = "aws:costexplorer/anomalyMonitor:AnomalyMonitor"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
KEY = "aws:kms/key:Key"


def computed(resource: Resource) -> dict[str, Any]:
    """What AWS computes for a resource (its ARN, ARN suffix), as the mocks do."""
    return computed_attributes(resource.type, resource.name, resource.inputs, resource.region or "")[1]


def alarm_dimensions(alarm: Resource) -> Iterator[dict[str, str]]:
    """The dimensions of every metric an alarm watches, directly or through metric math."""
    if alarm.inputs.get("dimensions"):
        yield alarm.inputs["dimensions"]
    for query in alarm.inputs.get("metricQueries") or []:
        if query.get("metric"):
            yield query["metric"].get("dimensions") or {}


def alarms_of(graph: Graph, kind: str, region: str | None = None) -> list[Resource]:
    return [
        alarm
        for alarm in graph.of_type(METRIC_ALARM)
        if alarm.inputs["tags"][ALARM_KIND_TAG] == kind and (region is None or alarm.region == region)
    ]


def stage_resources(graph: Graph, settings: Settings) -> Iterator[tuple[Resource, str]]:
    """Each stage resource with the name or ARN part CloudWatch knows it by."""
    # The InfluxDB provisioner runs only inside a deploy, which fails with it: no alarm to raise.
    provisioners = {RegionNames(settings.environment, r.name).influx_provisioner_function for r in settings.regions}
    for alb in graph.of_type(ALB):
        yield alb, computed(alb)["arnSuffix"]
    for group in graph.of_type(TARGET_GROUP):
        yield group, computed(group)["arnSuffix"]
    for token in (STREAM, FIREHOSE, APPLICATION, FUNCTION, QUEUE, SERVICE, INFLUX_INSTANCE):
        for resource in graph.of_type(token):
            if resource.inputs["name"] not in provisioners:
                yield resource, resource.inputs["name"]
    for table in graph.of_type(TABLE):
        yield table, table.inputs["databaseName"]
    for replication in graph.of_type(REPLICATION):
        yield replication, replication.inputs["rules"][0]["id"]


def test_every_stage_resource_has_an_alarm_on_its_real_name(graph: Graph, settings: Settings) -> None:
    alarms = graph.of_type(METRIC_ALARM)
    for resource, known_as in stage_resources(graph, settings):
        watching = [
            alarm
            for alarm in alarms
            if alarm.region == resource.region
            and any(known_as in dimensions.values() for dimensions in alarm_dimensions(alarm))
        ]
        assert watching, f"no alarm in {resource.region} names {resource.type} {known_as}"


def test_alarm_actions_point_at_their_regions_topic_unless_paging_is_off(graph: Graph, settings: Settings) -> None:
    topics = {topic.region: computed(topic)["arn"] for topic in graph.of_type(TOPIC)}
    assert set(topics) == {region.name for region in settings.regions}
    alarms = graph.of_type(METRIC_ALARM) + graph.of_type(COMPOSITE_ALARM)
    assert len(alarms) > 80
    for alarm in alarms:
        kind = alarm.inputs["tags"][ALARM_KIND_TAG]
        paged = settings.alerting.paging and kind not in settings.alerting.muted
        expected = [topics[alarm.region]] if paged else []
        assert alarm.inputs.get("alarmActions", []) == expected, alarm.name
        assert alarm.inputs.get("okActions", []) == expected, alarm.name


def test_alerts_topic_is_encrypted_with_the_regions_key_that_alarm_services_may_use(graph: Graph) -> None:
    keys = {key.region: key for key in graph.of_type(KEY)}
    for topic in graph.of_type(TOPIC):
        key = keys[topic.region]
        assert topic.inputs["kmsMasterKeyId"] == computed(key)["arn"]
        statements = json.loads(key.inputs["policy"])["Statement"]
        publishers = {s for st in statements for s in st.get("Principal", {}).get("Service", [])}
        assert {"cloudwatch.amazonaws.com", "budgets.amazonaws.com", "costalerts.amazonaws.com"} <= publishers


def test_ingest_alarms_watch_the_names_the_service_emits(graph: Graph, settings: Settings) -> None:
    """Namespace, metric names and dimension as IngestMetrics writes them in its EMF lines."""
    metrics = IngestMetrics("stream")
    metrics.unavailable.inc()
    metrics.events_rejected.labels("invalid_event").inc()
    metrics.put_records_retries.labels("InternalFailure").inc()
    document = metrics.emf()
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    emitted = {metric["Name"] for metric in directive["Metrics"]}
    for region in settings.regions:
        ingest_alarms = [
            a for a in graph.in_region(METRIC_ALARM, region.name) if a.inputs.get("namespace") == EMF_NAMESPACE
        ]
        kinds = {alarm.inputs["tags"][ALARM_KIND_TAG] for alarm in ingest_alarms}
        assert kinds == {"ingest-unavailable", "ingest-events-rejected", "ingest-kinesis-retries"}
        for alarm in ingest_alarms:
            assert directive["Namespace"] == alarm.inputs["namespace"]
            assert alarm.inputs["metricName"] in emitted
            assert [list(alarm.inputs["dimensions"])] == directive["Dimensions"] == [[EMF_DIMENSION]]
            stream = RegionNames(settings.environment, region.name).stream("raw")
            assert alarm.inputs["dimensions"][EMF_DIMENSION] == stream


def test_late_events_are_watched_for_every_reason_the_job_counts(graph: Graph, settings: Settings) -> None:
    for region in settings.regions:
        application = RegionNames(settings.environment, region.name).flink_application
        alarms = alarms_of(graph, "sessionizer-late-events", region.name)
        reasons = set()
        for alarm in alarms:
            (dimensions,) = alarm_dimensions(alarm)
            assert dimensions["Application"] == application
            reasons.add(dimensions[LATE_REASON_DIMENSION])
        assert reasons == set(LATE_REASONS)


def test_missing_data_means_down_only_for_the_flink_application(graph: Graph) -> None:
    for alarm in graph.of_type(METRIC_ALARM):
        kind = alarm.inputs["tags"][ALARM_KIND_TAG]
        expected = {"sessionizer-downtime": "breaching", "region-unhealthy": "ignore"}.get(kind, "notBreaching")
        assert alarm.inputs["treatMissingData"] == expected, alarm.name


def watched(kind: str, settings: Settings) -> bool:
    """Whether the stack has what an alarm kind watches: the replayer, and one session store engine's."""
    engine = settings.session_store.engine
    return not (
        (kind.startswith("replay-") and not settings.replay.enabled)
        or (kind.startswith("timestream-") and engine != "liveanalytics")
        or (kind.startswith("influxdb-") and engine != "influxdb")
    )


def test_alarms_are_tuned_by_the_stack(graph: Graph, settings: Settings) -> None:
    for kind, tuning in settings.alerting.alarms.items():
        alarms = alarms_of(graph, kind)
        assert bool(alarms) == watched(kind, settings), kind
        for alarm in alarms:
            assert alarm.inputs["threshold"] == tuning.threshold
            assert alarm.inputs["evaluationPeriods"] == tuning.evaluation_periods
            assert alarm.inputs["datapointsToAlarm"] == tuning.datapoints


def test_each_region_has_a_composite_over_its_stage_alarms_and_the_stack_one_spans_both(
    graph: Graph, settings: Settings
) -> None:
    composites = {c.inputs["alarmName"]: c for c in graph.of_type(COMPOSITE_ALARM)}
    primary, secondary = (RegionNames(settings.environment, region.name) for region in settings.regions)
    for names in (primary, secondary):
        composite = composites[names.pipeline_unhealthy_alarm]
        stage_alarms = {
            a.inputs["name"]
            for a in graph.in_region(METRIC_ALARM, names.region)
            if not a.inputs["tags"][ALARM_KIND_TAG].startswith(("alarm-relay", "region-unhealthy"))
        }
        assert {f'ALARM("{name}")' for name in stage_alarms} == set(composite.inputs["alarmRule"].split(" OR "))
    stack = composites[StackNames(settings.environment).stack_unhealthy_alarm]
    assert stack.region == settings.primary.name
    mirror = next(a for a in graph.of_type(METRIC_ALARM) if a.inputs["name"] == stack.inputs["alarmRule"].split('"')[3])
    assert mirror.inputs["dimensions"] == {"AlarmName": secondary.pipeline_unhealthy_alarm}
    assert f'ALARM("{primary.pipeline_unhealthy_alarm}")' in stack.inputs["alarmRule"]
    # The secondary's composite state reaches the primary's default bus, and from there the relay.
    secondary_arn = computed(composites[secondary.pipeline_unhealthy_alarm])["arn"]
    relay_rules = [r for r in graph.of_type(EVENT_RULE) if r.inputs["name"].endswith("-alarm-relay")]
    assert {r.region for r in relay_rules} == {region.name for region in settings.regions}
    for rule in relay_rules:
        assert json.loads(rule.inputs["eventPattern"])["resources"] == [secondary_arn]
    relay_rule_names = {r.inputs["name"] for r in relay_rules}
    targets = {t.region: t.inputs["arn"] for t in graph.of_type(EVENT_TARGET) if t.inputs["rule"] in relay_rule_names}
    assert targets[settings.secondary.name].endswith(f":events:{settings.primary.name}:123456789012:event-bus/default")
    assert ":states:" in targets[settings.primary.name]


def test_replication_metrics_are_on_for_every_rule(graph: Graph) -> None:
    for configuration in graph.of_type(REPLICATION):
        for rule in configuration.inputs["rules"]:
            assert rule["destination"]["metrics"]["status"] == "Enabled"


# -- dashboards ------------------------------------------------------------------------


def known_names(graph: Graph) -> set[str]:
    """Every name, id, ARN and ARN part the stack's resources are known by."""
    known: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, str):
            known.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for resource in graph.aws_resources():
        collect(resource.inputs)
        resource_id, attributes = computed_attributes(
            resource.type, resource.name, resource.inputs, resource.region or ""
        )
        collect(resource_id)
        collect(attributes)
        if "arn" in attributes:  # the resource id at the end of an ARN (an accelerator's id)
            known.add(attributes["arn"].rsplit("/", 1)[-1])
    return known


def widgets(dashboard: Resource) -> list[dict[str, Any]]:
    body = json.loads(dashboard.inputs["dashboardBody"])
    assert isinstance(body["widgets"], list) and body["widgets"]
    return list(body["widgets"])


def assert_valid_layout(items: list[dict[str, Any]]) -> None:
    cells: set[tuple[int, int]] = set()
    for widget in items:
        assert widget["type"] in ("metric", "alarm", "text"), widget
        assert widget["x"] >= 0 and widget["x"] + widget["width"] <= 24 and widget["y"] >= 0 and widget["height"] > 0
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells, f"widgets overlap at {x},{y}"
                cells.add((x, y))


def metric_lines(widget: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str]]]:
    for line in widget["properties"].get("metrics", []):
        namespace, name, *rest = line
        if rest and isinstance(rest[-1], dict):
            rest = rest[:-1]
        assert len(rest) % 2 == 0, line
        yield namespace, name, dict(zip(rest[::2], rest[1::2], strict=True))


def test_resource_dashboard_shows_both_regions_and_only_the_stacks_resources(graph: Graph, settings: Settings) -> None:
    (dashboard,) = [
        d
        for d in graph.of_type(DASHBOARD)
        if d.inputs["dashboardName"] == StackNames(settings.environment).resource_dashboard
    ]
    items = widgets(dashboard)
    assert_valid_layout(items)
    known = known_names(graph)
    alarm_arns = {computed(a)["arn"] for a in graph.of_type(METRIC_ALARM) + graph.of_type(COMPOSITE_ALARM)}
    regions = {region.name for region in settings.regions}
    shown_alarms, shown_regions = set(), set()
    for widget in items:
        properties = widget["properties"]
        if widget["type"] == "alarm":
            shown_alarms.update(properties["alarms"])
            assert set(properties["alarms"]) <= alarm_arns
        if widget["type"] == "metric":
            assert properties["region"] in regions | {GLOBAL_ACCELERATOR_API_REGION}
            shown_regions.add(properties["region"])
            for alarm in properties.get("annotations", {}).get("alarms", []):
                assert alarm in alarm_arns and f":{properties['region']}:" in alarm
            for _, _, dimensions in metric_lines(widget):
                for value in dimensions.values():
                    assert value in known or value == "WriteRecords", f"{value} is not a resource of the stack"
            assert properties.get("metrics") or properties.get("annotations", {}).get("alarms"), widget
    assert shown_regions == regions
    regional = {computed(a)["arn"] for a in graph.of_type(METRIC_ALARM) + graph.of_type(COMPOSITE_ALARM)
                if a.inputs.get("tags", {}).get(ALARM_KIND_TAG) not in ("stack-unhealthy", "region-unhealthy")
                and not a.inputs["tags"][ALARM_KIND_TAG].startswith("alarm-relay")}  # fmt: skip
    assert regional <= shown_alarms, "every stage alarm of both regions is on top"


def test_resource_dashboard_follows_the_data_path(graph: Graph, settings: Settings) -> None:
    (dashboard,) = [d for d in graph.of_type(DASHBOARD) if d.inputs["dashboardName"].endswith("-pipeline")]
    headings = [w["properties"]["markdown"] for w in widgets(dashboard) if w["type"] == "text"][1:]
    assert headings == [
        "## Accelerator and ALB", "## Ingest service", "## Raw stream", "## Firehose and Flink",
        "## Session and late streams", "## Session writer", "## Session store", "## Replication", "## Reconciler",
        *(["## Live replay"] if settings.replay.enabled else []),
    ]  # fmt: skip


# -- budgets ---------------------------------------------------------------------------


def test_budget_filters_on_the_providers_tag_in_the_billing_region(graph: Graph, settings: Settings) -> None:
    (budget,) = graph.of_type(BUDGET)
    assert budget.region == BILLING_REGION
    assert budget.inputs["limitAmount"] == f"{settings.budget.monthly_limit_usd:.2f}"
    assert budget.inputs["costFilters"] == [
        {"name": "TagKeyValue", "values": [f"user:{COST_ALLOCATION_TAG}${settings.environment}"]}
    ]
    for provider in graph.of_type("pulumi:providers:aws"):
        assert json.loads(provider.inputs["defaultTags"])["tags"][COST_ALLOCATION_TAG] == settings.environment
    (topic,) = graph.in_region(TOPIC, BILLING_REGION)
    notified = sorted((n["notificationType"], n["threshold"]) for n in budget.inputs["notifications"])
    assert notified == sorted(
        [("ACTUAL", p) for p in settings.budget.actual_alerts_percent]
        + [("FORECASTED", p) for p in settings.budget.forecast_alerts_percent]
    )
    assert all(n["subscriberSnsTopicArns"] == [computed(topic)["arn"]] for n in budget.inputs["notifications"])
    (monitor,) = graph.of_type(ANOMALY_MONITOR)
    assert monitor.region == BILLING_REGION
    spec = json.loads(monitor.inputs["monitorSpecification"])
    assert spec["Tags"] == {"Key": COST_ALLOCATION_TAG, "Values": [settings.environment], "MatchOptions": ["EQUALS"]}


def test_budget_dashboard_is_in_the_billing_region_beside_the_limit(graph: Graph, settings: Settings) -> None:
    (dashboard,) = [
        d
        for d in graph.of_type(DASHBOARD)
        if d.inputs["dashboardName"] == StackNames(settings.environment).budget_dashboard
    ]
    assert dashboard.region == BILLING_REGION
    items = widgets(dashboard)
    assert_valid_layout(items)
    charts = [w for w in items if w["type"] == "metric"]
    assert charts
    for chart in charts:
        assert chart["properties"]["region"] == BILLING_REGION
        limits = [line["value"] for line in chart["properties"]["annotations"]["horizontal"]]
        assert limits == [settings.budget.monthly_limit_usd]
        for namespace, name, dimensions in metric_lines(chart):
            assert (namespace, name, dimensions["Currency"]) == ("AWS/Billing", "EstimatedCharges", "USD")
