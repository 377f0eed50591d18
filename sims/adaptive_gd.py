"""GD with the state-dependent step η_t = α / (L_G(w_t) + δ) of Tomihari & Sato (THEORY §8.3).

The step needs L_G(w) — a Rayleigh-quotient-like function of the whole gradient — at every step,
so it has no lowered form for the fused engines; this small numpy loop is its only engine.
``theory.tomihari_bounds(...).gd`` bounds its iterations to ‖g‖ ≤ ε.
"""
from __future__ import annotations

import time

import numpy as np

from hetquad.problems.heterogeneity import l_g
from hetquad.problems.validation import finite_array, integer, nonnegative, positive
from .result import Result


def run_adaptive_gd(p, w0, *, alpha: float, delta: float, eps: float, steps: int) -> Result:
    """Run GD with η_t = α/(L_G(w_t)+δ) from ``w0`` until ‖g_t‖ ≤ ``eps`` or ``steps`` steps.

    Parameters
    ----------
    p : BlockQuadratic
    w0 : (d,) array
    alpha : float > 0
        Step numerator α (THEORY §8.3 uses α ≤ 2 for descent).
    delta : float ≥ 0
        Shift δ of the denominator (keeps the step finite where L_G(w_t) → 0).
    eps : float > 0
        Stop once the Euclidean gradient norm is ≤ eps (stop_reason ``'tol'``).
    steps : int ≥ 0

    Returns
    -------
    Result
        One run, recorded at every step, with per-block gradient norms.
    """
    alpha, delta, eps = positive("alpha", alpha), nonnegative("delta", delta), positive("eps", eps)
    steps = integer("steps", steps, minimum=0)
    w = finite_array("w0", w0, ndim=1).copy()
    if w.size != p.d:
        raise ValueError(f"w0 must have shape ({p.d},), got {w.shape}")
    sl = [slice(a, b) for a, b in p.offsets]
    loss, gn, bn = [], [], []
    t0 = time.perf_counter()
    for t in range(steps + 1):
        g = p.grad(w)
        loss.append(float(p.loss(w)))
        gn.append(float(np.linalg.norm(g)))
        bn.append([float(np.linalg.norm(g[s])) for s in sl])
        if gn[-1] <= eps or t == steps:
            break
        w = w - alpha / (l_g(p, w) + delta) * g
    n = len(loss)
    return Result(loss=np.array([loss]), grad_norm=np.array([gn]), steps=np.arange(n),
                  stop_reason=("tol" if gn[-1] <= eps else "steps",), iterations=np.array([n - 1]),
                  final_loss=np.array([loss[-1]]), w_final=w[None, :], engine="numpy-adaptive-gd",
                  wall_time=time.perf_counter() - t0,
                  config={"optimizer": {"type": "AdaptiveGD", "alpha": alpha, "delta": delta}},
                  block_grad_norm=np.array([bn]))
