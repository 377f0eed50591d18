"""τ — the diagonal share of a Hessian block, and blocks with a prescribed τ (THEORY §5b).

τ(H) = Σ_i |H_ii| / Σ_{i,j} |H_ij| (Adam-mini Eq. 3): the denominator sums *all* entries, the
diagonal included, so τ ∈ (0, 1] and τ = 1 iff H is diagonal.

Two block families share the spectrum Λ = diag(κ, 1, …, 1):

* ``givens_block`` — Adam-mini's Fig. 5 generator, H = QΛQᵀ with Q a Givens product scaled by R;
  τ is random and not monotone in R;
* ``target_tau_block`` — the exact generator [D]: H = I + (κ−1)qqᵀ with ‖q‖₂ = 1 and
  ‖q‖₁ chosen so that τ hits a target.

Both are rank-one updates of I, so τ has the closed form ``tau_rank_one``.
"""
from __future__ import annotations

import math

import numpy as np

from . import rotations as _rot
from .quadratic import BlockQuadratic
from .validation import finite_array, in_range, integer, real

UNIT_NORM_ATOL = 1e-9


def _matrix(name: str, h) -> np.ndarray:
    """A finite square float matrix (a BlockQuadratic gives its dense Hessian)."""
    if isinstance(h, BlockQuadratic):
        return h.hessian()
    arr = finite_array(name, h, ndim=2)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square, got shape {arr.shape}")
    return arr


def _masses(arr: np.ndarray) -> tuple[float, float]:
    """(Σ|H_ii|, Σ_{i≠j}|H_ij|) of an entrywise-absolute matrix."""
    diag = float(np.trace(arr))
    # off-diagonal mass summed on its own, so that τ = 1 exactly iff it is 0 and τ ≤ 1 after rounding
    return diag, float(arr[~np.eye(arr.shape[0], dtype=bool)].sum())


def tau(h) -> float:
    """Diagonal share τ = Σ_i |H_ii| / Σ_{i,j} |H_ij| of a square matrix (THEORY §5b).

    Parameters
    ----------
    h : (n, n) array or BlockQuadratic
        The matrix; a BlockQuadratic contributes its dense Hessian (off-block zeros and any
        coupling included).

    Returns
    -------
    float in (0, 1]
        1 exactly iff ``h`` is diagonal.
    """
    arr = np.abs(_matrix("H", h))
    diag, off = _masses(arr)
    if not math.isfinite(diag + off):  # sums of entries near 1e308 overflow; τ is scale-free
        diag, off = _masses(arr / arr.max())
    if diag + off == 0:
        raise ValueError("H must have a non-zero entry, got the zero matrix")
    return diag / (diag + off)


def _kappa(kappa) -> float:
    kappa = real("kappa", kappa)
    if kappa < 1:
        raise ValueError(f"kappa must be >= 1, got {kappa}")
    return kappa


def tau_rank_one(d: int, *, kappa: float, q) -> float:
    """Closed-form τ of H = I + (κ−1)qqᵀ, ‖q‖₂ = 1: (d+κ−1) / (d + (κ−1)‖q‖₁²) (THEORY §5b).

    Parameters
    ----------
    d : int >= 1
    kappa : float >= 1
        λ_max(H) = κ, the other d−1 eigenvalues are 1.
    q : (d,) array
        The top eigenvector; must have unit ℓ2 norm (to 1e-9).
    """
    d = integer("d", d, minimum=1)
    kappa = _kappa(kappa)
    q = finite_array("q", q, ndim=1)
    if q.size != d:
        raise ValueError(f"q must have length d = {d}, got {q.size}")
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > UNIT_NORM_ATOL:
        raise ValueError(f"q must have unit 2-norm (to {UNIT_NORM_ATOL:g}), got {norm!r}")
    l1 = float(np.abs(q).sum())
    return (d + (kappa - 1.0)) / (d + (kappa - 1.0) * l1 * l1)  # = 1 exactly at ‖q‖₁ = 1


