"""Admin accounts: roles and permissions, sign-in with 2FA, API tokens, the audit and security logs.

Routes elsewhere protect themselves with `requires("<permission>")` and receive the caller as
the `principal` dependency; the JSON API lives in hotspot.accounts.api (imported by the app).
"""

from hotspot.accounts.alerts import ALERT_JOB, AlertJobs
from hotspot.accounts.audit import Actor, AuditFilter, AuditLog, AuditPage
from hotspot.accounts.errors import AccountError
from hotspot.accounts.guards import authenticate, current_principal, required_permissions, requires
from hotspot.accounts.passwords import PasswordRejected, Passwords
from hotspot.accounts.permissions import PERMISSIONS, ROLE_PERMISSIONS, ROLES, permissions_for
from hotspot.accounts.principal import Principal
from hotspot.accounts.security_log import SecurityFilter, SecurityLog
from hotspot.accounts.service import SYSTEM, AccountService, LoginResult
from hotspot.accounts.sessions import RotatingSessionConfig

__all__ = [
    "ALERT_JOB",
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "SYSTEM",
    "AccountError",
    "AccountService",
    "Actor",
    "AlertJobs",
    "AuditFilter",
    "AuditLog",
    "AuditPage",
    "LoginResult",
    "PasswordRejected",
    "Passwords",
    "Principal",
    "RotatingSessionConfig",
    "SecurityFilter",
    "SecurityLog",
    "authenticate",
    "current_principal",
    "permissions_for",
    "required_permissions",
    "requires",
]
