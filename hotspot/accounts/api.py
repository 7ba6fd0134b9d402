"""The accounts JSON API: sign-in, own account, 2FA, tokens, admins, sign-in policy, logs.

Errors use the one shape of hotspot.http.errors (`code` says what happened, `fields` names the
input to blame); 429 carries Retry-After. Every route but POST /api/v1/auth/login needs a
permission (hotspot.accounts.guards); cookie-authenticated changes need X-Requested-With.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from litestar import Controller, MediaType, Request, Response, delete, get, patch, post, put
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Stream
from pydantic import BaseModel, ConfigDict, Field

from hotspot.accounts.audit import AuditFilter
from hotspot.accounts.errors import AccountError
from hotspot.accounts.guards import PUBLIC, check_csrf_header, requires
from hotspot.accounts.principal import Principal
from hotspot.accounts.security_log import SecurityFilter
from hotspot.accounts.service import AccountService
from hotspot.accounts.sessions import (
    admin_session,
    end_admin_session,
    rotate_session,
    start_admin_session,
    update_admin_session,
)
from hotspot.http.client import client_ip
from hotspot.http.errors import error_body
from hotspot.runtime import Hotspot

__all__ = ["ACCOUNT_HANDLERS", "AdminsApi", "AuditApi", "AuthApi", "SecurityApi"]

NO_STORE = CacheControlHeader(no_store=True)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- shapes ----------------------------------------------------------------------------------


class AdminOut(_Model):
    id: int
    username: str
    email: str | None
    phone: str | None
    role: str = Field(description="owner, admin, operator, accountant or viewer")
    active: bool
    totp_enabled: bool = Field(description="Two-factor sign-in is on")
    recovery_codes_left: int = Field(description="Unused 2FA recovery codes")
    last_login_at: float | None = Field(description="Unix time of the last sign-in")
    last_login_ip: str | None
    password_changed_at: float
    created_at: float


class LoginIn(_Model):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    totp_code: str | None = Field(None, max_length=12, description="The 6-digit code, when 2FA is on")
    recovery_code: str | None = Field(None, max_length=32, description="Instead of a code: a recovery code")


class LoginOut(_Model):
    admin: AdminOut
    must_enrol_2fa: bool = Field(description="The owner requires 2FA: enrol before anything else")
    used_recovery_code: bool


class MeOut(_Model):
    admin: AdminOut
    permissions: list[str]
    via: Literal["session", "token"]
    token_id: int | None
    must_enrol_2fa: bool


class PasswordChangeIn(_Model):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class EnrolOut(_Model):
    secret: str = Field(description="For typing into the app when the QR cannot be scanned")
    otpauth_uri: str
    qr_svg: str = Field(description="The QR code as an SVG data: URI, for an <img src>")


class CodeIn(_Model):
    code: str = Field(min_length=1, max_length=12)


class RecoveryCodesOut(_Model):
    recovery_codes: list[str] = Field(description="One-time codes, shown this once: write them down")


class DisableIn(_Model):
    password: str = Field(min_length=1, max_length=256)
    code: str = Field(min_length=1, max_length=12)


class TokenIn(_Model):
    name: str = Field(min_length=1, max_length=64)
    scopes: list[str] = Field(min_length=1, max_length=64, description="Permissions, e.g. vouchers.write")
    expires_in_days: int = Field(90, ge=1, le=3650)


class TokenOut(_Model):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: float
    expires_at: float
    revoked_at: float | None
    last_used_at: float | None
    state: Literal["active", "expired", "revoked"]


class NewTokenOut(_Model):
    token: str = Field(description="Shown this once: send it as Authorization: Bearer <token>")
    info: TokenOut


class AdminIn(_Model):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: str
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)


class AdminPatch(_Model):
    role: str | None = None
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    active: bool | None = None


class PasswordSetIn(_Model):
    password: str = Field(min_length=1, max_length=256)


class PolicyIn(_Model):
    require_2fa: bool


class PolicyOut(_Model):
    require_2fa: bool
    pinned_by_config: bool = Field(description="security.require_2fa is set in the config file")


class AuditEntryOut(_Model):
    id: int
    at: float
    actor: str
    actor_id: int | None
    action: str
    target_type: str
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ip: str | None


class AuditPageOut(_Model):
    entries: list[AuditEntryOut]
    next_cursor: int | None = Field(description="Pass as before_id for older entries; null at the end")


class SecurityEventOut(_Model):
    id: int
    at: float
    kind: str
    severity: str
    detail: str
    ip: str | None
    subject: str | None


class SecurityPageOut(_Model):
    events: list[SecurityEventOut]
    next_cursor: int | None


# --- plumbing --------------------------------------------------------------------------------


def _account_error(request: Request[Any, Any, Any], exc: AccountError) -> Response[Any]:
    status = exc.status if 400 <= exc.status < 500 else 400
    fields = [{"field": exc.field, "message": exc.message}] if exc.field else None
    request_id = str(request.scope.get("state", {}).get("request_id", "-"))
    headers = {"Cache-Control": "no-store"}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(int(exc.retry_after))
    return Response(
        error_body(status, exc.message, request_id, code=exc.code, fields=fields),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _accounts(hotspot: Hotspot) -> AccountService:
    return hotspot.accounts


def _admin(view: dict[str, Any]) -> AdminOut:
    return AdminOut(**view)


def _stamp(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class _Api(Controller):
    exception_handlers = {AccountError: _account_error}
    cache_control = NO_STORE


# --- /api/v1/auth ----------------------------------------------------------------------------


class AuthApi(_Api):
    """Sign in and out, one's own account, 2FA and personal API tokens."""

    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/login", summary="Sign in", status_code=200, opt={PUBLIC: True})
    async def login(
        self, request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], data: JSONBody[LoginIn]
    ) -> LoginOut:
        """Password, plus the 2FA code when it is on. 401 `bad_credentials` / `totp_required` /
        `bad_totp`, 429 `locked` (with Retry-After). Sets the session cookie (a new id)."""
        check_csrf_header(request)
        result = await _accounts(hotspot).authenticate(
            data.username,
            data.password,
            totp_code=data.totp_code,
            recovery_code=data.recovery_code,
            ip=client_ip(request),
        )
        start_admin_session(request, result.session)
        return LoginOut(
            admin=_admin(result.admin),
            must_enrol_2fa=result.must_enrol_2fa,
            used_recovery_code=result.used_recovery_code,
        )

    @get("/me", summary="Who am I", guards=[requires("account.read")])
    async def me(self, hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]) -> MeOut:
        view = await _accounts(hotspot).get_admin(principal.admin_id)
        return MeOut(
            admin=_admin(view),
            permissions=sorted(principal.permissions),
            via=principal.via,
            token_id=principal.token_id,
            must_enrol_2fa=principal.must_enrol_2fa,
        )

    @post("/logout", summary="Sign out", status_code=204, guards=[requires("account.manage")])
    async def logout(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
    ) -> None:
        """Deletes this session from the store: the cookie is worthless from now on."""
        await _accounts(hotspot).logout(principal, client_ip(request))
        end_admin_session(request)

    @post(
        "/logout-all",
        summary="Sign out everywhere else",
        status_code=204,
        guards=[requires("account.manage")],
    )
    async def logout_all(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
    ) -> None:
        """Every other session of this admin ends; this one continues under a new id."""
        accounts = _accounts(hotspot)
        await accounts.logout_everywhere(principal, client_ip(request))
        await _keep_this_session(request, accounts, principal)

    @post("/password", summary="Change my password", status_code=204, guards=[requires("account.manage")])
    async def password(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        data: JSONBody[PasswordChangeIn],
    ) -> None:
        """Other sessions end; this one continues under a new id."""
        accounts = _accounts(hotspot)
        await accounts.change_own_password(
            principal, data.current_password, data.new_password, ip=client_ip(request)
        )
        await _keep_this_session(request, accounts, principal)

    @post("/2fa/enrol", summary="Start 2FA enrolment", status_code=200, guards=[requires("account.manage")])
    async def enrol(
        self, hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
    ) -> EnrolOut:
        """A new secret and its QR code; 2FA is on once a code is confirmed."""
        enrolment = await _accounts(hotspot).begin_enrolment(principal)
        return EnrolOut(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg)

    @post("/2fa/confirm", summary="Turn 2FA on", status_code=200, guards=[requires("account.manage")])
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        data: JSONBody[CodeIn],
    ) -> RecoveryCodesOut:
        """Check a first code; returns 10 one-time recovery codes, shown this once."""
        codes = await _accounts(hotspot).confirm_enrolment(principal, data.code, ip=client_ip(request))
        if principal.via == "session":
            rotate_session(request)  # privileges changed (e.g. no longer limited to enrolment)
        return RecoveryCodesOut(recovery_codes=codes)

    @post("/2fa/disable", summary="Turn 2FA off", status_code=204, guards=[requires("account.manage")])
    async def disable(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        data: JSONBody[DisableIn],
    ) -> None:
        await _accounts(hotspot).disable_2fa(principal, data.password, data.code, ip=client_ip(request))

    @get("/tokens", summary="My API tokens", guards=[requires("account.manage")])
    async def tokens(
        self, hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
    ) -> list[TokenOut]:
        return [TokenOut(**t) for t in await _accounts(hotspot).tokens.listing(principal)]

    @post("/tokens", summary="Create an API token", status_code=201, guards=[requires("account.manage")])
    async def create_token(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        data: JSONBody[TokenIn],
    ) -> NewTokenOut:
        """Scoped to some of your own permissions; the token is shown this once."""
        new = await _accounts(hotspot).tokens.create(
            principal, name=data.name, scopes=data.scopes, days=data.expires_in_days, ip=client_ip(request)
        )
        return NewTokenOut(token=new.token, info=TokenOut(**new.info))

    @delete(
        "/tokens/{token_id:int}",
        summary="Revoke an API token",
        status_code=200,
        guards=[requires("account.manage")],
    )
    async def revoke_token(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        token_id: Annotated[int, PathParameter(ge=1)],
    ) -> TokenOut:
        return TokenOut(**await _accounts(hotspot).tokens.revoke(principal, token_id, ip=client_ip(request)))


