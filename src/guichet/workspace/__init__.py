"""Workspace extracts: each permit's minimal extract — only what was permitted, opt-outs applied, every key
replaced per project, identifying fields coarsened, its re-identification risk measured (``build``), encrypted
under the project's key. ``services`` holds the ``workspace.build`` service."""
