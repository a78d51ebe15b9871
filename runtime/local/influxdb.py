"""A real InfluxDB 1.x (Debian package ``influxdb``) as a process on a loopback port, data in a directory.

What Timestream for InfluxDB serves to the session writer and to Grafana, the
v1-compatible ``/write`` and ``/query`` endpoints, this server serves too.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.local.processes import ProcessPart, answering, free_port

INFLUXD = "influxd"
INSTALL_HINT = "InfluxDB 1.x is not installed: `apt-get install influxdb` (make tools does it)"


class InfluxQueryError(RuntimeError):
    """InfluxDB answered a query with an error; the message is InfluxDB's."""


@dataclass
class InfluxServer:
    part: ProcessPart
    url: str

    def query(self, statement: str, database: str | None = None) -> list[dict[str, Any]]:
        """The series of one InfluxQL statement's result (name, tags, columns, values)."""
        parameters = {"q": statement, "epoch": "ms", **({"db": database} if database else {})}
        request = urllib.request.Request(f"{self.url}/query", data=urllib.parse.urlencode(parameters).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        result = answer["results"][0]
        if "error" in result:
            raise InfluxQueryError(f"{result['error']} (in: {statement})")
        return list(result.get("series", []))

    def stop(self) -> None:
        self.part.stop()


def _config(data_dir: Path, http_port: int, rpc_port: int) -> str:
    meta, data, wal = (data_dir / part for part in ("meta", "data", "wal"))
    return f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{meta}"

[data]
  dir = "{data}"
  wal-dir = "{wal}"
  query-log-enabled = false

[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false

[monitor]
  store-enabled = false
"""


def start_influxdb(data_dir: Path, log_dir: Path) -> InfluxServer:
    """influxd with its data in ``data_dir``, answering on a free loopback port; stop() ends it by its pid."""
    if shutil.which(INFLUXD) is None:
        raise RuntimeError(INSTALL_HINT)
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "influxdb.conf"
    http_port = free_port()
    config.write_text(_config(data_dir, http_port, free_port()))
    url = f"http://127.0.0.1:{http_port}"
    command = [INFLUXD, "-config", str(config)]
    part = ProcessPart("influxdb", command, {}, data_dir, log_dir, answering(f"{url}/ping", 204))
    return InfluxServer(part.start(), url)
