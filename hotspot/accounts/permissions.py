"""Roles and the permissions each one holds: the one table every guard and test reads.

Permissions are explicit strings (``<area>.<action>``); a route names the one it needs with
``hotspot.accounts.requires("sessions.write")``. The roles follow the issue text:

* owner: everything, including other owners, plugins and money settings;
* admin: everything except managing owners (``owners.manage``: creating, changing or
  resetting an owner, and the sign-in policy that binds owners, such as "require 2FA");
* operator: day-to-day work on sessions, customers and vouchers, reads what that needs
  (packages, routers, payments to answer "did my payment go through?"); no money settings;
* accountant: reports, payments and exports, read-only everywhere else;
* viewer: read-only.

``account.read`` / ``account.manage`` are about the admin's own account (see who I am; sign
out, change my password, my 2FA, my API tokens). Every role holds both; an API token never
carries ``account.manage``, so a leaked token cannot mint tokens or switch off 2FA.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal, get_args

__all__ = [
    "ALL_PERMISSIONS",
    "PERMISSIONS",
    "READ_PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "SELF_PERMISSIONS",
    "TOKEN_FORBIDDEN",
    "Role",
    "grantable_scopes",
    "is_role",
    "permissions_for",
]

Role = Literal["owner", "admin", "operator", "accountant", "viewer"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

PERMISSIONS: Final[dict[str, str]] = {
    # reading
    "dashboard.read": "See the dashboard and live views",
    "sessions.read": "See who is online, sessions and usage",
    "customers.read": "See customers, their devices and history",
    "vouchers.read": "See vouchers and their use",
    "packages.read": "See packages and prices",
    "payments.read": "See orders and payments",
    "routers.read": "See routers and their health",
    "reports.read": "See reports and analytics",
    "audit.read": "See the audit log and the security log",
    "admins.read": "See the admin accounts",
    "plugins.read": "See plugins and their state",
    "settings.read": "See the box's settings",
    # changing
    "sessions.write": "Disconnect, extend or move sessions",
    "customers.write": "Edit customers and their devices",
    "vouchers.write": "Create, print and void vouchers",
    "packages.write": "Create and edit packages and prices",
    "payments.write": "Refund, reconcile and correct payments",
    "money.settings": "Payment gateways, currencies, promos and discounts",
    "routers.write": "Add, edit and remove routers",
    "exports.run": "Export data (CSV, accounting sync)",
    "admins.manage": "Create and change admins other than owners",
    "owners.manage": "Create and change owners; the sign-in policy (require 2FA)",
    "plugins.manage": "Enable, disable and configure plugins",
    "settings.write": "Change the box's settings",
    # one's own account
    "account.read": "See one's own account",
    "account.manage": "Sign out, change one's password, 2FA and API tokens",
}

ALL_PERMISSIONS: Final[frozenset[str]] = frozenset(PERMISSIONS)
READ_PERMISSIONS: Final[frozenset[str]] = frozenset(p for p in PERMISSIONS if p.endswith(".read"))
SELF_PERMISSIONS: Final[frozenset[str]] = frozenset({"account.read", "account.manage"})
TOKEN_FORBIDDEN: Final[frozenset[str]] = frozenset({"account.manage"})

ROLE_PERMISSIONS: Final[dict[Role, frozenset[str]]] = {
    "owner": ALL_PERMISSIONS,
    "admin": ALL_PERMISSIONS - {"owners.manage"},
    "operator": SELF_PERMISSIONS
    | {
        "dashboard.read",
        "sessions.read",
        "sessions.write",
        "customers.read",
        "customers.write",
        "vouchers.read",
        "vouchers.write",
        "packages.read",
        "payments.read",
        "routers.read",
    },
    "accountant": SELF_PERMISSIONS | READ_PERMISSIONS | {"payments.write", "exports.run"},
    "viewer": SELF_PERMISSIONS | READ_PERMISSIONS,
}


def is_role(value: str) -> bool:
    return value in ROLE_PERMISSIONS


def permissions_for(role: str, scopes: Iterable[str] | None = None) -> frozenset[str]:
    """What a role may do, narrowed to a token's scopes when the caller is an API token."""
    granted = ROLE_PERMISSIONS.get(role, frozenset())  # type: ignore[call-overload]
    if scopes is None:
        return frozenset(granted)
    return frozenset(granted & set(scopes)) - TOKEN_FORBIDDEN


def grantable_scopes(role: str) -> frozenset[str]:
    """Scopes an admin of this role may put on a token: its own permissions, minus self-management."""
    return permissions_for(role) - TOKEN_FORBIDDEN