async def _keep_this_session(
    request: Request[Any, Any, Any], accounts: AccountService, principal: NamedDependency[Principal]
) -> None:
    """After the admin's session generation moved on: carry this session over, under a new id."""
    if principal.via != "session":
        return
    current = admin_session(request) or {}
    login_at = float(current.get("login_at", accounts.clock()))
    update_admin_session(request, await accounts.session_for(principal.admin_id, login_at))
    rotate_session(request)


# --- /api/v1/admins --------------------------------------------------------------------------


class AdminsApi(_Api):
    """Admin accounts: only owners manage owners."""

    path = "/api/v1/admins"
    tags = ["admins"]

    @get("/", summary="All admins", guards=[requires("admins.read")])
    async def list_admins(self, hotspot: NamedDependency[Hotspot]) -> list[AdminOut]:
        return [_admin(a) for a in await _accounts(hotspot).list_admins()]

    @get("/{admin_id:int}", summary="One admin", guards=[requires("admins.read")])
    async def get_admin(
        self, hotspot: NamedDependency[Hotspot], admin_id: Annotated[int, PathParameter(ge=1)]
    ) -> AdminOut:
        return _admin(await _accounts(hotspot).get_admin(admin_id))

    @post("/", summary="Add an admin", status_code=201, guards=[requires("admins.manage")])
    async def create(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        data: JSONBody[AdminIn],
    ) -> AdminOut:
        view = await _accounts(hotspot).create_admin(
            username=data.username,
            password=data.password,
            role=data.role,
            email=data.email,
            phone=data.phone,
            by=principal,
            ip=client_ip(request),
        )
        return _admin(view)

    @patch("/{admin_id:int}", summary="Change an admin", guards=[requires("admins.manage")])
    async def update(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        admin_id: Annotated[int, PathParameter(ge=1)],
        data: JSONBody[AdminPatch],
    ) -> AdminOut:
        """Role, e-mail, phone, active. A new role or deactivation ends their sessions."""
        changes = data.model_dump(exclude_unset=True)
        view = await _accounts(hotspot).update_admin(admin_id, changes, by=principal, ip=client_ip(request))
        return _admin(view)

    @post(
        "/{admin_id:int}/reset-2fa",
        summary="Reset an admin's 2FA",
        status_code=200,
        guards=[requires("admins.manage")],
    )
    async def reset_2fa(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        admin_id: Annotated[int, PathParameter(ge=1)],
    ) -> AdminOut:
        return _admin(await _accounts(hotspot).reset_2fa(admin_id, by=principal, ip=client_ip(request)))

    @post(
        "/{admin_id:int}/password",
        summary="Set an admin's password",
        status_code=200,
        guards=[requires("admins.manage")],
    )
    async def set_password(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        admin_id: Annotated[int, PathParameter(ge=1)],
        data: JSONBody[PasswordSetIn],
    ) -> AdminOut:
        view = await _accounts(hotspot).set_password(
            admin_id, data.password, by=principal, ip=client_ip(request)
        )
        return _admin(view)


