"""The owner's dashboard: read models over the domains (sessions, payments, reports) and its pages.

Pages so far (hotspot.admin.routes): sign-in, the front page, one's own account (password, 2FA,
API tokens), admins, the audit and security logs and settings; the setup wizard at /setup
(hotspot.admin.wizard). `ReloadableApp` (hotspot.admin.reload) is what `hotspot serve` runs, so
settings saved in the browser apply without a restart. Nothing is imported here: the read
models are imported alone, by modules the pages themselves depend on.
"""
