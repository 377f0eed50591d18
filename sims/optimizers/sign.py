"""Sign descent: SignSGD, Signum (THEORY §9.2) and Lion (Chen et al. 2023).

One update serves all three: the step's sign is taken of an interpolation c = β1·m + (1−β1)·g,
the momentum follows its own m ← β2·m + (1−β2)·g, and a decoupled weight decay scales w first.
Signum is exactly Lion with β1 = β2 = μ and λ = 0 (then c is the new m), SignSGD is Signum with
μ = 0; the three share the lowered ``SignRecord`` (β1, β2, λ per run).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from hetquad.problems.validation import in_range, nonnegative, positive
from ..schedules import Constant
from .base import _PerRun, _as_batch, _fit_batch, _rows, _schedule, column, ema, namespace, per_run, run_values
from .records import SignRecord


class SignState(NamedTuple):
    w: np.ndarray
    t: int
    lr: np.ndarray        # (k, d) base lr per run and coordinate
    buf: np.ndarray       # m
    beta1: object = 0.0   # (k, 1) columns: interpolation of the sign's argument,
    beta2: object = 0.0   # the momentum's decay,
    wd: object = 0.0      # the decoupled weight decay λ


def _unit(k, x):
    """β in [0, 1)."""
    return in_range(k, x, 0.0, 1.0, closed="left")


class _SignFamily(_PerRun):
    """What Signum, SignSGD and Lion share: init, the update and the lowering, from ``_betas()``."""

    def _betas(self) -> tuple:
        """(β1, β2, λ) as stored values (numbers or per-run tuples)."""
        raise NotImplementedError

    def _lr_matrix(self, problem) -> np.ndarray:
        return np.repeat(column(self.lr), problem.d, axis=1)

    def init(self, problem, w0) -> SignState:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp = namespace(w)
        b1, b2, wd = self._betas()
        return SignState(w, 0, xp.asarray(self._lr_matrix(problem)), xp.zeros_like(w),
                         column(b1, xp), column(b2, xp), column(wd, xp))

    def update(self, state: SignState, g) -> SignState:
        xp = namespace(g)
        c = ema(state.buf, g, state.beta1)
        buf = ema(state.buf, g, state.beta2)
        step = self.schedule.column(state.t, xp) * state.lr  # (k, 1) when per-run
        w = state.w * (1.0 - step * state.wd)  # lion-pytorch's order; exactly w when λ = 0
        return SignState(w - step * xp.sign(c), state.t + 1, state.lr, buf, state.beta1, state.beta2, state.wd)

    def lower(self, problem, n: int = 1, steps: int = 0) -> SignRecord:
        b1, b2, wd = (_rows(column(x)[:, 0], n) for x in self._betas())
        return SignRecord(lr=_rows(self._lr_matrix(problem), n), beta1=b1, beta2=b2, weight_decay=wd)


@dataclass(frozen=True)
class Signum(_SignFamily):
    r"""Sign descent with momentum (Bernstein et al. 2018; THEORY §9.2).

    .. math:: m_{t+1} = \mu m_t + (1-\mu) g_t, \qquad w_{t+1} = w_t - \eta_t \operatorname{sign}(m_{t+1})

    Parameters
    ----------
    lr : float > 0, or a 1-D array (one per run)
    momentum : float in [0, 1), or a 1-D array
        μ. Signum is ``Lion(beta1=μ, beta2=μ, weight_decay=0)``, bit for bit.
    schedule : a ``sims.schedules`` spec
    """

    lr: float
    momentum: float = 0.9
    schedule: Constant = field(default_factory=Constant)
    name = "signum"
    HYPER = ("lr", "momentum")

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "momentum", per_run("momentum", self.momentum, _unit))
        _schedule(self.schedule)
        self._check_runs()

    def _betas(self) -> tuple:
        return self.momentum, self.momentum, 0.0


@dataclass(frozen=True)
class SignSGD(Signum):
    """Sign descent w ← w − lr_t·sign(g) (Signum with momentum 0; sign(0) = 0)."""

    momentum: float = 0.0
    name = "signsgd"

    def __post_init__(self):
        super().__post_init__()
        if any(x != 0.0 for x in run_values(self.momentum)):
            raise ValueError(f"SignSGD has momentum 0; use Signum for momentum {self.momentum}")


@dataclass(frozen=True)
class Lion(_SignFamily):
    r"""Lion, "EvoLved Sign Momentum" (Chen et al., "Symbolic Discovery of Optimization Algorithms",
    NeurIPS 2023, Algorithm 2).

    .. math::
        c_t &= \beta_1 m_t + (1-\beta_1) g_t \\
        w_{t+1} &= w_t (1 - \eta_t \lambda) - \eta_t \operatorname{sign}(c_t) \\
        m_{t+1} &= \beta_2 m_t + (1-\beta_2) g_t

    The paper writes w ← w − η(sign(c) + λw); the decay is applied first, as a product, in the
    order of the published ``lion-pytorch`` package (tested against it step by step). sign(0) = 0.
    Signum with momentum μ is Lion with β1 = β2 = μ and λ = 0. No bound specific to Lion is
    implemented (with a constant lr, sign steps cannot converge: each coordinate moves by lr).

    Parameters
    ----------
    lr : float > 0, or a 1-D array (one per run)
    beta1 : float in [0, 1), or a 1-D array
        Interpolation between the momentum and the gradient inside the sign (paper: 0.9).
    beta2 : float in [0, 1), or a 1-D array
        Decay of the momentum (paper: 0.99).
    weight_decay : float >= 0, or a 1-D array
        λ, decoupled and multiplied by the scheduled lr.
    schedule : a ``sims.schedules`` spec
    """

    lr: float
    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 0.0
    schedule: Constant = field(default_factory=Constant)
    name = "lion"
    HYPER = ("lr", "beta1", "beta2", "weight_decay")

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "beta1", per_run("beta1", self.beta1, _unit))
        object.__setattr__(self, "beta2", per_run("beta2", self.beta2, _unit))
        object.__setattr__(self, "weight_decay", per_run("weight_decay", self.weight_decay, nonnegative))
        _schedule(self.schedule)
        self._check_runs()

    def _betas(self) -> tuple:
        return self.beta1, self.beta2, self.weight_decay
