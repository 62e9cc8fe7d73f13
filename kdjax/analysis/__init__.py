"""Analysis of finished runs: statistics, grouping, tables, the report."""

from kdjax.analysis.tables import results_table
