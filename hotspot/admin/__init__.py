"""The owner's dashboard: read models over the domains (sessions, payments, customers, vouchers,
reports) and its pages, one module per page (`<name>_page.py`; hotspot.admin.routes lists them).

Shared by every page: hotspot.admin.web (the shell, navigation, forms), notices (toasts), pwa
(the installable app). The setup wizard is hotspot.admin.wizard at /setup; `ReloadableApp`
(hotspot.admin.reload) is what `hotspot serve` runs, so settings saved in the browser apply
without a restart (hotspot.admin.changes saves and applies them). Nothing is imported here.
"""
