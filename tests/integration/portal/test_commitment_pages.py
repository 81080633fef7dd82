"""The portal's commitment column (issue 22; 003 L21): a repair commitment is published under 信用修复承诺,
the other kinds on pages of their own, and a kind's page lists only its kind."""

from __future__ import annotations

import uuid

import httpx

from tests import factories
from tests.integration.portal.support import page
from tests.integration.publish.support import public_id, report, wait_shown


async def test_a_repair_commitment_is_published_as_a_credit_repair_commitment(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    name = f"示范县{uuid.uuid4().hex[:8]}修复承诺测试有限公司"
    repair = factories.fresh(factories.examples("credit_commitment")[0])
    repair["subject"] |= {"code": factories.uscc(), "name": name}
    repair["data"] |= {
        "commitment_kind": "信用修复型",
        "commitment_no": f"示市监修复承诺〔2026〕{uuid.uuid4().hex[:6]}",
        "matter": "行政处罚信息信用修复",
        "text": "本单位已履行行政处罚决定，承诺今后守法诚信经营，如有违反自愿接受惩戒。",
    }
    repair["data"].pop("fulfilment_deadline")
    tolerance = factories.fresh(factories.examples("credit_commitment")[0])
    tolerance["subject"] |= {"code": factories.uscc(), "name": name.replace("修复", "容缺")}
    for record in (repair, tolerance):
        await report(ingest, tokens, record)
        await wait_shown(publish, public_id(record), "the commitment")

    html = await page(publish, "/commitments/repair")
    assert "<h1>信用修复承诺</h1>" in html
    assert name in html
    assert public_id(repair) in html
    assert public_id(tolerance) not in html  # a 容缺受理 commitment is on its own page
    assert public_id(tolerance) in await page(publish, "/commitments/tolerance")
    assert 'href="/commitments/repair"' in await page(publish, "/commitments")
    assert 'href="/commitments"' in await page(publish, "/")
    await page(publish, "/commitments/unknown", status=404)
