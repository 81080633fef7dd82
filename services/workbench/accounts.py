"""Staff accounts: argon2id passwords, lock-out after repeated failures, server-side sessions with a CSRF
token each, and the action trail every sign-in, refusal and submission is written to.

A session cookie holds 256 random bits; the database keeps only their SHA-256, so a leaked table opens no
session. Sessions expire after `session_minutes` without a request (sliding).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_HASHER = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106 low-memory profile)
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD = 10


class StaffRole(StrEnum):
    CLERK = "clerk"  # reports and answers for the department
    HEAD = "head"  # also decides repair applications (准予/不予修复)
    COUNTY = "county"  # the county credit office: sees every department, reports nothing


ROLE_TITLES = {StaffRole.CLERK: "经办人", StaffRole.HEAD: "负责人", StaffRole.COUNTY: "县信用办"}


@dataclass(frozen=True, slots=True)
class Staff:
    username: str
    display_name: str
    role: StaffRole
    department: str | None

    @property
    def act_as(self) -> str:
        """The `x-exchange-act-as` header of this user's requests to the services."""
        return "county" if self.department is None else f"department:{self.department}"


@dataclass(frozen=True, slots=True)
class Session:
    staff: Staff
    csrf: str


class SignInRefused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


async def add_user(
    engine: AsyncEngine,
    *,
    username: str,
    display_name: str,
    role: StaffRole,
    department: str | None,
    password: str,
    now: datetime,
) -> None:
    if (role is StaffRole.COUNTY) != (department is None):
        raise ValueError("county office users have no department; clerks and heads belong to one")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO workbench.users (username, display_name, role, department, password_hash, created_at) "
                "VALUES (:u, :n, :r, :d, :h, :now) ON CONFLICT (username) DO UPDATE SET display_name = :n, "
                "role = :r, department = :d, password_hash = :h, disabled_at = NULL, failed_attempts = 0, "
                "locked_until = NULL"
            ),
            {
                "u": username,
                "n": display_name,
                "r": role.value,
                "d": department,
                "h": _HASHER.hash(password),
                "now": now,
            },
        )


async def disable_user(engine: AsyncEngine, username: str, now: datetime) -> bool:
    """Disable the account and end its sessions at once."""
    async with engine.begin() as conn:
        result = await conn.execute(
            text("UPDATE workbench.users SET disabled_at = :now WHERE username = :u AND disabled_at IS NULL"),
            {"u": username, "now": now},
        )
        await conn.execute(text("DELETE FROM workbench.sessions WHERE username = :u"), {"u": username})
    return bool(result.rowcount)


async def sign_in(
    engine: AsyncEngine,
    username: str,
    password: str,
    *,
    now: datetime,
    session_minutes: int,
    lockout_attempts: int,
    lockout_minutes: int,
) -> tuple[str, Session]:
    """(cookie value, session), or SignInRefused with a Chinese message that does not say which of name
    and password was wrong."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(text("SELECT * FROM workbench.users WHERE username = :u FOR UPDATE"), {"u": username})
        ).first()
        if row is None:
            _verify(_DUMMY_HASH, password)
            raise SignInRefused("unknown_user", "用户名或密码错误。")
        if row.disabled_at is not None:
            raise SignInRefused("disabled", "该账号已停用，请联系县信用办。")
        if row.locked_until is not None and row.locked_until > now:
            until = row.locked_until.astimezone(now.tzinfo).strftime("%H:%M")
            raise SignInRefused("locked", f"密码连续错误次数过多，账号已锁定至 {until}，请稍后再试。")
        refusal: SignInRefused | None = None
        if not _verify(row.password_hash, password):
            failures = row.failed_attempts + 1
            locked = now + timedelta(minutes=lockout_minutes) if failures >= lockout_attempts else None
            await conn.execute(
                text("UPDATE workbench.users SET failed_attempts = :f, locked_until = :l WHERE username = :u"),
                {"f": 0 if locked else failures, "l": locked, "u": username},
            )
            refusal = (
                SignInRefused("locked", f"密码连续错误 {lockout_attempts} 次，账号锁定 {lockout_minutes} 分钟。")
                if locked is not None
                else SignInRefused("wrong_password", "用户名或密码错误。")
            )
        else:
            await conn.execute(
                text("UPDATE workbench.users SET failed_attempts = 0, locked_until = NULL WHERE username = :u"),
                {"u": username},
            )
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        if refusal is None:
            await conn.execute(
                text(
                    "INSERT INTO workbench.sessions (id_hash, username, csrf, created_at, expires_at) "
                    "VALUES (:h, :u, :c, :now, :exp)"
                ),
                {
                    "h": _digest(cookie),
                    "u": username,
                    "c": csrf,
                    "now": now,
                    "exp": now + timedelta(minutes=session_minutes),
                },
            )
    # Raised after the transaction committed, so the failure count and the lock-out are kept.
    if refusal is not None:
        raise refusal
    staff = Staff(row.username, row.display_name, StaffRole(row.role), row.department)
    return cookie, Session(staff, csrf)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def session_of(engine: AsyncEngine, cookie: str, *, now: datetime, session_minutes: int) -> Session | None:
    """The live session of a cookie (its expiry moved on), or None: unknown, expired or user disabled."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    "UPDATE workbench.sessions s SET expires_at = :exp FROM workbench.users u "
                    "WHERE s.id_hash = :h AND s.expires_at > :now AND u.username = s.username "
                    "AND u.disabled_at IS NULL "
                    "RETURNING u.username, u.display_name, u.role, u.department, s.csrf"
                ),
                {"h": _digest(cookie), "now": now, "exp": now + timedelta(minutes=session_minutes)},
            )
        ).first()
    if row is None:
        return None
    return Session(Staff(row.username, row.display_name, StaffRole(row.role), row.department), row.csrf)


async def sign_out(engine: AsyncEngine, cookie: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM workbench.sessions WHERE id_hash = :h"), {"h": _digest(cookie)})


async def record_action(
    conn: AsyncConnection | AsyncEngine,
    *,
    at: datetime,
    username: str,
    department: str | None,
    action: str,
    outcome: str,
    record_id: str | None = None,
    receipt: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One line of the workbench trail: who did what, with which result (and receipt, for a report)."""
    statement = text(
        "INSERT INTO workbench.actions (at, username, department, action, outcome, record_id, receipt_hash, "
        "receipt_seq, detail) VALUES (:at, :u, :d, :a, :o, :r, :h, :s, CAST(:detail AS jsonb))"
    )
    params = {
        "at": at,
        "u": username,
        "d": department,
        "a": action,
        "o": outcome,
        "r": record_id,
        "h": (receipt or {}).get("hash"),
        "s": (receipt or {}).get("seq"),
        "detail": orjson.dumps(detail or {}).decode(),
    }
    if isinstance(conn, AsyncEngine):
        async with conn.begin() as c:
            await c.execute(statement, params)
    else:
        await conn.execute(statement, params)


async def record_actions(engine: AsyncEngine, rows: list[dict[str, Any]]) -> None:
    """Many trail lines in one transaction (an uploaded sheet's accepted rows)."""
    if not rows:
        return
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO workbench.actions (at, username, department, action, outcome, record_id, "
                "receipt_hash, receipt_seq, detail) VALUES (:at, :u, :d, :a, :o, :r, :h, :s, '{}'::jsonb)"
            ),
            rows,
        )
