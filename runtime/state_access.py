"""Where the stacks' Pulumi state lives, and what a pull request's preview may do with it.

The state is a self-managed backend: an S3 bucket per account, its objects encrypted with
the key that also encrypts the stacks' secrets. A preview takes no lock on such a backend
and writes nothing to it (Pulumi takes the lock when an update starts applying), so the
role that runs a pull request's code reads the state and decrypts with the key, nothing
more: that code may be anyone's, and must not be able to rewrite production's state.
"""

from __future__ import annotations

from typing import Any

STATE_BUCKET_PREFIX = "prism-pulumi-state-"
SECRETS_KEY_ALIAS = "alias/prism-pulumi-secrets"
STATE_REGION = "us-east-1"
# Reading a stack's checkpoint and listing the stacks; nothing that writes or deletes.
STATE_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
STATE_LIST_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation")


def state_bucket(account_id: str) -> str:
    return f"{STATE_BUCKET_PREFIX}{account_id}"


def preview_role_policy(account_id: str, partition: str = "aws") -> dict[str, Any]:
    """The preview role's inline policy, beside AWS's ReadOnlyAccess for what the program reads."""
    bucket = f"arn:{partition}:s3:::{state_bucket(account_id)}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListStacks", "Effect": "Allow", "Action": list(STATE_LIST_ACTIONS), "Resource": [bucket]},
            {"Sid": "ReadState", "Effect": "Allow", "Action": list(STATE_READ_ACTIONS), "Resource": [f"{bucket}/*"]},
            {
                # The state's objects and the stacks' secrets: decrypt only, the key named by its alias.
                "Sid": "DecryptStateAndSecrets",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [f"arn:{partition}:kms:{STATE_REGION}:{account_id}:key/*"],
                "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [SECRETS_KEY_ALIAS]}},
            },
        ],
    }
