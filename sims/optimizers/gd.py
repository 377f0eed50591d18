"""Gradient descent and blockwise GD (one lr per problem block, THEORY §3)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from hetquad.problems.validation import positive
from ..schedules import Constant
from .base import _PerRun, _as_batch, _fit_batch, _rows, _schedule, column, namespace, per_run, run_values
from .records import GDRecord


class GDState(NamedTuple):
    w: np.ndarray
    t: int
    lr: np.ndarray  # (k, d) base lr per run (k = runs, or 1 shared) and coordinate


@dataclass(frozen=True)
class GD(_PerRun):
    """Gradient descent w ← w − lr_t·g."""

    lr: float
    schedule: Constant = field(default_factory=Constant)
    name = "gd"
    HYPER = ("lr",)

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        _schedule(self.schedule)
        self._check_runs()

    def _lr_matrix(self, problem) -> np.ndarray:
        """(k, d) base lr per run and coordinate."""
        return np.repeat(column(self.lr), problem.d, axis=1)

    def init(self, problem, w0) -> GDState:
        w = _fit_batch(_as_batch(w0), self.runs())
        return GDState(w, 0, namespace(w).asarray(self._lr_matrix(problem)))

    def update(self, state: GDState, g) -> GDState:
        step = self.schedule.column(state.t, namespace(g)) * state.lr  # (k, 1) when per-run
        return GDState(state.w - step * g, state.t + 1, state.lr)

    def lower(self, problem, n: int = 1, steps: int = 0) -> GDRecord:
        return GDRecord(lr=_rows(self._lr_matrix(problem), n))


@dataclass(frozen=True)
class BlockwiseGD(GD):
    """GD with one lr per problem block (THEORY §3). ``lr`` is a global multiplier (default 1).

    Per run: ``lr`` a 1-D array, and/or ``lrs`` a 2-D array (one row of per-block lrs per run).
    """

    lrs: tuple = ()
    lr: float = 1.0
    name = "blockwise-gd"
    HYPER = ("lr", "lrs")

    def __post_init__(self):
        if isinstance(self.lrs, (str, bytes)) or np.ndim(self.lrs) > 2:
            raise TypeError(f"lrs must be a flat sequence of numbers (one per block), or one such row "
                            f"per run, got {self.lrs!r}")
        if np.ndim(self.lrs) == 2:
            rows = np.asarray(self.lrs, dtype=object).tolist()
            lrs = tuple(tuple(positive(f"lrs[{r}][{l}]", x) for l, x in enumerate(row))
                        for r, row in enumerate(rows))
            if not lrs or not lrs[0]:
                raise ValueError("lrs must give one learning rate per block, got none")
        else:
            lrs = tuple(positive(f"lrs[{l}]", x) for l, x in enumerate(np.atleast_1d(self.lrs).tolist()))
            if not lrs:
                raise ValueError("lrs must give one learning rate per block, got none")
        object.__setattr__(self, "lrs", lrs)
        super().__post_init__()

    def _lengths(self) -> dict:
        out = {"lr": len(self.lr)} if isinstance(self.lr, tuple) else {}
        if isinstance(self.lrs[0], tuple):
            out["lrs"] = len(self.lrs)
        return out

    def hyper(self, n: int) -> dict:
        lrs = np.array(self.lrs, dtype=np.float64)
        lrs = lrs[None, :] if lrs.ndim == 1 else lrs
        return {"lr": np.broadcast_to(np.array(run_values(self.lr), dtype=np.float64), (n,)).copy(),
                "lrs": np.broadcast_to(lrs, (n, lrs.shape[1])).copy()}

    @classmethod
    def optimal(cls, problem, **kw) -> "BlockwiseGD":
        """Per-block optimal steps 2/(L_l + μ_l) (THEORY §3)."""
        lrs = tuple(2.0 / (e[-1] + e[0]) for e in problem.block_eigvals)
        return cls(lrs=lrs, **kw)

    def _lr_matrix(self, problem) -> np.ndarray:
        lrs = np.array(self.lrs, dtype=np.float64)
        lrs = lrs[None, :] if lrs.ndim == 1 else lrs
        if lrs.shape[1] != len(problem.sizes):
            raise ValueError(f"lrs has {lrs.shape[1]} entries but the problem has {len(problem.sizes)} blocks")
        return column(self.lr) * np.repeat(lrs, problem.sizes, axis=1)
