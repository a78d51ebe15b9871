"""The reconciler of a region in a local run: runtime/reconciler's pass, every few seconds, in a thread.

On AWS a schedule invokes it; here a thread does, and it is a part of its region, so an
outage stops it with the region and it catches up when the region is back.
"""

from __future__ import annotations

from runtime.local.relay import RelayStats, ThreadLoop
from runtime.reconciler.reconcile import Reconciler

RECONCILE_EVERY_SECONDS = 2.0


class ReconcilerLoop(ThreadLoop):
    def __init__(self, reconciler: Reconciler, stats: RelayStats | None = None) -> None:
        self.reconciler = reconciler
        super().__init__(f"reconciler-{reconciler.region}", self._step, stats or RelayStats(), RECONCILE_EVERY_SECONDS)

    def _step(self) -> None:
        self.stats.user_records += self.reconciler.run_once()
        self.stats.batches += 1

    def restarted(self) -> ReconcilerLoop:
        return ReconcilerLoop(self.reconciler, self.stats)
