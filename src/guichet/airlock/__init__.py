"""The airlock: automatic disclosure control of outputs leaving a workspace — rule sets per data source
(``rules``), per-cell checks with reasons (``check``), secondary suppression that holds (``suppress``),
identifier detection (``identifiers``) and the page that shows a checked table (``pages``)."""
