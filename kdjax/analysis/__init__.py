"""Analysis of finished runs: tables (statistics follow in later modules)."""

from kdjax.analysis.tables import results_table
