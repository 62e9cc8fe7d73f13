"""The shared markdown formatting of analysis tables."""

import math

from kdjax.analysis import tables


def test_p_values_in_two_significant_digits_and_missing_ones_named():
  assert tables.format_p(0.04512) == '0.045'
  assert tables.format_p(2.34e-40) == '2.3e-40'
  assert tables.format_p(1.0) == '1'
  assert tables.format_p(None) == tables.format_p(math.nan) == '—'
  assert tables.format_p(math.nan, missing='n/a') == 'n/a'
