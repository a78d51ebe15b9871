"""Build the live replayer's Lambda zip: `python -m runtime.replay.package` (make replay-zip).

It fires through the ingest service's own sink, so the ingest modules it uses go in
beside the replayer's; layout and dependency build are runtime/packaging.py's.
"""

from __future__ import annotations

from runtime.packaging import ROOT, LambdaPackage

PACKAGE = LambdaPackage(
    handler="runtime.replay.handler.handler",
    modules=(
        "runtime/__init__.py",
        "runtime/events.py",
        "runtime/firehose_objects.py",
        "runtime/retries.py",
        "runtime/text_settings.py",
        "runtime/ingest/__init__.py",
        "runtime/ingest/acks.py",
        "runtime/ingest/aggregation.py",
        "runtime/ingest/metrics.py",
        "runtime/ingest/request_tally.py",
        "runtime/ingest/settings.py",
        "runtime/ingest/sink.py",
        "runtime/ingest/transport",
        "runtime/ingest/validation.py",
        "runtime/replay",
    ),
    extra="replayer",
    default_output=ROOT / "build" / "replay" / "prism-replayer.zip",
    constraints=ROOT / "runtime" / "replay" / "constraints.txt",
)

if __name__ == "__main__":
    PACKAGE.main()
