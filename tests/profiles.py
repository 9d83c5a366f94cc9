"""What the Hypothesis profile of this run (the root conftest.py) asks of a property test: how many
examples, and whether its strategies widen."""

from __future__ import annotations

from hypothesis import settings


def is_thorough() -> bool:
    return settings.get_current_profile_name() == "thorough"


def examples(ci: int, thorough: int) -> int:
    """A test's max_examples under the current profile. A count in a test's @settings overrides the
    profile's, so the test asks for its count here instead of hard-coding one."""
    return thorough if is_thorough() else ci
