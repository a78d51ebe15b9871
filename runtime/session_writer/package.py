"""Build the session writer's Lambda zip: `python -m runtime.session_writer.package`.

Handler ``runtime.session_writer.handler.handler``; the layout and the dependency build
are runtime/packaging.py's. Reproducible: the same sources and dependency versions give
the same bytes, so the function's source code hash moves only with its content.
"""

from __future__ import annotations

from runtime.packaging import ROOT, LambdaPackage

PACKAGE = LambdaPackage(
    handler="runtime.session_writer.handler.handler",
    modules=(
        "runtime/__init__.py",
        "runtime/events.py",
        "runtime/kpl.py",
        "runtime/retries.py",
        "runtime/text_settings.py",
        "runtime/session_writer",
    ),
    extra="session-writer",
    default_output=ROOT / "build" / "session_writer" / "prism-session-writer.zip",
    constraints=ROOT / "runtime" / "session_writer" / "constraints.txt",
)
# The same zip also sets up a Timestream for InfluxDB instance (provision.py), invoked once per deployment.
PROVISIONER_HANDLER = "runtime.session_writer.provision.handler"

if __name__ == "__main__":
    PACKAGE.main()
