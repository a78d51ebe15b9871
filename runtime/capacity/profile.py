"""A viewer's traffic: the measured profile (bench/reference/traffic.json), with the stack's overrides.

A viewer is a player with a session open. While it plays it posts one event per heartbeat
interval (the interval the ingest service answers to ``init``: ``sessionizer.heartbeatIntervalMs``)
plus the rebuffers, seeks, pauses and switches the simulator measured per interval; each session
adds its start and end events. Session length is the stack's (``capacity.traffic.sessionMinutes``).
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.capacity.figures import Figures
from runtime.stack.model import Settings

TRAFFIC = "traffic"


@dataclass(frozen=True)
class TrafficProfile:
    events_per_viewer_minute: float
    sessions_per_viewer_minute: float  # sessions started per minute, per viewer
    event_bytes: float
    session_record_bytes: float
    open_session_state_bytes: float
    raw_gzip_ratio: float
    session_gzip_ratio: float
    too_late_share: float
    sources: dict[str, str]  # what each figure is taken from

    def events_per_second(self, viewers: float) -> float:
        return viewers * self.events_per_viewer_minute / 60


def traffic_profile(settings: Settings, figures: Figures) -> TrafficProfile:
    overrides = settings.capacity.traffic
    stack = f"Pulumi.{settings.environment}.yaml"
    sources: dict[str, str] = {}

    def measured(name: str) -> float:
        figure = figures.get(TRAFFIC, name)
        sources[name] = figure.source
        return figure.value

    if overrides.events_per_viewer_minute is not None:
        events_per_minute = overrides.events_per_viewer_minute
        sources["events_per_viewer_minute"] = f"{stack} capacity.traffic.eventsPerViewerMinute"
    else:
        intervals_per_minute = 60_000 / settings.sessionizer.heartbeat_interval_ms
        per_interval = measured("events_per_heartbeat_interval")
        per_session = measured("events_per_session_outside_intervals")
        events_per_minute = intervals_per_minute * per_interval + per_session / overrides.session_minutes
        sources["events_per_viewer_minute"] = (f"{intervals_per_minute:g} heartbeat intervals a minute "
                                               f"({stack} sessionizer.heartbeatIntervalMs) x measured events per "
                                               "interval, + measured events per session / session minutes")  # fmt: skip
    sources["session_minutes"] = f"{stack} capacity.traffic.sessionMinutes"
    event_bytes = overrides.event_bytes if overrides.event_bytes is not None else measured("event_bytes")
    if overrides.event_bytes is not None:
        sources["event_bytes"] = f"{stack} capacity.traffic.eventBytes"
    if overrides.too_late_share is not None:
        too_late = overrides.too_late_share
        sources["too_late_share"] = f"{stack} capacity.traffic.tooLateShare"
    else:
        too_late = measured("too_late_share")
    return TrafficProfile(
        events_per_viewer_minute=events_per_minute,
        sessions_per_viewer_minute=1 / overrides.session_minutes,
        event_bytes=event_bytes,
        session_record_bytes=measured("session_record_bytes"),
        open_session_state_bytes=measured("open_session_state_bytes"),
        raw_gzip_ratio=measured("raw_gzip_ratio"),
        session_gzip_ratio=measured("session_gzip_ratio"),
        too_late_share=too_late,
        sources=sources,
    )
