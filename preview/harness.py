"""Run the Pulumi program for one stack under mocks and print the resource graph as JSON.

    python -m preview.harness --stack dev [--config-file Pulumi.dev.yaml]

It runs in a process of its own (preview/graph.py starts it): Pulumi's runtime settings are
process-global, and a mocked program that waits on an output nobody resolves hangs
instead of failing, so the caller runs this with a timeout.

Every registered resource is recorded with its type, logical name, parent, explicit and
property dependencies, inputs, and the region of the AWS provider it was created with.
Outputs are the inputs plus the attributes AWS would compute (ids, ARNs), so ARNs
wired between resources in the program show up as real-looking ARNs in the graph.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import runpy
import sys
import threading
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.mocks import MockMonitor

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
# Elastic Load Balancing's log-delivery accounts (aws.elb.get_service_account).
ELB_ACCOUNTS = {"us-east-1": "127311923021", "us-west-2": "797873946194"}


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


def computed_attributes(typ: str, name: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
    """The id and the attributes AWS computes for a resource of this type."""
    if typ == "aws:s3/bucket:Bucket":
        bucket = inputs["bucket"]
        return bucket, {"arn": f"arn:aws:s3:::{bucket}", "bucket": bucket, "region": region}
    if typ == "aws:kms/key:Key":
        key_id = hashlib.sha256(f"{region}/{name}".encode()).hexdigest()[:32]
        return key_id, {"keyId": key_id, "arn": _arn("kms", region, f"key/{key_id}")}
    if typ == "aws:iam/role:Role":
        role = inputs.get("name", name)
        return role, {"arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{role}", "name": role}
    if typ == "aws:timestreamwrite/database:Database":
        database = inputs["databaseName"]
        return database, {"arn": _arn("timestream", region, f"database/{database}"), "databaseName": database}
    if typ == "aws:timestreamwrite/table:Table":
        path = f"database/{inputs['databaseName']}/table/{inputs['tableName']}"
        return f"{inputs['tableName']}:{inputs['databaseName']}", {"arn": _arn("timestream", region, path)}
    if typ == "aws:sqs/queue:Queue":
        return f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{inputs['name']}", {
            "arn": _arn("sqs", region, inputs["name"]),
            "url": f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{inputs['name']}",
        }
    if typ == "aws:s3/bucketObjectv2:BucketObjectv2":
        version = hashlib.sha256(f"{inputs['bucket']}/{inputs['key']}".encode()).hexdigest()[:32]
        return f"{name}-id", {"versionId": version, "etag": version}
    if typ == "aws:lb/loadBalancer:LoadBalancer":
        suffix = f"app/{inputs['name']}/{hashlib.sha256(name.encode()).hexdigest()[:16]}"
        arn = _arn("elasticloadbalancing", region, f"loadbalancer/{suffix}")
        return arn, {
            "arn": arn,
            "arnSuffix": suffix,
            "dnsName": f"{inputs['name']}-1234567890.{region}.elb.amazonaws.com",
            "zoneId": "Z35SXDOTRQ7X7K",
        }
    if typ == "aws:lb/targetGroup:TargetGroup":
        suffix = f"targetgroup/{inputs['name']}/{hashlib.sha256(name.encode()).hexdigest()[:16]}"
        arn = _arn("elasticloadbalancing", region, suffix)
        return arn, {"arn": arn, "arnSuffix": suffix}
    if typ == "aws:globalaccelerator/accelerator:Accelerator":
        arn = f"arn:aws:globalaccelerator::{ACCOUNT_ID}:accelerator/{hashlib.sha256(name.encode()).hexdigest()[:32]}"
        return arn, {
            "arn": arn,
            "dnsName": "a1b2c3d4e5f6a7b8c.awsglobalaccelerator.com",
            "ipSets": [{"ipAddresses": ["75.2.0.10", "99.83.0.20"], "ipFamily": "IPv4"}],
        }
    if typ.startswith("aws:globalaccelerator/"):
        arn = f"arn:aws:globalaccelerator::{ACCOUNT_ID}:accelerator/x/{name}"
        return arn, {"arn": arn}
    if typ == "aws:timestreaminfluxdb/dbInstance:DbInstance":
        instance_id = hashlib.sha256(f"{region}/{name}".encode()).hexdigest()[:10]
        return instance_id, {
            "arn": _arn("timestream-influxdb", region, f"db-instance/{instance_id}"),
            "endpoint": f"{instance_id}-{ACCOUNT_ID[:6]}.{region}.timestream-influxdb.amazonaws.com",
            "availabilityZone": f"{region}a",
        }
    if typ == "aws:secretsmanager/secret:Secret":
        arn = _arn("secretsmanager", region, f"secret:{inputs['name']}-AbCdEf")
        return arn, {"arn": arn}
    if typ == "random:index/randomPassword:RandomPassword":
        return f"{name}-id", {"result": "MockPassword0" + "x" * (int(inputs["length"]) - 13)}
    if typ == "aws:ec2/vpcPeeringConnection:VpcPeeringConnection":
        return f"pcx-{hashlib.sha256(name.encode()).hexdigest()[:17]}", {}
    if typ == "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter":
        return inputs["vpcPeeringConnectionId"], {"accepterRegion": region}
    if typ == "aws:ec2/vpc:Vpc":
        return f"vpc-{hashlib.sha256(name.encode()).hexdigest()[:17]}", {}
    if typ == "aws:ec2/subnet:Subnet":
        return f"subnet-{hashlib.sha256(name.encode()).hexdigest()[:17]}", {}
    if typ == "aws:ec2/securityGroup:SecurityGroup":
        return f"sg-{hashlib.sha256(name.encode()).hexdigest()[:17]}", {}
    if typ == "aws:ecs/taskDefinition:TaskDefinition":
        arn = _arn("ecs", region, f"task-definition/{inputs['family']}:1")
        return arn, {"arn": arn, "revision": 1}
    if typ == "aws:ecs/service:Service":
        return _arn("ecs", region, f"service/{inputs['name']}"), {"name": inputs["name"]}
    if typ == "aws:cloudwatch/compositeAlarm:CompositeAlarm":
        arn = _arn("cloudwatch", region, f"alarm:{inputs['alarmName']}")
        return inputs["alarmName"], {"arn": arn}
    if typ == "aws:costexplorer/anomalyMonitor:AnomalyMonitor":
        arn = f"arn:aws:ce::{ACCOUNT_ID}:anomalymonitor/{hashlib.sha256(name.encode()).hexdigest()[:36]}"
        return arn, {"arn": arn}
    if typ == "aws:ecr/repository:Repository":
        repository = inputs["name"]
        return repository, {
            "arn": _arn("ecr", region, f"repository/{repository}"),
            "name": repository,
            "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{repository}",
        }
    physical = inputs.get("name", name)
    arns = {
        "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", f"alarm:{physical}"),
        "aws:sns/topic:Topic": ("sns", physical),
        "aws:sfn/stateMachine:StateMachine": ("states", f"stateMachine:{physical}"),
        "aws:cloudwatch/eventRule:EventRule": ("events", f"rule/{physical}"),
        "aws:kinesis/stream:Stream": ("kinesis", f"stream/{physical}"),
        "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": ("firehose", f"deliverystream/{physical}"),
        "aws:cloudwatch/logGroup:LogGroup": ("logs", f"log-group:{physical}"),
        "aws:kms/alias:Alias": ("kms", physical),
        "aws:kinesisanalyticsv2/application:Application": ("kinesisanalytics", f"application/{physical}"),
        "aws:lambda/function:Function": ("lambda", f"function:{physical}"),
        "aws:grafana/workspace:Workspace": ("grafana", f"/workspaces/{name}-id"),
        "aws:ecs/cluster:Cluster": ("ecs", f"cluster/{physical}"),
        "aws:wafv2/webAcl:WebAcl": ("wafv2", f"regional/webacl/{physical}/{name}-id"),
        "aws:dynamodb/table:Table": ("dynamodb", f"table/{physical}"),
        "aws:athena/workgroup:Workgroup": ("athena", f"workgroup/{physical}"),
        "aws:glue/catalogDatabase:CatalogDatabase": ("glue", f"database/{physical}"),
    }
    if typ in arns:
        service, resource = arns[typ]
        return physical, {"arn": _arn(service, region, resource), "name": physical}
    return f"{name}-id", {}


def zone_names(region: str) -> list[str]:
    """The availability zones the mocks' account sees in a region."""
    return [f"{region}{letter}" for letter in "abcd"]


