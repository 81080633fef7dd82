"""Realistic 双公示 penalties as request bodies, fast enough to feed tens of thousands per second.

Each body is a serialised `tests.factories.penalty()` (the records the tests send) in which the id,
the subject (code, name) and the document number are substituted per record, so every record is
unique and valid by construction (check characters computed). The mix has invalid records (wrong check
character, missing required field, decision dates that disagree: each answered 422) and duplicate
retries (an earlier record sent again byte for byte: answered 200 with the original receipt).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from services.common.clock import shanghai_date
from services.common.identifiers import org_code_check_character, uscc_check_character
from tests.factories import USCC_ALPHABET, citizen_id, penalty

DEPARTMENTS = ("AMR", "TAX", "HOUSING")  # the departments whose catalogue entry has administrative_penalty
ID = "@@ID@@"
CODE = "@@CODE@@"
NAME = "@@NAME@@"
WSH = "@@WSH@@"
KINDS = (("legal_person", 0.75), ("individual_business", 0.15), ("natural_person", 0.10))
CATEGORIES = (("罚款",), ("警告",), ("警告", "罚款"), ("没收违法所得", "罚款"), ("暂扣许可证件",))
PLACES = ("渝中", "江北", "沙坪坝", "九龙坡", "南岸", "北碚", "渝北", "巴南", "万州", "涪陵", "永川", "合川")
WORDS = ("鑫源", "宏达", "恒通", "金桥", "华瑞", "永盛", "顺丰", "天成", "佳和", "利民", "博远", "兴隆", "嘉禾", "锦程")
TRADES = ("商贸", "餐饮管理", "食品", "建材", "物流", "医药", "科技", "农业开发", "家具", "汽车服务")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


@dataclass(frozen=True, slots=True)
class Item:
    body: bytes
    department: str
    record_id: str
    expect: str  # "new" (202), "dup" (200 with the original receipt) or "invalid" (422)
    code: str

    @property
    def event_id(self) -> str:
        return f"{self.department}/{self.record_id}"


def uscc(prefix: str, rng: random.Random, division: str = "500101") -> str:
    """A valid USCC whose embedded organisation code is valid too, as issued codes are.

    (`tests.factories.uscc()` draws positions 9-17 at random, so 30 in 31 of its codes carry a GB 11714
    warning on their receipt: fine for tests, but not what a county's records look like.)
    """
    org = "".join(rng.choices("0123456789", k=8))
    body = prefix + division + org + org_code_check_character(org)
    return body + uscc_check_character(body)


_AUTHORITY_BODY = "11500101MB000000"  # 机关 code of the county's 市场监管局, organisation code valid
AUTHORITY = (
    _AUTHORITY_BODY
    + org_code_check_character(_AUTHORITY_BODY[8:])
    + uscc_check_character(_AUTHORITY_BODY + org_code_check_character(_AUTHORITY_BODY[8:]))
)


def subject_name(kind: str, rng: random.Random) -> str:
    if kind == "legal_person":
        return f"重庆{rng.choice(WORDS)}{rng.choice(TRADES)}有限公司"
    if kind == "individual_business":
        return f"{rng.choice(PLACES)}区{rng.choice(SURNAMES)}记{rng.choice(TRADES)}店"
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)


def _template(kind: str, categories: tuple[str, ...], fine: float, decided: str, variant: str) -> bytes:
    record = penalty(code="X" * 18, name=NAME, kind=kind, categories=categories, fine=fine, decision_date=decided)
    data = record["data"]
    record["id"] = ID
    record["subject"]["code"] = CODE
    data["CF_XDR_ZJHM" if kind == "natural_person" else "CF_XDR_SHXYM"] = CODE
    data["CF_WSH"] = f"渝市监罚〔2026〕{WSH}号"
    data["CF_CFJGDM"] = data["CF_SJLYDM"] = AUTHORITY
    if variant == "missing_field":
        del data["CF_WSH"]
    elif variant == "date_mismatch":
        data["CF_JDRQ"] = "2026-01-02" if decided != "2026-01-02" else "2026-01-03"
    return orjson.dumps(record)


def new_subject(
    rng: random.Random, kinds: list[str] | None = None, weights: list[float] | None = None
) -> tuple[str, str, str]:
    """(kind, code, name) of a subject drawn at random, its code valid."""
    kind = rng.choices(kinds or [k for k, _ in KINDS], weights or [w for _, w in KINDS])[0]
    if kind == "natural_person":
        birth = f"{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        code = citizen_id(birth)
    else:
        code = uscc("92" if kind == "individual_business" else "91", rng)
    return (kind, code, subject_name(kind, rng))


class RecordMix:
    """An endless stream of penalty bodies with the bench's mix of invalid and duplicate records."""

    def __init__(
        self,
        *,
        seed: int,
        tag: str,
        invalid: float = 0.05,
        duplicate: float = 0.10,
        repeat_subject: float = 0.3,
        departments: tuple[str, ...] = DEPARTMENTS,
        duplicate_distance: int = 512,
        subjects: list[tuple[str, str, str]] | None = None,
    ) -> None:
        self._rng = random.Random(seed)
        random.seed(seed)  # tests.factories draws from the module-level generator
        self._tag = tag
        self._invalid = invalid
        self._duplicate = duplicate
        self._repeat_subject = repeat_subject
        self._departments = departments
        self._distance = duplicate_distance
        self._count = 0
        self._recent: deque[Item] = deque(maxlen=20_000)
        self._subjects: list[tuple[str, str, str]] = [tuple(x) for x in subjects] if subjects else []  # type: ignore[misc]
        self._fixed = bool(subjects)  # S8: only these subjects, in turn
        today = shanghai_date(datetime.now(UTC))
        dates = [(today - timedelta(days=d)).isoformat() for d in range(1, 6)]
        rng = self._rng
        self._valid: dict[str, list[bytes]] = {}
        self._broken: dict[str, list[bytes]] = {}
        for kind, _ in KINDS:
            self._valid[kind] = [
                _template(kind, rng.choice(CATEGORIES), round(rng.uniform(0.1, 50), 2), rng.choice(dates), "")
                for _ in range(12)
            ]
            self._broken[kind] = [
                _template(kind, rng.choice(CATEGORIES), 1.0, rng.choice(dates), variant)
                for variant in ("missing_field", "date_mismatch")
            ]
        self._kinds = [k for k, _ in KINDS]
        self._weights = [w for _, w in KINDS]

    def _subject(self) -> tuple[str, str, str]:
        rng = self._rng
        if self._fixed:
            return self._subjects[self._count % len(self._subjects)]
        if self._subjects and rng.random() < self._repeat_subject:
            # Realistic subject sizes: a repeated subject is drawn with a strong skew towards the earliest
            # ones (index = n * u^3), so a few subjects gather hundreds of records over a long run and most
            # have one or two, as a county's history has (a uniform draw gave every subject about the same few).
            return self._subjects[int(len(self._subjects) * rng.random() ** 3)]
        subject = new_subject(rng, self._kinds, self._weights)
        self._subjects.append(subject)
        return subject

    def _fill(self, template: bytes, record_id: str, code: str, name: str) -> bytes:
        return (
            template.replace(ID.encode(), record_id.encode(), 1)
            .replace(CODE.encode(), code.encode())
            .replace(NAME.encode(), name.encode())
            .replace(WSH.encode(), str(self._rng.randint(1, 99999)).encode(), 1)
        )

    def next(self) -> Item:
        rng = self._rng
        self._count += 1
        roll = rng.random()
        if roll < self._duplicate and len(self._recent) > self._distance:
            earlier = self._recent[rng.randrange(0, len(self._recent) - self._distance)]
            return Item(earlier.body, earlier.department, earlier.record_id, "dup", earlier.code)
        department = self._departments[self._count % len(self._departments)]
        record_id = f"{department}-B{self._tag}{self._count:09d}"
        kind, code, name = self._subject()
        if self._duplicate <= roll < self._duplicate + self._invalid:
            if rng.random() < 0.5:
                wrong = rng.choice([c for c in USCC_ALPHABET if c != code[-1] and c.isdigit()])
                body = self._fill(rng.choice(self._valid[kind]), record_id, code[:-1] + wrong, name)
            else:
                body = self._fill(rng.choice(self._broken[kind]), record_id, code, name)
            return Item(body, department, record_id, "invalid", code)
        item = Item(
            self._fill(rng.choice(self._valid[kind]), record_id, code, name), department, record_id, "new", code
        )
        self._recent.append(item)
        return item

    def names(self, n: int) -> list[str]:
        """Subject names and codes seen so far (query terms for the public disclosure search)."""
        picked = self._rng.sample(self._subjects, min(n, len(self._subjects)))
        return [name for _, _, name in picked]


def batch_body(items: list[Item]) -> bytes:
    return b'{"records":[' + b",".join(item.body for item in items) + b"]}"
