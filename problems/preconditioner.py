"""Condition numbers of diagonally preconditioned Hessians and Adam-mini's r (THEORY §5b).

For a positive diagonal D = diag(d), D H is similar to the symmetric D^{1/2} H D^{1/2}
(D^{1/2}·(D^{1/2} H D^{1/2})·D^{−1/2} = D H), so its eigenvalues are real and positive when H is
SPD. κ(D H) := λ_max/λ_min of that symmetric matrix [C] — the quantity that governs the Adam
variant's rate (THEORY §4). The 2-norm condition number σ_max/σ_min of the non-symmetric D H is
a different number; ``r_adam_singular`` gives it for comparison with the §5b table.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

from .quadratic import BlockQuadratic, validate_spd
from .validation import finite_array


def _spd(h) -> np.ndarray:
    return validate_spd("H", h.hessian() if isinstance(h, BlockQuadratic) else h)


def _vector(name: str, v, n: int) -> np.ndarray:
    v = finite_array(name, v, ndim=1)
    if v.size != n:
        raise ValueError(f"{name} must have length {n} (the size of H), got {v.size}")
    return v


def _extreme_ratio(sym: np.ndarray) -> float:
    eigs = scipy.linalg.eigvalsh(sym)
    return float(eigs[-1] / eigs[0])


def kappa_preconditioned(h, d) -> float:
    """κ(D H) = λ_max/λ_min of D^{1/2} H D^{1/2} for D = diag(d), d > 0 (THEORY §5b [C]).

    Parameters
    ----------
    h : (n, n) SPD array or BlockQuadratic (its dense Hessian)
    d : (n,) array of positive numbers
    """
    h = _spd(h)
    d = _vector("d", d, h.shape[0])
    if np.any(d <= 0):
        raise ValueError(f"d must be > 0 everywhere, got min {d.min():.6g}")
    s = np.sqrt(d)
    return _extreme_ratio(s[:, None] * h * s[None, :])


def _adam_diagonal(h: np.ndarray, x) -> np.ndarray:
    """D_Adam = 1/|H x| (THEORY §5b, Adam-mini Eq. 3); undefined where (Hx)_i = 0."""
    g = h @ _vector("x", x, h.shape[0])
    zero = np.flatnonzero(g == 0)
    if zero.size:
        raise ValueError(f"(H x)_i must be non-zero for D_Adam = diag(1/|Hx|), got 0 at i = {zero.tolist()}")
    return 1.0 / np.abs(g)


def r_adam(h, x) -> float:
    """r = κ(D_Adam H)/κ(H), D_Adam = diag(1/|Hx|), κ = extreme-eigenvalue ratio (THEORY §5b).

    Invariant to scaling x (D_Adam scales, κ does not). At a diagonal H, r = (max|x|/min|x|)/κ.

    Raises
    ------
    ValueError
        If some (H x)_i = 0.
    """
    h = _spd(h)
    return kappa_preconditioned(h, _adam_diagonal(h, x)) / _extreme_ratio(h)


def r_adam_singular(h, x) -> float:
    """r with 2-norm condition numbers: cond₂(D_Adam H)/cond₂(H) (the §5b table's last column)."""
    h = _spd(h)
    dh = _adam_diagonal(h, x)[:, None] * h
    return float(np.linalg.cond(dh, 2) / _extreme_ratio(h))
