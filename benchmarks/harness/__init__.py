"""The benchmark harness behind ``benchmarks/run.py``: peers, scenarios, load tools, reports.

Standard library only; matplotlib is used by ``benchmarks/chart.py``, which runs in the
harness-tools virtual environment, never here.
"""
