"""Athena's three calls as the reconciler makes them, answering given rows: moto's Athena speaks the JSON
protocol only, and the botocore of a fresh install speaks REST-JSON to Athena, so the tests do not
run Athena through moto. What Athena would do with the SQL is AWS's; the SQL itself is checked."""

from __future__ import annotations

from typing import Any


class FakeAthena:
    """Athena's three calls: each query answers the rows given (after a header), in the state given."""

    def __init__(self, rows: list[tuple[str, str]], state: str = "SUCCEEDED", running_polls: int = 2,
                 workgroup: str = "wg", database: str = "db") -> None:  # fmt: skip
        self.rows, self.state, self.running_polls = rows, state, running_polls
        self.workgroup, self.database = workgroup, database
        self.queries: list[str] = []

    def start_query_execution(self, QueryString: str, WorkGroup: str, QueryExecutionContext: Any) -> dict[str, str]:
        assert WorkGroup == self.workgroup and QueryExecutionContext == {"Database": self.database}
        self.queries.append(QueryString)
        return {"QueryExecutionId": f"q{len(self.queries)}"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        self.running_polls -= 1
        state = "RUNNING" if self.running_polls > 0 else self.state
        return {"QueryExecution": {"Status": {"State": state, "StateChangeReason": "no such table"}}}

    def get_paginator(self, name: str) -> Any:
        assert name == "get_query_results"
        rows = [("kind", "line"), *self.rows]
        pages = [rows[:2], rows[2:]]  # the header comes once, on the first page

        class Pages:
            def paginate(self, QueryExecutionId: str) -> Any:
                for page in pages:
                    yield {"ResultSet": {"Rows": [{"Data": [{"VarCharValue": k}, {"VarCharValue": v}]}
                                                  for k, v in page]}}  # fmt: skip

        return Pages()
