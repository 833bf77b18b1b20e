"""The catalogue: the public description of the hub's data products (HealthDCAT-AP), their dictionary,
coverage, quality label and versions — read from the lake's register, never from another stage."""