# --- /api/v1/security ------------------------------------------------------------------------


class SecurityApi(_Api):
    """The sign-in policy and the security log."""

    path = "/api/v1/security"
    tags = ["security"]

    @get("/policy", summary="Sign-in policy", guards=[requires("settings.read")])
    async def policy(self, hotspot: NamedDependency[Hotspot]) -> PolicyOut:
        accounts = _accounts(hotspot)
        return PolicyOut(
            require_2fa=await accounts.require_2fa(),
            pinned_by_config=accounts.security.require_2fa is not None,
        )

    @put("/policy", summary="Change the sign-in policy", guards=[requires("owners.manage")])
    async def set_policy(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        data: JSONBody[PolicyIn],
    ) -> PolicyOut:
        """Owners only: require 2FA for every role (admins without it must enrol at next request)."""
        accounts = _accounts(hotspot)
        value = await accounts.set_require_2fa(data.require_2fa, by=principal, ip=client_ip(request))
        return PolicyOut(require_2fa=value, pinned_by_config=False)

    @get("/events", summary="Security log", guards=[requires("audit.read")])
    async def events(
        self,
        hotspot: NamedDependency[Hotspot],
        kind: Annotated[str | None, QueryParameter(max_length=64, required=False)] = None,
        severity: Annotated[
            Literal["info", "warning", "critical"] | None, QueryParameter(required=False)
        ] = None,
        ip: Annotated[str | None, QueryParameter(max_length=45, required=False)] = None,
        subject: Annotated[str | None, QueryParameter(max_length=128, required=False)] = None,
        since: Annotated[datetime | None, QueryParameter(required=False)] = None,
        until: Annotated[datetime | None, QueryParameter(required=False)] = None,
        before_id: Annotated[int | None, QueryParameter(ge=1, required=False)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500, required=False)] = 50,
    ) -> SecurityPageOut:
        """Newest first. Failed sign-ins, lockouts, sign-ins from new addresses, payment oddities."""
        events, cursor = await _accounts(hotspot).security_log.search(
            SecurityFilter(kind, severity, ip, subject, _stamp(since), _stamp(until)),
            limit=limit,
            before_id=before_id,
        )
        return SecurityPageOut(events=[SecurityEventOut(**e) for e in events], next_cursor=cursor)


