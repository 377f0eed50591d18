"""Eigenvalue spectra with exact extremes (THEORY §1, §5a, §6).

Every generator returns a sorted float64 array. ``uniform``, ``linear`` and ``logspace`` put
the requested extremes in the spectrum exactly, so a block built from them has exactly the
requested condition number; ``clusters`` samples from given value sets (Adam-mini Fig. 4) and
``rescale`` maps any spectrum affinely to an exact κ and λ_max (Zhang et al. Case 1 recipe).
"""
from __future__ import annotations

import numpy as np

from .validation import finite_array, integer, positive


def _interval(low, high) -> tuple[float, float]:
    low = positive("low", low)
    high = positive("high", high)
    if high < low:
        raise ValueError(f"high must be >= low, got low={low}, high={high}")
    return low, high


def linear(n: int, *, low: float, high: float) -> np.ndarray:
    """``n`` equally spaced eigenvalues from ``low`` to ``high`` (both included)."""
    n = integer("n", n, minimum=1)
    low, high = _interval(low, high)
    if n == 1:
        return np.array([high])
    return np.linspace(low, high, n)


def logspace(n: int, *, low: float, high: float) -> np.ndarray:
    """``n`` log-equally spaced eigenvalues from ``low`` to ``high`` (both included, exact)."""
    n = integer("n", n, minimum=1)
    low, high = _interval(low, high)
    if n == 1:
        return np.array([high])
    # geomspace rounds: pin both ends exactly and keep inner values inside [low, high] and sorted
    # (for high ≈ low its inner values can overshoot high by an ulp)
    out = np.clip(np.geomspace(low, high, n), low, high)
    out[0], out[-1] = low, high
    return np.sort(out)


def uniform(n: int, *, low: float, high: float, seed=None) -> np.ndarray:
    """``low``, ``high`` and ``n − 2`` values i.i.d. U(low, high), sorted."""
    n = integer("n", n, minimum=1)
    low, high = _interval(low, high)
    if n == 1:
        return np.array([high])
    rng = np.random.default_rng(seed)
    inner = rng.uniform(low, high, size=n - 2)
    return np.sort(np.concatenate([[low], inner, [high]]))


def clusters(n: int, *, values, seed=None) -> np.ndarray:
    """``n`` values drawn i.i.d. (uniformly) from the set ``values`` (Adam-mini Fig. 4).

    The extremes are *not* forced: with values {1, 2, 3} and n = 30 a draw without a 1 has
    probability (2/3)^30 ≈ 5e-6 (THEORY §5a).
    """
    n = integer("n", n, minimum=1)
    vals = from_values(values)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(vals, size=n, replace=True))


def from_values(values) -> np.ndarray:
    """Validate user eigenvalues (finite, > 0, κ = max/min finite) and return them sorted.

    Subnormal eigenvalues (< 2.2e-308) are refused: they lose precision in every product, and their
    condition number overflows.
    """
    arr = finite_array("eigenvalues", values, ndim=1)
    if np.any(arr <= 0):
        raise ValueError(f"eigenvalues must all be > 0, got min {arr.min()}")
    tiny = np.finfo(float).tiny
    if arr.min() < tiny:
        raise ValueError(f"eigenvalues must all be >= {tiny:.3g} (normal float64), got min {arr.min():.3g}")
    with np.errstate(over="ignore"):  # an overflowing max/min is the case refused here, not a fault
        kappa = arr.max() / arr.min()
    if not np.isfinite(kappa):
        raise ValueError(f"eigenvalues must have a finite condition number max/min, got {arr.max():.3g}/{arr.min():.3g}")
    return np.sort(arr)


def rescale(eigs, *, kappa: float, lam_max: float = 1.0, lam_min_of=None) -> np.ndarray:
    """Affinely map a spectrum to exact extremes λ_max and λ_max/κ.

    λ ← μ + (L − μ)(λ − a)/(b − a) with μ = λ_max/κ, L = λ_max, where (a, b) are the extremes of
    ``lam_min_of`` (default: of ``eigs`` itself). Passing the union of several blocks' eigenvalues
    as ``lam_min_of`` applies one common shift and scaling to all of them, as Zhang et al. do for
    Case 1 (THEORY §6). Values need not be positive before the map.
    """
    arr = finite_array("eigs", eigs, ndim=1)
    kappa = positive("kappa", kappa)
    if kappa < 1:
        raise ValueError(f"kappa must be >= 1, got {kappa}")
    lam_max = positive("lam_max", lam_max)
    ref = arr if lam_min_of is None else finite_array("lam_min_of", lam_min_of, ndim=1)
    a, b = float(ref.min()), float(ref.max())
    mu = lam_max / kappa
    if b == a:
        if kappa != 1:
            raise ValueError("a constant spectrum can only be rescaled to kappa = 1")
        return np.full_like(arr, lam_max)
    out = mu + (lam_max - mu) * (arr - a) / (b - a)
    # exact extremes, independent of rounding in the affine map: a value inside [a, b] must land
    # inside [μ, L] (rounding can push one just past L, which would change κ)
    inside = (arr >= a) & (arr <= b)
    out[inside] = np.clip(out[inside], mu, lam_max)
    out[arr == a] = mu
    out[arr == b] = lam_max
    return np.sort(out)
