"""The run's report as text, printed when a local run ends (the page version: report_page.py)."""

from __future__ import annotations

from runtime.local.verify import Report, rounded


def print_report(report: Report) -> None:
    print(f"events acknowledged: {report.events_acknowledged:,} in {report.traffic_seconds:,.0f} s of traffic "
          f"({report.events_per_second:,.1f}/s, as 'events in' in the live view)")  # fmt: skip
    if not report.drained:
        print(f"drain: gave up after {report.drain_seconds:,.0f} s (--drain-seconds); what never came is below")
    replayed = f" ({report.sessions_replayed} of them replayed)" if report.sessions_replayed else ""
    print(f"sessions matching the simulator's ground truth: {report.sessions_matched} of "
          f"{report.sessions_compared}{replayed}")  # fmt: skip
    for mismatch in report.mismatches[:20]:
        print(f"  {mismatch}")
    if report.sessions_in_down_region:
        print(f"sessions in the store of the region still down (its data source answers nothing until it is "
              f"back): {report.sessions_in_down_region}")  # fmt: skip
    print(f"acknowledged events missing from the raw bucket: {report.missing_raw_events}")
    if report.held_in_down_region:
        print(f"acknowledged events held in the raw stream of a region still down (kept for its retention, "
              f"delivered when it is back): {report.held_in_down_region}")  # fmt: skip
    print(f"too-late events: {report.too_late_events}, missing from the late bucket: {report.missing_late_events}")
    sent, taken_late = report.uncertain_late_events
    if sent:
        print(f"events sent late when the region's watermark may not have been past them (its player had moved, "
              f"or its traffic had stopped): {sent}, of them in the late bucket: {taken_late}")  # fmt: skip
    for example in report.missing_examples:
        print(f"  missing (session, event, client time): {example}")
    print(f"events sent on time but in the late bucket: {report.on_time_events_late}")
    for example in report.on_time_late_examples:
        print(f"  {example}")
    print(f"post -> first session row in the store reflecting the event p50 / p95: "
          f"{rounded(report.first_row_p50_ms)} / {rounded(report.first_row_p95_ms)} ms")  # fmt: skip
    print(f"post of a session's last event -> its final row p50 / p95: {rounded(report.final_row_p50_ms)} / "
          f"{rounded(report.final_row_p95_ms)} ms")  # fmt: skip
    print(f"sessions with two different final records: {len(report.different_finals)}; "
          f"whose newest stored row is not the final: {len(report.final_not_newest)}")  # fmt: skip
    for problem in [*report.different_finals, *report.final_not_newest][:20]:
        print(f"  {problem}")
    for fault in report.faults:
        print(f"fault: {fault}")
    for region in report.regions:
        print(f"region {region.describe()}")
    if report.moved:
        exact = sum(1 for m in report.moved if m.exact)
        incomplete = sum(1 for m in report.moved if m.counted == 1 and m.incomplete)
        twice = sum(1 for m in report.moved if m.counted > 1)
        invented = sum(1 for m in report.moved if m.invented_failure)
        print(f"sessions moved mid-play: {len(report.moved)}; exact {exact}, marked incomplete {incomplete}, "
              f"counted more than once {twice}, with an invented failure {invented}")  # fmt: skip
        for moved in report.moved:
            print(f"  {moved.describe()}")
    print(f"component errors: {len(report.errors)}")
    for error in report.errors[:20]:
        print(f"  {error}")
    figures = f"; figures: {report.page}" if report.page is not None else ""
    if report.ok:
        print(f"the pipeline agrees with the ground truth{figures}")
    elif report.sessions_compared == 0:
        print(f"the pipeline does NOT agree: no session finished, so nothing was compared{figures}")
    else:
        print(f"the pipeline does NOT agree (see above){figures}")
