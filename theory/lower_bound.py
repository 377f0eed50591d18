"""The GD lower-bound construction of THEORY §2, as an initial point for a given problem.

e0 = a·u_L + b·u_μ on the extreme eigenvectors with L a² = μ b² = ℓ_0. Then for every constant
η > 0 and every t ≥ 1, ℓ_t = ½ℓ_0[(1−ηL)^{2t} + (1−ημ)^{2t}] ≥ ½ ρ(η)^{2t} ℓ_0 ≥ ½ ρ*^{2t} ℓ_0.

Only this *aggregated* form is true: the per-step claim "ℓ_{t+1}/ℓ_t ≥ ρ*² for every η" fails
whenever κ > 1 + √2 (η = 1/L gives (1 − 1/κ)²/2 at the first step; THEORY §2 pitfall).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from hetquad.problems.validation import frozen, positive
from .rates import _require_quadratic, optimal_step
from .records import LowerBound, Provenance, contraction


def _extreme_eigenvectors(p) -> tuple[np.ndarray, np.ndarray]:
    """(u_L, u_μ) as (d,) unit vectors; block by block when H is block-diagonal (no dense H)."""
    tiles = p.operator_blocks
    eig = [scipy.linalg.eigh(h) for h in tiles]
    top = int(np.argmax([e[0][-1] for e in eig]))
    bottom = int(np.argmin([e[0][0] for e in eig]))
    starts = np.concatenate([[0], np.cumsum([h.shape[0] for h in tiles])])
    u_l, u_mu = np.zeros(p.d), np.zeros(p.d)
    u_l[starts[top]:starts[top + 1]] = eig[top][1][:, -1]
    u_mu[starts[bottom]:starts[bottom + 1]] = eig[bottom][1][:, 0]
    return u_l, u_mu


def gd_lower_bound(p, *, loss0: float = 1.0) -> LowerBound:
    """The THEORY §2 construction for ``p``: an initial point no constant-lr GD can beat.

    Parameters
    ----------
    p : BlockQuadratic with d ≥ 2
    loss0 : float > 0
        ℓ(w0); the bound scales with it.

    Returns
    -------
    LowerBound
        ``w0``; ``loss_bound(t)`` = ½ρ*^{2t} (a lower bound on ℓ_t/ℓ_0 for any lr, t ≥ 1);
        ``iterations(eps)`` = ⌈ln(1/(2ε))/(2 ln(1/ρ*))⌉ ≤ T(ε) for any lr; ``lr`` = η*.
    """
    _require_quadratic(p)
    loss0 = positive("loss0", loss0)
    if p.d < 2:
        raise ValueError(f"the construction needs two eigenvectors, so d >= 2; got d = {p.d}")
    u_l, u_mu = _extreme_eigenvectors(p)
    e0 = math.sqrt(loss0 / p.L) * u_l + math.sqrt(loss0 / p.mu) * u_mu  # ½(La² + μb²) = loss0
    return LowerBound(
        "gd_lower_bound", frozen(p.w_star + e0), contraction(p.kappa), optimal_step(p.L, p.mu),
        p.kappa, loss0,
        Provenance("l_t >= 1/2 rho*^(2t) l_0 for every constant eta and t >= 1",
                   "THEORY §2 [D] (aggregated form; the per-step form is false for kappa > 1+sqrt2)",
                   ("constant step size, deterministic gradients",
                    "e0 on the extreme eigenvectors with L a^2 = mu b^2")))
