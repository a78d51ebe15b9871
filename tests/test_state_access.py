"""The preview role reads the state and decrypts; it can neither write, delete nor lock anything."""

from __future__ import annotations

import json

import pytest

from runtime import ops
from runtime.state_access import SECRETS_KEY_ALIAS, preview_role_policy

ACCOUNT = "123456789012"
# What writing or locking the state would take: a lock is an object the backend writes.
WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketPolicy", "s3:*",
          "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptTo", "kms:*")  # fmt: skip


def _actions(policy: dict[str, object]) -> set[str]:
    statements = policy["Statement"]
    assert isinstance(statements, list)
    return {action for statement in statements for action in statement["Action"]}


def test_the_preview_role_may_only_read_and_decrypt() -> None:
    policy = preview_role_policy(ACCOUNT)
    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])
    assert _actions(policy) == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:GetObjectVersion",
                                "kms:Decrypt"}  # fmt: skip
    assert not _actions(policy) & set(WRITES)


def test_each_right_is_scoped_to_the_state_bucket_or_the_secrets_key() -> None:
    statements = {statement["Sid"]: statement for statement in preview_role_policy(ACCOUNT)["Statement"]}
    assert statements["ListStacks"]["Resource"] == [f"arn:aws:s3:::prism-pulumi-state-{ACCOUNT}"]
    assert statements["ReadState"]["Resource"] == [f"arn:aws:s3:::prism-pulumi-state-{ACCOUNT}/*"]
    decrypt = statements["DecryptStateAndSecrets"]
    assert decrypt["Resource"] == [f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*"]
    assert decrypt["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [SECRETS_KEY_ALIAS]}}


def test_the_command_prints_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert ops.main(["preview-role-policy", "--account-id", ACCOUNT]) == 0
    assert json.loads(capsys.readouterr().out) == preview_role_policy(ACCOUNT)
