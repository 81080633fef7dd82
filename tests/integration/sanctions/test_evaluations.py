"""Departments' credit evaluations reach the restriction answer (issue 22, 002 L163-L167): a 纳税 A brings its
reward while the evaluation is valid and not after; a 安全生产 4 shows its restriction on inspections. The
measures are the measure list's `evaluation:` measures, computed from the subject's records when asked."""

from __future__ import annotations

from typing import Any

import httpx

from tests import factories
from tests.helpers import eventually
from tests.integration.sanctions.support import measure_ids, report, restrictions


def evaluation(code: str, scale: str, grade: str, department: str, valid: tuple[str, str]) -> dict[str, Any]:
    record = factories.fresh(factories.examples("credit_evaluation")[0], department)
    record["subject"]["code"] = code
    record["decision_date"] = record["data"]["decision_date"] = valid[0]
    record["data"] |= {"scale": scale, "grade": grade, "valid_from": valid[0], "valid_until": valid[1]}
    return record


async def test_a_tax_a_evaluation_gives_the_reward_until_its_validity_ends(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    await report(ingest, tokens, evaluation(code, "纳税信用", "A", "TAX", ("2026-04-01", "2027-03-31")))

    async def rewarded() -> dict[str, Any] | None:
        answer = await restrictions(sanctions, tokens, code, "tax_administration", on="2026-06-01", who="TAX")
        return answer if answer["rewards"] else None

    answer = await eventually(rewarded, what="the 纳税 A reward in the restriction answer")
    (reward,) = answer["rewards"]
    assert (reward["measure_id"], reward["since"], reward["until"]) == ("R-NSXY-EVL-01", "2026-04-01", "2027-03-31")
    assert reward["legal_basis"] == {"document": "纳税信用管理办法（试行）", "provision": "第二十九条"}
    last = await restrictions(sanctions, tokens, code, "tax_administration", on="2027-03-31", who="TAX")
    assert measure_ids(last, "rewards") == {"R-NSXY-EVL-01"}
    after = await restrictions(sanctions, tokens, code, "tax_administration", on="2027-04-01", who="TAX")
    assert after["rewards"] == []


async def test_a_safety_grade_4_shows_its_restriction_on_inspections(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    await report(ingest, tokens, evaluation(code, "安全生产", "4", "AMR", ("2026-05-01", "2027-04-30")))

    async def restricted() -> dict[str, Any] | None:
        answer = await restrictions(sanctions, tokens, code, "inspection", on="2026-06-01", who="AMR")
        return answer if answer["measures"] else None

    answer = await eventually(restricted, what="the 安全生产 4 restriction in the restriction answer")
    assert measure_ids(answer) == {"M-AQSC-EVL-01"}
    assert answer["measures"][0]["name"] == "加大日常监管力度，每年检查不少于2次"
    assert answer["restricted"] is False  # 从严 (strict review): listed, not a ban
    after = await restrictions(sanctions, tokens, code, "inspection", on="2027-05-01", who="AMR")
    assert after["measures"] == []
