"""Benchmarks: figures measured beside their baselines in one run, written as raw JSON and rendered as a report.

`python -m benchmarks run [--quick]` measures; `python -m benchmarks render JSON` renders a kept run again.
Each figure is a module here following benchmarks/harness.py; figures are printed, never asserted.
"""