# As in a real region, one interface endpoint service is not offered in every zone: here ECR's
# Docker endpoint skips the first zone, so the program must choose zones by what is offered.
ZONE_GAPS = {"ecr.dkr": 0}


def endpoint_service_zones(region: str, service: str) -> list[str]:
    """The zones the mocks offer an interface endpoint service in."""
    names = zone_names(region)
    return [zone for index, zone in enumerate(names) if ZONE_GAPS.get(service) != index]


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.provider_regions: dict[str, str] = {}
        self.last: dict[str, Any] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == "pulumi:providers:aws":
            provider_id = f"{args.name}-provider-id"
            self.provider_regions[provider_id] = args.inputs.get("region", "")
            self.last = {"inputs": args.inputs, "region": args.inputs.get("region")}
            return provider_id, dict(args.inputs)
        provider_id = (args.provider or "").rsplit("::", 1)[-1]
        region = self.provider_regions.get(provider_id)
        resource_id, computed = computed_attributes(args.typ, args.name, args.inputs, region or "no-region")
        self.last = {"inputs": args.inputs, "region": region}
        return resource_id, {**args.inputs, **computed}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/deployer",
                "id": ACCOUNT_ID,
                "userId": "AIDAEXAMPLE",
            }, []
        if args.token == "aws:index/getPartition:getPartition":
            return {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
                "reverseDnsPrefix": "com.amazonaws",
            }, []
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            region = self.provider_regions.get((args.provider or "").rsplit("::", 1)[-1], "no-region")
            names = zone_names(region)
            return {"names": names, "zoneIds": [f"{region}-az{i}" for i in range(1, 5)], "id": region}, []
        if args.token == "aws:ec2/getVpcEndpointService:getVpcEndpointService":
            region = self.provider_regions.get((args.provider or "").rsplit("::", 1)[-1], "no-region")
            name = str(args.args["serviceName"])
            service = name.removeprefix(f"com.amazonaws.{region}.")
            return {"serviceName": name, "availabilityZones": endpoint_service_zones(region, service), "id": name}, []
        if args.token == "aws:elb/getServiceAccount:getServiceAccount":
            region = self.provider_regions.get((args.provider or "").rsplit("::", 1)[-1], "no-region")
            account = ELB_ACCOUNTS[region]
            return {"arn": f"arn:aws:iam::{account}:root", "id": account}, []
        raise NotImplementedError(f"the mocks do not answer {args.token}")


