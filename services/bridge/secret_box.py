"""Webhook secrets at rest: sealed with Fernet (cryptography: AES-128-CBC + HMAC-SHA256, a random IV per
secret), the key from configuration, never from the database.

The bridge must get each secret back to sign deliveries (Standard Webhooks is an HMAC), so a hash would
not do; what the database holds is ``fernet:`` + a Fernet token, useless without ``BRIDGE_SECRETS_KEY``.
Several keys may be given (comma-separated): the first seals, every one opens (MultiFernet), so a key is
rotated by putting the new one first and restarting; the start-up pass (:func:`seal_stored`) re-seals
every row with the first key, after which the old key can be dropped.

Rows written before secrets were sealed hold the clear ``whsec_…``: :meth:`SecretBox.open` returns those
as they are (a delivery due at start must not fail), and the same start-up pass seals them, so they stay
in clear only until the first start of this version with its key.
"""

from __future__ import annotations

import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import sql

log = logging.getLogger(__name__)

SEALED = "fernet:"
DEVELOPMENT_KEY = "ZGV2ZWxvcG1lbnQtb25seS13ZWJob29rLXNlY3JldHM="
"""Used when no key is configured outside production (tests, a developer's machine); it is in this
repository, so it protects nothing and the production guard refuses it (and a missing key)."""


class SecretKeyError(ValueError):
    """A stored secret that none of the configured keys opens (the key was lost or changed without rotation)."""


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one key")
        self._keys = MultiFernet([Fernet(k.strip().encode()) for k in keys])
        self.rotating = len(keys) > 1

    @classmethod
    def from_text(cls, text: str | None) -> SecretBox:
        """The keys of ``BRIDGE_SECRETS_KEY`` (comma-separated, the first seals); the development key if none."""
        keys = [k for k in (text or "").split(",") if k.strip()]
        return cls(keys or [DEVELOPMENT_KEY])

    def seal(self, secret: str) -> str:
        return SEALED + self._keys.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(SEALED):
            return stored  # a row from before sealing; seal_stored seals it at start
        try:
            return self._keys.decrypt(stored.removeprefix(SEALED).encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyError("no configured BRIDGE_SECRETS_KEY opens this webhook secret") from exc

    def reseal(self, stored: str) -> str:
        """The stored form under the first key (a clear secret sealed, a sealed one re-sealed)."""
        if not stored.startswith(SEALED):
            return self.seal(stored)
        try:
            return SEALED + self._keys.rotate(stored.removeprefix(SEALED).encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyError("no configured BRIDGE_SECRETS_KEY opens this webhook secret") from exc


async def seal_stored(engine: AsyncEngine, box: SecretBox) -> int:
    """Seal the secrets still stored in clear (and, while keys rotate, re-seal the others with the first
    key); returns how many rows were written. Each row is updated only if it still holds what was read."""
    where = "" if box.rotating else f" WHERE secret NOT LIKE '{SEALED}%'"
    async with engine.begin() as conn:
        rows = (await conn.execute(sql(f"SELECT id, secret FROM bridge.subscriptions{where}"))).all()
        changed = [{"id": r.id, "old": r.secret, "new": box.reseal(r.secret)} for r in rows]
        if changed:
            await conn.execute(
                sql("UPDATE bridge.subscriptions SET secret = :new WHERE id = :id AND secret = :old"), changed
            )
    if changed:
        log.info("webhook secrets sealed with the first BRIDGE_SECRETS_KEY", extra={"rows": len(changed)})
    return len(changed)
