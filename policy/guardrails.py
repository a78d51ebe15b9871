"""The guardrails every stack must pass before review: pulumi-policy policies, importable and testable.

Each policy reads resources as the engine hands them to a policy pack: type token, inputs with
the provider's (camelCase) property names, provider and property dependencies. Relations
between resources (a bucket and its encryption, a load balancer and its WAF) are followed
through property dependencies where the engine gives them (a preview, where ids are not known
yet) and by value otherwise. A value not known yet proves nothing either way: it is skipped.

What a stack may do differently is policy configuration (`policy/config.py` writes it from
the stack's settings): whether its listeners may serve plain HTTP, and its tags.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
STREAM = "aws:kinesis/stream:Stream"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
AWS_PROVIDER = "pulumi:providers:aws"
# Identity policies: a JSON document in the named input (Role: each of its inline policies).
IDENTITY_POLICIES = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
ROLE = "aws:iam/role:Role"

# Actions AWS authorizes on no resource ARN at all (its service authorization reference lists no
# resource type for them): a statement allowing only these may say Resource "*". Add one here
# only with that reference in hand.
ACTIONS_WITHOUT_RESOURCES = frozenset(
    {
        "cloudwatch:PutMetricData",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ecr:GetAuthorizationToken",
        "timestream:DescribeEndpoints",
        "timestream:ListDatabases",
    }
)
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
# ALB access logs can only be written to buckets encrypted with S3-managed keys.
ALB_LOG_ALGORITHM = "AES256"

CONFIG_ALLOW_HTTP = "allowHttp"
CONFIG_TAGS = "tags"


StackCheck = Callable[[PolicyResource, Sequence[PolicyResource], Mapping[str, Any], ReportViolation], None]


def each_resource(token: str | None, check: StackCheck) -> Callable[[StackValidationArgs, ReportViolation], None]:
    """A stack validation that checks each resource of a type (every resource: None) with the whole
    stack in view. A check that meets a value not known yet (a preview of a resource to be created)
    skips that one resource, not the stack."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        config = args.get_config()
        for resource in args.resources:
            if token is None or resource.resource_type == token:
                with contextlib.suppress(UnknownValueError):
                    check(resource, args.resources, config, report)

    validate.__name__ = check.__name__
    return validate


# -- relations ------------------------------------------------------------------------------


def _names_of(resource: PolicyResource) -> set[str]:
    """What other resources may hold to point at this one: its name, id and ARN, where known."""
    props = resource.props
    return {str(props[key]) for key in ("bucket", "id", "arn", "name") if isinstance(props.get(key), str)}


def refers_to(resource: PolicyResource, prop: str, target: PolicyResource) -> bool:
    """Whether `resource`'s `prop` names `target`: by property dependency, else by value."""
    depended = resource.property_dependencies.get(prop) if resource.property_dependencies else None
    if depended:
        return any(d.urn == target.urn for d in depended)
    value = resource.props.get(prop)
    return isinstance(value, str) and value in _names_of(target)


def attached(
    resources: Sequence[PolicyResource], token: str, prop: str, target: PolicyResource
) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type == token and refers_to(r, prop, target)]


def _of_type(resources: Iterable[PolicyResource], token: str) -> Iterator[PolicyResource]:
    return (r for r in resources if r.resource_type == token)


def _label(resource: PolicyResource) -> str:
    return resource.name


# -- S3 ---------------------------------------------------------------------------------------


def _alb_log_buckets(resources: Sequence[PolicyResource]) -> set[str]:
    """URNs of the buckets a load balancer writes its access logs to."""
    urns: set[str] = set()
    for balancer in _of_type(resources, LOAD_BALANCER):
        logs = balancer.props.get("accessLogs") or {}
        depended = (balancer.property_dependencies or {}).get("accessLogs") or []
        for bucket in _of_type(resources, BUCKET):
            if any(d.urn == bucket.urn for d in depended) or logs.get("bucket") in _names_of(bucket):
                urns.add(bucket.urn)
    return urns


def _rules(encryption: PolicyResource) -> list[Mapping[str, Any]]:
    return [rule.get("applyServerSideEncryptionByDefault") or {} for rule in encryption.props.get("rules") or []]


def _parts(
    bucket: PolicyResource, resources: Sequence[PolicyResource], token: str, what: str, report: ReportViolation
) -> list[PolicyResource]:
    """The bucket's resources of a type (its encryption, its public access block); a violation when none."""
    parts = attached(resources, token, "bucket", bucket)
    if not parts:
        report(f"bucket {_label(bucket)} has no {what}", bucket.urn)
    return parts


