"""Sophia (Liu et al. 2023): momentum over an EMA of a Hessian-diagonal estimate, clipped per
coordinate. The estimate is exact diag(H) or Hutchinson's u ⊙ (H u) with Rademacher u drawn from a
counter-based stream (``sims.noise``'s splitmix64), so a run's draws are a pure function of
(seed, run index, step)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from hetquad.problems.validation import in_range, integer, nonnegative, one_of, positive
from ..noise import run_keys, splitmix64
from ..schedules import Constant
from ..segments import operator_segments
from .base import _PerRun, _as_batch, _fit_batch, _schedule, column, ema, namespace, per_run
from .records import SophiaRecord

_U = np.uint64
_SALT = _U(0x50F1A0C0FFEE)  # separates this stream from GaussianNoise's under the same seed


def rademacher(keys: np.ndarray, t: int, d: int) -> np.ndarray:
    """(n, d) ±1 draws of step ``t`` for the runs whose stream keys are ``keys`` (n,) uint64.

    Coordinate j of step t is the top bit of splitmix64(key ^ (t·d + j)): a pure function of
    (key, t, j), so a run draws the same numbers alone or in any batch, on any engine.
    """
    with np.errstate(over="ignore"):
        c = _U(t) * _U(d) + np.arange(d, dtype=_U)
        bits = splitmix64(keys[:, None] ^ c[None, :])
    return np.where((bits >> _U(63)) == _U(1), 1.0, -1.0)


def hutchinson_keys(seed: int, n: int) -> np.ndarray:
    """(n,) stream keys of runs 0..n-1 for the Hutchinson draws with ``seed``."""
    with np.errstate(over="ignore"):
        return splitmix64(run_keys(seed, n) ^ _SALT)


class HessianVector:
    """u ↦ H u for a batch (n, d) by stacked row-vector × tile products (per-run bits, as the
    batched engine's gradient)."""

    def __init__(self, problem, xp=np):
        self.xp = xp
        self.seg, self.stacks = operator_segments(problem, xp)

    def __call__(self, u):
        xp = self.xp
        parts = [xp.matmul(x[:, :, None, :], h)[:, :, 0, :] for x, h in zip(self.seg.split(u), self.stacks)]
        return self.seg.join(parts, xp.empty_like(u))


def hessian_diagonal(problem) -> np.ndarray:
    """diag(H) of a block quadratic, from its operator tiles: (d,)."""
    return np.concatenate([np.diag(np.asarray(h, dtype=np.float64)) for h in problem.operator_blocks])


class SophiaHyper(NamedTuple):
    lr: object
    beta1: object
    beta2: object
    gamma: object
    eps: object
    weight_decay: object
    estimate: Callable   # step t -> (n, d) or (1, d) Hessian-diagonal estimate on the device
    xp: object


class SophiaState(NamedTuple):
    w: np.ndarray
    t: int
    m: np.ndarray
    h: np.ndarray
    hyper: SophiaHyper


@dataclass(frozen=True)
class Sophia(_PerRun):
    r"""Sophia (Liu, Li, Hall, Liang & Ma, "Sophia: a scalable stochastic second-order optimizer
    for language model pre-training", 2023, Algorithm 3), with exact or Hutchinson curvature.

    .. math::
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        h_t &= \beta_2 h_{t-k} + (1-\beta_2)\, \hat h_t \quad \text{if } (t-1) \bmod k = 0,
        \qquad h_t = h_{t-1} \text{ otherwise} \\
        w_t &\leftarrow w_t - \eta_t \lambda w_t, \qquad
        w_{t+1} = w_t - \eta_t\, \operatorname{clip}\big(m_t / \max(\gamma h_t, \varepsilon),\ 1\big)

    with t = 1, 2, … (the paper's "t mod k = 1", read as (t − 1) mod k = 0 so that k = 1 updates
    every step), h_0 = m_0 = 0 and clip(z, 1) = max(min(z, 1), −1) per coordinate.

    ``hessian='exact'``: ĥ = diag(H) (the problem's, exact — the limit of both estimators of the
    paper on a quadratic). ``hessian='hutchinson'`` (SophiaH): ĥ = u ⊙ (H u) with u Rademacher,
    coordinate j of run i at step t the top bit of splitmix64(key_i ^ (t·d + j)), key_i from
    (``seed``, i) — so a run's draws depend on its index in the batch, not on its batch mates
    (as ``GaussianNoise``). The Gauss–Newton–Bartlett estimator (SophiaG) needs sampled labels and
    has no analogue on these problems. No convergence bound on the quadratics is implemented for
    Sophia.

    Parameters
    ----------
    lr : float > 0, or a 1-D array (one per run)
    beta1 : float in [0, 1), or a 1-D array
    beta2 : float in [0, 1), or a 1-D array
    gamma : float > 0, or a 1-D array
        γ, the scale of h against m (Algorithm 3).
    eps : float > 0, or a 1-D array
    weight_decay : float >= 0, or a 1-D array
    k : int >= 1
        Steps between two Hessian-diagonal estimates.
    hessian : {'exact', 'hutchinson'}
    seed : int >= 0
        Seed of the Hutchinson draws (unused with ``hessian='exact'``).
    schedule : a ``sims.schedules`` spec
    """

    lr: float
    beta1: float = 0.96
    beta2: float = 0.99
    gamma: float = 0.01
    eps: float = 1e-12
    weight_decay: float = 0.0
    k: int = 10
    hessian: str = "exact"
    seed: int = 0
    schedule: Constant = field(default_factory=Constant)
    name = "sophia"
    REFERENCE = ("pytorch-optimizer 4.1 SophiaH reparametrized (lr*p, gamma = p, p*eps) with the same exact / "
                 "Hutchinson estimate passed in; Liu et al. 2023 Alg. 3 written out (test_crosscheck_zoo_c.py)")
    HYPER = ("lr", "beta1", "beta2", "gamma", "eps", "weight_decay")

    def __post_init__(self):
        beta = lambda k, x: in_range(k, x, 0.0, 1.0, closed="left")  # noqa: E731
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "beta1", per_run("beta1", self.beta1, beta))
        object.__setattr__(self, "beta2", per_run("beta2", self.beta2, beta))
        object.__setattr__(self, "gamma", per_run("gamma", self.gamma, positive))
        object.__setattr__(self, "eps", per_run("eps", self.eps, positive))
        object.__setattr__(self, "weight_decay", per_run("weight_decay", self.weight_decay, nonnegative))
        integer("k", self.k, minimum=1)
        one_of("hessian", self.hessian, ("exact", "hutchinson"))
        integer("seed", self.seed, minimum=0)
        _schedule(self.schedule)
        self._check_runs()

    def _estimator(self, problem, n: int, xp) -> Callable:
        if not hasattr(problem, "operator_blocks"):
            raise ValueError(f"Sophia needs a block quadratic (operator_blocks) for its Hessian diagonal, "
                             f"got {type(problem).__name__}")
        if self.hessian == "exact":
            diag = xp.asarray(hessian_diagonal(problem)[None, :])
            return lambda t: diag
        hv, keys, d = HessianVector(problem, xp), hutchinson_keys(self.seed, n), int(problem.d)

        def hutchinson(t):
            u = xp.asarray(rademacher(keys, t, d))
            return u * hv(u)

        return hutchinson

    def init(self, problem, w0) -> SophiaState:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp = namespace(w)
        hyper = SophiaHyper(*(column(getattr(self, k), xp) for k in self.HYPER),
                            self._estimator(problem, w.shape[0], xp), xp)
        return SophiaState(w, 0, xp.zeros_like(w), xp.zeros_like(w), hyper)

    def lower(self, problem, n: int = 1, steps: int = 0) -> SophiaRecord:
        self._estimator(problem, 1, np)  # the block-quadratic check
        hy = self.hyper(n)
        exact = self.hessian == "exact"
        return SophiaRecord(lr=hy["lr"], beta1=hy["beta1"], beta2=hy["beta2"], gamma=hy["gamma"], eps=hy["eps"],
                            weight_decay=hy["weight_decay"], k=int(self.k),
                            diag=hessian_diagonal(problem) if exact else None,
                            keys=None if exact else hutchinson_keys(self.seed, n))

    def update(self, state: SophiaState, g) -> SophiaState:
        hy = state.hyper
        xp = hy.xp
        m = ema(state.m, g, hy.beta1)
        h = ema(state.h, hy.estimate(state.t), hy.beta2) if state.t % self.k == 0 else state.h
        lr = self.schedule.column(state.t, xp) * hy.lr
        w = state.w - lr * hy.weight_decay * state.w
        ratio = xp.clip(m / xp.maximum(hy.gamma * h, hy.eps), -1.0, 1.0)
        return SophiaState(w - lr * ratio, state.t + 1, m, h, hy)
