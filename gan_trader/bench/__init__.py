"""Benchmarks for SPEC section 11: each entry measures a figure and its target in the same run.

Entries live one module per area (gan, features, sentiment, executor, experiment) and return
`BenchResult`s; `gan_trader.bench.runner` collects them into a table and runs/bench.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class BenchResult:
    """One measured figure. `ratio` is the quantity the target is stated in; `passed` compares it."""

    name: str
    value: float
    unit: str
    target: str
    ratio: float | None = None
    passed: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
