"""Gradient heterogeneity, L_G and L_P, and initial points with a chosen Gini (THEORY §8.1, §8.2).

Tomihari & Sato measure how unevenly the gradient is spread over parameter blocks by the Gini
coefficient of x_l = ‖g_l‖/√d_l. ``gradient_heterogeneity`` computes it for any problem with
``sizes`` and ``grad``; ``l_g``/``l_p`` are the gradient- and parameter-weighted block
smoothness constants of [T] Def. 4.5 (reconstructed, THEORY §8.2); ``initial_point`` is the
generator of THEORY §8.1 that puts a prescribed gradient profile on the blocks exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .validation import finite_array, frozen, in_range, integer, one_of, positive, real

PLACEMENTS = ("random", "sharpest", "given")
PROFILES = ("uniform", "geometric")


def gini(x) -> float | np.ndarray:
    """Gini coefficient G = Σ_i (2i − n − 1) x_(i) / (n² x̄) of non-negative values (THEORY §8.1).

    Parameters
    ----------
    x : (n,) or (..., n) array of values >= 0, not all zero
        A batch is reduced along the last axis.

    Returns
    -------
    float, or an array of the leading shape
        G ∈ [0, (n − 1)/n]: 0 when all values are equal, (n − 1)/n when one value holds all mass.
    """
    arr = finite_array("x", x)
    if arr.ndim == 0:
        raise ValueError(f"x must have at least 1 dimension, got a scalar {float(arr)}")
    if arr.shape[-1] == 0:
        raise ValueError(f"x must not be empty, got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError(f"x must be >= 0 everywhere, got min {arr.min()}")
    total = arr.sum(axis=-1)
    if np.any(total == 0):
        raise ValueError("x must not be all zero (the Gini coefficient is 0/0 there)")
    n = arr.shape[-1]
    coef = 2.0 * np.arange(1, n + 1) - n - 1
    g = (np.sort(arr, axis=-1) @ coef) / (n * total)
    return float(g) if g.ndim == 0 else g


@dataclass(frozen=True)
class GradientHeterogeneity:
    """Block gradient norms ‖g_l‖, per-coordinate norms x_l = ‖g_l‖/√d_l and their Gini."""

    block_norms: np.ndarray  # (..., B)
    x: np.ndarray            # (..., B)
    gini: float | np.ndarray  # (...)


def _slices(sizes) -> list[slice]:
    stops = np.cumsum(sizes)
    return [slice(int(s - n), int(s)) for s, n in zip(stops, sizes)]


def _block_norms(p, g: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(g[..., s], axis=-1) for s in _slices(p.sizes)], axis=-1)


def gradient_heterogeneity(p, w) -> GradientHeterogeneity:
    """Gradient heterogeneity of ``p`` at ``w`` ((d,) or a batch (n, d)); THEORY §8.1.

    Raises ``ValueError`` where the gradient is zero (the Gini is undefined there).
    """
    norms = _block_norms(p, p.grad(w))
    x = norms / np.sqrt(np.asarray(p.sizes, dtype=float))
    try:
        g = gini(x)
    except ValueError:
        raise ValueError("the gradient is zero at w: gradient heterogeneity is undefined there") from None
    return GradientHeterogeneity(frozen(norms), frozen(x), g)


def _block_L(p) -> np.ndarray:
    """‖H_l‖₂ = λ_max(H_l) of each diagonal block."""
    if not hasattr(p, "block_eigvals"):
        raise TypeError(f"p must be a BlockQuadratic (with Hessian blocks), got {type(p).__name__}")
    return np.array([e[-1] for e in p.block_eigvals])


def l_g(p, w) -> float | np.ndarray:
    """L_G(w) = Σ_l (‖g_l‖²/‖g‖²)·‖H_l‖₂ (THEORY §8.2, [T] Def. 4.5 [R]); a batch gives (n,)."""
    sq = _block_norms(p, p.grad(w)) ** 2
    total = sq.sum(axis=-1)
    if np.any(total == 0):
        raise ValueError("the gradient is zero at w: L_G is undefined there")
    out = (sq @ _block_L(p)) / total
    return float(out) if out.ndim == 0 else out


def l_p(p) -> float:
    """L_P = Σ_l (d_l/d)·‖H_l‖₂ (THEORY §8.2)."""
    return float(np.asarray(p.sizes, dtype=float) @ _block_L(p) / p.d)


def _geometric_gini(q: float, n: int) -> float:
    return gini(q ** np.arange(n, dtype=float))


def geometric_ratio_for_gini(n: int, gini: float) -> float:
    """The ratio q ∈ (0, 1] whose profile x_l = q^l (l = 0..n−1) has Gini ``gini``.

    G(q) decreases from (n − 1)/n (q → 0) to 0 (q = 1), so q is found by brentq on s = −ln q
    (THEORY §8.1 generator). Allowed targets: [0, (n − 1)/n); a target of 0 gives q = 1 (also
    for n = 1, the only target a single block can have).
    """
    n = integer("n", n, minimum=1)
    gmax = (n - 1) / n
    if real("gini", gini) == 0:
        return 1.0
    target = in_range("gini", gini, 0.0, gmax, closed="left")
    f = lambda s: _geometric_gini(np.exp(-s), n) - target  # noqa: E731 — increasing in s
    hi = 1.0
    while f(hi) <= 0:
        hi *= 2.0
        if hi > 700:  # exp(−700) is near the smallest normal double
            raise ValueError(f"gini = {target} is too close to (n-1)/n = {gmax} to reach in double precision")
    import scipy.optimize  # 0.3 s at import: only the Gini solver needs it (playground start-up)

    s = scipy.optimize.brentq(f, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    return float(np.exp(-s))


def _profile(p, profile, ratio, gini_target) -> np.ndarray:
    B = len(p.sizes)
    if isinstance(profile, str) or profile is None:
        if profile is None:
            profile = "geometric" if (ratio is not None or gini_target is not None) else "uniform"
        one_of("profile", profile, PROFILES)
        if profile == "uniform":
            if ratio is not None or gini_target is not None:
                raise ValueError("ratio and gini need profile='geometric', got profile='uniform'")
            return np.ones(B)
        if (ratio is None) == (gini_target is None):
            raise ValueError("profile='geometric' needs exactly one of ratio or gini")
        if ratio is None:
            ratio = geometric_ratio_for_gini(B, gini_target)
        ratio = in_range("ratio", ratio, 0.0, 1.0, closed="right")
        return ratio ** np.arange(B, dtype=float)
    if ratio is not None or gini_target is not None:
        raise ValueError("ratio and gini apply only to profile='geometric', not to an explicit profile array")
    x = finite_array("profile", profile, ndim=1)
    if x.shape != (B,):
        raise ValueError(f"profile must have one value per block, shape ({B},), got {x.shape}")
    if np.any(x <= 0):
        raise ValueError(f"profile values must all be > 0, got min {x.min()}")
    return x


def initial_point(p, *, profile=None, ratio: float | None = None, gini: float | None = None,
                  placement: str | None = None, scale: float = 1.0, seed=0) -> np.ndarray:
    """An initial point whose block gradient norms follow a chosen profile exactly (THEORY §8.1).

    With x the profile placed on the blocks and a_l = scale · x_l √d_l, the error is
    e0 = H⁻¹ u with u_l = a_l v_l/‖v_l‖ (v_l Gaussian directions), so g0 = H e0 = u and
    ‖g0_l‖ = a_l exactly; the Gini of g0's x_l equals the Gini of the profile. For a
    block-diagonal H this is e0_l = a_l H_l⁻¹v_l/‖v_l‖ block by block.

    Parameters
    ----------
    p : BlockQuadratic
    profile : {'uniform', 'geometric'} or (B,) array of values > 0, optional
        Default: 'geometric' when ``ratio`` or ``gini`` is given, else 'uniform'.
    ratio : float in (0, 1], optional
        Geometric profile x_l = ratio^l.
    gini : float in [0, (B − 1)/B), optional
        Target Gini; the ratio is solved for (``geometric_ratio_for_gini``).
    placement : {'random', 'sharpest', 'given'}, optional
        'random' permutes the profile over the blocks; 'sharpest' puts the largest x_l on the block
        with the largest ‖H_l‖₂, the next on the next, … ([T] §4.3 gradient–Hessian correlation);
        'given' keeps block order (x_0 on block 0). Default: 'given' for an explicit profile
        array, 'random' otherwise.
    scale : float > 0
        Multiplies every a_l.
    seed : int >= 0 or numpy Generator

    Returns
    -------
    (d,) array
        w0 = w* + e0.
    """
    explicit = not (isinstance(profile, str) or profile is None)
    if placement is None:
        placement = "given" if explicit else "random"
    one_of("placement", placement, PLACEMENTS)
    scale = positive("scale", scale)
    _block_L(p)  # a quadratic is needed: e0 solves H e0 = g0
    x = _profile(p, profile, ratio, gini)
    rng = np.random.default_rng(seed)
    if placement == "sharpest":
        order = np.argsort(-_block_L(p), kind="stable")  # blocks from sharpest to flattest
        placed = np.empty_like(x)
        placed[order] = np.sort(x)[::-1]
        x = placed
    elif placement == "random":
        x = rng.permutation(x)
    a = scale * x * np.sqrt(np.asarray(p.sizes, dtype=float))
    u = np.empty(p.d)
    for s, al in zip(_slices(p.sizes), a):
        v = rng.standard_normal(s.stop - s.start)
        u[s] = al * v / np.linalg.norm(v)
    if p.is_block_diagonal:
        e0 = np.concatenate([scipy.linalg.solve(h, u[s], assume_a="pos")
                             for h, s in zip(p.blocks, _slices(p.sizes))])
    else:
        e0 = scipy.linalg.solve(p.hessian(), u, assume_a="pos")
    return p.w_star + e0