class RecordingMonitor(MockMonitor):
    """Adds what MockResourceArgs leaves out: parent, explicit and property dependencies, custom."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording_mocks = mocks
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        # Registrations arrive from a thread pool; one at a time keeps `last` ours.
        with self._lock:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
            if request.type != "pulumi:pulumi:Stack":
                last = self.recording_mocks.last
                self.records.append(
                    {
                        "urn": response.urn,
                        "type": request.type,
                        "name": request.name,
                        "custom": bool(request.custom),
                        "parent": request.parent,
                        "provider": request.provider,
                        "dependencies": list(request.dependencies),
                        "property_dependencies": {
                            prop: list(deps.urns) for prop, deps in request.propertyDependencies.items()
                        },
                        # Aliases as the SDK sends them: URNs, or specs of which the type is recorded.
                        "aliases": [*request.aliasURNs, *(a.spec.type for a in request.aliases if a.spec.type)],
                        "region": last.get("region"),
                        "inputs": last.get("inputs", {}),
                    }
                )
            return response


def config_values(stack_file: Path) -> dict[str, str]:
    """The stack file's config as the engine hands it to a program: text values."""
    config = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def run(stack: str, stack_file: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    pulumi.runtime.set_all_config(config_values(stack_file))
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="prism-pipeline", stack=stack, preview=False, monitor=monitor)
    exported: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[Any]:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        root = pulumi.runtime.get_root_resource()
        assert root is not None
        outputs: dict[str, Any] = root.outputs  # type: ignore[attr-defined]
        return pulumi.Output.from_input(outputs).apply(exported.update)

    program()
    return {"resources": monitor.records, "outputs": exported}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--config-file", type=Path, help="stack file to use instead of Pulumi.<stack>.yaml")
    args = parser.parse_args()
    stack_file = args.config_file or ROOT / f"Pulumi.{args.stack}.yaml"
    try:
        graph = run(args.stack, stack_file)
    except pulumi.RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    json.dump(graph, sys.stdout, default=_asset)
    return 0


def _asset(value: object) -> object:
    """Assets (the sessionizer zip) are recorded as what they point at."""
    if isinstance(value, pulumi.FileAsset):
        return {"fileAsset": str(value.path)}
    if isinstance(value, pulumi.FileArchive):
        return {"fileArchive": str(value.path)}
    raise TypeError(f"cannot record {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
