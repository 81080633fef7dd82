"""The error item of every API answer (API.md): where, what kind, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ApiError:
    path: str  # JSON pointer into the request ("/data/CF_WSH"), or "" for the request as a whole
    code: str  # stable machine-readable code ("required", "uscc_check_character" …)
    message: str  # for the person who must fix it; Chinese terms where officials need them

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


PROBLEM_TYPE_PREFIX = "urn:credit-exchange:problem:"
"""RFC 9457 `type` of an error answer: a URN, not a URL, so that it names no host (the exchange runs on
networks with no internet) and never changes when the exchange moves; docs/错误码.md lists every code."""

TITLES = {
    400: "请求格式错误",
    401: "未认证",
    403: "无权操作",
    404: "未找到",
    405: "方法不允许",
    409: "冲突",
    410: "已撤下",
    413: "请求过大",
    415: "不支持的媒体类型",
    422: "数据校验未通过",
    429: "请求过于频繁",
    500: "服务器内部错误",
    503: "暂时无法处理",
}
"""RFC 9457 `title` per status: short, the same for every occurrence (the codes carry the specifics)."""

GENERAL_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}
"""The `type` of an answer whose errors carry more than one code (a record with several problems)."""


def problem_body(status: int, errors: list[ApiError]) -> dict[str, object]:
    """The error body of every answer: API.md's `errors` list (all problems, each with its JSON pointer)
    plus the RFC 9457 members `type`, `title`, `status`, `detail` beside it. Additive: clients reading
    `errors` keep working; clients that speak RFC 9457 get the standard fields."""
    codes = {e.code for e in errors}
    code = next(iter(codes)) if len(codes) == 1 else GENERAL_CODES.get(status, "error")
    shown = [e.message for e in errors[:3]]
    more = len(errors) - len(shown)
    detail = "; ".join(shown) + (f" (另有 {more} 项错误，见 errors)" if more > 0 else "")
    return {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": TITLES.get(status, "错误"),
        "status": status,
        "detail": detail,
        "errors": [e.as_dict() for e in errors],
    }
