"""Permits: the signed, machine-readable document an authorisation produces, which every later step reads —
fees, statutory clocks and the scheduler, amendments, extension, revocation, and the public registry."""
