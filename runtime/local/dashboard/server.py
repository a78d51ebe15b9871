"""The local dashboard page, served on loopback while a run lasts: the page (page/), plotly.js from the
plotly package (no CDN), and the JSON the page draws.

    GET /                           the page (the first dashboard)
    GET /d/<uid>, /pipeline          the page, on a dashboard or on the pipeline view
    GET /api/dashboards              the dashboards' layout, the run's databases, the store engine
    GET /api/d/<uid>/variables       each filter's values, from the chosen database (?datasource=)
    GET /api/d/<uid>/panels          every panel computed now (?datasource=&var-<name>=<value>...)
    GET /api/pipeline                the pipeline view's series

Filters ride in the address as in Grafana (``var-region=us-east-1``; ``$__all`` for All), so a
view can be shared. A request the page cannot answer gets a 4xx naming what is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from runtime.local.dashboard.frames import Series, Table
from runtime.local.dashboard.grafana import Dashboard, DashboardError, load_dashboards, relative_time
from runtime.local.dashboard.panels import Choice, PanelData, Query, compute_panel, variable_options
from runtime.local.dashboard.pipeline import SAMPLE_SECONDS, PipelineHistory

PAGE: Final = Path(__file__).resolve().parent / "page"
# The address printed for a run: a local run lasts minutes, and a dashboard's hour would be mostly empty.
PAGE_QUERY: Final = "?from=now-15m"
NO_QUERY_STORE: Final = (
    "The sessions store of this run is Timestream for LiveAnalytics in moto, which answers no query: "
    "the dashboards need a store that answers (make run without --store liveanalytics). "
    "The pipeline view works with either store."
)


@dataclass(frozen=True)
class SessionsStore:
    """What the page reads the dashboards from: the run's InfluxDB, one database per region."""

    query: Query
    databases: Sequence[str]


def _json_number(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def panel_json(data: PanelData) -> dict[str, Any]:
    answer: dict[str, Any] = {"id": data.panel.id, "queries": list(data.queries), "error": data.error,
                              "has_data": data.has_data}  # fmt: skip
    if data.table is not None:
        table: Table = data.table
        answer["table"] = {"columns": list(table.columns),
                           "rows": [[_json_number(v) for v in row] for row in table.rows]}  # fmt: skip
    else:
        answer["series"] = [series_json(s) for s in data.series]
    return answer


def series_json(series: Series) -> dict[str, Any]:
    return {"name": series.name, "x": list(series.times), "y": [_json_number(v) for v in series.values]}


def layout_json(dashboard: Dashboard) -> dict[str, Any]:
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "refresh_seconds": dashboard.refresh_seconds,
        "time": {"from": dashboard.time_from, "to": dashboard.time_to},
        "variables": [{"name": v.name, "label": v.label} for v in dashboard.variables],
        "panels": [
            {"id": p.id, "title": p.title, "type": p.type, "unit": p.unit,
             "grid": {"x": p.grid.x, "y": p.grid.y, "w": p.grid.w, "h": p.grid.h}}
            for p in dashboard.panels
        ],
    }  # fmt: skip