def tau_range(d: int, *, kappa: float) -> tuple[float, float]:
    """Reachable τ for spectrum diag(κ, 1, …, 1) in dimension d: ((d+κ−1)/(d+(κ−1)d), 1.0).

    The lower end is q = (1, …, 1)/√d (‖q‖₁² = d is the largest possible); THEORY §5b.
    """
    d = integer("d", d, minimum=1)
    kappa = _kappa(kappa)
    if kappa == 1.0:
        return 1.0, 1.0
    r = d / (kappa - 1.0)  # divided through by κ−1 so that κ near 1e308 cannot overflow to τ = 0
    return (r + 1.0) / (r + d), 1.0


def _spectrum(d: int, kappa: float) -> np.ndarray:
    lam = np.ones(d)
    lam[0] = kappa
    return lam


def _rotate(q: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """QΛQᵀ, symmetrised so that eigvalsh and the SPD check see an exactly symmetric matrix."""
    h = (q * lam) @ q.T
    return 0.5 * h + 0.5 * h.T  # not 0.5·(h + hᵀ): entries near 1e308 (κ that large) must not overflow


def _top_vector(d: int, kappa: float, tau_target: float) -> np.ndarray:
    """q = (c, b, …, b), ‖q‖₂ = 1, ‖q‖₁ = S with S² = ((d+κ−1)/τ − d)/(κ−1) (THEORY §5b).

    b is the smaller root of (d−1)d b² − 2S(d−1) b + S² − 1 = 0. The sheet's form
    (S(d−1) − √((d−1)(d−S²)))/((d−1)d) cancels as τ → 1 (S → 1); we use the product of the roots,
    b = (S² − 1)/(S(d−1) + √((d−1)(d−S²))), with S² − 1 = (d+κ−1)(1/τ − 1)/(κ−1) formed without
    cancellation either.
    """
    s2_minus_1 = (d + kappa - 1.0) * (1.0 / tau_target - 1.0) / (kappa - 1.0)
    s2 = min(1.0 + max(s2_minus_1, 0.0), float(d))  # rounding at the ends of the range
    s = math.sqrt(s2)
    b = (s2 - 1.0) / (s * (d - 1) + math.sqrt((d - 1) * (d - s2)))
    c = s - (d - 1) * b
    q = np.full(d, b)
    q[0] = c
    return q


def target_tau_block(d: int, *, kappa: float, tau: float) -> np.ndarray:
    """A d×d SPD block with spectrum diag(κ, 1, …, 1) exactly and τ(H) = ``tau`` (THEORY §5b [D]).

    H = QΛQᵀ with Q the Householder reflection mapping e_1 to q = (c, b, …, b)
    (``rotations.householder``), so H = I + (κ−1)qqᵀ and τ = (d+κ−1)/(d + (κ−1)‖q‖₁²).

    Parameters
    ----------
    d : int >= 1
    kappa : float >= 1
    tau : float
        Target in ``tau_range(d, kappa=kappa)``; hit to 1e-9 (≈1e-15 in practice).

    Raises
    ------
    ValueError
        If ``tau`` is outside the reachable range for this d and κ (the message gives the range).
    """
    d = integer("d", d, minimum=1)
    kappa = _kappa(kappa)
    tau_target = real("tau", tau)
    lo, hi = tau_range(d, kappa=kappa)
    if not lo <= tau_target <= hi:
        raise ValueError(f"tau must be in [{lo:.12g}, {hi:.12g}] for d = {d}, kappa = {kappa:g}, "
                         f"got {tau_target}")
    lam = _spectrum(d, kappa)
    if d == 1 or kappa == 1.0 or tau_target == 1.0:  # the diagonal block; no direction to choose
        return np.diag(lam)
    return _rotate(_rot.householder(_top_vector(d, kappa, tau_target)), lam)


def givens_block(d: int, *, kappa: float, R: float, seed=None) -> np.ndarray:
    """Adam-mini Fig. 5 block QΛQᵀ, Λ = diag(κ, 1, …, 1), Q = ``rotations.givens(d, R=R)``.

    R = 0 gives the diagonal Λ (τ = 1); τ is not monotone in R (THEORY §5b).

    Parameters
    ----------
    d : int >= 1
    kappa : float >= 1
    R : float in [0, 1]
        Angle scale of the Givens product.
    seed : int or numpy Generator, optional
    """
    d = integer("d", d, minimum=1)
    kappa = _kappa(kappa)
    R = in_range("R", R, 0.0, 1.0)
    return _rotate(_rot.givens(d, R=R, seed=seed), _spectrum(d, kappa))
