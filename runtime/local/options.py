"""The local pipeline's command line: every option checked before anything starts.

A bad option ends the command with one line naming the option, the rule and the value,
and exit status 2 (as a bad stack config stops the Pulumi program).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from runtime.session_writer.settings import ENGINES, Engine

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = "local pipeline"
MAX_VIEWERS = 1_000  # two cores: 250 viewers already keep them busy
MAX_DRAIN_SECONDS = 3_600.0
MAX_REPLAY_MULTIPLIER = 10
MIN_CHAOS_SECONDS = 40.0


OUTAGE_FORM = re.compile(r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)(?:@(?P<start>[^:]+)(?::(?P<down>.+))?)?")
DEFAULT_OUTAGE_SHARE = 1 / 3  # an outage with no START_S strikes this far into the traffic


@dataclass(frozen=True)
class Outage:
    """A whole region down while viewers play (runtime/local/outage.py)."""

    region: str
    start_s: float  # seconds after the traffic started
    down_s: float | None  # how long it stays down; None: it does not come back within the run

    def describe(self) -> str:
        back = "does not come back" if self.down_s is None else f"back after {self.down_s:g} s"
        return f"{self.region} down at {self.start_s:g} s, {back}"


@dataclass(frozen=True)
class Options:
    stack: str = "dev"
    regions: str = "primary"  # or "both"
    # Seconds during which viewers start new sessions (0: until Ctrl-C). Sessions playing
    # at the end still finish (up to Timing.session_ms), then the pipeline drains.
    duration: float = 0.0
    viewers: int = 6
    seed: int = 7
    view: bool = True
    drain_seconds: float = 90.0  # the bound on waiting for everything sent to arrive
    replay_multiplier: int = 0  # after the drain, replay the raw bucket this many times over (0: no replay)
    log_dir: Path = field(default=ROOT / ".local" / "run")
    chaos: bool = False  # one fault of each kind while the viewers play (runtime/local/chaos.py)
    chaos_seed: int = 1  # when and where the faults strike
    # The session store: a real InfluxDB, read back by the dashboards' queries (the default),
    # or Timestream in moto (stores rows, answers no query).
    store: Engine = "influxdb"
    outage: Outage | None = None  # --outage: a region goes down mid-stream
    dashboard_port: int = 0  # the dashboard page's port on 127.0.0.1 (0: any free one)


def stacks(root: Path = ROOT) -> list[str]:
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in root.glob("Pulumi.*.yaml"))


def stack_file(stack: str, root: Path = ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(message)


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"must be a whole number {span}, got {value}")
        return value

    return parse


def _seconds(low: float, high: float, low_inclusive: bool = True) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
        too_low = value < low if low_inclusive else value <= low
        if not math.isfinite(value) or too_low or value > high:
            bound = ">=" if low_inclusive else ">"
            raise argparse.ArgumentTypeError(f"must be {bound} {low:g} and <= {high:g} seconds, got {text}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    parse = _Parser(
        prog="make run RUN_ARGS=...",
        description="The whole pipeline on this machine: stand-ins, the real components, a player simulator.",
    )
    parse.add_argument("--stack", default="dev", help=f"the stack whose names and sizes to use: {', '.join(stacks())}")
    parse.add_argument("--regions", choices=("primary", "both"), default="primary")
    parse.add_argument(
        "--duration",
        type=_seconds(0.0, 86_400.0),
        default=0.0,
        help="seconds during which viewers start new sessions (default 0: until Ctrl-C); sessions playing "
        "then finish (up to 30 s) and the pipeline drains (up to --drain-seconds) before the comparison",
    )
    parse.add_argument("--viewers", type=_whole(1, MAX_VIEWERS), default=6, help="concurrent simulated viewers")
    parse.add_argument("--seed", type=_whole(0), default=7, help="the simulator's seed (same seed, same sessions)")
    parse.add_argument("--no-view", action="store_true", help="status lines instead of the live view")
    parse.add_argument(
        "--drain-seconds",
        type=_seconds(0.0, MAX_DRAIN_SECONDS, low_inclusive=False),
        default=90.0,
        help="how long to wait for everything sent to arrive before comparing (default 90)",
    )
    parse.add_argument(
        "--replay-multiplier",
        type=_whole(0, MAX_REPLAY_MULTIPLIER),
        default=0,
        help="after the drain, replay the run's raw bucket into its raw stream (runtime/replay, recorded pace, "
        "timestamps shifted to now) with each session this many times under new ids, and check those too "
        "(default 0: no replay)",
    )
    parse.add_argument(
        "--chaos",
        action="store_true",
        help="while viewers play, inject one fault of each kind at moments and regions drawn from --chaos-seed: "
        "an ingest process replaced (SIGTERM), the sessionizer killed (-9) and restarted from its checkpoint, "
        "the session writer killed mid-batch and restarted, Kinesis refusing writes for a few seconds; "
        "needs --duration of at least 40 s",
    )
    parse.add_argument("--chaos-seed", type=_whole(0), default=1, help="the faults' seed (default 1)")
    parse.add_argument(
        "--outage",
        metavar="REGION[@START_S[:DOWN_S]]",
        help="with --regions both: the whole region goes down START_S seconds into the traffic (default: a third "
        "of --duration); its players move to the other region after the load balancer's health checks fail, "
        "and with DOWN_S it comes back after that many seconds, from where it was",
    )
    parse.add_argument("--store", choices=ENGINES, default="influxdb",
                       help="the session store: influxdb (a real InfluxDB, read back by the dashboards' queries; "
                       "the default) or liveanalytics (Timestream in moto)")  # fmt: skip
    parse.add_argument("--dashboard-port", type=_whole(0, 65_535), default=0,
                       help="the port of the dashboard page on 127.0.0.1 (default: any free port)")  # fmt: skip
    return parse


def parse_options(argv: list[str] | None = None) -> Options:
    """Options from the command line, or exit 2 with one line saying what is wrong."""
    parse = parser()
    args = parse.parse_args(argv)
    if not stack_file(args.stack).is_file():
        parse.error(f"argument --stack: no stack {args.stack!r}; the stacks are {', '.join(stacks())}")
    if args.chaos and args.duration < MIN_CHAOS_SECONDS:
        parse.error(f"argument --chaos: needs --duration of at least {MIN_CHAOS_SECONDS:g} s "
                    f"(the faults and the restarts happen while viewers play), got {args.duration:g}")  # fmt: skip
    outage = _outage(parse, args.outage, args.regions, args.duration) if args.outage else None
    return Options(args.stack, args.regions, args.duration, args.viewers, args.seed, not args.no_view,
                   args.drain_seconds, args.replay_multiplier, chaos=args.chaos,
                   chaos_seed=args.chaos_seed, store=args.store, outage=outage,
                   dashboard_port=args.dashboard_port)  # fmt: skip


def _outage(parse: argparse.ArgumentParser, text: str, regions: str, duration: float) -> Outage:
    """--outage's value, checked against the other options (the region against the stack: pipeline.py)."""
    form = OUTAGE_FORM.fullmatch(text)
    if form is None:
        parse.error(f"argument --outage: must be REGION[@START_S[:DOWN_S]], e.g. us-west-2@20:30, got {text!r}")
    if regions != "both":
        parse.error("argument --outage: needs --regions both (the players move to the other region)")
    if not duration:
        parse.error("argument --outage: needs --duration (the outage strikes while viewers play)")
    try:
        start = float(form["start"]) if form["start"] else duration * DEFAULT_OUTAGE_SHARE
        down = float(form["down"]) if form["down"] else None
    except ValueError:
        parse.error(f"argument --outage: START_S and DOWN_S must be numbers of seconds, got {text!r}")
    if not 0 <= start < duration:
        parse.error(f"argument --outage: START_S must be >= 0 and below --duration ({duration:g}), got {start:g}")
    if down is not None and not 0 < down <= MAX_DRAIN_SECONDS:
        parse.error(f"argument --outage: DOWN_S must be > 0 and <= {MAX_DRAIN_SECONDS:g}, got {down:g}")
    return Outage(form["region"], start, down)


def fail(message: str) -> NoReturn:
    print(f"{PROGRAM}: {message}", file=sys.stderr)
    raise SystemExit(2)
