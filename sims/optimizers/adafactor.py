"""Adafactor (torch.optim.Adafactor semantics) and CAME (the ``came-pytorch`` package's semantics).

Both factor the second moment of a matrix block W (r×c) into a row statistic (r) and a column
statistic (c), and keep it unfactored on vector blocks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hetquad.problems.validation import boolean, in_range, nonnegative, positive, real
from ..schedules import Constant
from . import matrix as mx
from .base import _PerRun, _as_batch, _fit_batch, _schedule, column, ema, namespace, per_run, run_values
from .matrix import MatrixState

FLOAT64_EPS = float(np.finfo(np.float64).eps)


def _decay(name, x):
    x = real(name, x)
    if x > 0:
        raise ValueError(f"{name} must be <= 0, got {x}")
    return x


def _at_least_one(name, x):
    x = real(name, x)
    if not x >= 1.0:  # torch's range (NaN fails too)
        raise ValueError(f"{name} must be >= 1, got {x}")
    return x


@dataclass(frozen=True)
class Adafactor(_PerRun):
    """torch.optim.Adafactor (torch >= 2.5), step by step.

    At step t: β̂_t = 1 − t^{beta2_decay}; ρ_t = min(lr, 1/√t); α_t = max(eps2, RMS(W))·ρ_t;
    W ← W·(1 − lr·wd). Matrix block: row ← lerp(row, mean_j G², 1 − β̂_t), col ← lerp(col,
    mean_i G², 1 − β̂_t), V̂ = row colᵀ / max(mean(row), eps1); vector block: V̂ = v ← lerp(v, g²,
    1 − β̂_t). U = G/√max(V̂, eps1²); W ← W − α_t/max(1, RMS(U)/d)·U. torch's ``eps1=None`` is the
    float64 machine epsilon here (its value for float64 parameters).

    Parameters
    ----------
    lr : float > 0
    beta2_decay : float <= 0
    eps1 : float >= 0
    eps2 : float >= 0
    d : float >= 1
        The clipping threshold of RMS(U) (torch's range).
    weight_decay : float >= 0
    maximize : bool
    """

    lr: float = 1e-2
    beta2_decay: float = -0.8
    eps1: float = FLOAT64_EPS
    eps2: float = 1e-3
    d: float = 1.0
    weight_decay: float = 0.0
    maximize: bool = False
    schedule: Constant = field(default_factory=Constant)
    name = "adafactor"
    REFERENCE = "torch.optim.Adafactor (test_crosscheck_matrix.py)"
    HYPER = ("lr", "beta2_decay", "eps1", "eps2", "d", "weight_decay")

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "beta2_decay", per_run("beta2_decay", self.beta2_decay, _decay))
        for k in ("eps1", "eps2", "weight_decay"):
            object.__setattr__(self, k, per_run(k, getattr(self, k), nonnegative))
        object.__setattr__(self, "d", per_run("d", self.d, _at_least_one))
        boolean("maximize", self.maximize)
        _schedule(self.schedule)
        self._check_runs()

    def init(self, problem, w0) -> MatrixState:
        w = _fit_batch(_as_batch(w0), self.runs())
        return MatrixState(w, 0, mx.factored_slots(problem, namespace(w), w.shape[0]))

    def update(self, state: MatrixState, g) -> MatrixState:
        xp = namespace(g)
        g = -g if self.maximize else g
        t = state.t + 1
        lr_host = np.array(run_values(self.lr), dtype=np.float64)[:, None] * self.schedule.column(state.t, np)
        # per-run scalars with Python floats, as torch's .item() arithmetic
        w2 = mx.host_power(run_values(self.beta2_decay), t, lambda dcy, s: float(s) ** dcy)
        rho = np.minimum(lr_host, 1.0 / math.sqrt(t))
        lr, w2, rho = xp.asarray(lr_host), xp.asarray(w2), xp.asarray(rho)
        eps1, eps2 = column(self.eps1, xp), column(self.eps2, xp)
        dclip, wd = column(self.d, xp), column(self.weight_decay, xp)
        parts, slots = [], []
        for slot in state.slots:
            b = slot[0]
            G, W = mx.unvec(g, b), mx.unvec(state.w, b)
            alpha = xp.maximum(_as(eps2, W), mx.rms(W)) * _as(rho, W)
            W = W * (1.0 - _as(lr * wd, W))
            if b.shape is None:
                v = mx.lerp(slot[1], G * G, w2)
                est = v
                slots.append((b, v))
            else:
                row = mx.lerp(slot[1], mx.row_mean(G * G), mx.col3(w2))
                col = mx.lerp(slot[2], mx.col_mean(G * G), mx.col3(w2))
                est = xp.matmul(row, col) / xp.maximum(xp.sum(row, axis=-2, keepdims=True) / row.shape[-2],
                                                       mx.col3(eps1))
                slots.append((b, row, col))
            e1 = _as(eps1, W)
            u = G * mx.inverse_power(xp.maximum(est, e1 * e1), 2)
            denom = xp.maximum(1.0, mx.rms(u) / _as(dclip, W))
            W = W - alpha / denom * u
            parts.append(W)
        return MatrixState(mx.vec(parts, g), t, tuple(slots))


def _as(col, like):
    """A (k, 1) per-run column shaped to broadcast against ``like`` ((n, d_l) or (n, r, c))."""
    return col if like.ndim == 2 else mx.col3(col)


@dataclass(frozen=True)
class CAME(_PerRun):
    """CAME (Luo et al. 2023) with the semantics of the ``came-pytorch`` package (0.1.3).

    Per step: U = G² + eps1. Matrix block: row ← β2·row + (1−β2)·mean_j U, col ← … mean_i U,
    Û = (row/mean(row))^{-1/2} col^{-1/2} ⊙ G; vector block: v ← β2·v + (1−β2)·U, Û = G/√v.
    Û ← Û/max(1, RMS(Û)/clip_threshold); m ← β1·m + (1−β1)·Û; R = (Û − m)² + eps2; matrix:
    the same factored EMA of R with β3 gives S, update = S^{-1/2}-factored ⊙ m; vector: update = m.
    W ← W − wd·lr·W − lr·update. No bias correction (as the package).

    Parameters
    ----------
    lr : float > 0
    eps1, eps2 : float >= 0
    clip_threshold : float > 0
    beta1, beta2, beta3 : float in [0, 1]
    weight_decay : float >= 0
    """

    lr: float = 2e-4
    eps1: float = 1e-30
    eps2: float = 1e-16
    clip_threshold: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.999
    beta3: float = 0.9999
    weight_decay: float = 0.0
    schedule: Constant = field(default_factory=Constant)
    name = "came"
    REFERENCE = "came-pytorch 0.1.3 CAME (test_crosscheck_matrix.py)"
    HYPER = ("lr", "eps1", "eps2", "clip_threshold", "beta1", "beta2", "beta3", "weight_decay")

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "clip_threshold", per_run("clip_threshold", self.clip_threshold, positive))
        for k in ("eps1", "eps2", "weight_decay"):
            object.__setattr__(self, k, per_run(k, getattr(self, k), nonnegative))
        for k in ("beta1", "beta2", "beta3"):
            object.__setattr__(self, k, per_run(k, getattr(self, k), lambda n, x: in_range(n, x, 0.0, 1.0)))
        _schedule(self.schedule)
        self._check_runs()

    def init(self, problem, w0) -> MatrixState:
        w = _fit_batch(_as_batch(w0), self.runs())
        return MatrixState(w, 0, mx.factored_slots(problem, namespace(w), w.shape[0], pairs=2), namespace(w).zeros_like(w))

    @staticmethod
    def _approx(row, col):
        """(row/mean(row))^{-1/2} ⊗ col^{-1/2}: the factored inverse square root of came-pytorch."""
        xp = namespace(row)
        mean = xp.sum(row, axis=-2, keepdims=True) / row.shape[-2]
        return mx.inverse_power(row / mean, 2) * mx.inverse_power(col, 2)

    def update(self, state: MatrixState, g) -> MatrixState:
        xp = namespace(g)
        lr = column(self.lr, xp) * self.schedule.column(state.t, xp)
        b1, b2, b3 = (column(getattr(self, k), xp) for k in ("beta1", "beta2", "beta3"))
        eps1, eps2, clip = column(self.eps1, xp), column(self.eps2, xp), column(self.clip_threshold, xp)
        wd = column(self.weight_decay, xp)
        ups, second = [], []
        for slot in state.slots:  # the preconditioned, clipped gradient Û per block
            b = slot[0]
            G = mx.unvec(g, b)
            U = G * G + _as(eps1, G)
            if b.shape is None:
                v = ema(slot[1], U, b2)
                up, moments = mx.inverse_power(v, 2) * G, (v,)
            else:
                row = ema(slot[1], mx.row_mean(U), mx.col3(b2))
                col = ema(slot[2], mx.col_mean(U), mx.col3(b2))
                up, moments = self._approx(row, col) * G, (row, col)
            ups.append(up / xp.maximum(mx.rms(up) / _as(clip, up), 1.0))
            second.append(moments)
        m = ema(state.m, mx.vec(ups, g), b1)
        parts, slots = [], []
        for slot, up, moments in zip(state.slots, ups, second):
            b = slot[0]
            M = mx.unvec(m, b)
            if b.shape is None:  # no factored confidence on a vector: the update is m
                upd, confidence = M, ()
            else:
                diff = up - M
                res = diff * diff + mx.col3(eps2)
                rr = ema(slot[3], mx.row_mean(res), mx.col3(b3))
                rc = ema(slot[4], mx.col_mean(res), mx.col3(b3))
                upd, confidence = self._approx(rr, rc) * M, (rr, rc)
            W = mx.unvec(state.w, b)
            parts.append(W - _as(wd * lr, W) * W - _as(lr, W) * upd)
            slots.append((b, *moments, *confidence))
        return MatrixState(mx.vec(parts, g), state.t + 1, tuple(slots), m)
