r"""Plateaus of constant-step normalized GD and the clipped prefix of clipped GD on a quadratic.

Normalized GD, e ← e − η g/‖g‖ with g = H e, moves every step by exactly η, so it cannot converge
(unless an iterate lands exactly on w*); it stalls on a plateau at distance about η/2 from w*.

1-D (H = λ), exact: the error moves by η toward 0 for k = ⌊|e₀|/η⌋ steps, to the residual
r = |e₀| − kη ∈ [0, η), and then alternates between distances r and η − r forever (a 2-cycle
straddling w*; r = 0 stops at w*, where g = 0). The two distances sum to η, so their mean is η/2.

Any quadratic with μI ⪯ H ⪯ LI (L-smooth, μ-strongly convex), from the exact expansion
f(e') = f(e) − η‖g‖ + (η²/2)·gᵀHg/‖g‖² ≤ f(e) − η‖g‖ + η²L/2:

- floor: ‖e_{t+1} − e_t‖ = η, so max(‖e_t‖, ‖e_{t+1}‖) ≥ η/2 and f_t + f_{t+1} ≥ μη²/8;
- plateau: on S = {‖g‖ ≤ ηL}, f = ½gᵀH⁻¹g ≤ η²L²/(2μ); off S each step lowers f by ≥ η²L/2; on S
  it raises f by ≤ η²L/2. Hence with level = η²L²/(2μ) + η²L/2, f_t ≤ level for every
  t ≥ start (the level set is invariant once reached). Off S also f' ≤ f − η‖g‖/2 and
  ‖g‖ ≥ √(2μf), so √f drops by ≥ η√(2μ)/4 per step: start = min(⌈(f₀ − level)/(η²L/2)⌉,
  ⌈(√f₀ − √level)/(η√(2μ)/4)⌉) (0 when f₀ ≤ level).

Per block (``per_block=True``, block-diagonal H): the blocks are independent normalized GD runs
with their own (μ_b, L_b); the level and floor are the sums over blocks, the start the max. A
diagonal H has no exact cycle under the global rule (‖g‖ couples the coordinates): the bounds
above are what holds there.

Clipped GD (torch's coefficient c/(‖g‖ + δ), δ = 1e-6, clamped at 1) with lr < 2/L: a clipped
step is GD with step η' = lr·c/(‖g‖ + δ) < lr, which lowers f by ≥ η'‖g‖²(1 − lr·L/2) ≥
lr(c − δ)²(1 − lr·L/2). An unclipped step is GD, and GD with lr ≤ 2/L never raises ‖g‖ on a
quadratic, so once unclipped a run stays unclipped: the clipped steps are a prefix of at most
⌊f₀ / (lr(c − δ)²(1 − lr·L/2))⌋ + 1 steps, after which ``theory.gd_rate`` applies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hetquad.problems.validation import finite_array, positive
from .rates import _require_block_diagonal, _require_quadratic
from .records import Provenance

TORCH_CLIP_EPS = 1e-6


@dataclass(frozen=True)
class NormalizedCycle:
    """The exact 1-D limit of normalized GD: after ``start`` steps the distance to w* alternates
    between ``distances[0]`` (even steps from ``start``) and ``distances[1]``."""

    lr: float
    start: int
    distances: tuple
    losses: tuple
    provenance: Provenance
    name: str = "normalized_gd_cycle_1d"


@dataclass(frozen=True)
class NormalizedPlateau:
    """f_t ≤ ``level`` for every t ≥ ``start``, and f_t + f_{t+1} ≥ ``floor`` while g_t ≠ 0."""

    lr: float
    level: float
    start: int
    floor: float
    per_block: bool
    provenance: Provenance
    name: str = "normalized_gd_plateau"

    def iterations(self, eps: float | None = None) -> int:
        """Steps after which the plateau bound holds (it does not depend on ε)."""
        return self.start


@dataclass(frozen=True)
class ClippedPrefix:
    """At most ``max_clipped`` steps are clipped, all of them before the first unclipped one."""

    lr: float
    max_norm: float
    max_clipped: int
    per_block: bool
    provenance: Provenance
    name: str = "clipped_gd_clip_steps"


def _error(p, w0) -> np.ndarray:
    w0 = finite_array("w0", w0, ndim=1)
    if w0.size != p.d:
        raise ValueError(f"w0 must have shape ({p.d},), got {w0.shape}")
    return w0 - np.asarray(p.w_star)


def normalized_gd_cycle_1d(lam: float, lr: float, e0: float) -> NormalizedCycle:
    """The exact 2-cycle of normalized GD on f(w) = λ/2 (w − w*)² from error ``e0`` (module doc).

    Parameters
    ----------
    lam : float > 0
    lr : float > 0
    e0 : float
        w₀ − w*.
    """
    lam, lr = positive("lam", lam), positive("lr", lr)
    a = abs(float(e0))
    k = int(math.floor(a / lr))
    r = a - k * lr
    dist = (r, 0.0) if r == 0.0 else (r, lr - r)
    return NormalizedCycle(lr, k, dist, tuple(0.5 * lam * x * x for x in dist),
                           Provenance("|e| -> 2-cycle {r, eta - r}, r = |e0| - floor(|e0|/eta) eta",
                                      "hetquad.theory.normalized (exact, 1-D)",
                                      ("1-D quadratic", "constant step", "deterministic gradients")))


def normalized_gd_plateau(p, lr: float, w0, *, per_block: bool = False) -> NormalizedPlateau:
    """Plateau bounds of constant-step normalized GD on the quadratic ``p`` from ``w0`` (module doc).

    Parameters
    ----------
    p : BlockQuadratic
        Any SPD H for the global rule; block-diagonal H for ``per_block=True``.
    lr : float > 0
    w0 : (d,) array
    per_block : bool
        The bound of ``NormalizedGD(per_block=True)``: one independent run per block.

    Raises
    ------
    ValueError
        ``per_block=True`` on a coupled H (the blocks do not decouple).
    """
    _require_quadratic(p)
    lr = positive("lr", lr)
    e0 = _error(p, w0)
    H = p.hessian()
    if per_block:
        _require_block_diagonal(p, "normalized_gd_plateau(per_block=True)")
        stops = np.cumsum(p.sizes)
        parts = [(e0[b - s:b], H[b - s:b, b - s:b], ev) for b, s, ev in zip(stops, p.sizes, p.block_eigvals)]
    else:
        parts = [(e0, H, p.eigvalsh())]
    level = floor = 0.0
    start = 0
    for e, h, ev in parts:
        mu, L = float(ev[0]), float(ev[-1])
        lev = lr * lr * L * L / (2.0 * mu) + lr * lr * L / 2.0
        f0 = 0.5 * float(e @ h @ e)
        if f0 > lev:
            by_loss = math.ceil((f0 - lev) / (lr * lr * L / 2.0))
            by_root = math.ceil((math.sqrt(f0) - math.sqrt(lev)) / (lr * math.sqrt(2.0 * mu) / 4.0))
            start = max(start, int(min(by_loss, by_root)))
        level += lev
        floor += mu * lr * lr / 8.0
    return NormalizedPlateau(lr, level, start, floor, per_block,
                             Provenance("f_t <= eta^2 L^2/(2 mu) + eta^2 L/2 for t >= start; "
                                        "f_t + f_t+1 >= mu eta^2/8",
                                        "hetquad.theory.normalized (L-smooth, mu-strongly convex)",
                                        ("quadratic, mu I <= H <= L I", "constant step, eps = 0",
                                         "deterministic gradients")
                                        + (("H block diagonal",) if per_block else ())))


def clipped_gd_clip_steps(p, lr: float, max_norm: float, w0, *, per_block: bool = False) -> ClippedPrefix:
    """Bound on the number of clipped steps of ``ClippedGD`` with lr < 2/L (module doc).

    Per block (block-diagonal H): the max over blocks of each block's bound, with its L_b.

    Raises
    ------
    ValueError
        lr ≥ 2/L (2/L_b per block), max_norm ≤ 1e-6, or ``per_block`` on a coupled H.
    """
    _require_quadratic(p)
    lr, c = positive("lr", lr), positive("max_norm", max_norm)
    if c <= TORCH_CLIP_EPS:
        raise ValueError(f"max_norm must be > {TORCH_CLIP_EPS} (torch's clip epsilon), got {c}")
    e0 = _error(p, w0)
    H = p.hessian()
    if per_block:
        _require_block_diagonal(p, "clipped_gd_clip_steps(per_block=True)")
        stops = np.cumsum(p.sizes)
        parts = [(e0[b - s:b], H[b - s:b, b - s:b], float(ev[-1])) for b, s, ev in zip(stops, p.sizes, p.block_eigvals)]
    else:
        parts = [(e0, H, float(p.L))]
    worst = 0
    for e, h, L in parts:
        if lr >= 2.0 / L:
            raise ValueError(f"lr must be < 2/L = {2.0 / L:.6g} for the clipped-prefix bound, got {lr}")
        f0 = 0.5 * float(e @ h @ e)
        worst = max(worst, int(math.floor(f0 / (lr * (c - TORCH_CLIP_EPS) ** 2 * (1.0 - lr * L / 2.0)))) + 1)
    return ClippedPrefix(lr, c, worst, per_block,
                         Provenance("#clipped <= f0 / (lr (c - 1e-6)^2 (1 - lr L/2)), a prefix",
                                    "hetquad.theory.normalized (descent lemma; GD does not raise ||g||)",
                                    ("quadratic", "lr < 2/L", "constant step", "deterministic gradients")
                                    + (("H block diagonal",) if per_block else ())))
