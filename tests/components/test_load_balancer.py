"""The players' way in, under mocks for every stack: each region's ALB, its listeners and its WAF."""

from __future__ import annotations

import json
from typing import Any

from components.firewall import BODY_SIZE_RULE, COMMON_RULE_SET, web_acl_rules
from runtime.ingest.routes import EVENT_PATHS
from runtime.stack import Settings, WafSettings
from runtime.stack.limits import WAF_ALB_BODY_INSPECTION_BYTES
from tests.graph import ALB, LISTENER, LISTENER_RULE, TARGET_GROUP, WEB_ACL, WEB_ACL_ASSOCIATION, Graph, one_in_region

# -- ALB ---------------------------------------------------------------------------------


def test_each_region_has_an_internet_facing_alb_in_its_public_subnets_with_access_logs(
    graph: Graph, settings: Settings
) -> None:
    for region in settings.regions:
        alb = one_in_region(graph, ALB, region.name)
        inputs = alb.inputs
        assert (inputs["loadBalancerType"], inputs["internal"]) == ("application", False)
        assert inputs["dropInvalidHeaderFields"] is True
        assert inputs["idleTimeout"] == settings.ingest.idle_timeout_seconds
        assert inputs["enableDeletionProtection"] is settings.ingest.deletion_protection
        assert len(inputs["subnets"]) == settings.network.availability_zones
        assert all(subnet.startswith("subnet-") for subnet in inputs["subnets"])
        logs = inputs["accessLogs"]
        assert logs["enabled"] is True
        bucket = graph.bucket_by_name(logs["bucket"])
        assert bucket.region == region.name


def test_target_group_checks_ready_and_drains_for_the_service_drain_time(graph: Graph, settings: Settings) -> None:
    for region in settings.regions:
        group = one_in_region(graph, TARGET_GROUP, region.name)
        assert (group.inputs["targetType"], group.inputs["port"]) == ("ip", settings.ingest.port)
        assert group.inputs["healthCheck"]["path"] == "/ready"
        assert group.inputs["healthCheck"]["matcher"] == "200"
        assert group.inputs["deregistrationDelay"] == settings.ingest.shutdown_drain_seconds


def test_http_redirects_to_https_unless_the_stack_allows_http(graph: Graph, settings: Settings) -> None:
    for region in settings.regions:
        listeners = {listener.inputs["port"]: listener for listener in graph.in_region(LISTENER, region.name)}
        (http_action,) = listeners[80].inputs["defaultActions"]
        if settings.ingest.allow_http:
            assert http_action["type"] == "fixed-response"
        else:
            assert http_action["type"] == "redirect"
            assert http_action["redirect"] == {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}
        certificate = settings.ingest.certificate_arns[region.role]
        if certificate is None:
            assert set(listeners) == {80}
            continue
        https = listeners[443].inputs
        assert (https["protocol"], https["certificateArn"]) == ("HTTPS", certificate)
        assert https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13-")
        (default,) = https["defaultActions"]
        assert default["type"] == "fixed-response"


def test_only_the_event_paths_reach_the_service(graph: Graph, settings: Settings) -> None:
    """/metrics and /ready are the service's own: from outside, the ALB answers 404 for any other path."""
    for region in settings.regions:
        group = one_in_region(graph, TARGET_GROUP, region.name)
        listeners = graph.in_region(LISTENER, region.name)
        for listener in listeners:
            (default,) = listener.inputs["defaultActions"]
            assert default["type"] in ("fixed-response", "redirect"), listener.name
            if default["type"] == "fixed-response":
                assert default["fixedResponse"]["statusCode"] == "404"
                assert json.loads(default["fixedResponse"]["messageBody"])["error"] == "not_found"
        rules = graph.in_region(LISTENER_RULE, region.name)
        serving = [listener for listener in listeners if listener.inputs["defaultActions"][0]["type"] != "redirect"]
        assert len(rules) == len(serving) >= 1
        for rule in rules:
            (action,) = rule.inputs["actions"]
            assert action["type"] == "forward"
            assert action["targetGroupArn"].startswith(f"arn:aws:elasticloadbalancing:{region.name}:")
            assert group.urn in rule.property_dependencies["actions"]
            (condition,) = rule.inputs["conditions"]
            assert condition == {"pathPattern": {"values": list(EVENT_PATHS)}}


# -- WAF ---------------------------------------------------------------------------------


def test_each_alb_has_a_web_acl_with_rate_and_common_rules(graph: Graph, settings: Settings) -> None:
    for region in settings.regions:
        acl = one_in_region(graph, WEB_ACL, region.name)
        association = one_in_region(graph, WEB_ACL_ASSOCIATION, region.name)
        assert association.inputs["resourceArn"].startswith(f"arn:aws:elasticloadbalancing:{region.name}:")
        assert association.inputs["webAclArn"].startswith(f"arn:aws:wafv2:{region.name}:")
        assert acl.inputs["scope"] == "REGIONAL"
        rules = {rule["name"]: rule for rule in acl.inputs["rules"]}
        rate = rules["rate-per-client-ip"]["statement"]["rateBasedStatement"]
        assert (rate["aggregateKeyType"], rate["limit"]) == ("IP", settings.waf.rate_limit)
        assert rate["evaluationWindowSec"] == settings.waf.rate_window_seconds
        common = rules["AWSManagedRulesCommonRuleSet"]
        assert common["statement"]["managedRuleGroupStatement"]["vendorName"] == "AWS"
        expected: dict[str, dict[str, str]] = {"none": {}} if settings.waf.common_rule_set == "block" else {"count": {}}
        assert common["overrideAction"] == expected
        assert sorted(rule["priority"] for rule in rules.values()) == list(range(len(rules)))


def test_the_edge_lets_through_every_body_the_service_accepts(graph: Graph, settings: Settings) -> None:
    """WAF sees 8 KB of a body: no WAF rule may refuse a longer body while the service takes up to 1 MiB."""
    assert settings.ingest.max_body_bytes > WAF_ALB_BODY_INSPECTION_BYTES
    for region in settings.regions:
        rules = {rule["name"]: rule for rule in one_in_region(graph, WEB_ACL, region.name).inputs["rules"]}
        assert BODY_SIZE_RULE not in rules
        group = rules[COMMON_RULE_SET]["statement"]["managedRuleGroupStatement"]
        assert group["ruleActionOverrides"] == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]


def test_a_stack_whose_service_takes_8_kb_at_most_may_refuse_larger_bodies_at_the_edge() -> None:
    waf = WafSettings(rate_limit=3000, rate_window_seconds=300, max_body_bytes=8192, common_rule_set="block")
    plain: list[dict[str, Any]] = json.loads(json.dumps(web_acl_rules(waf, 8192, "acl")))
    rules = {rule["name"]: rule for rule in plain}
    size = rules[BODY_SIZE_RULE]["statement"]["size_constraint_statement"]
    assert (size["comparison_operator"], size["size"]) == ("GT", 8192)
    assert size["field_to_match"] == {"body": {"oversize_handling": "MATCH"}}
    assert "rule_action_overrides" not in rules[COMMON_RULE_SET]["statement"]["managed_rule_group_statement"]
    assert [rule["priority"] for rule in rules.values()] == [0, 1, 2]
