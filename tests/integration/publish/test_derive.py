"""Derived state is a pure function of the records and the day (DOMAIN §10): any order, same disclosures."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from services.common.calendar import WorkingDayCalendar
from services.common.catalogue import load_catalogue
from services.common.records import AcceptedRecord
from services.publish.rules import load_publicity_rules
from services.publish.rules.derive import DisclosureRules, derive_disclosures, name_tokens, query_tokens
from tests import factories

RULES = DisclosureRules(
    load_catalogue(factories.SCHEMAS),
    load_publicity_rules(factories.SCHEMAS),
    WorkingDayCalendar.load(factories.SCHEMAS / "calendar" / "overrides.yaml"),
)


def accepted(envelope: dict[str, Any], seq: int) -> AcceptedRecord:
    decided = date.fromisoformat(envelope["decision_date"])
    received = f"{decided + timedelta(days=1)}T10:00:{seq:02d}+08:00"
    return AcceptedRecord(
        event_id=f"AMR/{envelope['id']}",
        department="AMR",
        record_id=envelope["id"],
        record_type=envelope["type"],
        version=1,
        subject_code=envelope["subject"]["code"],
        decision_date=decided,
        received_at=datetime.fromisoformat(received),
        record=envelope,
        receipt={"department": "AMR", "received_at": received, "seq": seq},
    )


def test_disclosures_do_not_depend_on_the_order_the_records_arrived_in() -> None:
    code = factories.uscc()
    first = factories.penalty(code=code, decision_date="2026-05-11", fine=20.0)
    second = factories.penalty(code=code, decision_date="2026-06-01", categories=("吊销许可证件",), fine=None)
    correction = {
        "id": "AMR-T-correction",
        "type": "record_correction",
        "version": 1,
        "subject": first["subject"],
        "decision_date": "2026-07-01",
        "data": {
            "target_record_id": first["id"],
            "reason_kind": "自行纠错",
            "reason": "金额有误",
            "corrected_data": first["data"] | {"CF_NR_FK": 150.0},
            "decision_date": "2026-07-01",
        },
    }
    revocation = {
        "id": "AMR-T-revocation",
        "type": "record_revocation",
        "version": 1,
        "subject": second["subject"],
        "decision_date": "2026-08-01",
        "data": {
            "target_record_id": second["id"],
            "reason_kind": "撤销",
            "reason": "撤销",
            "decision_date": "2026-08-01",
        },
    }
    records = [accepted(r, n) for n, r in enumerate([first, second, correction, revocation])]
    expected = derive_disclosures(records, RULES, date(2026, 11, 20))

    for _ in range(10):
        shuffled = random.sample(records, len(records))
        assert derive_disclosures(shuffled, RULES, date(2026, 11, 20)) == expected
    by_id = {d.record_id: d for d in expected}
    assert (by_id[first["id"]].publish, by_id[first["id"]].content["severity"]) == (True, "严重")
    assert (by_id[second["id"]].publish, by_id[second["id"]].exempt) == (False, True)


def test_every_fragment_of_a_name_finds_it_through_its_tokens() -> None:
    name = "示范县老街刘记烧烤店"

    for start in range(len(name)):
        for end in range(start + 1, len(name) + 1):
            assert set(query_tokens(name[start:end])) <= set(name_tokens(name))
