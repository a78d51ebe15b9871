"""A Lambda function from one of the project's built zips (runtime/packaging.py's LambdaPackage).

arm64, the package's Python and handler, the zip's content hash as the source code hash
(only a code change updates the function), JSON logs into the function's own log group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.support.artifacts import source_code_hash
from runtime.packaging import LAMBDA_PYTHON_VERSION, LambdaPackage


@dataclass(frozen=True)
class FunctionSizing:
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int


def packaged_function(
    name: str,
    function_name: str,
    description: str,
    package: LambdaPackage,
    artifact: Path,
    role: aws.iam.Role,
    sizing: FunctionSizing,
    variables: Mapping[str, pulumi.Input[str]],
    log_group: aws.cloudwatch.LogGroup,
    opts: pulumi.ResourceOptions,
    *,
    handler: str | None = None,  # another entry point of the same package
    vpc: aws.lambda_.FunctionVpcConfigArgs | None = None,
) -> aws.lambda_.Function:
    """``<name>-function``; opts should depend on the role's policy, so the first invocation has its grants."""
    return aws.lambda_.Function(
        f"{name}-function",
        aws.lambda_.FunctionArgs(
            name=function_name,
            description=description,
            role=role.arn,
            runtime=f"python{LAMBDA_PYTHON_VERSION}",
            architectures=["arm64"],
            handler=handler or package.handler,
            code=pulumi.FileArchive(str(artifact)),
            source_code_hash=source_code_hash(artifact),
            memory_size=sizing.memory_mb,
            timeout=sizing.timeout_seconds,
            reserved_concurrent_executions=sizing.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(variables)),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
            vpc_config=vpc,
        ),
        opts,
    )
