"""Hypothesis profiles of the whole suite, loaded from HYPOTHESIS_PROFILE (default `ci`).

`ci` draws the same examples on every run, so a failure in CI replays anywhere. `thorough`
(`bin/test -e thorough`) draws fresh examples, many more of them, from wider strategies: each
test asks tests/profiles.py which profile is on.
"""

from __future__ import annotations

import os

try:
    from hypothesis import settings
except ModuleNotFoundError:  # Airflow's own virtualenv (tests/airflow) has no Hypothesis and needs none
    pass
else:
    # No deadline: a Spark example takes seconds, and on a shared CI machine any pure one may be slow.
    settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
    # print_blob: a failure prints the @reproduce_failure line that replays its example.
    settings.register_profile("thorough", deadline=None, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
