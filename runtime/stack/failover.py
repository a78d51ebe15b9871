"""How long the accelerator takes to move players away from a region that failed, and back.

The program sets the load balancer's target health check from here (components/load_balancer.py),
and the local outage drill moves its players after the same delays (runtime/local/outage.py),
so the drill's timing is the deployed one. The failover page of the docs gives the figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runtime.stack.model import Settings
from runtime.stack.parse import from_stack_file
from runtime.stack.reference import ROOT, STACKS


@dataclass(frozen=True)
class TargetHealthCheck:
    interval_seconds: int
    timeout_seconds: int
    healthy_threshold: int  # consecutive passes before a target is healthy again
    unhealthy_threshold: int  # consecutive failures before a target is unhealthy


TARGET_HEALTH_CHECK = TargetHealthCheck(interval_seconds=10, timeout_seconds=5, healthy_threshold=2,
                                        unhealthy_threshold=2)  # fmt: skip
# AWS Global Accelerator guide, "How failover works for unhealthy endpoints": once the region is
# healthy again, routing typically starts returning to it after about 30 seconds.
ACCELERATOR_RETURN_SECONDS = 30


def failover_seconds(check: TargetHealthCheck = TARGET_HEALTH_CHECK) -> int:
    """From the region's failure to players being sent to the other region: the accelerator takes an
    ALB endpoint's health from its targets, which are unhealthy after this many failed checks."""
    return check.interval_seconds * check.unhealthy_threshold


def return_seconds(check: TargetHealthCheck = TARGET_HEALTH_CHECK) -> int:
    """From the region serving again to its players being sent back: its targets pass enough checks,
    then the accelerator routes to it again."""
    return check.interval_seconds * check.healthy_threshold + ACCELERATOR_RETURN_SECONDS


@dataclass(frozen=True)
class RecoveryFigures:
    """What losing a region means for one stack, from its settings and AWS's documented behaviour."""

    players_moved_s: int  # the region fails -> its players reach the other region
    players_home_s: int  # the region serves again -> its players are sent back
    acknowledged_kept_h: int  # the dead region's raw stream keeps what it acknowledged this long
    raw_bucket_behind_s: int  # at most this much of the newest traffic was not in the raw bucket yet
    replicated: str  # how far the other region's copy of the raw bucket may be behind
    sessionizer_reread_s: float  # on return the job reads again up to this much since its checkpoint
    resent_on_time_s: float  # the players' resent events still count if acknowledged within this of their time


def recovery_figures(settings: Settings) -> RecoveryFigures:
    return RecoveryFigures(
        players_moved_s=failover_seconds(),
        players_home_s=return_seconds(),
        acknowledged_kept_h=settings.streams["raw"].retention_hours,
        raw_bucket_behind_s=settings.delivery.buffer_interval_seconds,
        # S3 user guide: with Replication Time Control, 99.99 % of new objects within 15 minutes
        # (most within seconds); without it, no time is promised (most within 15 minutes).
        replicated="99.99 % within 15 min (RTC)" if settings.replication.time_control else "no bound (no RTC)",
        sessionizer_reread_s=settings.sessionizer.checkpoint_interval_ms / 1000,
        # The watermark trails the newest event by the out-of-orderness; an event up to the allowed
        # lateness behind the watermark still counts.
        resent_on_time_s=(settings.sessionizer.out_of_orderness_ms + settings.sessionizer.allowed_lateness_ms) / 1000,
    )


def recovery_table(stacks: dict[str, Settings]) -> str:
    """The failover page's table, a stack per column."""
    figures = {name: recovery_figures(settings) for name, settings in stacks.items()}
    rows: list[tuple[str, Callable[[RecoveryFigures], str]]] = [
        ("players sent to the other region after", lambda f: f"{f.players_moved_s} s"),
        ("players sent home, once it serves again, after", lambda f: f"{f.players_home_s} s"),
        ("acknowledged events kept in its raw stream", lambda f: f"{f.acknowledged_kept_h} h"),
        ("newest traffic not yet in its raw bucket, at most", lambda f: f"{f.raw_bucket_behind_s} s"),
        ("the other region's copy of the raw bucket", lambda f: f.replicated),
        ("the sessionizer reads again, on return, at most", lambda f: f"{f.sessionizer_reread_s:g} s"),
        ("a resent event still counts if acknowledged within", lambda f: f"{f.resent_on_time_s:g} s of its time"),
    ]
    lines = ["| | " + " | ".join(figures) + " |", "|---|" + "---|" * len(figures)]
    lines += [f"| {what} | " + " | ".join(show(f) for f in figures.values()) + " |" for what, show in rows]
    return "\n".join(lines)


def project_stacks() -> dict[str, Settings]:
    """The project's stacks (the settings reference's list), by name."""
    return {stack: from_stack_file(ROOT / f"Pulumi.{stack}.yaml") for stack in STACKS}


if __name__ == "__main__":  # the table of docs/failover.md
    print(recovery_table(project_stacks()))
