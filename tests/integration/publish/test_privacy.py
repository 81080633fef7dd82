"""What the portal may show about a natural person (DOMAIN §8): masked name and ID number, no minors."""

from __future__ import annotations

import httpx

from tests import factories
from tests.helpers import eventually
from tests.integration.publish.support import public_id, report, shown, wait_shown


async def test_natural_persons_name_and_id_number_are_masked_on_the_portal(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    id_number = factories.citizen_id(birth="19800101")
    record = factories.penalty(kind="natural_person", code=id_number, name="欧阳明华", fine=2.0)
    await report(ingest, tokens, record)

    disclosure = await wait_shown(publish, public_id(record), "the person's penalty")

    masked = id_number[:6] + "********" + id_number[-4:]
    assert disclosure["data"]["CF_XDR_MC"] == "欧阳**"
    assert disclosure["data"]["CF_XDR_ZJHM"] == masked
    assert disclosure["subject"] == {"kind": "natural_person", "name": "欧阳**", "code": masked}
    response = await publish.get(f"/v1/disclosures/{public_id(record)}")
    assert id_number not in response.text
    assert "欧阳明华" not in response.text


async def test_person_is_found_by_the_masked_name_or_the_full_id_number_but_never_shown_in_clear(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    id_number = factories.citizen_id(birth="19750612")
    record = factories.penalty(kind="natural_person", code=id_number, name="司马相如", fine=3.0)
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record), "the person's penalty")

    by_code = await publish.get("/v1/disclosures", params={"q": id_number})
    by_name = await publish.get("/v1/disclosures", params={"q": "司马相如"})

    assert [item["record_id"] for item in by_code.json()["items"]] == [public_id(record)]
    assert id_number not in by_code.text.replace(f'"q":"{id_number}"', "")
    assert public_id(record) not in by_name.text  # the clear name is not published, so it finds nothing


async def test_minors_record_is_not_published(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    id_number = factories.citizen_id(birth="20100501")  # 16 on the decision date
    record = factories.penalty(kind="natural_person", code=id_number, name="李小龙", fine=2.0)
    await report(ingest, tokens, record)

    # The record is known to publish (its subject may object to it) but is never on the portal.
    async def known() -> bool:
        response = await publish.post(
            "/v1/objections",
            json={"record_id": public_id(record), "subject_code": id_number, "reason": "未成年", "contact": "监护人"},
        )
        return response.status_code == 201

    await eventually(known, what="publish to know the minor's record")
    assert await shown(publish, public_id(record)) is None
    assert (await publish.get("/v1/disclosures", params={"q": id_number})).json()["items"] == []
