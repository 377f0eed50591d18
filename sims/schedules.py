"""Learning-rate schedules: a frozen spec whose ``factor(t)`` multiplies the base lr at step t.

Constant, Step, Cosine and Linear decay, and ``Warmup(steps, then=...)`` in front of any of them
(warm-up + cosine, warm-up + linear). Every numeric parameter (Step's ``every``/``gamma``,
Cosine's and Linear's ``total``/``final``, Warmup's ``steps``) may be a 1-D array with one value
per run, like the optimizers' hyper-parameters (``sims.grid``); ``runs()`` is its length.

Engines call ``factors(steps)`` once and index the table: (steps,) when every parameter is a number,
(steps, n) with one column per run otherwise. The xp engines' ``update`` asks ``column(t, xp)``
for step t. Both evaluate ``factor(t)`` of each run's own scalar schedule in Python float
arithmetic, once per *distinct* parameter tuple, so a run's factors — hence its bits — do not
depend on its batch mates, and every engine applies the very same float at every step.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from hetquad.problems.validation import in_range, integer


def _per_run(name, value, check):
    from .optimizers.base import per_run  # late: the optimizers package imports this module
    return per_run(name, value, check)


def _ints(minimum):
    return lambda k, x: integer(k, x, minimum=minimum)


@dataclass(frozen=True)
class Constant:
    """lr_t = lr."""

    #: numeric parameters that may be per-run (stored as tuples)
    PARAMS: ClassVar[tuple] = ()

    def factor(self, t: int) -> float:
        """The multiplier at step t of a schedule whose parameters are numbers (``at(i)`` for a run's)."""
        return 1.0

    # -- per-run bookkeeping ---------------------------------------------------------------
    def _nested(self):
        return ()

    def _lengths(self) -> dict:
        """Parameter name → number of per-run values, for every per-run parameter (nested ones too)."""
        out = {k: len(getattr(self, k)) for k in self.PARAMS if isinstance(getattr(self, k), tuple)}
        for prefix, sub in self._nested():
            out.update({f"{prefix}.{k}": n for k, n in sub._lengths().items()})
        return out

    def _check_runs(self) -> None:
        lengths = self._lengths()
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise ValueError(f"per-run schedule parameters must all have one value per run: {shown}")

    def runs(self) -> int | None:
        """Number of runs the per-run parameters give (None when all are numbers)."""
        lengths = self._lengths()
        return next(iter(lengths.values())) if lengths else None

    def at(self, i: int) -> "Constant":
        """Run i's schedule: every per-run parameter replaced by its i-th value."""
        if self.runs() is None:
            return self
        kw = {k: getattr(self, k)[i] for k in self.PARAMS if isinstance(getattr(self, k), tuple)}
        kw.update({name: sub.at(i) for name, sub in self._nested()})
        return dataclasses.replace(self, **kw)

    def hyper(self, n: int) -> dict:
        """Per-run values of every numeric parameter, ``schedule.NAME`` → (n,) float array."""
        out = {}
        for k in self.PARAMS:
            v = getattr(self, k)
            out[f"schedule.{k}"] = np.broadcast_to(np.array(v if isinstance(v, tuple) else (v,), dtype=np.float64),
                                                   (n,)).copy()
        for prefix, sub in self._nested():
            out.update({f"schedule.{prefix}.{k[len('schedule.'):]}": v for k, v in sub.hyper(n).items()})
        return out

    @cached_property
    def _per_run(self) -> bool:
        return self.runs() is not None

    def _scalar(self) -> None:
        if self._per_run:
            raise ValueError(f"{type(self).__name__} has per-run parameters: its factor is per run, "
                             "use schedule.column(t, xp) (or schedule.at(i).factor(t))")

    @cached_property
    def _groups(self) -> tuple[list, np.ndarray]:
        """(distinct scalar schedules, index of each run's), in run order of first appearance."""
        uniq, inv = {}, []
        for i in range(self.runs()):
            inv.append(uniq.setdefault(self.at(i), len(uniq)))
        return list(uniq), np.array(inv, dtype=np.int64)

    # -- what engines read ---------------------------------------------------------------------
    def _table(self, steps: int) -> np.ndarray:
        if type(self) is Constant:  # all ones: no Python loop over a long horizon
            return np.ones(steps, dtype=np.float64)
        return np.array([self.factor(t) for t in range(steps)], dtype=np.float64)

    def factors(self, steps: int) -> np.ndarray:
        """The factor of every step: (steps,), or (steps, n) when a parameter is per-run."""
        if self.runs() is None:
            return self._table(steps)
        uniq, inv = self._groups
        return np.ascontiguousarray(np.stack([u._table(steps) for u in uniq], axis=1)[:, inv])

    def column(self, t: int, xp=np):
        """The factor of step t: a float, or a (n, 1) ``xp`` column when a parameter is per-run."""
        if self.runs() is None:
            return self.factor(t)
        uniq, inv = self._groups
        return xp.asarray(np.array([u.factor(t) for u in uniq], dtype=np.float64)[inv][:, None])


@dataclass(frozen=True)
class Step(Constant):
    """lr_t = lr · gamma^⌊t / every⌋ (torch.optim.lr_scheduler.StepLR)."""

    every: int = 100
    gamma: float = 0.1
    PARAMS: ClassVar[tuple] = ("every", "gamma")

    def __post_init__(self):
        object.__setattr__(self, "every", _per_run("every", self.every, _ints(1)))
        object.__setattr__(self, "gamma", _per_run(
            "gamma", self.gamma, lambda k, x: in_range(k, x, 0.0, 1.0, closed="right")))
        self._check_runs()

    def factor(self, t: int) -> float:
        self._scalar()
        return float(self.gamma ** (t // self.every))


@dataclass(frozen=True)
class _Decay(Constant):
    """What Cosine and Linear share: a decay from 1 to ``final`` over ``total`` steps, then ``final``."""

    total: int = 1000
    final: float = 0.0
    PARAMS: ClassVar[tuple] = ("total", "final")

    def __post_init__(self):
        object.__setattr__(self, "total", _per_run("total", self.total, _ints(1)))
        object.__setattr__(self, "final", _per_run("final", self.final, lambda k, x: in_range(k, x, 0.0, 1.0)))
        self._check_runs()


@dataclass(frozen=True)
class Cosine(_Decay):
    """Cosine decay from 1 to ``final`` over ``total`` steps, then ``final``
    (torch's CosineAnnealingLR with T_max = total, eta_min = final·lr, for t ≤ total)."""

    def factor(self, t: int) -> float:
        self._scalar()
        if t >= self.total:
            return float(self.final)
        return float(self.final + (1 - self.final) * 0.5 * (1 + math.cos(math.pi * t / self.total)))


@dataclass(frozen=True)
class Linear(_Decay):
    """Linear decay from 1 to ``final`` over ``total`` steps, then ``final``
    (torch's LinearLR with start_factor = 1, end_factor = final, total_iters = total)."""

    def factor(self, t: int) -> float:
        self._scalar()
        if t >= self.total:
            return float(self.final)
        return float(1.0 + (self.final - 1.0) * t / self.total)


@dataclass(frozen=True)
class Warmup(Constant):
    """Linear warm-up over ``steps`` steps ((t+1)/steps), then the schedule ``then`` restarted at 0
    (``Warmup(steps=10, then=Cosine(total=990))``: warm-up + cosine; ``then=Linear(...)``: + linear)."""

    steps: int = 100
    then: Constant = Constant()
    PARAMS: ClassVar[tuple] = ("steps",)

    def __post_init__(self):
        object.__setattr__(self, "steps", _per_run("steps", self.steps, _ints(1)))
        if not isinstance(self.then, Constant):
            raise TypeError(f"then must be a schedule, got {type(self.then).__name__}")
        self._check_runs()

    def _nested(self):
        return (("then", self.then),)

    def factor(self, t: int) -> float:
        self._scalar()
        if t < self.steps:
            return (t + 1) / self.steps
        return self.then.factor(t - self.steps)


SCHEDULES = (Constant, Step, Cosine, Linear, Warmup)
