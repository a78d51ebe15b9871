"""What the stage components share and are not stages themselves: the region and its provider,
IAM policies, log groups, security groups, references between stages, the built artifacts."""
