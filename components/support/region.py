"""One explicit AWS provider per region of the stack, and what a region's components share.

Every resource of the program gets its region from one of these providers (the
default provider is disabled in the stack files), so a resource can never land in
the region of whoever runs ``pulumi up``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from runtime.names import RegionNames
from runtime.stack import PROJECT, RegionSettings, Settings


@dataclass(frozen=True)
class Region:
    """A region of the stack as the components see it."""

    settings: RegionSettings
    names: RegionNames  # every physical name of the stack's resources in this region
    provider: aws.Provider
    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def code(self) -> str:
        return self.settings.code

    def bucket(self, kind: str) -> pulumi.Output[str]:
        """A bucket's name: S3 names are global, so they carry the account id."""
        return self.account_id.apply(lambda account: self.names.bucket(kind, account))

    @property
    def account_root(self) -> pulumi.Output[str]:
        """The account as a policy principal: its own IAM policies then decide."""
        return pulumi.Output.concat("arn:", self.partition, ":iam::", self.account_id, ":root")

    @property
    def opts(self) -> pulumi.ResourceOptions:
        """Options that put a top-level component into this region."""
        return pulumi.ResourceOptions(providers=[self.provider])


# Global Accelerator's API lives in this region only, whatever the stack's regions are.
GLOBAL_ACCELERATOR_API_REGION = "us-west-2"
# Budgets, Cost Explorer and the billing metrics are served from this region only.
BILLING_REGION = "us-east-1"
# The tag the stack's costs are told apart by (a cost allocation tag once activated).
COST_ALLOCATION_TAG = "environment"


def stack_tags(settings: Settings) -> dict[str, str]:
    """The tags every resource of the stack carries (policy/guardrails.py holds them to it)."""
    return {
        "project": PROJECT,
        COST_ALLOCATION_TAG: settings.environment,
        "managed-by": "pulumi",
        "owner": settings.tags.owner,
        "cost-center": settings.tags.cost_center,
    }


def default_tags(settings: Settings, region_role: str) -> dict[str, str]:
    """What a provider tags everything it creates with: the stack's tags and the region's role."""
    return {**stack_tags(settings), "region-role": region_role}


def open_region(settings: Settings, region: RegionSettings) -> Region:
    provider = aws.Provider(
        f"aws-{region.role}",
        aws.ProviderArgs(
            region=region.name,
            default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags(settings, region.role)),
        ),
    )
    invoke = pulumi.InvokeOutputOptions(provider=provider)
    return Region(
        settings=region,
        names=RegionNames(settings.environment, region.name),
        provider=provider,
        account_id=aws.get_caller_identity_output(opts=invoke).account_id,
        partition=aws.get_partition_output(opts=invoke).partition,
    )


def global_provider(settings: Settings) -> aws.Provider:
    """The provider for global services (Global Accelerator), tagged as such."""
    return aws.Provider(
        "aws-global",
        aws.ProviderArgs(
            region=GLOBAL_ACCELERATOR_API_REGION,
            default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags(settings, "global")),
        ),
    )


def billing_region(regions: Sequence[Region]) -> Region | None:
    """The stack's region that is the billing region, if one is."""
    return next((region for region in regions if region.name == BILLING_REGION), None)


def billing_provider(settings: Settings, regions: Sequence[Region]) -> aws.Provider:
    """The provider budgets and billing dashboards are created through: the stack's own in
    us-east-1 when it has one, else one opened there for the purpose."""
    home = billing_region(regions)
    if home is not None:
        return home.provider
    return aws.Provider(
        "aws-billing",
        aws.ProviderArgs(
            region=BILLING_REGION,
            default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags(settings, "billing")),
        ),
    )
