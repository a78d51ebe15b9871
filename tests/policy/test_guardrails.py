"""Each guardrail refuses a deliberately broken resource with its own message, and passes a sound one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel

from policy.guardrails import POLICIES
from policy.offline import Violation, run_policies
from preview.graph import Graph, Resource

STACK = "urn:pulumi:dev::prism-pipeline::"
TAGS = {"project": "prism-pipeline", "environment": "dev"}
CONFIG: dict[str, dict[str, Any]] = {"stack-tags": {"tags": TAGS}, "alb-listeners-https": {"allowHttp": False}}
PROVIDER = f"{STACK}pulumi:providers:aws::aws-primary"


def resource(token: str, name: str, inputs: dict[str, Any], **property_dependencies: str) -> Resource:
    return Resource(
        urn=f"{STACK}{token}::{name}", type=token, name=name, custom=True, parent="", provider=f"{PROVIDER}::id",
        dependencies=(), property_dependencies={k: (f"{STACK}{v}",) for k, v in property_dependencies.items()},
        region="us-east-1", inputs=inputs,
    )  # fmt: skip


def provider(tags: dict[str, str]) -> Resource:
    inputs = {"region": "us-east-1", "defaultTags": json.dumps({"tags": tags})}
    return Resource(PROVIDER, "pulumi:providers:aws", "aws-primary", True, "", "", (), {}, None, inputs)


BUCKET = "aws:s3/bucket:Bucket"
TLS_ONLY = json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
                                      "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})  # fmt: skip
PUBLIC_BLOCKED = {
    k: True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
}


def kms(key: str = "arn:aws:kms:us-east-1:123456789012:key/k") -> list[dict[str, Any]]:
    return [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key}}]


def sound_bucket(
    name: str, rules: list[dict[str, Any]] | None = None, **overrides: dict[str, Any] | None
) -> list[Resource]:
    """A bucket with its encryption, public access block and TLS-only policy, each linked to it."""
    link = f"{BUCKET}::{name}"
    parts: dict[str, tuple[str, dict[str, Any]]] = {
        "encryption": ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                       {"bucket": name, "rules": kms() if rules is None else rules}),
        "public": ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", {"bucket": name, **PUBLIC_BLOCKED}),
        "policy": ("aws:s3/bucketPolicy:BucketPolicy", {"bucket": name, "policy": TLS_ONLY}),
    }  # fmt: skip
    resources = [resource(BUCKET, name, {"bucket": name})]
    for part, (token, inputs) in parts.items():
        if part in overrides and overrides[part] is None:
            continue
        resources.append(resource(token, f"{name}-{part}", {**inputs, **(overrides.get(part) or {})}, bucket=link))
    return resources


def violations(*resources: Resource, config: dict[str, dict[str, Any]] | None = None) -> list[Violation]:
    graph = Graph(resources=(provider(TAGS), *resources), outputs={})
    return run_policies(graph, CONFIG if config is None else config)


def only(found: list[Violation]) -> Violation:
    assert len(found) == 1, found
    return found[0]


def test_a_sound_bucket_passes_every_policy() -> None:
    assert violations(*sound_bucket("raw")) == []


def test_every_policy_is_mandatory_and_named_once() -> None:
    assert len({p.name for p in POLICIES}) == len(POLICIES)
    assert all(p.enforcement_level is EnforcementLevel.MANDATORY for p in POLICIES)


def test_a_bucket_without_encryption_fails() -> None:
    found = only(violations(*sound_bucket("raw", encryption=None)))
    assert (found.policy, found.message) == (
        "s3-buckets-encrypted",
        "bucket raw has no server-side encryption configuration",
    )


def test_a_bucket_with_s3_managed_keys_fails_unless_it_takes_alb_logs() -> None:
    aes = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    found = only(violations(*sound_bucket("raw", aes)))
    assert found.policy == "s3-buckets-encrypted" and "must be encrypted with a KMS key" in found.message
    balancer = resource("aws:lb/loadBalancer:LoadBalancer", "alb", {"internal": True, "accessLogs": {"bucket": "logs"}},
                        accessLogs=f"{BUCKET}::logs")  # fmt: skip
    assert violations(*sound_bucket("logs", aes), balancer) == []
    found = only(violations(*sound_bucket("logs"), balancer))
    assert "takes ALB access logs: it must use AES256" in found.message


def test_a_bucket_open_to_the_public_fails() -> None:
    found = only(violations(*sound_bucket("raw", public={"restrictPublicBuckets": False})))
    assert found.policy == "s3-public-access-blocked"
    assert found.message == "bucket raw: public access must be fully blocked; restrictPublicBuckets not true"
    assert only(violations(*sound_bucket("raw", public=None))).message == "bucket raw has no public access block"


def test_a_bucket_that_answers_plain_http_fails() -> None:
    allow_all = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
                                           "Action": "s3:GetObject", "Resource": "*"}]})  # fmt: skip
    found = only(violations(*sound_bucket("raw", policy={"policy": allow_all})))
    assert found.policy == "s3-tls-only" and "denies every request without TLS" in found.message


def test_relations_are_followed_by_value_where_no_dependency_is_recorded() -> None:
    bucket, encryption, public, policy = sound_bucket("raw")
    unlinked = [r.__class__(**{**r.__dict__, "property_dependencies": {}}) for r in (encryption, public, policy)]
    assert violations(bucket, *unlinked) == []


def test_an_unencrypted_stream_fails() -> None:
    stream = resource("aws:kinesis/stream:Stream", "raw", {"name": "raw", "encryptionType": "NONE"})
    found = only(violations(stream))
    assert (found.policy, found.message) == ("kinesis-streams-encrypted", "stream raw must be encrypted with KMS "
                                             "(encryptionType KMS and kmsKeyId)")  # fmt: skip
    assert violations(resource(stream.type, "raw", {"encryptionType": "KMS", "kmsKeyId": "alias/k"})) == []


def test_a_log_group_kept_forever_fails() -> None:
    found = only(violations(resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"name": "/prism/x"})))
    assert found.policy == "log-groups-retention" and found.message.startswith(
        "log group logs must set retentionInDays"
    )
    assert violations(resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"retentionInDays": 14.0})) == []


def role_policy(*statements: dict[str, Any]) -> Resource:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return resource("aws:iam/rolePolicy:RolePolicy", "task", {"role": "r", "policy": document})


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ({"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"},
         "action * allows every action of a service"),
        ({"Sid": "S3", "Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::b"},
         "action s3:* allows every action of a service"),
        ({"Sid": "Put", "Effect": "Allow", "Action": ["kinesis:PutRecords"], "Resource": "*"},
         'resource "*" for kinesis:PutRecords'),
        ({"Sid": "Not", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "NotAction/NotResource"),
    ],
)  # fmt: skip
def test_a_broad_iam_statement_fails(statement: dict[str, Any], problem: str) -> None:
    found = only(violations(role_policy(statement)))
    assert found.policy == "iam-least-privilege"
    assert found.message.startswith(f"policy of task, statement {statement['Sid']}: {problem}")


def test_iam_star_resources_pass_for_actions_without_resource_permissions_and_denies_pass() -> None:
    assert violations(role_policy(
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*"},
    )) == []  # fmt: skip
    inline = {"inlinePolicies": [{"name": "x", "policy": json.dumps(
        {"Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})}]}  # fmt: skip
    assert {v.policy for v in violations(resource("aws:iam/role:Role", "role", inline))} == {"iam-least-privilege"}


def listener(protocol: str, action: dict[str, Any]) -> Resource:
    return resource("aws:lb/listener:Listener", "http", {"protocol": protocol, "defaultActions": [action]})


def test_a_plain_http_listener_fails_unless_it_redirects_or_the_stack_allows_http() -> None:
    forward = {"type": "forward", "targetGroupArn": "arn:tg"}
    found = only(violations(listener("HTTP", forward)))
    assert found.policy == "alb-listeners-https" and "serves plain HTTP" in found.message
    assert violations(listener("HTTP", {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443"}})) == []
    assert violations(listener("HTTPS", forward)) == []
    allowed = {**CONFIG, "alb-listeners-https": {"allowHttp": True}}
    assert violations(listener("HTTP", forward), config=allowed) == []


def test_an_internet_facing_load_balancer_without_waf_fails() -> None:
    balancer = resource(
        "aws:lb/loadBalancer:LoadBalancer", "alb", {"internal": False, "loadBalancerType": "application"}
    )
    found = only(violations(balancer))
    assert (found.policy, found.message) == ("waf-on-public-albs", "internet-facing load balancer alb has no WAF "
                                             "web ACL associated")  # fmt: skip
    association = resource("aws:wafv2/webAclAssociation:WebAclAssociation", "waf", {"webAclArn": "arn:acl"},
                           resourceArn="aws:lb/loadBalancer:LoadBalancer::alb")  # fmt: skip
    assert violations(balancer, association) == []


def test_resources_without_the_stack_tags_fail() -> None:
    graph = Graph(resources=(provider({"project": "prism-pipeline"}),), outputs={})
    found = only(run_policies(graph, CONFIG))
    assert (found.policy, found.message) == ("stack-tags", "provider aws-primary must tag what it creates with "
                                             "environment=dev")  # fmt: skip
    retagged = resource("aws:sqs/queue:Queue", "queue", {"tags": {"environment": "prod"}})
    assert only(violations(retagged)).message == "queue sets the stack tags environment to other values"
    orphan = Resource(f"{STACK}aws:sqs/queue:Queue::q", "aws:sqs/queue:Queue", "q", True, "", "", (), {}, None, {})
    assert "created by the default AWS provider" in only(violations(orphan)).message


def test_a_value_not_known_yet_skips_only_that_resource() -> None:
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's sentinel for an unknown value
    stream = resource("aws:kinesis/stream:Stream", "raw", {"encryptionType": unknown})
    assert violations(stream) == []
    balancer = resource("aws:lb/loadBalancer:LoadBalancer", "alb", {"internal": unknown})
    other = resource("aws:lb/loadBalancer:LoadBalancer", "other", {"internal": False})
    assert [v.message for v in violations(balancer, other)] == ["internet-facing load balancer other has no WAF "
                                                                "web ACL associated"]  # fmt: skip
