"""Reports: period reports of violations (period, period_map, dates) and planning reports."""
