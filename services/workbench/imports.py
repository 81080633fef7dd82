"""A filled sheet, submitted as `records:batch` calls to ingest (at most `batch` rows a call), and the
result of every row. Rows whose cells could not be read are not sent; every other row gets exactly the
answer ingest gives a system (receipt, or errors with JSON pointers, mapped back to the row's cells)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.catalogue import RecordType
from services.workbench import messages, sheets
from services.workbench.accounts import Staff
from services.workbench.client import Services, ServiceUnavailable

BATCH = 1000


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    results: list[sheets.RowResult]

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.results if r.accepted)

    @property
    def rejected(self) -> int:
        return len(self.results) - self.accepted


async def submit_rows(
    services: Services, staff: Staff, record_type: RecordType, rows: list[sheets.Row], *, batch: int = BATCH
) -> ImportOutcome:
    by_number: dict[int, sheets.RowResult] = {}
    ready = [row for row in rows if row.record is not None]
    for row in rows:
        if row.record is None:
            by_number[row.number] = sheets.RowResult(row, False, None, row.problems)
    for start in range(0, len(ready), batch):
        chunk = ready[start : start + batch]
        response = await services.call(
            "ingest", "POST", "/v1/records:batch", staff, json={"records": [r.record for r in chunk]}
        )
        if response.status_code != 207:
            raise ServiceUnavailable(f"报送服务返回 {response.status_code}：{response.text[:300]}")
        for row, result in zip(chunk, response.json()["results"], strict=True):
            by_number[row.number] = _row_result(row, result, record_type)
    return ImportOutcome([by_number[row.number] for row in rows])


def _row_result(row: sheets.Row, result: dict[str, Any], record_type: RecordType) -> sheets.RowResult:
    status = result["status"]
    if status in (200, 202):
        return sheets.RowResult(row, True, result["receipt"]["hash"], (), replayed=status == 200)
    problems = messages.cell_problems(result.get("errors", []), row, record_type)
    return sheets.RowResult(row, False, None, problems)
