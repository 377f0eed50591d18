"""LAMB (You et al. 2020): Adam's direction with one trust ratio per layer; here the layers are the
problem's blocks."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from hetquad.problems.validation import boolean, in_range, nonnegative, positive
from ..schedules import Constant
from .base import _PerRun, _as_batch, _fit_batch, _schedule, column, corrections, ema, namespace, per_run, run_values
from .normalized import BlockNorm
from .partition import resolve_partition
from .records import LambRecord


class LambHyper(NamedTuple):
    """(k, 1) columns of the per-run hyper-parameters on the arrays' device, host β copies for the
    bias corrections, and the per-block norm."""

    lr: object
    beta1: object
    beta2: object
    eps: object
    weight_decay: object
    beta1s: np.ndarray
    beta2s: np.ndarray
    norm: BlockNorm
    xp: object


class LambState(NamedTuple):
    w: np.ndarray
    t: int
    m: np.ndarray
    v: np.ndarray
    hyper: LambHyper


@dataclass(frozen=True)
class LAMB(_PerRun):
    r"""LAMB (You et al., "Large batch optimization for deep learning: training BERT in 76 minutes",
    ICLR 2020, Algorithm 2), with the problem's blocks as the layers.

    .. math::
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \hat m_t &= m_t / (1-\beta_1^t), \qquad \hat v_t = v_t / (1-\beta_2^t)
                  \quad(\text{if bias\_correction}) \\
        u_t &= \hat m_t / (\sqrt{\hat v_t} + \varepsilon) + \lambda w_t \\
        w_{t+1,b} &= w_{t,b} - \eta_t\, \frac{\phi(\lVert w_{t,b}\rVert)}{\lVert u_{t,b}\rVert + \varepsilon}\, u_{t,b},
        \qquad \phi(z) = \min(z, \text{clamp})

    for every problem block b; the trust ratio is 1 when φ(‖w_b‖) = 0 or ‖u_b‖ = 0.

    The trust ratio follows pytorch-optimizer's ``Lamb`` (ε in its denominator, the ratio 1 for a
    zero norm, φ clamped at 10 by default); the paper writes φ(‖w‖)/‖u‖ with φ(z) = min(max(z,
    γ_l), γ_u) and leaves γ open (γ_l = 0 here). The weight decay is the paper's, coupled into u
    (pytorch-optimizer's ``weight_decouple=False``). pytorch-optimizer's ``Lamb`` never corrects v
    and by default divides the whole step by 1 − β1^t after the trust ratio (which the paper's m̂
    inside the ratio would cancel); with ``adam_debias=True`` it is ``bias_correction=False``
    here. No convergence bound on the
    quadratics is implemented for LAMB (the paper's bound is for nonconvex stochastic problems).

    Parameters
    ----------
    lr : float > 0, or a 1-D array (one per run)
    beta1 : float in [0, 1), or a 1-D array
    beta2 : float in [0, 1), or a 1-D array
    eps : float >= 0, or a 1-D array
    weight_decay : float >= 0, or a 1-D array
        λ in u = r + λw.
    clamp : float > 0
        Upper clamp of φ(‖w_b‖) (pytorch-optimizer: 10).
    bias_correction : bool
        Divide m by 1 − β1^t and v by 1 − β2^t (the paper's Algorithm 2).
    schedule : a ``sims.schedules`` spec
    """

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-6
    weight_decay: float = 0.0
    clamp: float = 10.0
    bias_correction: bool = True
    schedule: Constant = field(default_factory=Constant)
    name = "lamb"
    REFERENCE = ("pytorch-optimizer 4.1 Lamb (adam_debias=True, weight_decouple=False) for bias_correction=False; "
                 "You et al. 2020 Alg. 2 written out for bias_correction=True (test_crosscheck_zoo_c.py)")
    HYPER = ("lr", "beta1", "beta2", "eps", "weight_decay")

    def __post_init__(self):
        beta = lambda k, x: in_range(k, x, 0.0, 1.0, closed="left")  # noqa: E731
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "beta1", per_run("beta1", self.beta1, beta))
        object.__setattr__(self, "beta2", per_run("beta2", self.beta2, beta))
        object.__setattr__(self, "eps", per_run("eps", self.eps, nonnegative))
        object.__setattr__(self, "weight_decay", per_run("weight_decay", self.weight_decay, nonnegative))
        positive("clamp", self.clamp)
        boolean("bias_correction", self.bias_correction)
        _schedule(self.schedule)
        self._check_runs()

    def init(self, problem, w0) -> LambState:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp = namespace(w)
        hyper = LambHyper(column(self.lr, xp), column(self.beta1, xp), column(self.beta2, xp), column(self.eps, xp),
                          column(self.weight_decay, xp), np.array(run_values(self.beta1)),
                          np.array(run_values(self.beta2)), BlockNorm(problem, xp), xp)
        return LambState(w, 0, xp.zeros_like(w), xp.zeros_like(w), hyper)

    def lower(self, problem, n: int = 1, steps: int = 0) -> LambRecord:
        hy = self.hyper(n)
        uniq, corr = np.unique(np.stack([hy["beta1"], hy["beta2"]], axis=1), axis=0, return_inverse=True)
        c1, c2 = np.ones((max(int(steps), 1), uniq.shape[0])), np.ones((max(int(steps), 1), uniq.shape[0]))
        if self.bias_correction:  # Python's float power, as ``corrections`` in ``update``
            for u, (b1, b2) in enumerate(uniq.tolist()):
                c1[:steps, u] = [1.0 - b1 ** t for t in range(1, steps + 1)]
                c2[:steps, u] = [1.0 - b2 ** t for t in range(1, steps + 1)]
        return LambRecord(lr=hy["lr"], beta1=hy["beta1"], beta2=hy["beta2"], eps=hy["eps"],
                          weight_decay=hy["weight_decay"], clamp=np.full(n, float(self.clamp)), c1=c1, c2=c2,
                          corr=corr.ravel().astype(np.int64), partition=resolve_partition("blocks", problem))

    def update(self, state: LambState, g) -> LambState:
        h = state.hyper
        xp = h.xp
        m = ema(state.m, g, h.beta1)
        v = ema(state.v, g * g, h.beta2)
        t = state.t + 1
        if self.bias_correction:
            mhat = m / xp.asarray(corrections(h.beta1s, t)[:, None])
            vhat = v / xp.asarray(corrections(h.beta2s, t)[:, None])
        else:
            mhat, vhat = m, v
        with np.errstate(divide="ignore", invalid="ignore"):
            r = xp.where(mhat == 0.0, 0.0, mhat / (xp.sqrt(vhat) + h.eps))  # 0/0 := 0 with ε = 0
            u = r + h.weight_decay * state.w
            wn = xp.minimum(h.norm(state.w), self.clamp)
            un = h.norm(u)
            trust = xp.where((wn == 0.0) | (un == 0.0), 1.0, wn / (un + h.eps))
        step = self.schedule.column(state.t, xp) * h.lr
        return LambState(state.w - step * (trust * u), t, m, v, h)