# --- /api/v1/audit ---------------------------------------------------------------------------


class AuditApi(_Api):
    """Who changed what: search and export the audit log."""

    path = "/api/v1/audit"
    tags = ["audit"]

    @get("/", summary="Search the audit log", guards=[requires("audit.read")])
    async def search(
        self,
        hotspot: NamedDependency[Hotspot],
        actor: Annotated[str | None, QueryParameter(max_length=64, required=False)] = None,
        action: Annotated[
            str | None,
            QueryParameter(
                max_length=64, required=False, description='Exact, or a prefix: "admin." or "admin*"'
            ),
        ] = None,
        target_type: Annotated[str | None, QueryParameter(max_length=32, required=False)] = None,
        target_id: Annotated[str | None, QueryParameter(max_length=64, required=False)] = None,
        since: Annotated[datetime | None, QueryParameter(required=False)] = None,
        until: Annotated[datetime | None, QueryParameter(required=False)] = None,
        before_id: Annotated[int | None, QueryParameter(ge=1, required=False)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500, required=False)] = 50,
    ) -> AuditPageOut:
        """Newest first, `limit` at a time; follow `next_cursor` for older entries."""
        page = await _accounts(hotspot).audit.search(
            AuditFilter(actor, action, target_type, target_id, _stamp(since), _stamp(until)),
            limit=limit,
            before_id=before_id,
        )
        return AuditPageOut(entries=[AuditEntryOut(**e) for e in page.entries], next_cursor=page.next_cursor)

    @get("/export.csv", summary="Export the audit log (CSV)", guards=[requires("audit.read")])
    async def export(
        self,
        hotspot: NamedDependency[Hotspot],
        actor: Annotated[str | None, QueryParameter(max_length=64, required=False)] = None,
        action: Annotated[str | None, QueryParameter(max_length=64, required=False)] = None,
        target_type: Annotated[str | None, QueryParameter(max_length=32, required=False)] = None,
        target_id: Annotated[str | None, QueryParameter(max_length=64, required=False)] = None,
        since: Annotated[datetime | None, QueryParameter(required=False)] = None,
        until: Annotated[datetime | None, QueryParameter(required=False)] = None,
    ) -> Stream:
        """The same filters as the search; every matching entry, newest first."""
        terms = AuditFilter(actor, action, target_type, target_id, _stamp(since), _stamp(until))
        return Stream(
            _accounts(hotspot).audit.export_csv(terms),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
        )


ACCOUNT_HANDLERS = [AuthApi, AdminsApi, SecurityApi, AuditApi]
