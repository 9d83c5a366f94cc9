"""Scenario files (scenarios/<name>.yaml): the knobs of a simulator run and the invariants it checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    orders: int
    seed: int
    invariants: tuple[str, ...]


def available() -> list[str]:
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.yaml"))


def load(name: str) -> Scenario:
    path = SCENARIO_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no scenario {name!r}; available: {', '.join(available())}")
    document = yaml.safe_load(path.read_text())
    knobs = document["knobs"]
    return Scenario(
        name=document["name"],
        description=" ".join(document.get("description", "").split()),
        orders=int(knobs["orders"]),
        seed=int(knobs["seed"]),
        invariants=tuple(document.get("invariants", ())),
    )
