"""The run's report as a page: one self-contained HTML file in the run's folder (plotly.js inside it), with
the figures a person would rather look at than read, and the agreement with the ground truth.

- startup time: the distribution of the sessions' startup, as the store has it and as the truth says;
- rebuffer ratio over time: of the sessions that ended in each bucket of time (store and truth);
- exits before video start and start failures by device (store and truth);
- late events over time, by the reason the sessionizer gave;
- freshness: post -> first row and post -> final row, as distributions;
- the pipeline: events in and records per stream per second;
and on every time axis, a dotted line where each chaos fault struck and each phase of the run
(traffic, finishing, replaying, draining) began.
"""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from runtime.local.dashboard.pipeline import Mark
from runtime.local.verify import ComparedSession, Report, rounded

REPORT_FILE: Final = "report.html"
FIGURE_IDS: Final = ("startup", "rebuffer", "by-device", "late", "freshness", "pipeline")
_MARK_COLORS = {"fault": "#d62728", "phase": "#7f7f7f"}
_LAYOUT: Final[dict[str, Any]] = {
    "template": "plotly_white", "height": 380, "autosize": True, "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "legend": {"orientation": "h", "y": -0.2},
}  # fmt: skip


def _value(measures: dict[str, tuple[str, str]] | None, name: str) -> Any:
    """A stored measure as Python (None when absent)."""
    if measures is None or name not in measures:
        return None
    text, kind = measures[name]
    if kind == "BIGINT":
        return int(text)
    if kind == "DOUBLE":
        return float(text)
    if kind == "BOOLEAN":
        return text == "true"
    return text


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def bucket_ms(times: Sequence[int]) -> int:
    """A bucket width that gives about 30 buckets over the span, at least 5 s."""
    span = (max(times) - min(times)) if times else 0
    return max(5_000, span // 30 // 1_000 * 1_000)


def _marked(figure: go.Figure, marks: Iterable[Mark]) -> go.Figure:
    for mark in marks:
        figure.add_vline(x=_time(mark.at_ms), line_dash="dot", line_color=_MARK_COLORS.get(mark.kind, "#7f7f7f"),
                         annotation_text=mark.text.split(" (")[0][:40], annotation_textangle=-90,
                         annotation_font_size=10)  # fmt: skip
    return figure


def startup_figure(sessions: Sequence[ComparedSession]) -> go.Figure:
    stored = [v for s in sessions if (v := _value(s.stored, "startup_ms")) is not None]
    truth = [s.expected["startupMs"] for s in sessions if s.expected.get("startupMs") is not None]
    # The same bins side by side: when the store agrees with the truth, the pairs are equal.
    bins = {"start": 0, "size": max(100, (max(stored + truth, default=0) // 20 // 100 + 1) * 100)}
    figure = go.Figure([go.Histogram(x=stored, name="store (dashboards)", xbins=bins),
                        go.Histogram(x=truth, name="ground truth", xbins=bins)])  # fmt: skip
    return figure.update_layout(_LAYOUT, title="Startup time of the sessions that started", barmode="group",
                                xaxis_title="startup (ms)", yaxis_title="sessions")  # fmt: skip


def rebuffer_figure(sessions: Sequence[ComparedSession], marks: Sequence[Mark]) -> go.Figure:
    ended = [s for s in sessions if s.expected.get("updateTime") is not None]
    width = bucket_ms([s.expected["updateTime"] for s in ended])
    sums: dict[str, dict[int, list[float]]] = {"store (dashboards)": defaultdict(lambda: [0.0, 0.0]),
                                                "ground truth": defaultdict(lambda: [0.0, 0.0])}  # fmt: skip
    for s in ended:
        at = s.expected["updateTime"] // width * width
        for name, playing, rebuffering in (
            ("store (dashboards)", _value(s.stored, "playing_ms"), _value(s.stored, "rebuffer_ms")),
            ("ground truth", s.expected.get("playingMs"), s.expected.get("rebufferMs")),
        ):
            if playing is not None and rebuffering is not None:
                sums[name][at][0] += rebuffering
                sums[name][at][1] += playing + rebuffering
    traces = []
    styles = {"store (dashboards)": {"width": 5}, "ground truth": {"width": 2, "dash": "dot", "color": "#222"}}
    for name, buckets in sums.items():
        times = sorted(buckets)
        ratios = [buckets[t][0] / buckets[t][1] if buckets[t][1] else None for t in times]
        traces.append(go.Scatter(x=[_time(t) for t in times], y=ratios, name=name, mode="lines+markers",
                                 line=styles[name]))  # fmt: skip
    title = f"Rebuffer ratio of the sessions ended, per {width // 1000} s"
    figure = go.Figure(traces).update_layout(_LAYOUT, title=title, yaxis_tickformat=".1%", xaxis_title="session end")
    return _marked(figure, marks)


def by_device_figure(sessions: Sequence[ComparedSession]) -> go.Figure:
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for s in sessions:
        device = str(s.expected.get("deviceType") or "unknown")
        for what, measure, field in (("exits before start", "ebvs", "ebvs"), ("start failures", "vsf", "vsf")):
            counts[(what, "store")][device] += bool(_value(s.stored, measure))
            counts[(what, "truth")][device] += bool(s.expected.get(field))
    devices = sorted({str(s.expected.get("deviceType") or "unknown") for s in sessions})
    ended = Counter(str(s.expected.get("deviceType") or "unknown") for s in sessions)
    traces = [go.Bar(x=devices, y=[ended[d] for d in devices], name="sessions ended (truth)", marker_color="#d0d0d0")]
    traces += [go.Bar(x=devices, y=[counts[(what, source)][d] for d in devices], name=f"{what} ({source})")
               for what in ("exits before start", "start failures") for source in ("store", "truth")]  # fmt: skip
    title = "Exits before video start and start failures, by device"
    figure = go.Figure(traces).update_layout(_LAYOUT, title=title, barmode="group", yaxis_title="sessions",
                                             yaxis_rangemode="tozero")  # fmt: skip
    if not any(counts[key][d] for key in counts for d in devices):
        figure.add_annotation(text="no exit before start and no start failure in this run", showarrow=False,
                              xref="paper", yref="paper", x=0.5, y=0.9)  # fmt: skip
    return figure


def late_figure(late_events: Sequence[tuple[int, str]], marks: Sequence[Mark]) -> go.Figure:
    width = bucket_ms([at for at, _ in late_events])
    by_reason: dict[str, Counter[int]] = defaultdict(Counter)
    for at, reason in late_events:
        by_reason[reason][at // width * width] += 1
    traces = [go.Bar(x=[_time(t) for t in sorted(buckets)], y=[buckets[t] for t in sorted(buckets)], name=reason)
              for reason, buckets in sorted(by_reason.items())]  # fmt: skip
    title = f"Late events per {width // 1000} s, by reason"
    figure = go.Figure(traces).update_layout(_LAYOUT, title=title, barmode="stack", yaxis_title="events",
                                             xaxis_title="sent late at")  # fmt: skip
    if not late_events:
        figure.add_annotation(
            text="no late event in this run", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5
        )
    return _marked(figure, marks)


def freshness_figure(first_row_ms: Sequence[float], final_row_ms: Sequence[float]) -> go.Figure:
    first = go.Histogram(x=list(first_row_ms), name="post -> first row", opacity=0.75)
    final = go.Histogram(x=list(final_row_ms), name="post of the last event -> final row", opacity=0.75)
    figure = go.Figure([first, final])
    return figure.update_layout(_LAYOUT, title="Freshness of the store", barmode="overlay", xaxis_title="ms",
                                yaxis_title="rows")  # fmt: skip


def pipeline_figure(pipeline: dict[str, Any], marks: Sequence[Mark]) -> go.Figure:
    times = [_time(t) for t in pipeline.get("times", [])]
    traces = [go.Scatter(x=times, y=pipeline.get("events_in", []), name="events in (acknowledged)", mode="lines")]
    traces += [go.Scatter(x=times, y=rates, name=f"{kind} records to the bucket", mode="lines")
               for kind, rates in pipeline.get("streams", {}).items()]  # fmt: skip
    figure = go.Figure(traces).update_layout(_LAYOUT, title="The pipeline, per second", yaxis_title="per second")
    return _marked(figure, marks)


def _agreement(report: Report) -> str:
    rows = [
        ("verdict", "agrees with the ground truth" if report.ok else "does NOT agree"),
        ("sessions compared / matched", f"{report.sessions_compared} / {report.sessions_matched}"),
        ("events acknowledged", f"{report.events_acknowledged:,} ({report.events_per_second:,.1f}/s)"),
        ("acknowledged events missing from the raw buckets", str(report.missing_raw_events)),
        ("too-late events missing from the late buckets", str(report.missing_late_events)),
        ("on-time events in the late buckets", str(report.on_time_events_late)),
        ("post -> first row p50 / p95", f"{rounded(report.first_row_p50_ms)} / {rounded(report.first_row_p95_ms)} ms"),
        ("post -> final row p50 / p95", f"{rounded(report.final_row_p50_ms)} / {rounded(report.final_row_p95_ms)} ms"),
        ("errors", str(len(report.errors))),
        *(("fault", fault) for fault in report.faults),
    ]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    problems = report.mismatches + report.errors + report.different_finals + report.final_not_newest
    listed = "".join(f"<li>{html.escape(p)}</li>" for p in problems[:50])
    return f'<table id="agreement">{cells}</table>' + (
        f"<h3>What did not agree</h3><ul>{listed}</ul>" if listed else ""
    )


def write_report(folder: Path, title: str, report: Report, pipeline: dict[str, Any], marks: Sequence[Mark],
                 first_row_ms: Sequence[float], final_row_ms: Sequence[float]) -> Path:  # fmt: skip
    """The report page, written into the run's folder; its path."""
    figures = {
        "startup": startup_figure(report.compared),
        "rebuffer": rebuffer_figure(report.compared, marks),
        "by-device": by_device_figure(report.compared),
        "late": late_figure(report.late_events, marks),
        "freshness": freshness_figure(first_row_ms, final_row_ms),
        "pipeline": pipeline_figure(pipeline, marks),
    }
    parts = [
        '<section class="figure">' + figure.to_html(full_html=False, include_plotlyjs=False, div_id=name,
                                                    default_width="100%", config={"responsive": True}) + "</section>"
        for name, figure in figures.items()
    ]  # fmt: skip
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font:14px/1.4 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#222}}
body{{max-width:1200px}}
table{{border-collapse:collapse}}th,td{{text-align:left;padding:4px 12px;border-bottom:1px solid #ddd}}
.figures{{max-width:1200px}}.figure{{border:1px solid #eee;margin-bottom:16px}}</style>
<script>{get_plotlyjs()}</script></head>
<body><h1>{html.escape(title)}</h1><h2>Agreement with the ground truth</h2>{_agreement(report)}
<h2>Figures</h2><div class="figures">{"".join(parts)}</div>
<script type="application/json" id="report-data">{html.escape(json.dumps({"figures": list(figures)}))}</script>
</body></html>"""
    path = folder / REPORT_FILE
    path.write_text(page)
    return path
