"""The stand-ins of a local run, shared by its regions: kinesis-mock, moto server, the session store,
and with --chaos the fault proxy between the ingest services and kinesis-mock."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from runtime.local.fault_proxy import FaultProxy
from runtime.local.kinesis_mock import KinesisMock, start_kinesis_mock
from runtime.local.moto_server import MotoServer, start_moto_server
from runtime.local.options import ROOT, Options
from runtime.local.parts import Part
from runtime.local.stores import LocalInfluxDB, LocalStore, MotoTimestream


@dataclass(frozen=True)
class StandIns:
    kinesis: KinesisMock
    moto: MotoServer
    store: LocalStore  # the sessions store (--store)
    kinesis_faults: FaultProxy | None  # --chaos: what the ingest services write to Kinesis through

    @property
    def ingest_kinesis_endpoint(self) -> str:
        return self.kinesis_faults.endpoint if self.kinesis_faults is not None else self.kinesis.endpoint

    def parts(self) -> list[Part]:
        faults: list[Part] = [self.kinesis_faults] if self.kinesis_faults is not None else []
        return [self.kinesis.part, self.moto.part, *self.store.parts(), *faults]


def start_stand_ins(options: Options, log_dir: Path, started: ExitStack) -> StandIns:
    """Each stand-in once it answers; each is stopped when ``started`` closes."""
    kinesis = start_kinesis_mock(ROOT / ".local" / "kinesis-mock", log_dir)
    started.callback(kinesis.stop)
    faults = None
    if options.chaos:
        faults = FaultProxy(kinesis.endpoint).start()
        started.callback(faults.stop)
    moto = start_moto_server(log_dir)
    started.callback(moto.stop)
    store: LocalStore
    if options.store == "influxdb":
        store = LocalInfluxDB(log_dir / "influxdb", log_dir)
        started.callback(store.stop)
    else:
        store = MotoTimestream(moto)
    return StandIns(kinesis, moto, store, faults)
