"""The WAF web ACL in front of a region's ALB.

Three rules, cheapest first: a rate limit per client IP (the accelerator preserves
client IPs, so the ALB sees the player's address), a body-size limit, and AWS's common
rule set (blocking or only counting, by stack). A blocked request gets a status a
player understands (429, 413) rather than WAF's bare 403. Every request WAF blocks or
counts is logged to a log group of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi_aws.wafv2 import WebAclRuleArgsDict

from components.support.region import Region
from runtime.stack import WafSettings

RATE_RULE = "rate-per-client-ip"
BODY_SIZE_RULE = "body-size"
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"


def _visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def web_acl_rules(settings: WafSettings, metric_prefix: str) -> list[WebAclRuleArgsDict]:
    return [
        {
            "name": RATE_RULE,
            "priority": 0,
            "statement": {
                "rate_based_statement": {
                    "aggregate_key_type": "IP",
                    "limit": settings.rate_limit,
                    "evaluation_window_sec": settings.rate_window_seconds,
                }
            },
            "action": {"block": {"custom_response": {"response_code": 429}}},
            "visibility_config": _visibility(f"{metric_prefix}-{RATE_RULE}"),
        },
        {
            "name": BODY_SIZE_RULE,
            "priority": 1,
            "statement": {
                "size_constraint_statement": {
                    "comparison_operator": "GT",
                    "size": settings.max_body_bytes,
                    # WAF sees the first 8 KB of an ALB request's body: a longer body matches.
                    "field_to_match": {"body": {"oversize_handling": "MATCH"}},
                    "text_transformations": [{"priority": 0, "type": "NONE"}],
                }
            },
            "action": {"block": {"custom_response": {"response_code": 413}}},
            "visibility_config": _visibility(f"{metric_prefix}-{BODY_SIZE_RULE}"),
        },
        {
            "name": COMMON_RULE_SET,
            "priority": 2,
            "statement": {"managed_rule_group_statement": {"vendor_name": "AWS", "name": COMMON_RULE_SET}},
            "override_action": {"none": {}} if settings.common_rule_set == "block" else {"count": {}},
            "visibility_config": _visibility(f"{metric_prefix}-common"),
        },
    ]


@dataclass(frozen=True)
class FirewallArgs:
    environment: str
    region: Region
    settings: WafSettings
    load_balancer_arn: pulumi.Input[str]
    log_retention_days: int


class Firewall(pulumi.ComponentResource):
    web_acl: aws.wafv2.WebAcl
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: FirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:firewall:Firewall", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        acl_name = args.region.names.load_balancer

        # Keyword arguments rather than WebAclArgs: they take the typed dicts the rules are written in.
        self.web_acl = aws.wafv2.WebAcl(
            name,
            opts=child,
            name=acl_name,
            description="prism ingest: rate per client IP, body size, AWS common rules",
            scope="REGIONAL",
            default_action={"allow": {}},
            rules=web_acl_rules(args.settings, acl_name),
            visibility_config={
                "cloudwatch_metrics_enabled": True,
                "metric_name": acl_name,
                "sampled_requests_enabled": True,
            },
        )
        aws.wafv2.WebAclAssociation(
            name,
            aws.wafv2.WebAclAssociationArgs(resource_arn=args.load_balancer_arn, web_acl_arn=self.web_acl.arn),
            child,
        )
        # WAF writes only to log groups whose name starts with aws-waf-logs-.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            aws.cloudwatch.LogGroupArgs(
                name=args.region.names.firewall_log_group, retention_in_days=args.log_retention_days
            ),
            child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            name,
            opts=child,
            resource_arn=self.web_acl.arn,
            log_destination_configs=[self.log_group.arn],
            # Allowed requests are the ALB access logs' business; WAF logs what it acted on.
            logging_filter={
                "default_behavior": "DROP",
                "filters": [
                    {
                        "behavior": "KEEP",
                        "requirement": "MEETS_ANY",
                        "conditions": [
                            {"action_condition": {"action": "BLOCK"}},
                            {"action_condition": {"action": "COUNT"}},
                        ],
                    }
                ],
            },
        )
        self.register_outputs({"web_acl_arn": self.web_acl.arn})
