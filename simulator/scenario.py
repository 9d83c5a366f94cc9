"""Scenario files (scenarios/<name>.yaml): the knobs of a simulator run and the invariants it checks.

A file holds `name`, `description`, `knobs` (`orders` and `seed`, then any field of simulator.knobs.Knobs)
and `invariants`, a list of sentences. Durations are written with a unit: 90s, 30m, 6h; a range of
them as [low, high].
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from simulator.generator import DEFAULT_START, generate, generate_endless
from simulator.knobs import DEFAULT_KNOBS, Knobs
from simulator.model import Message

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smh])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours"}


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    orders: int
    seed: int
    knobs: Knobs
    invariants: tuple[str, ...]

    def messages(
        self,
        order_topic: str,
        payment_topic: str,
        orders: int | None = None,
        seed: int | None = None,
        start: datetime | None = None,
    ) -> list[Message]:
        """The scenario's messages in arrival order; `orders` and `seed` override the file's."""
        return generate(
            self.orders if orders is None else orders,
            self.seed if seed is None else seed,
            order_topic,
            payment_topic,
            start=start or DEFAULT_START,
            knobs=self.knobs,
        )

    def endless(
        self, order_topic: str, payment_topic: str, seed: int | None = None, start: datetime | None = None
    ) -> Iterator[Message]:
        """The scenario played window after window, `orders` orders per window, for as long as it is read."""
        return generate_endless(
            self.orders,
            self.seed if seed is None else seed,
            order_topic,
            payment_topic,
            start=start or DEFAULT_START,
            knobs=self.knobs,
        )


def available() -> list[str]:
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.yaml"))


def load(name: str) -> Scenario:
    """The scenario scenarios/<name>.yaml; a path to a .yaml file elsewhere works too."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else SCENARIO_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no scenario {name!r}; available: {', '.join(available())}")
    document = yaml.safe_load(path.read_text())
    settings = dict(document.get("knobs") or {})
    try:
        orders, seed = int(settings.pop("orders")), int(settings.pop("seed"))
        knobs = knobs_from(settings)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"scenario {path}: knobs: {error}") from None
    return Scenario(
        name=document["name"],
        description=" ".join(document.get("description", "").split()),
        orders=orders,
        seed=seed,
        knobs=knobs,
        invariants=tuple(document.get("invariants", ())),
    )


def knobs_from(settings: Mapping[str, Any]) -> Knobs:
    """Knobs from a scenario file's values, each read like the default it replaces (a share, a weight map...)."""
    defaults = {knob.name: getattr(DEFAULT_KNOBS, knob.name) for knob in fields(Knobs)}
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ValueError(f"unknown {unknown}; known: {', '.join(defaults)}")
    return Knobs(**{name: _like(defaults[name], value, name) for name, value in settings.items()})


def parse_duration(text: str | int | float) -> timedelta:
    """'90s', '30m', '6h' (or a number of seconds) as a timedelta."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return timedelta(seconds=text)
    match = _DURATION.fullmatch(str(text).strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 90s, 30m or 6h")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def _like(default: Any, value: Any, name: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{name}: true or false, not {value!r}")
        return value
    if isinstance(default, (int, float)):
        return type(default)(value)
    if isinstance(default, timedelta):
        return parse_duration(value)
    if isinstance(default, tuple):
        low, high = value
        return (parse_duration(low), parse_duration(high))
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}: a mapping of names to weights, not {value!r}")
    return dict(value)
