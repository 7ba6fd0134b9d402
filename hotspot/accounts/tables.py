"""Admin accounts, their API tokens, the audit log and the security log.

Times are Unix seconds (DoublePrecision), like the rest of the schema. Secrets are never stored
in the clear: passwords as argon2id hashes, TOTP secrets sealed with the box's secret key
(hotspot.secrets_box), recovery codes and API tokens as keyed/plain SHA-256 digests.

The audit log is append-only: the code has no path that updates or deletes a row of it (a test
greps for one), and the migration adds database triggers that refuse UPDATE and DELETE.
"""

from __future__ import annotations

from piccolo.columns import JSON, BigInt, Boolean, DoublePrecision, Integer, Serial, Text, Varchar
from piccolo.table import Table

__all__ = ["AdminUser", "ApiToken", "AuditEntry", "SecurityEventRecord"]


class AdminUser(Table, tablename="hotspot_admin"):
    """A person who runs the box: owner, admin, operator, accountant or viewer."""

    id = Serial(primary_key=True)
    username = Varchar(length=32, unique=True)  # lowercase, [a-z0-9._-]
    email = Varchar(length=254, null=True, default=None)
    phone = Varchar(length=20, null=True, default=None)
    role = Varchar(length=16, index=True)
    active = Boolean(default=True)
    password_hash = Text()
    password_changed_at = DoublePrecision()
    totp_secret_sealed = Text(null=True, default=None)  # set at enrolment, enabled once confirmed
    totp_enabled = Boolean(default=False)
    totp_last_step = BigInt(default=0)  # last accepted time step: a code is never accepted twice
    recovery_codes = JSON(default="[]")  # keyed digests of the unused one-time codes
    known_ips = JSON(default="[]")  # addresses of the last successful sign-ins, newest first
    session_generation = Integer(default=1)  # bumped by "log out everywhere": older sessions die
    last_login_at = DoublePrecision(null=True, default=None)
    last_login_ip = Varchar(length=45, null=True, default=None)
    theme = Varchar(length=8, default="")  # "light" / "dark" as picked in the admin; "" follows the system
    created_at = DoublePrecision()
    updated_at = DoublePrecision()


class ApiToken(Table, tablename="hotspot_api_token"):
    """A personal API token: scoped, expiring, revocable; only its digest is kept."""

    id = Serial(primary_key=True)
    admin_id = Integer(index=True)
    name = Varchar(length=64)
    scopes = JSON(default="[]")
    prefix = Varchar(length=16)  # the first characters, to recognise a token in the list
    token_hash = Varchar(length=64, unique=True)  # SHA-256 of the whole token
    created_at = DoublePrecision()
    expires_at = DoublePrecision()
    revoked_at = DoublePrecision(null=True, default=None)
    last_used_at = DoublePrecision(null=True, default=None)


class AuditEntry(Table, tablename="hotspot_audit"):
    """Who changed what, from where, and the before/after of it. Rows are only ever inserted."""

    id = Serial(primary_key=True)
    at = DoublePrecision(index=True)
    actor_id = Integer(null=True, default=None)
    actor = Varchar(length=64, index=True)  # username, or "cli:<user>" / "system"
    action = Varchar(length=64, index=True)  # e.g. admin.create, admin.role, token.revoke
    target_type = Varchar(length=32, default="")
    target_id = Varchar(length=64, null=True, default=None)
    before = JSON(null=True, default=None)
    after = JSON(null=True, default=None)
    ip = Varchar(length=45, null=True, default=None)


class SecurityEventRecord(Table, tablename="hotspot_security_event"):
    """Every hotspot.contracts.SecurityEvent the box emitted (failed logins, lockouts, new IPs...)."""

    id = Serial(primary_key=True)
    at = DoublePrecision(index=True)
    kind = Varchar(length=64, index=True)
    severity = Varchar(length=16, index=True)
    detail = Varchar(length=500, default="")
    ip = Varchar(length=45, null=True, default=None, index=True)
    subject = Varchar(length=128, null=True, default=None, index=True)
