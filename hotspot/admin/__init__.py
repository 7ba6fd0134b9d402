"""The owner's dashboard: read models over the domains (sessions, payments, reports) and its pages."""
