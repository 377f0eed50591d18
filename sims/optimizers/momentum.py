"""SGD with momentum (heavy ball and Nesterov), dampening and weight decay: torch.optim.SGD's rule."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from hetquad.problems.validation import boolean, in_range, nonnegative, positive
from ..schedules import Constant
from .base import _PerRun, _as_batch, _fit_batch, _rows, _schedule, column, namespace, per_run, run_values
from .records import MomentumRecord


class MomentumState(NamedTuple):
    w: np.ndarray
    t: int
    lr: np.ndarray        # (k, d) base lr per run and coordinate
    buf: np.ndarray       # the momentum buffer (torch's ``momentum_buffer``)
    momentum: object      # (k, 1) columns: μ,
    dampening: object     # δ,
    wd: object            # λ


@dataclass(frozen=True)
class SGD(_PerRun):
    r"""SGD with heavy-ball or Nesterov momentum, exactly ``torch.optim.SGD``.

    .. math::
        g'_t &= g_t + \lambda w_t \\
        b_t &= g'_0 \ (t = 0), \qquad b_t = \mu b_{t-1} + (1-\delta) g'_t \ (t > 0) \\
        w_{t+1} &= w_t - \eta_t\, d_t, \qquad d_t = \begin{cases} g'_t + \mu b_t & \text{nesterov} \\
                                                     b_t & \mu > 0 \\ g'_t & \mu = 0 \end{cases}

    With δ = 0 this is Polyak's heavy ball (Polyak 1964) in torch's parametrization
    w_{t+1} = w_t − η g'_t + μ (w_t − w_{t−1}) (for a constant η), and with ``nesterov=True``
    Sutskever et al.'s (2013) form of Nesterov's accelerated gradient. The buffer starts at the
    first gradient (not at 0), as in torch. ``SGD(lr=η)`` takes the steps of ``GD(lr=η)``.

    Parameters
    ----------
    lr : float > 0, or a 1-D array (one per run)
    momentum : float in [0, 1), or a 1-D array
        μ.
    dampening : float in [0, 1], or a 1-D array
        δ: the new gradient enters the buffer with weight 1 − δ (not at t = 0).
    nesterov : bool
        Needs μ > 0 and δ = 0 in every run (torch's rule).
    weight_decay : float >= 0, or a 1-D array
        λ, coupled into the gradient (L2).
    schedule : a ``sims.schedules`` spec
    """

    lr: float
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: Constant = field(default_factory=Constant)
    name = "sgd"
    HYPER = ("lr", "momentum", "dampening", "weight_decay")

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "momentum", per_run(
            "momentum", self.momentum, lambda k, x: in_range(k, x, 0.0, 1.0, closed="left")))
        object.__setattr__(self, "dampening", per_run(
            "dampening", self.dampening, lambda k, x: in_range(k, x, 0.0, 1.0)))
        object.__setattr__(self, "weight_decay", per_run("weight_decay", self.weight_decay, nonnegative))
        boolean("nesterov", self.nesterov)
        _schedule(self.schedule)
        self._check_runs()
        if self.nesterov and (0.0 in run_values(self.momentum) or any(d != 0.0 for d in run_values(self.dampening))):
            raise ValueError(f"nesterov=True needs momentum > 0 and dampening = 0 (torch's rule), got "
                             f"momentum={self.momentum}, dampening={self.dampening}")

    def _lr_matrix(self, problem) -> np.ndarray:
        return np.repeat(column(self.lr), problem.d, axis=1)

    def init(self, problem, w0) -> MomentumState:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp = namespace(w)
        return MomentumState(w, 0, xp.asarray(self._lr_matrix(problem)), xp.zeros_like(w),
                             column(self.momentum, xp), column(self.dampening, xp), column(self.weight_decay, xp))

    def update(self, state: MomentumState, g) -> MomentumState:
        xp = namespace(g)
        mu = state.momentum
        gw = g + state.wd * state.w  # torch adds λ·w only when λ ≠ 0; g + 0·w is g for finite w
        buf = gw if state.t == 0 else mu * state.buf + (1.0 - state.dampening) * gw
        d = gw + mu * buf if self.nesterov else xp.where(mu == 0.0, gw, buf)
        step = self.schedule.column(state.t, xp) * state.lr  # (k, 1) when per-run
        return MomentumState(state.w - step * d, state.t + 1, state.lr, buf, mu, state.dampening, state.wd)

    def lower(self, problem, n: int = 1, steps: int = 0) -> MomentumRecord:
        col = lambda x: _rows(column(x)[:, 0], n)  # noqa: E731
        return MomentumRecord(lr=_rows(self._lr_matrix(problem), n), momentum=col(self.momentum),
                              dampening=col(self.dampening), weight_decay=col(self.weight_decay),
                              nesterov=self.nesterov)
