"""Credentials and roles: who may call what (deny by default).

The registry lives in the `identity` schema, which every service reads and only the `exchange dept` /
`exchange token` commands write. A token is `cx_<credential id>_<secret>`; only SHA-256 of the secret is
stored (the secret has 256 bits of entropy, so a slow password hash adds nothing) and it is compared
in constant time. Lookups are cached for a few seconds on the hot path, which is also the longest a
revoked token keeps working on a running service.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CACHE_SECONDS = 5.0


class Role(StrEnum):
    DEPARTMENT = "department"
    COUNTY = "county"
    AUDITOR = "auditor"
    # The department workbench (issue 17): it acts for one signed-in staff member per request, naming the
    # department (or the county office) and the user in headers (`http.current_principal`); alone it may
    # call nothing.
    WORKBENCH = "workbench"


@dataclass(frozen=True, slots=True)
class Principal:
    credential_id: str
    role: Role
    department: str | None  # the department code for department tokens
    name: str

    @property
    def label(self) -> str:
        return self.department or self.role.value


# The national-list channel (issue 20): a department credential issued under this name prefix (the bridge
# holds one per receiving department) is the only one whose records may carry `source` (envelope.json).
# Issuing it is an operator act like issuing any token (`exchange token`).
NATIONAL_CHANNEL_PREFIX = "national:"


def is_national_channel(principal: Principal) -> bool:
    return principal.role is Role.DEPARTMENT and principal.name.startswith(NATIONAL_CHANNEL_PREFIX)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    credential_id: str
    token: str


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_token(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "cx" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


async def issue(engine: AsyncEngine, *, role: Role, name: str, department: str | None = None) -> IssuedToken:
    """Create a credential and return its token; the token is shown once and never stored."""
    if (role is Role.DEPARTMENT) != (department is not None):
        raise ValueError("department tokens name a department; county and auditor tokens do not")
    credential_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO identity.credentials (id, role, department, name, secret_hash, created_at) "
                "VALUES (:id, :role, :dept, :name, :hash, :now)"
            ),
            {
                "id": credential_id,
                "role": role.value,
                "dept": department,
                "name": name,
                "hash": _hash(secret),
                "now": datetime.now(UTC),
            },
        )
    return IssuedToken(credential_id, f"cx_{credential_id}_{secret}")


async def revoke(engine: AsyncEngine, credential_id: str) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(
            text("UPDATE identity.credentials SET revoked_at = now() WHERE id = :id AND revoked_at IS NULL"),
            {"id": credential_id},
        )
    return bool(result.rowcount)


async def register_department(engine: AsyncEngine, code: str, name: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO identity.departments (code, name) VALUES (:code, :name) "
                "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name"
            ),
            {"code": code, "name": name},
        )


class Authenticator:
    """Resolves bearer tokens to principals, with a short cache so the hot path rarely hits the database."""

    def __init__(self, engine: AsyncEngine, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self._engine = engine
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, bytes | None, Principal | None]] = {}
        self._loading: dict[str, asyncio.Future[tuple[bytes | None, Principal | None]]] = {}

    async def authenticate(self, token: str) -> Principal | None:
        parsed = parse_token(token)
        if parsed is None:
            return None
        credential_id, secret = parsed
        now = time.monotonic()
        cached = self._cache.get(credential_id)
        if cached is None or cached[0] < now:
            stored, principal = await self._load_once(credential_id)
            cached = (now + self._cache_seconds, stored, principal)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[credential_id] = cached
        _, stored, principal = cached
        # Compare even when the credential is unknown, so timing does not reveal which ids exist.
        ok = hmac.compare_digest(stored or b"\0" * 32, _hash(secret))
        return principal if ok and principal is not None else None

    async def _load_once(self, credential_id: str) -> tuple[bytes | None, Principal | None]:
        """One lookup per credential however many requests find its cache entry expired at once (under load
        every request in flight did its own: ~110 lookups where ~9 were needed, issue 19). Shielded: a caller
        that goes away does not cancel the others' lookup."""
        loading = self._loading.get(credential_id)
        if loading is None:
            loading = self._loading[credential_id] = asyncio.ensure_future(self._load(credential_id))
            loading.add_done_callback(lambda _: self._loading.pop(credential_id, None))
        return await asyncio.shield(loading)

    async def _load(self, credential_id: str) -> tuple[bytes | None, Principal | None]:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT role, department, name, secret_hash FROM identity.credentials "
                        "WHERE id = :id AND revoked_at IS NULL"
                    ),
                    {"id": credential_id},
                )
            ).first()
        if row is None:
            return None, None
        return bytes(row.secret_hash), Principal(credential_id, Role(row.role), row.department, row.name)
