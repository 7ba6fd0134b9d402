"""The sign-in page: password, then the 2FA code when it is on; and signing out.

Two steps on two pages, and the password never travels twice: after a right password the
session remembers only who and when (`PENDING`, five minutes), the code page finishes through
AccountService.complete_sign_in. Throttling, lockouts and the security log are the accounts
service's; this page turns its refusals into plain sentences (a lockout says when to try again).
The session id is rotated at sign-in (hotspot.accounts.sessions). `next` may only name a path
on this box.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from hotspot.accounts.errors import AccountError
from hotspot.accounts.guards import PUBLIC, authenticate, requires
from hotspot.accounts.principal import Principal
from hotspot.accounts.service import LoginResult
from hotspot.accounts.sessions import end_admin_session, start_admin_session
from hotspot.admin.web import flash, form_data, page, redirect, safe_next, text
from hotspot.http.client import client_ip
from hotspot.runtime import Hotspot

__all__ = ["SIGNIN_HANDLERS"]

PENDING = "login_2fa"
PENDING_SECONDS = 300


def _login_page(
    request: Request[Any, Any, Any],
    *,
    next_url: str,
    username: str = "",
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "admin/login.html",
        principal=None,
        title="Sign in",
        next_url=next_url,
        username=username,
        error=error,
        notice=notice,
        status_code=status_code,
    )


def _code_page(
    request: Request[Any, Any, Any],
    *,
    next_url: str,
    username: str,
    error: str | None = None,
    recovery: bool = False,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "admin/login_code.html",
        principal=None,
        title="Two-step sign-in",
        next_url=next_url,
        username=username,
        error=error,
        recovery=recovery,
        status_code=status_code,
    )


def _signed_in(request: Request[Any, Any, Any], result: LoginResult, next_url: str) -> Redirect:
    start_admin_session(request, result.session)  # a fresh session under a new id
    if result.used_recovery_code:
        left = result.admin["recovery_codes_left"]
        flash(
            request,
            f"You signed in with a recovery code; {left} left. Set up your phone again if it is lost.",
            "warning",
        )
    if result.must_enrol_2fa:
        flash(request, "The owner requires two-step sign-in for every admin: set it up now.", "warning")
        return redirect("/admin/account#two-step")
    return redirect(next_url)


@get("/admin/login", include_in_schema=False, cache=False, opt={PUBLIC: True})
async def login_form(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    next_url: Annotated[str | None, QueryParameter(name="next", max_length=2000, required=False)] = None,
    signed_out: Annotated[bool, QueryParameter(required=False)] = False,
) -> Template | Redirect:
    """The sign-in form; a fresh install goes to the setup wizard instead."""
    if not await hotspot.accounts.has_admins():
        return redirect("/setup")
    next_url = safe_next(next_url)
    if await authenticate(request) is not None:
        return redirect(next_url)
    return _login_page(request, next_url=next_url, notice="You have signed out." if signed_out else None)


@post("/admin/login", include_in_schema=False, status_code=200, opt={PUBLIC: True})
async def login(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Template | Redirect:
    data = await form_data(request)
    username = text(data, "username")[:64]
    password = text(data, "password", strip=False)[:256]
    next_url = safe_next(text(data, "next"))
    if not username or not password:
        return _login_page(
            request,
            next_url=next_url,
            username=username,
            error="Enter your username and password.",
            status_code=400,
        )
    accounts = hotspot.accounts
    try:
        result = await accounts.authenticate(username, password, ip=client_ip(request))
    except AccountError as exc:
        if exc.code == "totp_required":  # the password was right: remember who, ask for the code
            session = dict(request.session) if isinstance(request.scope.get("session"), dict) else {}
            session[PENDING] = {"u": username.strip().lower(), "at": accounts.clock()}
            request.set_session(session)
            return _code_page(request, next_url=next_url, username=username.strip().lower())
        return _login_page(
            request,
            next_url=next_url,
            username=username,
            error=exc.message,
            status_code=exc.status if 400 <= exc.status < 500 else 400,
        )
    return _signed_in(request, result, next_url)


@post("/admin/login/code", include_in_schema=False, status_code=200, opt={PUBLIC: True})
async def login_code(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]
) -> Template | Redirect:
    data = await form_data(request)
    next_url = safe_next(text(data, "next"))
    use_recovery = text(data, "method") == "recovery"
    accounts = hotspot.accounts
    pending = request.session.get(PENDING) if isinstance(request.scope.get("session"), dict) else None
    if (
        not isinstance(pending, dict)
        or not isinstance(pending.get("u"), str)
        or not isinstance(pending.get("at"), int | float)
        or accounts.clock() - float(pending["at"]) > PENDING_SECONDS
    ):
        return _login_page(
            request,
            next_url=next_url,
            error="That took too long. Please sign in again.",
            status_code=401,
        )
    username = str(pending["u"])
    code = text(data, "code")[:32]
    if text(data, "switch"):  # "use a recovery code instead" (or back to the app's code)
        return _code_page(request, next_url=next_url, username=username, recovery=use_recovery)
    if not code:
        return _code_page(
            request,
            next_url=next_url,
            username=username,
            recovery=use_recovery,
            error="Enter the code." if not use_recovery else "Enter one of your recovery codes.",
            status_code=400,
        )
    try:
        result = await accounts.complete_sign_in(
            username,
            float(pending["at"]),
            totp_code=None if use_recovery else code,
            recovery_code=code if use_recovery else None,
            ip=client_ip(request),
        )
    except AccountError as exc:
        if exc.code == "bad_credentials":
            return _login_page(request, next_url=next_url, error=exc.message, status_code=401)
        return _code_page(
            request,
            next_url=next_url,
            username=username,
            recovery=use_recovery,
            error=exc.message,
            status_code=exc.status if 400 <= exc.status < 500 else 400,
        )
    return _signed_in(request, result, next_url)


@post("/admin/logout", include_in_schema=False, guards=[requires("account.manage")])
async def logout(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Redirect:
    """Deletes the session from the store: the cookie is worth nothing afterwards."""
    await hotspot.accounts.logout(principal, client_ip(request))
    end_admin_session(request)
    return redirect("/admin/login?signed_out=1")


SIGNIN_HANDLERS = [login_form, login, login_code, logout]
