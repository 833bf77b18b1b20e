"""Statistics helpers for workspace sessions that record what each number was computed from: crosstab,
pivot, describe, histogram, survival table, regression, and figures tied to their tables. Each writes a CSV
and a sidecar (``metadata``) that the airlock checks; pure numpy, pyarrow and DuckDB (statsmodels only for
a logistic regression, from the ``analysis`` extra)."""

from guichet.analysis.figures import attach_figure
from guichet.analysis.regression import regression
from guichet.analysis.survival import survival_table
from guichet.analysis.tables import crosstab, describe, histogram, pivot

__all__ = ["attach_figure", "crosstab", "describe", "histogram", "pivot", "regression", "survival_table"]
