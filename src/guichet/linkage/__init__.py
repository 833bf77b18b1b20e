"""Linkage ("chaînage"): one stable pseudonymous person across claims, hospital stays and death
certificates (see ``docs/linkage.md``).

Layout, following the data flow:

- ``keygraph``  — the SNDS join graph (shipped from ``snds/derived``) and how a person id travels along it;
- ``sources``   — binds a delivery folder (CSV) or the lake's published versions to canonical views;
- ``prepare``   — SQL that turns those views into the canonical linkage tables;
- ``deterministic`` — nodes (pseudonym + rank), the ``ano`` graph, components, per-row links;
- ``stable``    — stable person ids across runs, merge and split events (pure SQL over the previous index);
- ``deaths``    — death certificates: baseline A (CépiDC procedure), baseline B (plain Splink) and Guichet
  (Splink + hub evidence + one-to-one + calibration + review band);
- ``calibration`` — pure: reliability curve and calibration map from labelled pairs;
- ``pipeline``  — one linkage run, end to end, on an ``Engine``;
- ``index``     — the person index as an encrypted, versioned dataset; ``tables`` its metadata rows;
- ``evaluate``, ``export``, ``report`` — scoring against a synthetic truth, ``persons.csv``, the HTML report;
- ``services``  — the governed entry points (CLI and web call these).
"""
