"""The WAF web ACL in front of a region's ALB.

Rules, cheapest first: a rate limit per client IP (the accelerator preserves client IPs,
so the ALB sees the player's address), a body-size limit when the stack sets one, and
AWS's common rule set (blocking or only counting, by stack). A blocked request gets a
status a player understands (429, 413) rather than WAF's bare 403. Every request WAF
blocks or counts is logged to a log group of its own.

The edge never refuses a body the service accepts. WAF sees only the first 8 KB of a body
that reaches an ALB, so its own body-size check (and the common rule set's
``SizeRestrictions_BODY``, which blocks above 8 KB) can only stand where the service's
limit is no larger; a service that takes more (1 MiB by default, for batches) enforces
its limit itself, and the managed rule only counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi_aws.wafv2 import WebAclRuleArgsDict

from components.support.region import Region
from runtime.stack import WafSettings
from runtime.stack.limits import WAF_ALB_BODY_INSPECTION_BYTES

RATE_RULE = "rate-per-client-ip"
BODY_SIZE_RULE = "body-size"
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
# The common rule set's check that blocks bodies over the 8 KB WAF inspects on an ALB.
COMMON_BODY_SIZE_RULE = "SizeRestrictions_BODY"


def _visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def web_acl_rules(settings: WafSettings, service_max_body_bytes: int, metric_prefix: str) -> list[WebAclRuleArgsDict]:
    """The rules in priority order; `service_max_body_bytes` is what the ingest service accepts."""
    rules: list[WebAclRuleArgsDict] = [
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
    ]
    if settings.max_body_bytes is not None:
        rules.append(
            {
                "name": BODY_SIZE_RULE,
                "priority": len(rules),
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
            }
        )
    common: aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgsDict = {
        "vendor_name": "AWS",
        "name": COMMON_RULE_SET,
    }
    if service_max_body_bytes > WAF_ALB_BODY_INSPECTION_BYTES:
        common["rule_action_overrides"] = [{"name": COMMON_BODY_SIZE_RULE, "action_to_use": {"count": {}}}]
    rules.append(
        {
            "name": COMMON_RULE_SET,
            "priority": len(rules),
            "statement": {"managed_rule_group_statement": common},
            "override_action": {"none": {}} if settings.common_rule_set == "block" else {"count": {}},
            "visibility_config": _visibility(f"{metric_prefix}-common"),
        }
    )
    return rules


@dataclass(frozen=True)
class FirewallArgs:
    environment: str
    region: Region
    settings: WafSettings
    service_max_body_bytes: int  # ingest.maxBodyBytes: what the edge must let through
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
            rules=web_acl_rules(args.settings, args.service_max_body_bytes, acl_name),
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
