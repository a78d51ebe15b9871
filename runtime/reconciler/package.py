"""Build the reconciler's Lambda zip: `python -m runtime.reconciler.package` (make reconciler-zip).

It makes a moved session whole with the sessionizer's own state machine, so the plain
Python modules of runtime/sessionizer go in beside the reconciler's; layout and dependency
build are runtime/packaging.py's.
"""

from __future__ import annotations

from runtime.packaging import ROOT, LambdaPackage

PACKAGE = LambdaPackage(
    handler="runtime.reconciler.handler.handler",
    modules=(
        "runtime/__init__.py",
        "runtime/events.py",
        "runtime/firehose_objects.py",
        "runtime/names.py",
        "runtime/retries.py",
        "runtime/text_settings.py",
        "runtime/sessionizer/__init__.py",
        "runtime/sessionizer/metrics.py",
        "runtime/sessionizer/playback.py",
        "runtime/sessionizer/session.py",
        "runtime/reconciler",
    ),
    extra="reconciler",
    default_output=ROOT / "build" / "reconciler" / "prism-reconciler.zip",
    constraints=ROOT / "runtime" / "reconciler" / "constraints.txt",
)

if __name__ == "__main__":
    PACKAGE.main()
