"""Personal API tokens: scoped, expiring, revocable, for scripts and integrations.

A token is `hst_` + 256 random bits, shown once; only its SHA-256 is kept (nothing to brute-force,
and a digest can be looked up directly). It carries the scopes chosen at creation, narrowed
further by its admin's current role, and never `account.manage`: a leaked token cannot mint
tokens, sign out sessions or touch 2FA. Its admin deactivated, or 2FA required and not set up:
the token stops working too.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hotspot.accounts.audit import AuditLog
from hotspot.accounts.errors import AccountError
from hotspot.accounts.permissions import grantable_scopes, permissions_for
from hotspot.accounts.principal import Principal
from hotspot.accounts.tables import AdminUser, ApiToken
from hotspot.db import Database

__all__ = ["MAX_TOKENS", "TOKEN_PREFIX", "ApiTokens", "NewToken", "public_token"]

TOKEN_PREFIX = "hst_"  # noqa: S105 (a marker, not a secret)
MAX_TOKENS = 20  # live tokens per admin
_TOUCH_SECONDS = 60.0  # last_used_at is written at most this often per token


@dataclass(frozen=True)
class NewToken:
    token: str  # shown once
    info: dict[str, Any]


class ApiTokens:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        *,
        max_days: int,
        require_2fa: Callable[[], Awaitable[bool]],
        clock: Callable[[], float],
    ) -> None:
        self.db = db
        self.audit = audit
        self.max_days = max_days
        self.require_2fa = require_2fa
        self.clock = clock

    async def create(
        self,
        principal: Principal,
        *,
        name: str,
        scopes: list[str],
        days: int,
        ip: str | None = None,
    ) -> NewToken:
        """A token for scripts and integrations: only the admin's own permissions, never self-management."""
        name = name.strip()
        if not 1 <= len(name) <= 64:
            raise AccountError("Give the token a name of 1 to 64 characters.", field="name")
        allowed = grantable_scopes(principal.role)
        wanted = sorted(set(scopes))
        if not wanted:
            raise AccountError("Pick at least one scope.", field="scopes")
        refused = [s for s in wanted if s not in allowed]
        if refused:
            raise AccountError(
                f"Not a scope you can grant: {', '.join(refused)}. Allowed: {', '.join(sorted(allowed))}.",
                field="scopes",
            )
        if not 1 <= days <= self.max_days:
            raise AccountError(f"Tokens live 1 to {self.max_days} days.", field="expires_in_days")
        now = self.clock()
        live = await (
            ApiToken.count()
            .where(ApiToken.admin_id == principal.admin_id)
            .where(ApiToken.revoked_at.is_null())
            .where(ApiToken.expires_at > now)
            .run()
        )
        if live >= MAX_TOKENS:
            raise AccountError(
                f"You have {MAX_TOKENS} live tokens; revoke one first.", status=409, code="conflict"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self.db.transaction():
            [created] = (
                await ApiToken.insert(
                    ApiToken(
                        admin_id=principal.admin_id,
                        name=name,
                        scopes=json.dumps(wanted),
                        prefix=token[:12],
                        token_hash=_token_digest(token),
                        created_at=now,
                        expires_at=now + days * 86400,
                    )
                )
                .returning(ApiToken.id)
                .run()
            )
            info = await self._token(int(created["id"]))
            await self.audit.record(
                principal.actor, "token.create", ("api_token", info["id"]), None, info, ip
            )
        return NewToken(token, info)

    async def _token(self, token_id: int) -> dict[str, Any]:
        row = await ApiToken.select().where(ApiToken.id == token_id).first().run()
        if row is None:
            raise AccountError("No such token.", status=404, code="not_found")
        return public_token(row, self.clock())

    async def listing(self, principal: Principal) -> list[dict[str, Any]]:
        rows = (
            await ApiToken.select()
            .where(ApiToken.admin_id == principal.admin_id)
            .order_by(ApiToken.id, ascending=False)
            .run()
        )
        now = self.clock()
        return [public_token(r, now) for r in rows]

    async def revoke(self, principal: Principal, token_id: int, *, ip: str | None = None) -> dict[str, Any]:
        async with self.db.transaction():
            row = (
                await ApiToken.select()
                .where(ApiToken.id == token_id)
                .where(ApiToken.admin_id == principal.admin_id)
                .first()
                .run()
            )
            if row is None:
                raise AccountError("No such token.", status=404, code="not_found")
            if row["revoked_at"] is not None:
                return public_token(row, self.clock())
            before = public_token(row, self.clock())
            await ApiToken.update({ApiToken.revoked_at: self.clock()}).where(ApiToken.id == token_id).run()
            after = await self._token(token_id)
            await self.audit.record(
                principal.actor, "token.revoke", ("api_token", token_id), before, after, ip
            )
        return after

    async def resolve(self, raw: str) -> Principal | None:
        """The admin behind a bearer token, limited to its scopes; None when unknown, expired or revoked."""
        if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
            return None
        row = await ApiToken.select().where(ApiToken.token_hash == _token_digest(raw)).first().run()
        now = self.clock()
        if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
            return None
        admin = await AdminUser.select().where(AdminUser.id == row["admin_id"]).first().run()
        if admin is None or not admin["active"]:
            return None
        must_enrol = not admin["totp_enabled"] and await self.require_2fa()
        scopes = _json_list(row["scopes"])
        permissions = permissions_for(admin["role"], scopes)
        if must_enrol:
            permissions = permissions & {"account.read"}
        if row["last_used_at"] is None or now - row["last_used_at"] > _TOUCH_SECONDS:
            async with self.db.write_lock():
                await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"]).run()
        return Principal(
            admin["id"], admin["username"], admin["role"], permissions, "token", row["id"], must_enrol
        )


def public_token(row: Mapping[str, Any], now: float) -> dict[str, Any]:
    if row["revoked_at"] is not None:
        state = "revoked"
    elif row["expires_at"] <= now:
        state = "expired"
    else:
        state = "active"
    return {
        "id": row["id"],
        "name": row["name"],
        "prefix": row["prefix"],
        "scopes": _json_list(row["scopes"]),
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "revoked_at": row["revoked_at"],
        "last_used_at": row["last_used_at"],
        "state": state,
    }


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _json_list(raw: Any) -> list[Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return list(value) if isinstance(value, list) else []
