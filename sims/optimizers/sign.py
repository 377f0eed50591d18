"""Sign descent: SignSGD and Signum (THEORY §9.2)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from hetquad.problems.validation import in_range, positive
from ..schedules import Constant
from .base import _PerRun, _as_batch, _fit_batch, _rows, _schedule, column, ema, namespace, per_run, run_values
from .records import SignRecord


class SignState(NamedTuple):
    w: np.ndarray
    t: int
    lr: np.ndarray
    buf: np.ndarray
    momentum: object = 0.0  # (k, 1) column


@dataclass(frozen=True)
class Signum(_PerRun):
    """Sign descent with momentum: buf ← μ·buf + (1−μ)·g; w ← w − lr_t·sign(buf) (THEORY §9.2)."""

    lr: float
    momentum: float = 0.9
    schedule: Constant = field(default_factory=Constant)
    name = "signum"
    HYPER = ("lr", "momentum")

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "momentum", per_run(
            "momentum", self.momentum, lambda k, x: in_range(k, x, 0.0, 1.0, closed="left")))
        _schedule(self.schedule)
        self._check_runs()

    def _lr_matrix(self, problem) -> np.ndarray:
        return np.repeat(column(self.lr), problem.d, axis=1)

    def init(self, problem, w0) -> SignState:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp = namespace(w)
        return SignState(w, 0, xp.asarray(self._lr_matrix(problem)), xp.zeros_like(w),
                         column(self.momentum, xp))

    def update(self, state: SignState, g) -> SignState:
        xp = namespace(g)
        buf = ema(state.buf, g, state.momentum)
        step = self.schedule.factor(state.t) * state.lr
        return SignState(state.w - step * xp.sign(buf), state.t + 1, state.lr, buf, state.momentum)

    def lower(self, problem, n: int = 1, steps: int = 0) -> SignRecord:
        return SignRecord(lr=_rows(self._lr_matrix(problem), n),
                          momentum=_rows(column(self.momentum)[:, 0], n))


@dataclass(frozen=True)
class SignSGD(Signum):
    """Sign descent w ← w − lr_t·sign(g) (Signum with momentum 0; sign(0) = 0)."""

    momentum: float = 0.0
    name = "signsgd"

    def __post_init__(self):
        super().__post_init__()
        if any(x != 0.0 for x in run_values(self.momentum)):
            raise ValueError(f"SignSGD has momentum 0; use Signum for momentum {self.momentum}")
