"""Runnable examples: ``hypercorn examples.hello:app`` and the Quart demo, ``examples.demo``."""
