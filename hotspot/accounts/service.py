"""Admin accounts: sign-in, sessions, 2FA, API tokens and managing admins, with their audit trail.

Rules kept here, not in the routes, so the HTML admin, the setup wizard and the CLI share them:

* sign-in answers "wrong username or password" for an unknown user, a wrong password and a
  deactivated account alike, and spends the same argon2 time on each;
* the throttle is asked before any password work, and counts every wrong answer;
* only an owner may create, change or reset an owner, and the last active owner can be neither
  demoted nor deactivated;
* every change is audited in the transaction that makes it; sign-ins, sign-outs and failures are
  security events (hotspot.contracts.SecurityEvent), lockouts and an owner's sign-in from a new
  address also alert the owner through the notifiers.

`by=None` means the command line or the system (setup wizard): no permission applies.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from litestar.stores.base import Store
from piccolo.columns import Column

from hotspot.accounts.audit import Actor, AuditLog
from hotspot.accounts.errors import AccountError
from hotspot.accounts.passwords import PasswordRejected, Passwords
from hotspot.accounts.permissions import (
    ROLES,
    SELF_PERMISSIONS,
    is_role,
    permissions_for,
)
from hotspot.accounts.principal import Principal
from hotspot.accounts.security_log import SecurityLog
from hotspot.accounts.tables import AdminUser
from hotspot.accounts.throttle import Lockout, Throttle, ThrottleKind, ThrottlePolicy
from hotspot.accounts.tokens import ApiTokens, NewToken
from hotspot.accounts.totp import (
    RecoveryCodes,
    accepted_step,
    new_secret,
    provisioning_uri,
    qr_svg_data_uri,
)
from hotspot.config import SecuritySettings, Settings, secret_key
from hotspot.contracts import Notification, SecurityEvent
from hotspot.db import Database
from hotspot.locks import Locks
from hotspot.secrets_box import SecretBox, SecretUnreadable
from hotspot.settings_store import SettingsStore

__all__ = [
    "REQUIRE_2FA_KEY",
    "SYSTEM",
    "AccountService",
    "Enrolment",
    "LoginResult",
]

REQUIRE_2FA_KEY = "security.require_2fa"
SYSTEM = Actor("system")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9]{7,15}$")
_KNOWN_IPS = 10
THEMES = ("", "light", "dark")  # an admin's colour mode: "" follows the system

Emit = Callable[..., Awaitable[Any]]
Alert = Callable[[Notification], Awaitable[None]]


WRONG_CREDENTIALS = "Wrong username or password."


@dataclass(frozen=True)
class LoginResult:
    admin: dict[str, Any]
    session: dict[str, Any]  # what the session must hold (hotspot.accounts.sessions)
    must_enrol_2fa: bool
    used_recovery_code: bool = False


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str  # data: URI


class AccountService:
    def __init__(
        self,
        db: Database,
        *,
        box: SecretBox,
        secret_key: str,
        security: SecuritySettings,
        settings_store: SettingsStore,
        throttle_store: Store,
        locks: Locks,
        issuer: str = "Hotspot",
        emit: Emit | None = None,
        alert: Alert | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.box = box
        self.security = security
        self.settings_store = settings_store
        self.locks = locks
        self.issuer = issuer
        self.emit = emit
        self.alert = alert
        self.clock = clock
        now = self._now
        self.passwords = Passwords(min_length=security.password_min_length)
        self.audit = AuditLog(db, now)
        self.security_log = SecurityLog(db)
        self.throttle = Throttle(
            throttle_store,
            locks,
            ThrottlePolicy(
                max_failures=security.login_max_failures,
                max_failures_per_ip=security.login_max_failures_per_ip,
                lock_seconds=security.lockout_seconds,
                max_lock_seconds=security.lockout_max_seconds,
                window_seconds=security.login_failure_window_minutes * 60,
            ),
            now,
        )
        self.recovery = RecoveryCodes(secret_key)
        self.tokens = ApiTokens(
            db, self.audit, max_days=security.api_token_max_days, require_2fa=self.require_2fa, clock=now
        )
        self.system_actor = SYSTEM  # who `by=None` changes are audited as (the CLI names its user)

    @classmethod
    def from_settings(
        cls,
        db: Database,
        settings: Settings,
        *,
        settings_store: SettingsStore,
        throttle_store: Store,
        locks: Locks,
        emit: Emit | None = None,
        alert: Alert | None = None,
    ) -> AccountService:
        """The service as the app and the CLI build it: TOTP secrets sealed with the box's key."""
        key = secret_key(settings)
        return cls(
            db,
            box=SecretBox(key, purpose="admin-totp"),
            secret_key=key,
            security=settings.security,
            settings_store=settings_store,
            throttle_store=throttle_store,
            locks=locks,
            issuer=settings.business.name,
            emit=emit,
            alert=alert,
        )

    def _actor(self, by: Principal | None) -> Actor:
        return self.system_actor if by is None else by.actor

    def _now(self) -> float:
        return self.clock()

    # --- reading ---------------------------------------------------------------------------

    async def _row(self, admin_id: int) -> dict[str, Any] | None:
        row: dict[str, Any] | None = await AdminUser.select().where(AdminUser.id == admin_id).first().run()
        return row

    async def _by_username(self, username: str) -> dict[str, Any] | None:
        row: dict[str, Any] | None = (
            await AdminUser.select().where(AdminUser.username == username).first().run()
        )
        return row

    async def has_admins(self) -> bool:
        return bool(await AdminUser.exists().run())

    async def get_admin(self, admin_id: int) -> dict[str, Any]:
        row = await self._row(admin_id)
        if row is None:
            raise AccountError("No such admin.", status=404, code="not_found")
        return public_admin(row)

    async def list_admins(self) -> list[dict[str, Any]]:
        rows = await AdminUser.select().order_by(AdminUser.username).run()
        return [public_admin(r) for r in rows]

    async def require_2fa(self) -> bool:
        """YAML pins it when set; else the owner's choice in the admin (default off)."""
        if self.security.require_2fa is not None:
            return self.security.require_2fa
        return bool(await self.settings_store.get(REQUIRE_2FA_KEY, False))

    # --- creating and changing admins --------------------------------------------------------

    async def create_admin(
        self,
        *,
        username: str,
        password: str,
        role: str,
        email: str | None = None,
        phone: str | None = None,
        by: Principal | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """Add an admin; an owner can only be made by an owner (or the command line)."""
        username = _username(username)
        role = _role(role)
        _may_touch(by, role)
        email, phone = _email(email), _phone(phone)
        self._check_password(password, username, email)
        password_hash = await self.passwords.hash(password)
        now = self._now()
        async with self.db.transaction():
            if await AdminUser.exists().where(AdminUser.username == username).run():
                raise AccountError("This username is taken.", status=409, code="conflict", field="username")
            [created] = (
                await AdminUser.insert(
                    AdminUser(
                        username=username,
                        email=email,
                        phone=phone,
                        role=role,
                        active=True,
                        password_hash=password_hash,
                        password_changed_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
                .returning(AdminUser.id)
                .run()
            )
            row = await self._row(int(created["id"]))
            assert row is not None
            view = public_admin(row)
            await self.audit.record(
                self._actor(by), "admin.create", ("admin", row["id"]), None, _audited(view), ip
            )
        return view

    async def create_first_owner(
        self,
        *,
        username: str,
        password: str,
        email: str | None = None,
        phone: str | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """The setup wizard's first step: make the owner, refused once any admin exists."""
        async with self.locks.hold("accounts:first-owner", ttl=30, wait=30):
            if await self.has_admins():
                raise AccountError("The owner account exists already.", status=403, code="forbidden")
            return await self.create_admin(
                username=username, password=password, role="owner", email=email, phone=phone, ip=ip
            )

    async def update_admin(
        self,
        admin_id: int,
        changes: Mapping[str, Any],
        *,
        by: Principal | None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """Change role, e-mail, phone or active; a new role or deactivation ends their sessions."""
        allowed = {"role", "email", "phone", "active"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise AccountError(f"Cannot change {', '.join(unknown)} here.", field=unknown[0])
        values: dict[Column | str, Any] = {}
        if "role" in changes:
            values["role"] = _role(str(changes["role"]))
        if "email" in changes:
            values["email"] = _email(changes["email"])
        if "phone" in changes:
            values["phone"] = _phone(changes["phone"])
        if "active" in changes:
            if not isinstance(changes["active"], bool):
                raise AccountError("Must be true or false.", field="active")
            values["active"] = changes["active"]
        async with self.db.transaction():
            row = await self._target(admin_id)
            _may_touch(by, row["role"])
            new_role = values.get("role", row["role"])
            new_active = values.get("active", row["active"])
            _may_touch(by, new_role)
            privilege = new_role != row["role"] or bool(new_active) != bool(row["active"])
            if privilege and by is not None and by.admin_id == admin_id:
                raise AccountError(
                    "You cannot change your own role or deactivate yourself; ask another owner or admin.",
                    status=403,
                    code="forbidden",
                )
            losing_owner = (
                row["role"] == "owner" and row["active"] and (new_role != "owner" or not new_active)
            )
            if losing_owner and await self._active_owners() <= 1:
                raise AccountError(
                    "This is the last active owner; make another owner first.", status=409, code="conflict"
                )
            if not values:
                return public_admin(row)
            values["updated_at"] = self._now()
            if privilege:
                values["session_generation"] = row["session_generation"] + 1
            await AdminUser.update(values).where(AdminUser.id == admin_id).run()
            after = await self._row(admin_id)
            assert after is not None
            if new_role != row["role"]:
                action = "admin.role"
            elif not new_active and row["active"]:
                action = "admin.deactivate"
            elif new_active and not row["active"]:
                action = "admin.activate"
            else:
                action = "admin.update"
            await self.audit.record(
                self._actor(by),
                action,
                ("admin", admin_id),
                _audited(public_admin(row)),
                _audited(public_admin(after)),
                ip,
            )
        return public_admin(after)

    async def reset_2fa(
        self, admin_id: int, *, by: Principal | None, ip: str | None = None
    ) -> dict[str, Any]:
        """Switch off someone's 2FA (lost phone); their sessions end, they enrol again at next sign-in."""
        async with self.db.transaction():
            row = await self._target(admin_id)
            _may_touch(by, row["role"])
            await (
                AdminUser.update(
                    {
                        AdminUser.totp_enabled: False,
                        AdminUser.totp_secret_sealed: None,
                        AdminUser.recovery_codes: "[]",
                        AdminUser.session_generation: row["session_generation"] + 1,
                        AdminUser.updated_at: self._now(),
                    }
                )
                .where(AdminUser.id == admin_id)
                .run()
            )
            after = await self._row(admin_id)
            assert after is not None
            await self.audit.record(
                self._actor(by),
                "admin.2fa_reset",
                ("admin", admin_id),
                _audited(public_admin(row)),
                _audited(public_admin(after)),
                ip,
            )
        return public_admin(after)

    async def set_password(
        self, admin_id: int, password: str, *, by: Principal | None, ip: str | None = None
    ) -> dict[str, Any]:
        """Give someone a new password (forgotten); their sessions end."""
        row = await self._target(admin_id)
        _may_touch(by, row["role"])
        self._check_password(password, row["username"], row["email"])
        password_hash = await self.passwords.hash(password)
        async with self.db.transaction():
            row = await self._target(admin_id)
            now = self._now()
            await (
                AdminUser.update(
                    {
                        AdminUser.password_hash: password_hash,
                        AdminUser.password_changed_at: now,
                        AdminUser.session_generation: row["session_generation"] + 1,
                        AdminUser.updated_at: now,
                    }
                )
                .where(AdminUser.id == admin_id)
                .run()
            )
            await self.audit.record(
                self._actor(by),
                "admin.password_reset",
                ("admin", admin_id),
                {"password_changed_at": row["password_changed_at"]},
                {"password_changed_at": now},
                ip,
            )
        return await self.get_admin(admin_id)

    async def _target(self, admin_id: int) -> dict[str, Any]:
        row = await self._row(admin_id)
        if row is None:
            raise AccountError("No such admin.", status=404, code="not_found")
        return row

    async def _active_owners(self) -> int:
        return int(
            await AdminUser.count().where(AdminUser.role == "owner").where(AdminUser.active.eq(True)).run()
        )

    def _check_password(self, password: str, username: str, email: str | None) -> None:
        try:
            self.passwords.check(password, username=username, email=email)
        except PasswordRejected as exc:
            raise AccountError(str(exc), field="password", code="weak_password") from None

    # --- signing in --------------------------------------------------------------------------

    async def authenticate(
        self,
        username: str,
        password: str,
        *,
        totp_code: str | None = None,
        recovery_code: str | None = None,
        ip: str | None = None,
    ) -> LoginResult:
        """Check a sign-in; raise AccountError (401 wrong, 429 locked) or return what the session holds."""
        name = username.strip().lower()[:64]
        row = await self._by_username(name) if _USERNAME.match(name) else None
        known_ip = bool(row and ip and ip in _json_list(row["known_ips"]))
        # An account locked by guesses from elsewhere stays open from addresses its admin has
        # used before (the per-IP count still applies there): a stranger cannot lock the owner out.
        wait = await self.throttle.retry_after("password", account=name, ip=ip, check_account=not known_ip)
        if wait > 0:
            raise _locked(wait)
        if row is not None:
            right = await self.passwords.verify(row["password_hash"], password)
        else:
            await self.passwords.burn(password)
            right = False
        if not right or row is None or not row["active"]:
            await self._failed("password", name, ip, "wrong password" if row else "unknown username")
            raise AccountError(WRONG_CREDENTIALS, status=401, code="bad_credentials")
        if self.passwords.needs_rehash(row["password_hash"]):
            new_hash = await self.passwords.hash(password)
            async with self.db.write_lock():
                await (
                    AdminUser.update({AdminUser.password_hash: new_hash})
                    .where(AdminUser.id == row["id"])
                    .run()
                )
        used_recovery = False
        if row["totp_enabled"]:
            used_recovery = await self._second_factor(row, name, totp_code, recovery_code, ip)
        return await self._signed_in(row, name, ip, used_recovery)

    async def complete_sign_in(
        self,
        username: str,
        password_checked_at: float,
        *,
        totp_code: str | None = None,
        recovery_code: str | None = None,
        ip: str | None = None,
    ) -> LoginResult:
        """Step two of the login page: the password was right at `password_checked_at` (the page
        keeps who and when in the session, never the password); now the 2FA code."""
        name = username.strip().lower()[:64]
        row = await self._by_username(name) if _USERNAME.match(name) else None
        if (
            row is None
            or not row["active"]
            or not row["totp_enabled"]
            or float(row["password_changed_at"]) > password_checked_at
        ):
            raise AccountError("Please sign in again.", status=401, code="bad_credentials")
        used_recovery = await self._second_factor(row, name, totp_code, recovery_code, ip)
        return await self._signed_in(row, name, ip, used_recovery)

    async def _signed_in(
        self, row: dict[str, Any], name: str, ip: str | None, used_recovery: bool
    ) -> LoginResult:
        """Both factors passed: clear the counter, note the address, record the sign-in."""
        await self.throttle.succeeded("password", account=name)
        now = self._now()
        known = _json_list(row["known_ips"])
        if row["role"] == "owner" and known and ip and ip not in known:
            await self._event(
                "owner_new_ip",
                f"owner {name} signed in from {ip}, an address not seen before",
                "warning",
                ip,
                name,
                alert=True,
            )
        if ip:
            known = [ip, *(k for k in known if k != ip)][:_KNOWN_IPS]
        async with self.db.write_lock():
            await (
                AdminUser.update(
                    {
                        AdminUser.last_login_at: now,
                        AdminUser.last_login_ip: ip,
                        AdminUser.known_ips: json.dumps(known),
                    }
                )
                .where(AdminUser.id == row["id"])
                .run()
            )
        await self._event("login", f"{name} signed in", "info", ip, name)
        fresh = await self._row(row["id"])
        assert fresh is not None
        must_enrol = not fresh["totp_enabled"] and await self.require_2fa()
        session = {"id": fresh["id"], "gen": fresh["session_generation"], "login_at": now, "seen_at": now}
        return LoginResult(public_admin(fresh), session, must_enrol, used_recovery)

    async def _second_factor(
        self,
        row: dict[str, Any],
        name: str,
        totp_code: str | None,
        recovery_code: str | None,
        ip: str | None,
    ) -> bool:
        """Check the TOTP or a recovery code (consumed); True when a recovery code was used."""
        if not (totp_code or "").strip() and not (recovery_code or "").strip():
            raise AccountError(
                "Enter the 6-digit code from your authenticator app (or a recovery code).",
                status=401,
                code="totp_required",
                field="totp_code",
            )
        wait = await self.throttle.retry_after("totp", account=name, ip=ip)
        if wait > 0:
            raise _locked(wait)
        if (totp_code or "").strip():
            ok = await self._accept_totp(row, totp_code or "")
            used_recovery = False
        else:
            ok = await self._consume_recovery_code(row["id"], recovery_code or "")
            used_recovery = ok
        if not ok:
            await self._failed("totp", name, ip, "wrong 2FA code")
            raise AccountError(
                "That code is not right, or was used already. Wait for a new one and try again.",
                status=401,
                code="bad_totp",
                field="recovery_code" if not (totp_code or "").strip() else "totp_code",
            )
        await self.throttle.succeeded("totp", account=name)
        if used_recovery:
            await self._event(
                "recovery_code_used", f"{name} signed in with a recovery code", "warning", ip, name
            )
        return used_recovery

    async def _secret_of(self, row: Mapping[str, Any]) -> str | None:
        sealed = row["totp_secret_sealed"]
        if not sealed:
            return None
        try:
            return self.box.open(sealed)
        except SecretUnreadable:
            return None

    async def _accept_totp(self, row: Mapping[str, Any], code: str) -> bool:
        secret = await self._secret_of(row)
        if secret is None:
            return False
        step = accepted_step(secret, code, now=self._now(), last_step=int(row["totp_last_step"] or 0))
        if step is None:
            return False
        async with self.db.write_lock():  # conditional: of two requests with one code, one wins
            won = (
                await AdminUser.update({AdminUser.totp_last_step: step})
                .where(AdminUser.id == row["id"])
                .where(AdminUser.totp_last_step < step)
                .returning(AdminUser.id)
                .run()
            )
        return bool(won)

    async def _consume_recovery_code(self, admin_id: int, code: str) -> bool:
        async with self.db.transaction():
            digests = await self._lock_recovery_codes(admin_id)
            found = self.recovery.match(code, digests)
            if found is None:
                return False
            remaining = [d for d in digests if d != found]
            await (
                AdminUser.update({AdminUser.recovery_codes: json.dumps(remaining)})
                .where(AdminUser.id == admin_id)
                .run()
            )
        return True

    async def _lock_recovery_codes(self, admin_id: int) -> list[str]:
        """Read the codes in the transaction, row-locked on PostgreSQL (SQLite locks the whole file)."""
        sql = "SELECT recovery_codes FROM hotspot_admin WHERE id = {}"
        rows = await AdminUser.raw(sql if self.db.is_sqlite else sql + " FOR UPDATE", admin_id).run()
        return _json_list(rows[0]["recovery_codes"]) if rows else []

    async def _failed(self, kind: ThrottleKind, name: str, ip: str | None, why: str) -> None:
        lockouts = await self.throttle.failed(kind, account=name, ip=ip)
        what = "sign-in" if kind == "password" else "2FA code"
        await self._event(
            f"{'login' if kind == 'password' else 'totp'}_failed",
            f"{what} failed for {name}: {why}",
            "info",
            ip,
            name,
        )
        for lock in lockouts:
            await self._lockout(lock, ip)

    async def _lockout(self, lock: Lockout, ip: str | None) -> None:
        who = f"username {lock.key}" if lock.scope == "account" else f"address {lock.key}"
        what = "passwords" if lock.kind == "password" else "2FA codes"
        await self._event(
            "login_lockout",
            f"{lock.failures} wrong {what} for {who}: locked for {_human(lock.seconds)}",
            "warning",
            ip,
            lock.key if lock.scope == "account" else None,
            alert=True,
        )

    # --- sessions ----------------------------------------------------------------------------

    async def resolve_session(self, data: Mapping[str, Any]) -> tuple[Principal, dict[str, Any]] | None:
        """The admin a session belongs to, with the session's refreshed data; None when it is over."""
        try:
            admin_id, generation = int(data["id"]), int(data["gen"])
            login_at, seen_at = float(data["login_at"]), float(data["seen_at"])
        except (KeyError, TypeError, ValueError):
            return None
        now = self._now()
        if now - seen_at > self.security.session_idle_minutes * 60:
            return None
        if now - login_at > self.security.session_absolute_hours * 3600:
            return None
        row = await self._row(admin_id)
        if row is None or not row["active"] or row["session_generation"] != generation:
            return None
        must_enrol = not row["totp_enabled"] and await self.require_2fa()
        permissions = SELF_PERMISSIONS if must_enrol else permissions_for(row["role"])
        principal = Principal(
            row["id"],
            row["username"],
            row["role"],
            permissions,
            "session",
            None,
            must_enrol,
            row["theme"] or "",
        )
        return principal, {**data, "seen_at": now}

    async def session_for(self, admin_id: int, login_at: float) -> dict[str, Any]:
        """Session data after a change that bumped the admin's generation (this session lives on)."""
        row = await self._row(admin_id)
        assert row is not None
        now = self._now()
        return {"id": admin_id, "gen": row["session_generation"], "login_at": login_at, "seen_at": now}

    async def set_theme(self, principal: Principal, theme: str) -> None:
        """Remember the colour mode this admin picked, so each of their devices opens in it."""
        if theme not in THEMES:
            raise AccountError(f"theme must be one of {', '.join(repr(t) for t in THEMES)}", field="theme")
        async with self.db.write_lock():
            await AdminUser.update({AdminUser.theme: theme}).where(AdminUser.id == principal.admin_id).run()

    async def logout(self, principal: Principal, ip: str | None) -> None:
        await self._event("logout", f"{principal.username} signed out", "info", ip, principal.username)

    async def logout_everywhere(self, principal: Principal, ip: str | None) -> None:
        """End every session of this admin: sessions carry the generation they were made in."""
        async with self.db.write_lock():
            await (
                AdminUser.update({AdminUser.session_generation: AdminUser.session_generation + 1})
                .where(AdminUser.id == principal.admin_id)
                .run()
            )
        await self._event(
            "logout_all", f"{principal.username} signed out everywhere", "info", ip, principal.username
        )

    async def change_own_password(
        self, principal: Principal, current: str, new: str, *, ip: str | None = None
    ) -> None:
        """Needs the current password (throttled like a sign-in); ends the admin's other sessions."""
        row = await self._row(principal.admin_id)
        assert row is not None
        name = row["username"]
        wait = await self.throttle.retry_after("password", account=name, ip=ip, check_account=False)
        if wait > 0:
            raise _locked(wait)
        if not await self.passwords.verify(row["password_hash"], current):
            await self._failed("password", name, ip, "wrong current password")
            raise AccountError(
                "The current password is not right.", status=403, code="forbidden", field="current_password"
            )
        self._check_password(new, name, row["email"])
        if await self.passwords.verify(row["password_hash"], new):
            raise AccountError("Choose a password you have not been using.", field="new_password")
        new_hash = await self.passwords.hash(new)
        now = self._now()
        async with self.db.transaction():
            await (
                AdminUser.update(
                    {
                        AdminUser.password_hash: new_hash,
                        AdminUser.password_changed_at: now,
                        AdminUser.session_generation: AdminUser.session_generation + 1,
                        AdminUser.updated_at: now,
                    }
                )
                .where(AdminUser.id == principal.admin_id)
                .run()
            )
            await self.audit.record(
                principal.actor,
                "account.password",
                ("admin", principal.admin_id),
                {"password_changed_at": row["password_changed_at"]},
                {"password_changed_at": now},
                ip,
            )

    # --- 2FA -----------------------------------------------------------------------------------

    async def begin_enrolment(self, principal: Principal) -> Enrolment:
        """A new secret to scan; 2FA is on only once a code from it is confirmed."""
        row = await self._row(principal.admin_id)
        assert row is not None
        if row["totp_enabled"]:
            raise AccountError(
                "2FA is on already; switch it off first to move it to a new phone.",
                status=409,
                code="conflict",
            )
        secret = new_secret()
        async with self.db.write_lock():
            await (
                AdminUser.update(
                    {AdminUser.totp_secret_sealed: self.box.seal(secret), AdminUser.totp_last_step: 0}
                )
                .where(AdminUser.id == principal.admin_id)
                .run()
            )
        uri = provisioning_uri(secret, row["username"], self.issuer)
        return Enrolment(secret, uri, qr_svg_data_uri(uri))

    async def confirm_enrolment(self, principal: Principal, code: str, *, ip: str | None = None) -> list[str]:
        """Turn 2FA on with a first code; returns the recovery codes, shown this once."""
        row = await self._row(principal.admin_id)
        assert row is not None
        if row["totp_enabled"]:
            raise AccountError("2FA is on already.", status=409, code="conflict")
        if not row["totp_secret_sealed"]:
            raise AccountError("Start the enrolment first.", status=409, code="conflict")
        name = row["username"]
        wait = await self.throttle.retry_after("totp", account=name, ip=ip)
        if wait > 0:
            raise _locked(wait)
        if not await self._accept_totp(row, code):
            await self._failed("totp", name, ip, "wrong code while enrolling")
            raise AccountError(
                "That code is not right. Check the phone's clock and enter the current code.",
                code="bad_totp",
                field="code",
            )
        await self.throttle.succeeded("totp", account=name)
        codes, digests = self.recovery.generate()
        async with self.db.transaction():
            await (
                AdminUser.update(
                    {
                        AdminUser.totp_enabled: True,
                        AdminUser.recovery_codes: json.dumps(digests),
                        AdminUser.updated_at: self._now(),
                    }
                )
                .where(AdminUser.id == principal.admin_id)
                .run()
            )
            await self.audit.record(
                principal.actor,
                "account.2fa_enable",
                ("admin", principal.admin_id),
                {"totp_enabled": False},
                {"totp_enabled": True, "recovery_codes": len(codes)},
                ip,
            )
        return codes

    async def disable_2fa(
        self, principal: Principal, password: str, code: str, *, ip: str | None = None
    ) -> None:
        """Switch one's own 2FA off: needs the password and a current code; refused when 2FA is required."""
        if await self.require_2fa():
            raise AccountError("The owner requires 2FA for every admin.", status=403, code="forbidden")
        row = await self._row(principal.admin_id)
        assert row is not None
        if not row["totp_enabled"]:
            raise AccountError("2FA is off already.", status=409, code="conflict")
        name = row["username"]
        if await self.throttle.retry_after("totp", account=name, ip=ip) > 0:
            raise _locked(await self.throttle.retry_after("totp", account=name, ip=ip))
        if not await self.passwords.verify(row["password_hash"], password) or not await self._accept_totp(
            row, code
        ):
            await self._failed("totp", name, ip, "wrong password or code while switching 2FA off")
            raise AccountError("The password or the code is not right.", status=403, code="forbidden")
        async with self.db.transaction():
            await (
                AdminUser.update(
                    {
                        AdminUser.totp_enabled: False,
                        AdminUser.totp_secret_sealed: None,
                        AdminUser.recovery_codes: "[]",
                        AdminUser.updated_at: self._now(),
                    }
                )
                .where(AdminUser.id == principal.admin_id)
                .run()
            )
            await self.audit.record(
                principal.actor,
                "account.2fa_disable",
                ("admin", principal.admin_id),
                {"totp_enabled": True},
                {"totp_enabled": False},
                ip,
            )

    async def set_require_2fa(self, value: bool, *, by: Principal | None, ip: str | None = None) -> bool:
        if by is not None and not by.can("owners.manage"):
            raise AccountError("Only an owner may change the sign-in policy.", status=403, code="forbidden")
        if self.security.require_2fa is not None:
            raise AccountError(
                "security.require_2fa is set in the config file; change it there.",
                status=409,
                code="conflict",
            )
        async with self.db.transaction():
            before = await self.settings_store.set(REQUIRE_2FA_KEY, bool(value), by=self._actor(by).name)
            await self.audit.record(
                self._actor(by),
                "settings.update",
                ("setting", REQUIRE_2FA_KEY),
                {"value": bool(before)},
                {"value": bool(value)},
                ip,
            )
        return bool(value)

    # --- API tokens (hotspot.accounts.tokens) ----------------------------------------------------

    async def create_token(
        self, principal: Principal, *, name: str, scopes: list[str], days: int, ip: str | None = None
    ) -> NewToken:
        return await self.tokens.create(principal, name=name, scopes=scopes, days=days, ip=ip)

    async def list_tokens(self, principal: Principal) -> list[dict[str, Any]]:
        return await self.tokens.listing(principal)

    async def revoke_token(
        self, principal: Principal, token_id: int, *, ip: str | None = None
    ) -> dict[str, Any]:
        return await self.tokens.revoke(principal, token_id, ip=ip)

    async def resolve_token(self, raw: str) -> Principal | None:
        return await self.tokens.resolve(raw)

    # --- events --------------------------------------------------------------------------------

    async def _event(
        self,
        kind: str,
        detail: str,
        severity: Literal["info", "warning", "critical"],
        ip: str | None,
        subject: str | None,
        *,
        alert: bool = False,
    ) -> None:
        event = SecurityEvent(kind, detail, severity, datetime.fromtimestamp(self._now(), UTC), ip, subject)
        if self.emit is not None:
            await self.emit("security_event", event=event)
        else:
            await self.security_log.persist(event)
        if alert and self.alert is not None:
            await self.alert(
                Notification(
                    subject=f"Security: {kind.replace('_', ' ')}",
                    body=detail + (f" (from {ip})" if ip else ""),
                    kind=f"security.{kind}",
                    severity=severity,
                )
            )


# --- helpers ---------------------------------------------------------------------------------


def public_admin(row: Mapping[str, Any]) -> dict[str, Any]:
    """What the admin and the API may show about an admin: never a hash, secret or code."""
    return {
        "id": row["id"],
        "username": row["username"],
        "email": row["email"],
        "phone": row["phone"],
        "role": row["role"],
        "active": bool(row["active"]),
        "totp_enabled": bool(row["totp_enabled"]),
        "recovery_codes_left": len(_json_list(row["recovery_codes"])) if row["totp_enabled"] else 0,
        "last_login_at": row["last_login_at"],
        "last_login_ip": row["last_login_ip"],
        "password_changed_at": row["password_changed_at"],
        "created_at": row["created_at"],
    }


def _audited(view: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an admin worth diffing in the audit log (no sign-in timestamps)."""
    keys = ("username", "email", "phone", "role", "active", "totp_enabled")
    return {k: view[k] for k in keys}


def _json_list(raw: Any) -> list[Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return list(value) if isinstance(value, list) else []


def _may_touch(by: Principal | None, role: str) -> None:
    """Owners are managed by owners only; everyone else needs admins.manage."""
    if by is None:
        return
    if not by.can("admins.manage"):
        raise AccountError("You are not allowed to manage admins.", status=403, code="forbidden")
    if role == "owner" and not by.can("owners.manage"):
        raise AccountError("Only an owner may create or change an owner.", status=403, code="forbidden")


def _username(value: str) -> str:
    name = value.strip().lower()
    if not _USERNAME.match(name):
        raise AccountError(
            "Use 3 to 32 characters: lowercase letters, digits, dot, dash or underscore, "
            "starting with a letter or digit.",
            field="username",
        )
    return name


def _role(value: str) -> str:
    if not is_role(value):
        raise AccountError(f"Unknown role; use one of: {', '.join(ROLES)}.", field="role")
    return value


def _email(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if len(text) > 254 or not _EMAIL.match(text):
        raise AccountError("Not an e-mail address.", field="email")
    return text


def _phone(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = re.sub(r"[\s()-]", "", str(value))
    if not _PHONE.match(text):
        raise AccountError("Not a phone number (digits, optionally starting with +).", field="phone")
    return text


def _locked(wait: float) -> AccountError:
    return AccountError(
        f"Too many wrong attempts. Try again in {_human(wait)}.",
        status=429,
        code="locked",
        retry_after=math.ceil(wait),
    )


def _human(seconds: float) -> str:
    seconds = math.ceil(seconds)
    if seconds < 90:
        return f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"
