"""Continuous glucose monitoring (CGM): the consensus metrics, the consensus hypoglycaemia episodes, and
predictive alerts that show their evidence and are scored against those episodes.

Standalone: it reads a CGM file and depends on nothing above ``guichet.errors`` (numpy and pyarrow, both
core dependencies), so a clinician can rerun every figure by hand from the readings the output shows.

- ``readings``: the data model (a subject's sorted readings in mg/dL).
- ``read``: a file into subjects; ``layout`` the header (long ``id,time,gl`` files as iglu writes them,
  Dexcom Clarity exports; mg/dL or mmol/L); ``parse_arrow`` and ``parse`` the rows, whole columns at a time
  or row by row.
- ``metrics``: the 2019 consensus metrics as iglu computes them.
- ``episodes``: level 1 and level 2 hypoglycaemia episodes (2023 consensus).
- ``rules``: the alert rules, causal (each decision uses only earlier readings).
- ``scoring``: sensitivity, PPV, false alerts per patient-day and lead time against the episodes.
- ``tails``: flags on subjects whose data are insufficient or atypical.
- ``report`` / ``plot``: the JSON answer and one SVG per alert.
"""
