"""What filing an objection and applying for repair share: the refusal a filer reads, and finding the
record a case is about by its public id and the subject's code (DOMAIN §9)."""

from __future__ import annotations

import unicodedata

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.records import AcceptedRecord
from services.publish import store
from services.publish.rules.derive import split_public_id


def normalise_code(text: str) -> str:
    """A subject code as a filer typed it → the form records are keyed by: trimmed, full-width folded,
    upper case (``11010519491231002x`` → ``…002X``). The one rule for every public lookup by code (objections,
    repairs, the portal's search and case pages), so a lower-case ``x`` finds the same case everywhere."""
    return unicodedata.normalize("NFKC", text).strip().upper()


class Refused(Exception):
    """A case that cannot be filed: the status, the field and a message for the filer."""

    def __init__(self, status: int, path: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.path, self.code, self.message = status, path, code, message


def not_found() -> Refused:
    return Refused(
        404,
        "/record_id",
        "not_found",
        "没有找到该主体的这条记录，请核对记录编号和统一社会信用代码（或身份证号码） "
        "(no record with this id for this subject code)",
    )


async def subjects_record(
    conn: AsyncConnection, schema: str, record_id: str, subject_code: str, *, trusted: bool
) -> AcceptedRecord:
    """The record ``record_id`` (``<department>.<department's id>``) about ``subject_code``, or the refusal.

    ``trusted`` (a department or the county platform) gets precise refusals; an anonymous filer learns only
    "not found" whether the id is unknown or belongs to another subject.
    """
    key = split_public_id(record_id)
    if key is None:
        raise Refused(
            422,
            "/record_id",
            "invalid",
            f"记录编号应为 <部门>.<部门记录编号>，如 AMR.AMR-2026-000123 "
            f"(expected <department>.<record id>, got {record_id!r})",
        )
    record = await store.find_record(conn, schema, *key)
    if record is None or (record.subject_code != subject_code and not trusted):
        raise not_found()
    if record.subject_code != subject_code:
        raise Refused(
            422, "/subject_code", "subject_mismatch", "该记录不属于此主体 (the record is about another subject)"
        )
    return record
