"""Muon (Jordan et al. 2024): momentum, then Newton–Schulz orthogonalisation, per matrix block."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetquad.problems.validation import boolean, in_range, nonnegative, positive
from ..schedules import Constant
from . import matrix as mx
from .base import _PerRun, _as_batch, _fit_batch, _schedule, column, corrections, namespace, per_run, run_values
from .matrix import MatrixState

_beta = lambda k, x: in_range(k, x, 0.0, 1.0, closed="left")  # noqa: E731


@dataclass(frozen=True)
class Muon(_PerRun):
    """Muon as in the reference code (``KellerJordan/Muon``, ``MuonWithAuxAdam``).

    Matrix blocks W (r×c): B ← μ·B + (1−μ)·G; U = (1−μ)·G + μ·B with Nesterov (else U = B);
    O = NS5(U/(‖U‖_F + ns_eps)) with coefficients (3.4445, −4.7750, 2.0315), ``ns_steps``
    iterations (``matrix.newton_schulz``, float64 here, bfloat16 in the reference);
    W ← W·(1 − lr·wd) − lr·√max(1, r/c)·O.
    Vector blocks: the reference's auxiliary Adam (bias-corrected, m̂/(√v̂ + adam_eps)) with its
    own ``adam_lr``: W ← W·(1 − adam_lr·wd) − adam_lr·m̂/(√v̂ + adam_eps). A problem without
    shapes is therefore all Adam.

    Parameters
    ----------
    lr : float > 0
    momentum : float in [0, 1)
    nesterov : bool
    ns_steps : int >= 0 (one value for the batch)
    ns_eps : float >= 0
    weight_decay : float >= 0 (decoupled, both rules)
    adam_lr : float > 0
    adam_beta1, adam_beta2 : float in [0, 1)
    adam_eps : float >= 0
    """

    lr: float = 0.02
    momentum: float = 0.95
    nesterov: bool = True
    ns_steps: int = 5
    ns_eps: float = 1e-7
    weight_decay: float = 0.0
    adam_lr: float = 3e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    adam_eps: float = 1e-10
    schedule: Constant = field(default_factory=Constant)
    name = "muon"
    REFERENCE = ("pytorch-optimizer Muon + AdamW group (Newton–Schulz patched to float64); the KellerJordan/Muon "
                 "reference code written out (test_crosscheck_matrix.py)")
    HYPER = ("lr", "momentum", "ns_eps", "weight_decay", "adam_lr", "adam_beta1", "adam_beta2", "adam_eps")

    def __post_init__(self):
        for k in ("lr", "adam_lr"):
            object.__setattr__(self, k, per_run(k, getattr(self, k), positive))
        for k in ("momentum", "adam_beta1", "adam_beta2"):
            object.__setattr__(self, k, per_run(k, getattr(self, k), _beta))
        for k in ("ns_eps", "weight_decay", "adam_eps"):
            object.__setattr__(self, k, per_run(k, getattr(self, k), nonnegative))
        boolean("nesterov", self.nesterov)
        object.__setattr__(self, "ns_steps", mx.single_int("ns_steps", self.ns_steps, 0))
        _schedule(self.schedule)
        self._check_runs()

    def init(self, problem, w0) -> MatrixState:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp = namespace(w)
        return MatrixState(w, 0, mx.blocks(problem), xp.zeros_like(w), xp.zeros_like(w))

    def update(self, state: MatrixState, g) -> MatrixState:
        xp = namespace(g)
        f = self.schedule.column(state.t, xp)
        mu = column(self.momentum, xp)
        wd = column(self.weight_decay, xp)
        lr, alr = column(self.lr, xp) * f, column(self.adam_lr, xp) * f
        t = state.t + 1
        # one buffer over all coordinates: momentum on matrix blocks, Adam's m on vector blocks
        b1 = xp.where(self._vector_mask(state, xp), column(self.adam_beta1, xp), mu)
        buf = mx.lerp(state.m, g, 1.0 - b1)
        v = mx.lerp(state.v, g * g, 1.0 - column(self.adam_beta2, xp))
        c1 = xp.asarray(corrections(np.array(run_values(self.adam_beta1)), t)[:, None])
        c2 = xp.asarray(corrections(np.array(run_values(self.adam_beta2)), t)[:, None])
        u = mx.lerp(g, buf, mu) if self.nesterov else buf
        parts = []
        for b in state.slots:
            w_b = state.w[:, b.start:b.stop]
            if b.shape is None:
                step = (buf[:, b.start:b.stop] / c1) / (xp.sqrt(v[:, b.start:b.stop] / c2) + column(self.adam_eps, xp))
                parts.append(w_b * (1.0 - alr * wd) - alr * step)
                continue
            r, c = b.shape
            o = mx.newton_schulz(mx.unvec(u, b), steps=self.ns_steps, eps=mx.col3(column(self.ns_eps, xp)))
            o = o.reshape(o.shape[0], -1) * max(1.0, r / c) ** 0.5
            parts.append(w_b * (1.0 - lr * wd) - lr * o)
        return MatrixState(mx.vec(parts, g), t, state.slots, buf, v)

    @staticmethod
    def _vector_mask(state, xp):
        d = state.w.shape[1]
        mask = np.zeros((1, d), dtype=bool)
        for b in state.slots:
            if b.shape is None:
                mask[0, b.start:b.stop] = True
        return xp.asarray(mask)
