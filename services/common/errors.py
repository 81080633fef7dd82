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
