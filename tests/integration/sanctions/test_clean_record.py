"""连续三年无不良信用记录 (001 L360, L534): a subject whose records show three clean years gets 绿色通道 and
容缺受理 when a department asks before a licensing decision; an adverse record takes them away, and a
watch-list entry with no legally effective document (001 L646) does not. Computed when asked, from the
subject's records: nothing to replay, nothing for a ticker to do."""

from __future__ import annotations

from typing import Any

import httpx

from tests import factories
from tests.helpers import eventually
from tests.integration.grading.support import registration
from tests.integration.sanctions.support import report, restrictions

LICENSING_REWARDS = {"R-GF33-ADM-01", "R-GF33-ADM-02"}  # 绿色通道, 容缺受理


async def rewards_when(
    sanctions: httpx.AsyncClient, tokens: dict[str, str], code: str, wanted: set[str], what: str
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        answer = await restrictions(sanctions, tokens, code, "administrative_licensing", who="AMR")
        return answer if clean_record_rewards(answer) == wanted else None

    # A full run reaches here after the e2e stack's consumers left the group: allow for a rebalance.
    return await eventually(check, timeout=90, what=what)


def clean_record_rewards(answer: dict[str, Any]) -> set[str]:
    """The rewards the clean record gives: grading, when it runs beside this test, may grade the same
    subject A and add the grade's own rewards to the answer."""
    return {r["measure_id"] for r in answer["rewards"] if "clean_record_3y" in r["case_id"]}


def watch_list_entry(code: str, *, document: bool) -> dict[str, Any]:
    record = factories.fresh(factories.examples("watch_list")[0], "AMR")
    record["subject"] = {"kind": "legal_person", "code": code, "name": "重庆某某商贸有限公司"}
    if not document:
        record["data"].pop("document_no")  # v1 allows it: no legally effective document
    record["decision_date"] = record["data"]["decision_date"] = "2026-11-03"
    record["data"]["watch_until"] = "2027-11-02"
    return record


async def test_three_clean_years_give_the_licensing_rewards_until_an_adverse_record(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    await report(ingest, tokens, registration(code, "2026-01-05", established="2019-07-02"))
    answer = await rewards_when(sanctions, tokens, code, LICENSING_REWARDS, "the clean-record rewards")
    assert answer["restricted"] is False
    assert {r["since"] for r in answer["rewards"] if "clean_record_3y" in r["case_id"]} == {"2022-07-02"}

    await report(ingest, tokens, factories.penalty(code=code, decision_date="2026-11-02"))
    await rewards_when(sanctions, tokens, code, set(), "the penalty to end the clean record")
    answer = await restrictions(sanctions, tokens, code, "administrative_licensing", on="2029-11-03")
    assert clean_record_rewards(answer) == LICENSING_REWARDS  # three clean years after the penalty
    assert {r["since"] for r in answer["rewards"] if "clean_record_3y" in r["case_id"]} == {"2029-11-03"}
    later = await restrictions(sanctions, tokens, code, "administrative_licensing", on="2029-11-02")
    assert clean_record_rewards(later) == set()


async def test_watch_list_entry_without_a_legal_document_does_not_count_against_the_subject(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    undocumented, documented = factories.uscc(), factories.uscc()
    for code in (undocumented, documented):
        await report(ingest, tokens, registration(code, "2026-01-05", established="2019-07-02"))
        await rewards_when(sanctions, tokens, code, LICENSING_REWARDS, "the clean-record rewards")

    await report(ingest, tokens, watch_list_entry(documented, document=True))
    await rewards_when(sanctions, tokens, documented, set(), "the documented entry to count")

    await report(ingest, tokens, watch_list_entry(undocumented, document=False))
    # An old penalty reported after it (same subject, same partition) moves the start of the clean years:
    # once it is read, so is the entry, and the rewards are still there.
    await report(ingest, tokens, factories.penalty(code=undocumented, decision_date="2023-01-02"))

    async def restarted() -> dict[str, Any] | None:
        answer = await restrictions(sanctions, tokens, undocumented, "administrative_licensing", who="AMR")
        since = {r["since"] for r in answer["rewards"] if "clean_record_3y" in r["case_id"]}
        return answer if since == {"2026-01-03"} else None

    answer = await eventually(restarted, timeout=90, what="the old penalty to restart the count")
    assert clean_record_rewards(answer) == LICENSING_REWARDS  # 001 L646: the entry counts against no one
