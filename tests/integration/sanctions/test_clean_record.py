"""连续三年无不良信用记录 (001 L360, L534): a subject whose records show three clean years gets 绿色通道 and
容缺受理 when a department asks before a licensing decision; an adverse record takes them away (a watch-list
entry with no legally effective document does not, 001 L646: tests/unit/test_sanctions_rules.py). Computed
when asked, from the subject's records: nothing to replay, nothing for a ticker to do."""

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
