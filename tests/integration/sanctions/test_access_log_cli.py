"""`exchange audit access --subject` (DOMAIN §10): an auditor asks who looked at a subject's non-public data
and gets every read — who, which role and credential, what, why — from the audit topic alone."""

from __future__ import annotations

import asyncio
import sys

import httpx

from tests import factories
from tests.helpers import eventually
from tests.integration.sanctions.support import bearer, report, restrictions, serious_listing


async def exchange(*args: str) -> tuple[int, str]:
    """The operator's CLI as a process, with the test stack's settings (stack_env puts them in os.environ)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


async def test_audit_access_lists_who_read_a_subjects_data_and_why(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str], stack_env: dict[str, str]
) -> None:
    code = factories.uscc()
    await report(ingest, tokens, serious_listing(code))
    await restrictions(
        sanctions, tokens, code, "government_procurement", who="TAX", purpose="示税采〔2026〕31 供应商审查"
    )
    cases = await sanctions.get("/v1/cases", params={"code": code}, headers=bearer(tokens, "COUNTY"))
    assert cases.status_code == 200, cases.text

    async def both_listed() -> str | None:
        status, out = await exchange("audit", "access", "--subject", code)
        assert status == 0, out
        return out if "2 read(s)" in out else None  # the access events reach the topic through the outbox

    out = await eventually(both_listed, timeout=30, what="both reads on the audit topic")
    lines = out.splitlines()
    assert any("TAX (department" in line and "restrictions:government_procurement" in line for line in lines), out
    assert any("purpose=示税采〔2026〕31 供应商审查" in line for line in lines), out
    assert any("(county, credential" in line and "cases:" in line for line in lines), out
    status, nobody = await exchange("audit", "access", "--subject", factories.uscc())
    assert (status, nobody.strip().splitlines()[-1].startswith("no recorded reads")) == (0, True)
