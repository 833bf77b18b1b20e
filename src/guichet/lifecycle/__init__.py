"""A hub's lifecycle: creating it (``init``) and repairing what a crash left (``doctor``)."""
