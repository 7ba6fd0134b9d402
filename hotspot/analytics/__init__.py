"""Analytics: reports over orders, payments and sessions (trends and predictions come later)."""

from hotspot.analytics.reports import Bucket, Grouping, Period, ReportError, Reports, RevenueRow, UsageRow

__all__ = ["Bucket", "Grouping", "Period", "ReportError", "Reports", "RevenueRow", "UsageRow"]
