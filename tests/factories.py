"""Realistic records for tests: valid by construction (check characters computed), unique per call."""

from __future__ import annotations

import copy
import json
import random
import uuid
from pathlib import Path
from typing import Any

from services.common.identifiers import citizen_id_check_character, uscc_check_character

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(prefix: str = "91", division: str = "500101") -> str:
    """A fresh, valid unified social credit code (企业 by default, in 重庆 division 500101)."""
    body = prefix + division + "".join(random.choices(USCC_ALPHABET, k=9))
    return body + uscc_check_character(body)


def citizen_id(birth: str = "19800101") -> str:
    body = "110105" + birth + f"{random.randint(0, 999):03d}"
    return body + citizen_id_check_character(body)


def record_id(department: str = "AMR") -> str:
    return f"{department}-T-{uuid.uuid4().hex[:12]}"


def examples(record_type: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((SCHEMAS / "examples" / f"{record_type}.json").read_text("utf-8"))
    return data


def all_examples() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((SCHEMAS / "examples").glob("*.json")):
        for n, record in enumerate(json.loads(path.read_text("utf-8")), start=1):
            out.append((f"{path.stem}-{n}", record))
    return out


def fresh(record: dict[str, Any], department: str = "AMR") -> dict[str, Any]:
    """A copy of an example with a new id (so it is not a repeat of an earlier test's record)."""
    clone = copy.deepcopy(record)
    clone["id"] = record_id(department)
    return clone


AUTHORITY = "11500101" + "MB0000001"


def authority_code() -> str:
    return AUTHORITY + uscc_check_character(AUTHORITY)


def penalty(
    *,
    code: str | None = None,
    name: str = "重庆某某商贸有限公司",
    kind: str = "legal_person",
    categories: tuple[str, ...] = ("罚款",),
    fine: float | None = 2.5,
    decision_date: str = "2026-11-02",
    department: str = "AMR",
) -> dict[str, Any]:
    """A 双公示 administrative penalty (行政处罚) with every required field."""
    code = code or (citizen_id() if kind == "natural_person" else uscc("92" if kind == "individual_business" else "91"))
    label = {"legal_person": "法人及非法人组织", "individual_business": "个体工商户", "natural_person": "自然人"}[kind]
    data: dict[str, Any] = {
        "CF_XDR_MC": name,
        "CF_XDR_LB": label,
        "CF_WSH": f"渝市监罚〔2026〕{random.randint(1, 99999)}号",
        "CF_WFXW": "销售不符合食品安全标准的食品",
        "CF_SY": "当事人于2026年8月销售超过保质期的预包装食品，货值金额较小。",
        "CF_YJ": "《中华人民共和国食品安全法》第一百二十四条",
        "CF_CFLB": list(categories),
        "CF_NR": "警告并处罚款",
        "CF_JDRQ": decision_date,
        "CF_YXQ": "2027-11-01",
        "CF_CFJG": "某县市场监督管理局",
        "CF_CFJGDM": authority_code(),
        "CF_SJLY": "某县市场监督管理局",
        "CF_SJLYDM": authority_code(),
    }
    if kind == "natural_person":
        data |= {"CF_XDR_ZJLX": "身份证", "CF_XDR_ZJHM": code}
    else:
        data |= {"CF_XDR_SHXYM": code, "CF_FRDB": "张三"}
    if fine is not None and "罚款" in categories:
        data["CF_NR_FK"] = fine
    if {"没收违法所得", "没收非法财物"} & set(categories):
        data["CF_NR_WFFF"] = 0.3
    if {"暂扣许可证件", "吊销许可证件"} & set(categories):
        data["CF_NR_ZKDX"] = "营业执照（注册号 500101000012345）"
    subject: dict[str, Any] = {"kind": kind, "code": code, "name": name}
    return {
        "id": record_id(department),
        "type": "administrative_penalty",
        "version": 1,
        "subject": subject,
        "decision_date": decision_date,
        "data": data,
    }


def licensing(
    *,
    code: str | None = None,
    name: str = "重庆某某餐饮管理有限公司",
    decision_date: str = "2026-11-02",
    valid_from: str = "2026-11-02",
    valid_to: str = "2031-11-01",
) -> dict[str, Any]:
    """A 双公示 administrative licensing decision (行政许可)."""
    code = code or uscc()
    return {
        "id": record_id("AMR"),
        "type": "administrative_licensing",
        "version": 1,
        "subject": {"kind": "legal_person", "code": code, "name": name},
        "decision_date": decision_date,
        "data": {
            "XK_XDR_MC": name,
            "XK_XDR_LB": "法人及非法人组织",
            "XK_XDR_SHXYM": code,
            "XK_FRDB": "李四",
            "XK_XKWS": "食品经营许可决定书",
            "XK_WSH": f"渝市监许〔2026〕{random.randint(1, 99999)}号",
            "XK_XKLB": "普通",
            "XK_XKZS": "食品经营许可证",
            "XK_XKBH": f"JY1500101{random.randint(1000000, 9999999)}",
            "XK_NR": "预包装食品（含冷藏冷冻食品）销售；热食类食品制售",
            "XK_JDRQ": decision_date,
            "XK_YXQZ": valid_from,
            "XK_YXQZI": valid_to,
            "XK_XKJG": "某县市场监督管理局",
            "XK_XKJGDM": authority_code(),
            "XK_ZT": "有效",
            "XK_LYDW": "某县市场监督管理局",
            "XK_LYDWDM": authority_code(),
        },
    }
