"""What a stack may do differently, as the policy pack's configuration, from the stack's own settings.

    python -m policy.config --stack dev > policy-config.json   # pulumi preview --policy-pack-config

One owner: the tags are components/support/region.py's (the providers apply them), whether
plain HTTP is allowed is the stack's `ingest.allowHttp`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from components.support.region import stack_tags
from policy.guardrails import CONFIG_ALLOW_HTTP, CONFIG_TAGS
from runtime.stack.parse import from_stack_file

ROOT = Path(__file__).resolve().parent.parent


def policy_config(stack: str) -> dict[str, dict[str, Any]]:
    """{policy name: its configuration} for the stack, from its stack file."""
    settings = from_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    return {
        "alb-listeners-https": {CONFIG_ALLOW_HTTP: settings.ingest.allow_http},
        "stack-tags": {CONFIG_TAGS: stack_tags(settings)},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    print(json.dumps(policy_config(args.stack), indent=2))


if __name__ == "__main__":
    main()
