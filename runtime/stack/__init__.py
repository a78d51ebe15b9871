"""Stack settings: one typed, validated object, built once before any resource.

A bad value stops the program with the key a user must edit, the rule it breaks and
the value found, e.g. ``prism-pipeline:streams.raw.shards must be >= 1, got 0``.

The values come from the stack's ``prism-pipeline:*`` configuration: under Pulumi
through its config (``components/settings.py``, the only module that reads it); for
local runs, the operator commands and tests straight from a ``Pulumi.<stack>.yaml``
file (``from_stack_file``). Both go through ``parse_settings``, so names and sizing are
the same wherever the pipeline runs. Plain Python: the local pipeline and the operator
commands use it without Pulumi.

    model.py      the dataclasses, one per section
    session_store.py  the session store's, one per engine
    reader.py     a config section read key by key; the stack file's values
    limits.py     what AWS accepts (sizes, retention periods, ARN and name shapes)
    data_path.py  parsers of the data path's sections (streams to session store)
    ingest.py     parsers of how players reach the service (network, ALB, WAF, accelerator)
    operations.py parsers of what watches it: alarm subscribers and tuning, the budget
    replay.py     parser of the live replayer's source, targets and function
    reconciler.py parser of the reconciler's function, queue and archive search
    parse.py      the whole object
"""

from runtime.stack.ingest import task_stop_timeout_seconds
from runtime.stack.model import (
    ALARM_KINDS,
    BUCKET_KINDS,
    PROJECT,
    AlarmKind,
    AlarmTuning,
    AlertingSettings,
    ArchiveSettings,
    BudgetSettings,
    DeliverySettings,
    EdgeSettings,
    Egress,
    ExistingVpc,
    IngestServiceSettings,
    LifecycleSettings,
    NewVpc,
    ReconcilerSettings,
    RegionRole,
    RegionSettings,
    ReplaySettings,
    ReplaySource,
    ReplayTarget,
    SessionizerSettings,
    Settings,
    StreamSettings,
    WafSettings,
)
from runtime.stack.parse import from_stack_file, parse_settings
from runtime.stack.reader import SettingsError, stack_file_values
from runtime.stack.session_store import InfluxDbSettings, LiveAnalyticsSettings, SessionStoreSettings

__all__ = [
    "ALARM_KINDS", "BUCKET_KINDS", "PROJECT", "AlarmKind", "AlarmTuning", "AlertingSettings", "ArchiveSettings",
    "BudgetSettings", "DeliverySettings", "EdgeSettings", "Egress", "ExistingVpc",
    "InfluxDbSettings", "IngestServiceSettings", "LifecycleSettings", "LiveAnalyticsSettings",
    "NewVpc", "ReconcilerSettings", "RegionRole", "RegionSettings", "ReplaySettings",
    "ReplaySource", "ReplayTarget", "SessionStoreSettings",
    "SessionizerSettings", "Settings", "SettingsError", "StreamSettings", "WafSettings", "from_stack_file",
    "parse_settings", "stack_file_values", "task_stop_timeout_seconds",
]  # fmt: skip
