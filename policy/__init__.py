"""The policy pack: guardrails every stack passes before review (pulumi-policy)."""
