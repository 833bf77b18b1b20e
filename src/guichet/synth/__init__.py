"""Synthetic SNDS: deliveries shaped like the real thing, with documented noise, defects and ground truth.

The pure generators (``population``, ``events``, ``defects``) build column arrays from a seed; ``writer``
is the only module that touches files. ``docs/synthetic.md`` documents the model and every rate.
"""
