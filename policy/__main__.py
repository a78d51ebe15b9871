"""The policy pack, as the Pulumi CLI runs it: `pulumi preview --policy-pack policy`."""

import sys
from pathlib import Path

from pulumi_policy import PolicyPack

# The CLI runs this file from the pack's folder: the repository above it makes `policy` importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy.guardrails import POLICIES

PolicyPack(name="prism-guardrails", policies=POLICIES)