def check_bucket_encryption(
    bucket: PolicyResource, resources: Sequence[PolicyResource], _: Mapping[str, Any], report: ReportViolation
) -> None:
    configurations = _parts(bucket, resources, BUCKET_ENCRYPTION, "server-side encryption configuration", report)
    takes_alb_logs = bucket.urn in _alb_log_buckets(resources)
    for rule in (rule for configuration in configurations for rule in _rules(configuration)):
        algorithm = rule.get("sseAlgorithm")
        if takes_alb_logs:
            if algorithm != ALB_LOG_ALGORITHM:
                report(f"bucket {_label(bucket)} takes ALB access logs: it must use {ALB_LOG_ALGORITHM} "
                       f"(the only encryption ALB log delivery supports), not {algorithm}", bucket.urn)  # fmt: skip
        elif algorithm not in KMS_ALGORITHMS or not rule.get("kmsMasterKeyId"):
            report(f"bucket {_label(bucket)} must be encrypted with a KMS key (sseAlgorithm aws:kms and "
                   f"kmsMasterKeyId), not {algorithm}", bucket.urn)  # fmt: skip


PUBLIC_ACCESS_SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def check_bucket_public_access(
    bucket: PolicyResource, resources: Sequence[PolicyResource], _: Mapping[str, Any], report: ReportViolation
) -> None:
    for block in _parts(bucket, resources, BUCKET_PUBLIC_ACCESS, "public access block", report):
        open_settings = [name for name in PUBLIC_ACCESS_SETTINGS if block.props.get(name) is not True]
        if open_settings:
            report(f"bucket {_label(bucket)}: public access must be fully blocked; "
                   f"{', '.join(open_settings)} not true", bucket.urn)  # fmt: skip


def statements(document: Any) -> list[Mapping[str, Any]]:
    """The statements of a policy document given as JSON text or as a mapping."""
    parsed = json.loads(document) if isinstance(document, str) else document
    found = parsed.get("Statement", []) if isinstance(parsed, Mapping) else []
    return [found] if isinstance(found, Mapping) else [s for s in _as_list(found) if isinstance(s, Mapping)]


def _as_list(value: Any) -> list[Any]:
    """A policy field that may be one value or a list of them (the engine's lists are Sequence proxies)."""
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