class DashboardApp:
    def __init__(self, history: PipelineHistory, store: SessionsStore | None,
                 dashboards: Sequence[Dashboard] | None = None,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.history = history
        self.store = store
        self.dashboards = {d.uid: d for d in (dashboards if dashboards is not None else load_dashboards())}
        self.clock = clock
        page = [Route(path, self._page) for path in ("/", "/d/{uid}", "/pipeline")]
        files = [Route(f"/static/{name}", self._static(name)) for name in ("page.js", "page.css")]
        api = [
            Route("/static/plotly.min.js", self._plotly),
            Route("/api/dashboards", self._dashboards),
            Route("/api/d/{uid}/variables", self._variables),
            Route("/api/d/{uid}/panels", self._panels),
            Route("/api/pipeline", self._pipeline),
        ]
        self.app = Starlette(routes=[*page, *files, *api])
        self._plotly_js: bytes | None = None

    async def _page(self, request: Request) -> Response:
        if "uid" in request.path_params and request.path_params["uid"] not in self.dashboards:
            return JSONResponse({"error": f"no dashboard {request.path_params['uid']}"}, 404)
        return FileResponse(PAGE / "index.html", media_type="text/html")

    def _static(self, name: str) -> Callable[[Request], Any]:
        async def serve(request: Request) -> Response:
            return FileResponse(PAGE / name)

        return serve

    async def _plotly(self, request: Request) -> Response:
        if self._plotly_js is None:
            from plotly.offline import get_plotlyjs

            self._plotly_js = get_plotlyjs().encode()
        return Response(self._plotly_js, media_type="text/javascript",
                        headers={"Cache-Control": "max-age=3600"})  # fmt: skip

    async def _dashboards(self, request: Request) -> Response:
        return JSONResponse({
            "store": "influxdb" if self.store is not None else "liveanalytics",
            "note": None if self.store is not None else NO_QUERY_STORE,
            "databases": list(self.store.databases) if self.store is not None else [],
            "dashboards": [layout_json(d) for d in self.dashboards.values()],
        })  # fmt: skip

    def _choice(self, request: Request) -> tuple[Dashboard, Choice, tuple[int, int]] | Response:
        uid = request.path_params["uid"]
        if uid not in self.dashboards:
            return JSONResponse({"error": f"no dashboard {uid}"}, 404)
        if self.store is None:
            return JSONResponse({"error": NO_QUERY_STORE}, 409)
        dashboard = self.dashboards[uid]
        database = request.query_params.get("datasource") or (self.store.databases[0] if self.store.databases else "")
        if database not in self.store.databases:
            return JSONResponse({"error": f"datasource {database!r} is not one of the run's databases "
                                 f"({', '.join(self.store.databases)})"}, 400)  # fmt: skip
        names = {v.name for v in dashboard.variables}
        unknown = sorted(key for key in request.query_params if key.startswith("var-") and key[4:] not in names)
        if unknown:
            return JSONResponse({"error": f"{', '.join(unknown)}: not a filter of {dashboard.title}"}, 400)
        chosen = {v.name: request.query_params.getlist(f"var-{v.name}") for v in dashboard.variables}
        now_ms = int(self.clock() * 1000)
        try:  # Grafana's from/to in the address; the dashboard's own range by default
            start_ms = relative_time(request.query_params.get("from", dashboard.time_from), now_ms)
            end_ms = relative_time(request.query_params.get("to", dashboard.time_to), now_ms)
        except DashboardError as error:
            return JSONResponse({"error": str(error)}, 400)
        return dashboard, Choice(database, chosen), (start_ms, end_ms)

    async def _variables(self, request: Request) -> Response:
        found = self._choice(request)
        if isinstance(found, Response):
            return found
        dashboard, choice, _ = found
        assert self.store is not None
        return JSONResponse(variable_options(dashboard, self.store.query, choice.database))

    def compute(self, dashboard: Dashboard, choice: Choice, start_ms: int, end_ms: int) -> list[PanelData]:
        assert self.store is not None
        options = variable_options(dashboard, self.store.query, choice.database)
        return [compute_panel(p, dashboard, self.store.query, choice, options, start_ms, end_ms)
                for p in dashboard.panels]  # fmt: skip

    async def _panels(self, request: Request) -> Response:
        found = self._choice(request)
        if isinstance(found, Response):
            return found
        dashboard, choice, (start_ms, end_ms) = found
        panels = await asyncio.to_thread(self.compute, dashboard, choice, start_ms, end_ms)
        return JSONResponse({"panels": [panel_json(p) for p in panels], "at_ms": int(self.clock() * 1000)})

    async def _pipeline(self, request: Request) -> Response:
        return JSONResponse(self.history.view())


class DashboardServer:
    """The page on 127.0.0.1 in a thread of its own, and the sampler of the pipeline view in another."""

    def __init__(self, history: PipelineHistory, store: SessionsStore | None, port: int = 0) -> None:
        self.history = history
        self.app = DashboardApp(self.history, store)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/"
        config = uvicorn.Config(self.app.app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self._serving = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                         name="dashboard-page", daemon=True)  # fmt: skip
        self._stopping = threading.Event()
        self._sampling = threading.Thread(target=self._sample, name="dashboard-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._stopping.is_set():
            # A stand-in gone mid-sample (the run stopping, a fault): the next sample tells.
            with contextlib.suppress(Exception):
                self.history.sample()
            self._stopping.wait(SAMPLE_SECONDS)

    def start(self) -> DashboardServer:
        self._serving.start()
        self._sampling.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.server.should_exit = True
        for thread in (self._serving, self._sampling):
            if thread.is_alive():
                thread.join(timeout=10)
        self.socket.close()
