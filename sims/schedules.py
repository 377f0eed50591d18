"""Learning-rate schedules: a frozen spec whose ``factor(t)`` multiplies the base lr at step t.

Engines call ``factors(steps)`` once and index the array, so every engine applies the very same
float at every step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hetquad.problems.validation import in_range, integer


@dataclass(frozen=True)
class Constant:
    """lr_t = lr."""

    def factor(self, t: int) -> float:
        return 1.0

    def factors(self, steps: int) -> np.ndarray:
        if type(self) is Constant:  # all ones: no Python loop over a long horizon
            return np.ones(steps, dtype=np.float64)
        return np.array([self.factor(t) for t in range(steps)], dtype=np.float64)


@dataclass(frozen=True)
class Step(Constant):
    """lr_t = lr · gamma^⌊t / every⌋."""

    every: int = 100
    gamma: float = 0.1

    def __post_init__(self):
        integer("every", self.every, minimum=1)
        in_range("gamma", self.gamma, 0.0, 1.0, closed="right")

    def factor(self, t: int) -> float:
        return float(self.gamma ** (t // self.every))


@dataclass(frozen=True)
class Cosine(Constant):
    """Cosine decay from 1 to ``final`` over ``total`` steps, then ``final``."""

    total: int = 1000
    final: float = 0.0

    def __post_init__(self):
        integer("total", self.total, minimum=1)
        in_range("final", self.final, 0.0, 1.0)

    def factor(self, t: int) -> float:
        if t >= self.total:
            return float(self.final)
        return float(self.final + (1 - self.final) * 0.5 * (1 + math.cos(math.pi * t / self.total)))


@dataclass(frozen=True)
class Warmup(Constant):
    """Linear warm-up over ``steps`` steps ((t+1)/steps), then the schedule ``then``."""

    steps: int = 100
    then: Constant = Constant()

    def __post_init__(self):
        integer("steps", self.steps, minimum=1)
        if not isinstance(self.then, Constant):
            raise TypeError(f"then must be a schedule, got {type(self.then).__name__}")

    def factor(self, t: int) -> float:
        if t < self.steps:
            return (t + 1) / self.steps
        return self.then.factor(t - self.steps)
