"""The ingest image's ECR repository in a region: what the deploy workflow pushes to and the tasks pull.

Made by the program so a new account needs no hand-made repository: tags are immutable (a
commit's tag always means that commit's image), every push is scanned, images are encrypted
with the region's key, and a lifecycle rule keeps the newest `keep_images` so the repository
neither grows forever nor loses what a rollback needs.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.support.region import Region


def lifecycle_policy(keep_images: int) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"keep the newest {keep_images} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_images},
                    "action": {"type": "expire"},
                }
            ]
        }
    )


def image_repository(
    name: str,
    region: Region,
    key_arn: pulumi.Input[str],
    keep_images: int,
    force_delete: bool,
    opts: pulumi.ResourceOptions,
) -> aws.ecr.Repository:
    repository = aws.ecr.Repository(
        name,
        aws.ecr.RepositoryArgs(
            name=region.names.ingest_repository,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=key_arn)
            ],
            force_delete=force_delete,
        ),
        opts,
    )
    aws.ecr.LifecyclePolicy(
        f"{name}-lifecycle",
        aws.ecr.LifecyclePolicyArgs(repository=repository.name, policy=lifecycle_policy(keep_images)),
        opts,
    )
    return repository
