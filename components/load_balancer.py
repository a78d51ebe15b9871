"""The ALB of one region: where the accelerator hands players over to the ingest tasks.

HTTPS with the region's ACM certificate and a TLS 1.2+ policy; port 80 only redirects,
unless the stack allows plain HTTP (dev, without a certificate). Headers ALB cannot
parse are dropped rather than passed on. Access logs go to a bucket of their own, with
S3-managed keys because that is all ALB log delivery writes with. Only the service's
event paths are forwarded; any other path (``/metrics``, ``/ready``, a scanner's guess)
gets a 404 from the ALB itself. The target group asks the service's ``/ready`` (503 while
Kinesis refuses it, so the ALB routes around the task) and gives a deregistering task the
service's drain time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.archive import SecureBucket, SecureBucketArgs, data_lifecycle_rules
from components.support.policies import Statement
from components.support.region import Region
from components.support.security_groups import allow_tcp, security_group
from runtime.ingest.routes import EVENT_PATHS, READY_PATH
from runtime.stack import IngestServiceSettings, LifecycleSettings
from runtime.stack.failover import TARGET_HEALTH_CHECK

ACCESS_LOG_PREFIX = "alb"
# What the ALB answers itself for a path the service does not serve to the internet.
NOT_FOUND_BODY = '{"error":"not_found","message":"events are posted to ' + " or ".join(EVENT_PATHS) + '","details":[]}'


def alb_ports(settings: IngestServiceSettings) -> list[int]:
    """Ports the ALB listens on: 80 always (forwarding, or redirecting to 443), 443 with a certificate."""
    return [80, 443] if settings.https else [80]


@dataclass(frozen=True)
class LoadBalancerArgs:
    environment: str
    region: Region
    settings: IngestServiceSettings
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]


class LoadBalancer(pulumi.ComponentResource):
    alb: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    listeners: dict[int, aws.lb.Listener]
    event_rules: list[aws.lb.ListenerRule]  # per listener that serves players: the event paths, forwarded
    # The ingest tasks' group: only the ALB may reach them, on the service port.
    security_group: aws.ec2.SecurityGroup  # the ALB's; the ingest tasks admit it
    access_logs: SecureBucket

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:load_balancer:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region, s = args.region, args.settings
        lb_name = region.names.load_balancer
        ports = alb_ports(s)
        certificate_arn = s.certificate_arns[region.settings.role]

        # -- access logs ---------------------------------------------------------
        bucket_name = region.bucket("accesslogs")
        elb_account = aws.elb.get_service_account_output(opts=pulumi.InvokeOutputOptions(provider=region.provider))
        log_objects = pulumi.Output.concat(
            "arn:", region.partition, ":s3:::", bucket_name, f"/{ACCESS_LOG_PREFIX}/AWSLogs/", region.account_id, "/*"
        )
        self.access_logs = SecureBucket(
            f"{name}-access-logs",
            SecureBucketArgs(
                bucket_name=bucket_name,
                key_arn=None,
                lifecycle_rules=data_lifecycle_rules(
                    LifecycleSettings(None, None, s.access_log_expiration_days, 1), abort_upload_days=1
                ),
                extra_statements=[
                    # Regions older than August 2022 deliver as the region's ELB account,
                    # newer ones as the log delivery service.
                    Statement(
                        sid="AlbLogDelivery",
                        actions=["s3:PutObject"],
                        principals={"AWS": [elb_account.arn]},
                        resources=[log_objects],
                    ),
                    Statement(
                        sid="AlbLogDeliveryService",
                        actions=["s3:PutObject"],
                        principals={"Service": ["logdelivery.elasticloadbalancing.amazonaws.com"]},
                        resources=[log_objects],
                    ),
                ],
            ),
            child,
        )

        # -- security groups -----------------------------------------------------
        alb_group = security_group(
            f"{name}-alb",
            args.vpc_id,
            f"{lb_name}-alb",
            "Players (through Global Accelerator, client IPs preserved) to the ingest ALB",
            child,
        )
        self.security_group = alb_group
        for port in ports:
            allow_tcp(f"{name}-alb-in-{port}", "in", alb_group, port, f"players on {port}", child, cidr="0.0.0.0/0")

        # -- load balancer -------------------------------------------------------
        self.alb = aws.lb.LoadBalancer(
            name,
            aws.lb.LoadBalancerArgs(
                name=lb_name,
                load_balancer_type="application",
                internal=False,
                ip_address_type="ipv4",
                security_groups=[alb_group.id],
                subnets=list(args.public_subnet_ids),
                idle_timeout=s.idle_timeout_seconds,
                drop_invalid_header_fields=True,
                desync_mitigation_mode="defensive",
                enable_http2=True,
                enable_deletion_protection=s.deletion_protection,
                access_logs=aws.lb.LoadBalancerAccessLogsArgs(
                    bucket=self.access_logs.name, prefix=ACCESS_LOG_PREFIX, enabled=True
                ),
            ),
            # ALB checks at creation that it may write its logs.
            pulumi.ResourceOptions(parent=self, depends_on=[self.access_logs]),
        )
        self.target_group = aws.lb.TargetGroup(
            name,
            aws.lb.TargetGroupArgs(
                name=lb_name,
                target_type="ip",  # Fargate tasks (awsvpc)
                protocol="HTTP",
                port=s.port,
                vpc_id=args.vpc_id,
                # A deregistering task keeps its in-flight requests this long; they are
                # answered within the ack timeout, well inside the drain.
                deregistration_delay=s.shutdown_drain_seconds,
                health_check=aws.lb.TargetGroupHealthCheckArgs(
                    enabled=True,
                    path=READY_PATH,
                    protocol="HTTP",
                    port="traffic-port",
                    matcher="200",
                    # The accelerator moves players away after these checks fail (runtime/stack/failover.py).
                    interval=TARGET_HEALTH_CHECK.interval_seconds,
                    timeout=TARGET_HEALTH_CHECK.timeout_seconds,
                    healthy_threshold=TARGET_HEALTH_CHECK.healthy_threshold,
                    unhealthy_threshold=TARGET_HEALTH_CHECK.unhealthy_threshold,
                ),
            ),
            child,
        )

        # A listener that serves players answers 404 itself, and forwards only the event paths.
        not_found = aws.lb.ListenerDefaultActionArgs(
            type="fixed-response",
            fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                content_type="application/json", message_body=NOT_FOUND_BODY, status_code="404"
            ),
        )
        self.listeners = {}
        if certificate_arn is not None:
            self.listeners[443] = aws.lb.Listener(
                f"{name}-https",
                aws.lb.ListenerArgs(
                    load_balancer_arn=self.alb.arn,
                    port=443,
                    protocol="HTTPS",
                    certificate_arn=certificate_arn,
                    ssl_policy=s.tls_policy,
                    default_actions=[not_found],
                ),
                child,
            )
        redirect = aws.lb.ListenerDefaultActionArgs(
            type="redirect",
            redirect=aws.lb.ListenerDefaultActionRedirectArgs(port="443", protocol="HTTPS", status_code="HTTP_301"),
        )
        self.listeners[80] = aws.lb.Listener(
            f"{name}-http",
            aws.lb.ListenerArgs(
                load_balancer_arn=self.alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[not_found if s.allow_http else redirect],
            ),
            child,
        )
        self.event_rules = [
            aws.lb.ListenerRule(
                f"{name}-events-{port}",
                aws.lb.ListenerRuleArgs(
                    listener_arn=listener.arn,
                    priority=10,
                    actions=[aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=self.target_group.arn)],
                    conditions=[
                        aws.lb.ListenerRuleConditionArgs(
                            path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=list(EVENT_PATHS))
                        )
                    ],
                ),
                child,
            )
            for port, listener in self.listeners.items()
            if port == 443 or s.allow_http
        ]
        self.register_outputs(
            {"arn": self.alb.arn, "dns_name": self.alb.dns_name, "target_group_arn": self.target_group.arn}
        )