def _denies_plain_http(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    secure = (condition.get("Bool") or {}).get("aws:SecureTransport")
    return (
        statement.get("Effect") == "Deny"
        and any(action in ("s3:*", "*") for action in _as_list(statement.get("Action")))
        and str(secure).lower() == "false"
        and statement.get("Principal") in ("*", {"AWS": "*"})
    )


def check_bucket_tls_only(
    bucket: PolicyResource, resources: Sequence[PolicyResource], _: Mapping[str, Any], report: ReportViolation
) -> None:
    documents = [policy.props.get("policy") for policy in attached(resources, BUCKET_POLICY, "bucket", bucket)]
    if not any(_denies_plain_http(s) for document in documents if document for s in statements(document)):
        report(f"bucket {_label(bucket)} needs a bucket policy that denies every request without TLS "
               "(Deny s3:* to * when aws:SecureTransport is false)", bucket.urn)  # fmt: skip


# -- other resources ----------------------------------------------------------------------------


def validate_stream_encryption(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != STREAM:
        return
    if args.props.get("encryptionType") != "KMS" or not args.props.get("kmsKeyId"):
        report(f"stream {args.name} must be encrypted with KMS (encryptionType KMS and kmsKeyId)", None)


def validate_log_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != LOG_GROUP:
        return
    retention = args.props.get("retentionInDays")
    # Numbers reach a policy as JSON numbers (floats); a bool is not a number of days.
    if isinstance(retention, bool) or not isinstance(retention, int | float) or retention <= 0:
        report(f"log group {args.name} must set retentionInDays (it keeps logs forever otherwise)", None)


def _documents(args: ResourceValidationArgs) -> list[Any]:
    if args.resource_type in IDENTITY_POLICIES:
        return [args.props.get(IDENTITY_POLICIES[args.resource_type])]
    if args.resource_type == ROLE:
        return [
            inline.get("policy") for inline in args.props.get("inlinePolicies") or [] if isinstance(inline, Mapping)
        ]
    return []


def statement_problems(statement: Mapping[str, Any]) -> list[str]:
    """Why an identity-policy statement is too broad (empty when it is not)."""
    if statement.get("Effect") != "Allow":
        return []
    if "NotAction" in statement or "NotResource" in statement:
        return ["NotAction/NotResource allow everything not named"]
    actions = [str(a) for a in _as_list(statement.get("Action", []))]
    problems = [f"action {a} allows every action of a service" for a in actions if a == "*" or a.endswith(":*")]
    resources = [str(r) for r in _as_list(statement.get("Resource", []))]
    if "*" in resources:
        unlisted = sorted(set(actions) - ACTIONS_WITHOUT_RESOURCES)
        if unlisted:
            problems.append(f'resource "*" for {", ".join(unlisted)} (only actions without resource-level '
                            "permissions may use it)")  # fmt: skip
    return problems


def validate_iam_least_privilege(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for document in _documents(args):
        if document is None:
            continue  # not known yet
        for statement in statements(document):
            for problem in statement_problems(statement):
                sid = statement.get("Sid", "(no Sid)")
                report(f"policy of {args.name}, statement {sid}: {problem}", None)


def validate_https_listeners(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != LISTENER or args.props.get("protocol") != "HTTP":
        return
    actions = args.props.get("defaultActions") or []
    if actions and all(action.get("type") == "redirect" and (action.get("redirect") or {}).get("protocol") == "HTTPS"
                       for action in actions):  # fmt: skip
        return  # plain HTTP only to send the client to HTTPS
    if args.get_config().get(CONFIG_ALLOW_HTTP) is True:
        return
    report(f"listener {args.name} serves plain HTTP; use HTTPS, redirect to it, or allow HTTP for the stack "
           f"(policy config {CONFIG_ALLOW_HTTP}: ingest.allowHttp)", None)  # fmt: skip


def check_waf_on_public_load_balancer(
    balancer: PolicyResource, resources: Sequence[PolicyResource], _: Mapping[str, Any], report: ReportViolation
) -> None:
    if balancer.props.get("internal") is True or balancer.props.get("loadBalancerType", "application") != "application":
        return
    if not attached(resources, WEB_ACL_ASSOCIATION, "resourceArn", balancer):
        report(f"internet-facing load balancer {_label(balancer)} has no WAF web ACL associated", balancer.urn)


def _required_tags(config: Mapping[str, Any]) -> Mapping[str, str]:
    tags = config.get(CONFIG_TAGS) or {}
    return {str(k): str(v) for k, v in tags.items()}


def check_stack_tags(
    resource: PolicyResource, resources: Sequence[PolicyResource], config: Mapping[str, Any], report: ReportViolation
) -> None:
    """Every AWS resource carries the stack's tags: its provider applies them to everything it creates,
    and the resource sets none of them to another value."""
    required = _required_tags(config)
    if resource.resource_type == AWS_PROVIDER:
        default_tags = resource.props.get("defaultTags") or {}
        if isinstance(default_tags, str):  # the engine hands a provider's nested inputs over as JSON text
            default_tags = json.loads(default_tags)
        default = default_tags.get("tags") or {}
        missing = [f"{k}={v}" for k, v in required.items() if default.get(k) != v]
        if missing:
            report(f"provider {_label(resource)} must tag what it creates with {', '.join(missing)}", resource.urn)
        return
    if not resource.resource_type.startswith("aws:") or not required:
        return
    if resource.provider is None or resource.provider.resource_type != AWS_PROVIDER:
        report(f"{_label(resource)} is created by the default AWS provider, which applies no stack tags", resource.urn)
        return
    own = resource.props.get("tags") or {}
    overridden = sorted(k for k, v in required.items() if k in own and own[k] != v)
    if overridden:
        report(f"{_label(resource)} sets the stack tags {', '.join(overridden)} to other values", resource.urn)


# -- the pack ---------------------------------------------------------------------------------------


MANDATORY = EnforcementLevel.MANDATORY
ALLOW_HTTP_SCHEMA = PolicyConfigSchema({CONFIG_ALLOW_HTTP: {"type": "boolean"}})
TAGS_SCHEMA = PolicyConfigSchema({CONFIG_TAGS: {"type": "object"}})

POLICIES: list[Policy] = [
    StackValidationPolicy(
        "s3-buckets-encrypted",
        "Buckets are encrypted with KMS; ALB access-log buckets with SSE-S3.",
        each_resource(BUCKET, check_bucket_encryption),
        MANDATORY,
    ),
    StackValidationPolicy(
        "s3-public-access-blocked",
        "Every bucket blocks public access fully.",
        each_resource(BUCKET, check_bucket_public_access),
        MANDATORY,
    ),
    StackValidationPolicy(
        "s3-tls-only",
        "Every bucket's policy denies requests without TLS.",
        each_resource(BUCKET, check_bucket_tls_only),
        MANDATORY,
    ),
    ResourceValidationPolicy(
        "kinesis-streams-encrypted", "Kinesis streams are encrypted with KMS.", validate_stream_encryption, MANDATORY
    ),
    ResourceValidationPolicy(
        "log-groups-retention", "Log groups expire their logs.", validate_log_retention, MANDATORY
    ),
    ResourceValidationPolicy(
        "iam-least-privilege",
        'IAM policies allow no "*" or "service:*" actions, and "*" resources only for actions that have '
        "no resource-level permissions.",
        validate_iam_least_privilege,
        MANDATORY,
    ),
    ResourceValidationPolicy(
        "alb-listeners-https",
        "ALB listeners speak HTTPS (or redirect to it) unless the stack allows HTTP.",
        validate_https_listeners,
        MANDATORY,
        ALLOW_HTTP_SCHEMA,
    ),
    StackValidationPolicy(
        "waf-on-public-albs",
        "Every internet-facing ALB has a WAF web ACL.",
        each_resource(LOAD_BALANCER, check_waf_on_public_load_balancer),
        MANDATORY,
    ),
    StackValidationPolicy(
        "stack-tags",
        "Every AWS resource carries the stack's tags.",
        each_resource(None, check_stack_tags),
        MANDATORY,
        TAGS_SCHEMA,
    ),
]
