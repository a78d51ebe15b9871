"""Parsers of how players reach the ingest service: network, ALB and Fargate service, WAF, accelerator."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from runtime.ingest.settings import CORS_ORIGIN_RULE, is_cors_origin
from runtime.ingest.transport import DEFAULT_TRANSPORT, TRANSPORTS
from runtime.stack.limits import (
    CERTIFICATE_ARN,
    ECR_REGISTRY,
    FARGATE_MAX_STOP_TIMEOUT,
    FARGATE_MEMORY,
    HOSTNAME,
    IMAGE,
    SUBNET_ID,
    TLS_POLICIES,
    VPC_ID,
    WAF_ALB_BODY_INSPECTION_BYTES,
)
from runtime.stack.model import (
    EGRESS_KINDS,
    ROLES,
    EdgeSettings,
    Egress,
    EndpointSettings,
    ExistingVpc,
    IngestServiceSettings,
    NetworkSettings,
    NewVpc,
    RegionRole,
    RegionSettings,
    TaskCounts,
    WafSettings,
)
from runtime.stack.reader import Section, SettingsError


def task_stop_timeout_seconds(shutdown_drain_seconds: int, ack_timeout_seconds: int) -> int:
    """SIGTERM to SIGKILL: in-flight requests (each waits at most the ack timeout), then the
    service drains its Kinesis queue and its failed-events queue, each within the drain time;
    five seconds for the process to exit."""
    return min(shutdown_drain_seconds, ack_timeout_seconds) + 2 * shutdown_drain_seconds + 5


def parse_vpc(section: Section, availability_zones: int) -> NewVpc | ExistingVpc:
    if not section.present("vpcId"):
        text = section.string("cidr", None)
        try:
            network = ipaddress.IPv4Network(text)
        except ValueError:
            raise SettingsError(section.key("cidr"), "must be an IPv4 network such as 10.40.0.0/16", text) from None
        if not 16 <= network.prefixlen <= 22 or not network.is_private:
            raise SettingsError(section.key("cidr"), "must be a private network of /16 to /22", text)
        section.finish()
        return NewVpc(cidr=str(network))
    vpc_id = section.string("vpcId", None, VPC_ID, "a VPC id such as vpc-0123456789abcdef0")
    subnets: dict[str, tuple[str, ...]] = {}
    for name in ("publicSubnetIds", "privateSubnetIds"):
        ids = section.strings(name, None)
        bad = [i for i in ids if not SUBNET_ID.match(i)]
        if bad:
            raise SettingsError(section.key(name), "must hold subnet ids such as subnet-0123456789abcdef0", bad[0])
        if len(set(ids)) < availability_zones:
            raise SettingsError(section.key(name), f"must name one subnet in each of network.availabilityZones "
                                f"({availability_zones}) zones", list(ids))  # fmt: skip
        subnets[name] = ids
    if section.present("cidr"):
        raise SettingsError(section.key("cidr"), "applies only to a VPC the program creates (no vpcId)",
                            section.raw("cidr"))  # fmt: skip
    section.finish()
    return ExistingVpc(vpc_id, subnets["publicSubnetIds"], subnets["privateSubnetIds"])


def parse_network(section: Section) -> NetworkSettings:
    zones = section.integer("availabilityZones", 2, 2, 3)
    egress = section.choice("egress", EGRESS_KINDS, "endpoints")
    vpcs = {role: parse_vpc(section.section(role), zones) for role in ROLES}
    new = [v.cidr for v in vpcs.values() if isinstance(v, NewVpc)]
    if len(new) == 2 and ipaddress.IPv4Network(new[0]).overlaps(ipaddress.IPv4Network(new[1])):
        # Not needed today, but peering or a transit gateway later would need them apart.
        raise SettingsError(section.key("secondary.cidr"), f"must not overlap primary.cidr ({new[0]})", new[1])
    section.finish()
    return NetworkSettings(availability_zones=zones, egress=egress, vpcs=vpcs)


def parse_task_counts(section: Section) -> TaskCounts:
    minimum = section.integer("min", 2, 1, 1_000)
    desired = section.integer("desired", minimum, 1, 1_000)
    maximum = section.integer("max", max(desired, 4), 1, 1_000)
    if not minimum <= desired <= maximum:
        raise SettingsError(section.key("desired"), f"must be between min ({minimum}) and max ({maximum})", desired)
    section.finish()
    return TaskCounts(minimum, desired, maximum)


def parse_ingest(
    section: Section, regions: Mapping[RegionRole, RegionSettings], egress: Egress
) -> IngestServiceSettings:
    image = section.optional_string("image", IMAGE, "an image reference with a tag or digest, "
                                    "such as {account}.dkr.ecr.{region}.amazonaws.com/prism-ingest:1.4.0")  # fmt: skip
    if section.present("imageTag"):
        # The own repositories' tag comes from the source, so previews and deploys name one image.
        raise SettingsError(section.key("imageTag"), "is no longer read: the stack's own repositories run the "
                            "image tagged from the source (runtime/ingest/image.py); remove the key",
                            section.raw("imageTag"))  # fmt: skip
    if image is not None:
        match = IMAGE.match(image)
        assert match is not None
        if match["tag"] == "latest":
            raise SettingsError(section.key("image"), "must name a release tag or digest, not latest", image)
        ecr = ECR_REGISTRY.match(match["registry"])
        if egress == "endpoints" and (ecr is None or ecr["region"] != "{region}"):
            # The tasks have no internet path: they reach only their own region's ECR endpoints.
            raise SettingsError(section.key("image"), "must be in each region's own ECR "
                                "(<account>.dkr.ecr.{region}.amazonaws.com/...) when network.egress is endpoints",
                                image)  # fmt: skip
    keep_images = section.integer("keepImages", 30, 1, 10_000)

    cpu = section.integer("cpu", 512, 256, 16_384)
    if cpu not in FARGATE_MEMORY:
        raise SettingsError(section.key("cpu"), f"must be a Fargate size ({', '.join(map(str, FARGATE_MEMORY))})", cpu)
    low, high, step = FARGATE_MEMORY[cpu]
    memory = section.integer("memoryMb", low, 512, 122_880)
    allowed = memory in (512, 1024, 2048) if step is None else low <= memory <= high and memory % step == 0
    if not low <= memory <= high or not allowed:
        rule = "512, 1024 or 2048" if step is None else f"{low}-{high} in steps of {step}"
        raise SettingsError(section.key("memoryMb"), f"must be {rule} for cpu {cpu}", memory)

    drain = section.integer("shutdownDrainSeconds", 25, 1, 3_600)
    ack_timeout = section.integer("ackTimeoutSeconds", 10, 1, 120)
    stop_timeout = task_stop_timeout_seconds(drain, ack_timeout)
    if stop_timeout > FARGATE_MAX_STOP_TIMEOUT:
        raise SettingsError(section.key("shutdownDrainSeconds"), "is too long: in-flight requests plus two "
                            f"drains need {stop_timeout} s, Fargate kills a task after {FARGATE_MAX_STOP_TIMEOUT} s",
                            drain)  # fmt: skip

    origins = section.strings("corsOrigins", ("*",))
    for origin in origins:
        if not is_cors_origin(origin):
            raise SettingsError(section.key("corsOrigins"), CORS_ORIGIN_RULE, origin)

    allow_http = section.boolean("allowHttp", False)
    certificates: dict[RegionRole, str | None] = {}
    for role in ROLES:
        region_section = section.section(role)
        arn = region_section.optional_string(
            "certificateArn",
            CERTIFICATE_ARN,
            "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)",
        )
        if arn is not None:
            found = CERTIFICATE_ARN.match(arn)
            assert found is not None
            if found["region"] != regions[role].name:
                raise SettingsError(region_section.key("certificateArn"), "must be a certificate in the ALB's "
                                    f"region ({regions[role].name})", arn)  # fmt: skip
        region_section.finish()
        certificates[role] = arn
    missing = [role for role, arn in certificates.items() if arn is None]
    if missing and not allow_http:
        raise SettingsError(section.key(f"{missing[0]}.certificateArn"), "is required unless ingest.allowHttp is true",
                            None)  # fmt: skip
    if len(missing) == 1:
        # Players use one URL for both regions, so both ALBs speak the same protocols.
        raise SettingsError(section.key(f"{missing[0]}.certificateArn"), "must be set in both regions or neither",
                            None)  # fmt: skip

    settings = IngestServiceSettings(
        image=image,
        keep_images=keep_images,
        cpu=cpu,
        memory_mb=memory,
        cpu_architecture=section.choice("cpuArchitecture", ("X86_64", "ARM64"), "X86_64"),
        port=section.integer("port", 8080, 1_024, 65_535),
        tasks=parse_task_counts(section.section("tasks")),
        cpu_target_percent=section.integer("cpuTargetPercent", 60, 10, 90),
        requests_per_target=section.integer("requestsPerTarget", 6_000, 1),
        scale_in_cooldown_seconds=section.integer("scaleInCooldownSeconds", 300, 0, 3_600),
        scale_out_cooldown_seconds=section.integer("scaleOutCooldownSeconds", 60, 0, 3_600),
        shutdown_drain_seconds=drain,
        ack_timeout_seconds=ack_timeout,
        cors_origins=origins,
        max_body_bytes=section.integer("maxBodyBytes", 1_048_576, 1_024, 10_485_760),
        max_batch_events=section.integer("maxBatchEvents", 500, 1, 10_000),
        max_clock_skew_ms=section.integer("maxClockSkewMs", 300_000, 0),
        allow_http=allow_http,
        certificate_arns=certificates,
        tls_policy=section.choice("tlsPolicy", TLS_POLICIES, TLS_POLICIES[0]),
        # ALB idle timeout: 1-4000 s.
        idle_timeout_seconds=section.integer("idleTimeoutSeconds", 60, 1, 4_000),
        deletion_protection=section.boolean("deletionProtection", True),
        access_log_expiration_days=section.integer("accessLogExpirationDays", 90, 1),
        hostname=section.optional_string("hostname", HOSTNAME, "a DNS name such as ingest.prism.example.com"),
        container_insights=section.choice("containerInsights", ("enabled", "enhanced", "disabled"), "enabled"),
        kinesis_transport=section.choice("kinesisTransport", TRANSPORTS, DEFAULT_TRANSPORT),
    )
    section.finish()
    return settings


def parse_waf(section: Section) -> WafSettings:
    # WAF rate-based rules: a limit of 10 to 2,000,000,000 per window of 1, 2, 5 or 10 minutes.
    window = section.integer("rateWindowSeconds", 300, 60, 600)
    if window not in (60, 120, 300, 600):
        raise SettingsError(section.key("rateWindowSeconds"), "must be 60, 120, 300 or 600", window)
    settings = WafSettings(
        rate_limit=section.integer("rateLimit", 3_000, 10, 2_000_000_000),
        rate_window_seconds=window,
        max_body_bytes=_edge_body_limit(section),
        common_rule_set=section.choice("commonRuleSet", ("block", "count"), "block"),
    )
    section.finish()
    return settings


def _edge_body_limit(section: Section) -> int | None:
    # WAF inspects only the first 8 KB of a body that reaches an ALB: it can refuse longer bodies,
    # not measure them, so an edge limit above that cannot be enforced.
    limit = section.optional_integer("maxBodyBytes", 1)
    if limit is not None and limit > WAF_ALB_BODY_INSPECTION_BYTES:
        raise SettingsError(section.key("maxBodyBytes"), f"must be <= {WAF_ALB_BODY_INSPECTION_BYTES}", limit)
    return limit


def check_edge_admits_the_service(waf: WafSettings, ingest: IngestServiceSettings) -> None:
    """The edge never refuses a body the service accepts: the two limits are one limit."""
    if waf.max_body_bytes is not None and waf.max_body_bytes < ingest.max_body_bytes:
        raise SettingsError("waf.maxBodyBytes", f"must be >= ingest.maxBodyBytes ({ingest.max_body_bytes}), or "
                            "unset so that the service alone enforces its limit: the edge would refuse bodies the "
                            "service accepts", waf.max_body_bytes)  # fmt: skip


def parse_edge(section: Section) -> EdgeSettings:
    endpoints: dict[RegionRole, EndpointSettings] = {}
    for role in ROLES:
        endpoint = section.section(role)
        endpoints[role] = EndpointSettings(
            traffic_dial=endpoint.integer("trafficDial", 100, 0, 100),
            weight=endpoint.integer("weight", 128, 0, 255),
        )
        endpoint.finish()
    if all(e.traffic_dial == 0 or e.weight == 0 for e in endpoints.values()):
        # Global Accelerator fails open with nothing to send to: it would send everywhere.
        raise SettingsError(section.key("secondary.trafficDial"), "must leave one region taking traffic "
                            "(trafficDial and weight above 0)", endpoints["secondary"].traffic_dial)  # fmt: skip
    settings = EdgeSettings(
        client_affinity=section.choice("clientAffinity", ("NONE", "SOURCE_IP"), "NONE"),
        endpoints=endpoints,
    )
    section.finish()
    return settings
