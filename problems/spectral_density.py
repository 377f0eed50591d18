"""Blockwise spectral densities and JS⁰, the spectral heterogeneity of Zhang et al. (THEORY §7).

Pipeline, one piece per step:

1. **Nodes** — a block's spectral measure as (nodes θ_k, weights w_k), Σ w_k = 1.
   ``exact_nodes``: eigenvalues with weights 1/d_l. ``slq_nodes``: stochastic Lanczos quadrature
   (official recipe [code]: n_v normalised Gaussian probes, m Lanczos steps, θ = eig(T),
   w = (first entries of T's eigenvectors)² / n_v), with optional full re-orthogonalisation.
2. **Densities** — ``densities_from_nodes``: Gaussian-smoothed densities on one shared grid,
   each divided by its Riemann sum. Two modes (``MODES``):

   * ``'log'`` (default): t = log10(|θ|/scale), σ = 0.1 decade, 4001 points;
   * ``'paper-lin'``: t = θ/scale, σ² = 1e-5 (the official σ), 20001 points;

   grid = [min t − 6σ, max t + 6σ] over all blocks; ``scale`` = the global λ_max. Up to
   ``DIRECT_MAX_NODES`` nodes the Gaussian sum is evaluated directly; beyond (SLQ with many
   probes) the nodes are linearly binned onto the grid and filtered by one FFT convolution.
3. **Distances** — ``js_distance`` = √(JSD/ln 2) ∈ [0, 1]; ``js_matrix`` for all block pairs;
   JS⁰ = mean over unordered pairs.

Log mode and nodes ≤ 0 [C]. SLQ of an indefinite matrix (a real network's Hessian) gives nodes
≤ 0. Log mode uses |θ| for them (the density then describes the magnitude spectrum) and clamps
|θ|/scale below ``LOG_FLOOR`` = 1e-12 up to it (a node exactly 0, or a null space, would put
t = −∞). Both are recorded per block: ``BlockDensities.folded_mass`` is the weight of the nodes
≤ 0 and ``floored_mass`` the weight clamped to the floor, so a caller can see (and report) that
the log picture is not the signed spectrum. Paper-lin mode is signed and needs neither.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
import scipy.linalg
import scipy.sparse.linalg

from .quadratic import BlockQuadratic, _seed_entropy
from .validation import finite_array, frozen, integer, one_of, positive

METHODS = ("auto", "exact", "slq")
EXACT_MAX_SIZE = 2000  # 'auto': eigvalsh up to this block size, SLQ above (THEORY §7 [C])
LOG_FLOOR = 1e-12  # smallest |θ|/scale the log mode resolves
BREAKDOWN_RTOL = 1e-12  # Lanczos stops when β ≤ this × the running estimate of ‖A‖
DIRECT_MAX_NODES = 2000  # above this many nodes a density is binned + FFT-filtered, not summed
_BASIS_FLOATS = 2**26  # SLQ runs probes in batches whose Lanczos basis fits in 512 MB
_CHUNK = 256  # nodes per block of the direct Gaussian sum (bounds memory at ~40 MB)


@dataclass(frozen=True)
class DensityMode:
    """How nodes become a smoothed density: t-transform, Gaussian σ (in t units), grid size."""

    name: str
    sigma: float
    n_grid: int


MODES = {
    "log": DensityMode("log", 0.1, 4001),
    "paper-lin": DensityMode("paper-lin", math.sqrt(1e-5), 20001),
}


@dataclass(frozen=True, eq=False)
class SpectralNodes:
    """A block's spectral measure: nodes θ_k and weights w_k (Σ w = 1) and how they were made.

    Attributes
    ----------
    nodes, weights : (K,) arrays
    method : {'exact', 'slq', 'given'}
    n_v, m : int or None
        SLQ probes and Lanczos steps requested (None for exact/given).
    reorthogonalize : bool or None
        Whether Lanczos used full re-orthogonalisation (None for exact/given).
    """

    nodes: np.ndarray
    weights: np.ndarray
    method: str
    n_v: int | None = None
    m: int | None = None
    reorthogonalize: bool | None = None


@dataclass(frozen=True, eq=False)
class BlockDensities:
    """Smoothed densities of B blocks on one shared grid (THEORY §7).

    Attributes
    ----------
    grid : (G,) array
        t values (log10(|λ|/scale) or λ/scale).
    densities : (B, G) array
        Each row ≥ 0 with Riemann sum Σ ρ Δt = 1.
    mode : str
    sigma : float
        Gaussian width in t units.
    scale : float
        The λ_max that eigenvalues were divided by.
    methods : tuple of str
        Node method per block ('exact', 'slq' or 'given').
    smoothing : tuple of str
        Per block: 'direct' (the Gaussian sum, ≤ ``DIRECT_MAX_NODES`` nodes) or 'binned' (linear
        binning + FFT filter; equal to the direct sum to JS ≲ 1e-6).
    n_v, m : int or None
        SLQ settings (None when no block used SLQ).
    reorthogonalize : bool or None
    folded_mass, floored_mass : (B,) arrays
        Log mode only (zeros otherwise): weight of nodes ≤ 0 mapped to |θ|, and weight clamped to
        ``LOG_FLOOR`` (see the module docstring).
    """

    grid: np.ndarray
    densities: np.ndarray
    mode: str
    sigma: float
    scale: float
    methods: tuple
    smoothing: tuple
    n_v: int | None
    m: int | None
    reorthogonalize: bool | None
    folded_mass: np.ndarray
    floored_mass: np.ndarray

    @property
    def n_blocks(self) -> int:
        return int(self.densities.shape[0])

    @property
    def masses(self) -> np.ndarray:
        """Probability vectors on the grid, (B, G): ρ Δt, rows sum to 1."""
        return self.densities * (self.grid[1] - self.grid[0])


class Tridiagonal(NamedTuple):
    """Lanczos output: diagonal α (k,) and off-diagonal β (k−1,) of T_k = Vᵀ A V."""

    alpha: np.ndarray
    beta: np.ndarray


# -- Lanczos and quadrature nodes ---------------------------------------------------------------
def _operator(a):
    """A dense symmetric matrix or a scipy LinearOperator, as a LinearOperator (matmat used)."""
    if isinstance(a, scipy.sparse.linalg.LinearOperator):
        op = a
    else:
        arr = finite_array("A", a, ndim=2)
        op = scipy.sparse.linalg.aslinearoperator(arr)
    n, k = op.shape
    if n != k:
        raise ValueError(f"A must be square, got shape {op.shape}")
    return op


def _lanczos_batch(op, v0: np.ndarray, m: int, reorthogonalize: bool) -> list[Tridiagonal]:
    """Lanczos on the columns of ``v0`` (d, n) at once; one Tridiagonal per column.

    A column whose β drops to ≤ BREAKDOWN_RTOL·‖A‖ has found an invariant subspace: it is
    frozen (its vector set to 0, so it adds nothing later) and its T is cut there.
    """
    d, n = v0.shape
    m = min(m, d)  # the Krylov space has at most d dimensions
    basis = np.zeros((m, d, n)) if reorthogonalize else None
    alpha = np.zeros((m, n))
    beta = np.zeros((m, n))
    steps = np.full(n, m)
    q = v0 / np.linalg.norm(v0, axis=0)
    q_prev = np.zeros_like(q)
    b_prev = np.zeros(n)
    anorm = np.zeros(n)
    active = np.ones(n, dtype=bool)
    for j in range(m):
        if reorthogonalize:
            basis[j] = q
        w = np.asarray(op.matmat(q), dtype=np.float64) - b_prev * q_prev
        a = np.einsum("ij,ij->j", q, w)
        w -= a * q
        if reorthogonalize:  # full Gram–Schmidt, twice ("twice is enough")
            for _ in range(2):
                w -= np.einsum("kdn,kn->dn", basis[:j + 1], np.einsum("kdn,dn->kn", basis[:j + 1], w))
        b = np.linalg.norm(w, axis=0)
        alpha[j] = np.where(active, a, 0.0)
        anorm = np.maximum(anorm, np.abs(a) + b + b_prev)
        stop = active & (b <= BREAKDOWN_RTOL * anorm)
        steps[stop] = j + 1
        active &= ~stop
        beta[j] = np.where(active, b, 0.0)
        q_prev, b_prev = q, beta[j]
        q = np.where(active, w / np.where(active, b, 1.0), 0.0)
        if not active.any():
            break
    return [Tridiagonal(alpha[:k, i].copy(), beta[:k - 1, i].copy()) for i, k in enumerate(steps)]


def lanczos(a, v0, *, m: int, reorthogonalize: bool = True) -> Tridiagonal:
    """m-step Lanczos tridiagonalisation of a symmetric A from start vector ``v0``.

    Parameters
    ----------
    a : (d, d) symmetric array or scipy LinearOperator
    v0 : (d,) array, non-zero
    m : int >= 1
        Steps; capped at d, and cut earlier at a breakdown (β ≤ 1e-12·‖A‖: invariant subspace).
    reorthogonalize : bool
        Full re-orthogonalisation against all previous Lanczos vectors (the official code has
        none). With it and m ≥ d, eig(T) are A's eigenvalues (THEORY §7 [D]).

    Returns
    -------
    Tridiagonal
    """
    op = _operator(a)
    m = integer("m", m, minimum=1)
    v0 = finite_array("v0", v0, ndim=1)
    if v0.size != op.shape[0]:
        raise ValueError(f"v0 must have length {op.shape[0]}, got {v0.size}")
    if not np.any(v0):
        raise ValueError("v0 must be non-zero")
    return _lanczos_batch(op, v0[:, None], m, bool(reorthogonalize))[0]


def _ritz(t: Tridiagonal) -> tuple[np.ndarray, np.ndarray]:
    """Ritz values θ and the squared first entries of T's eigenvectors (Gauss weights)."""
    if t.alpha.size == 1:
        return t.alpha.copy(), np.ones(1)
    theta, vecs = scipy.linalg.eigh_tridiagonal(t.alpha, t.beta)
    return theta, vecs[0] ** 2


def ritz_values(t: Tridiagonal) -> np.ndarray:
    """Eigenvalues of T, ascending (scipy.linalg.eigh_tridiagonal)."""
    return _ritz(t)[0]


def exact_nodes(a) -> SpectralNodes:
    """Eigenvalues of the symmetric matrix ``a`` with weights 1/d (THEORY §7)."""
    arr = finite_array("A", a, ndim=2)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"A must be square, got shape {arr.shape}")
    eigs = scipy.linalg.eigvalsh(arr)
    return SpectralNodes(frozen(eigs), frozen(np.full(eigs.size, 1.0 / eigs.size)), "exact")


def slq_nodes(a, *, n_v: int = 10, m: int = 100, seed=None, reorthogonalize: bool = True) -> SpectralNodes:
    """Stochastic Lanczos quadrature nodes and weights of a symmetric A (THEORY §7 [code]).

    Each of ``n_v`` probes v ~ N(0, I) (normalised) runs min(m, d) Lanczos steps; its Ritz values
    θ_k carry weights (first entry of T's k-th eigenvector)² / n_v, so all weights sum to 1.

    Parameters
    ----------
    a : (d, d) symmetric array or scipy LinearOperator (only ``matmat`` is used)
    n_v : int >= 1
        Probes (official default 10).
    m : int >= 1
        Lanczos steps (official default 100).
    seed : int or numpy Generator, optional
    reorthogonalize : bool
        Full re-orthogonalisation (default True; the official code has none, which leaves
        spurious copies of converged Ritz values but almost the same weights).
    """
    op = _operator(a)
    n_v = integer("n_v", n_v, minimum=1)
    m = integer("m", m, minimum=1)
    rng = np.random.default_rng(seed)
    d = op.shape[0]
    probes = rng.standard_normal((d, n_v))
    # probes run together, in chunks so that the stored Lanczos basis stays ≤ _BASIS_FLOATS
    chunk = max(1, _BASIS_FLOATS // (min(m, d) * d))
    tridiagonals = [t for start in range(0, n_v, chunk)
                    for t in _lanczos_batch(op, probes[:, start:start + chunk], m, bool(reorthogonalize))]
    nodes, weights = zip(*(_ritz(t) for t in tridiagonals))
    return SpectralNodes(frozen(np.concatenate(nodes)), frozen(np.concatenate(weights) / n_v), "slq",
                         n_v=n_v, m=m, reorthogonalize=bool(reorthogonalize))


def _blocks_of(p) -> tuple:
    if isinstance(p, BlockQuadratic):
        return p.blocks
    if isinstance(p, (str, bytes)) or not isinstance(p, Sequence):
        raise TypeError(f"p must be a BlockQuadratic or a sequence of square blocks, got {type(p).__name__}")
    if not p:
        raise ValueError("p must contain at least one block, got 0")
    return tuple(p)


def block_nodes(p, *, method: str = "auto", n_v: int = 10, m: int = 100, seed=0,
                reorthogonalize: bool = True) -> tuple[SpectralNodes, ...]:
    """Nodes of every diagonal block of ``p``.

    Parameters
    ----------
    p : BlockQuadratic or sequence of square arrays / LinearOperators
    method : {'auto', 'exact', 'slq'}
        'auto' = exact eigvalsh for blocks with d_l ≤ 2000, SLQ above (THEORY §7 [C]).
    n_v, m, reorthogonalize
        SLQ settings (see ``slq_nodes``).
    seed : int or numpy Generator
        One child stream per block, so block l's probes do not depend on the other blocks.
    """
    one_of("method", method, METHODS)
    blocks = _blocks_of(p)
    n_v = integer("n_v", n_v, minimum=1)
    m = integer("m", m, minimum=1)
    streams = np.random.SeedSequence(_seed_entropy(seed)).spawn(len(blocks))
    out = []
    for h, ss in zip(blocks, streams):
        size = h.shape[0]
        use_slq = method == "slq" or (method == "auto" and size > EXACT_MAX_SIZE)
        out.append(slq_nodes(h, n_v=n_v, m=m, seed=np.random.default_rng(ss), reorthogonalize=reorthogonalize)
                   if use_slq else exact_nodes(h))
    return tuple(out)


# -- densities ----------------------------------------------------------------------------------
def _as_nodes(item, l: int) -> SpectralNodes:
    if isinstance(item, SpectralNodes):
        return item
    try:
        nodes, weights = item
    except (TypeError, ValueError):
        raise TypeError(f"spectra[{l}] must be SpectralNodes or a (nodes, weights) pair") from None
    nodes = finite_array(f"spectra[{l}] nodes", nodes, ndim=1)
    weights = finite_array(f"spectra[{l}] weights", weights, ndim=1)
    if nodes.shape != weights.shape:
        raise ValueError(f"spectra[{l}]: nodes and weights must have the same length, "
                         f"got {nodes.size} and {weights.size}")
    if np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"spectra[{l}] weights must be >= 0 with a positive sum")
    return SpectralNodes(frozen(nodes), frozen(weights / weights.sum()), "given")


def _transform(nodes: np.ndarray, weights: np.ndarray, mode: str, scale: float):
    """t-values of the nodes, the folded (θ ≤ 0) and the floored weight (log mode only)."""
    if mode == "paper-lin":
        return nodes / scale, 0.0, 0.0
    rel = np.abs(nodes) / scale
    folded = float(weights[nodes <= 0].sum())
    low = rel < LOG_FLOOR
    return np.log10(np.maximum(rel, LOG_FLOOR)), folded, float(weights[low].sum())


def _direct_sum(t: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float) -> np.ndarray:
    """Σ_k w_k exp(−(grid − t_k)²/2σ²), summed in chunks of nodes to bound memory."""
    rho = np.zeros_like(grid)
    for start in range(0, t.size, _CHUNK):
        z = (grid[None, :] - t[start:start + _CHUNK, None]) / sigma
        rho += weights[start:start + _CHUNK] @ np.exp(-0.5 * z * z)
    return rho


def _binned_sum(t: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float) -> np.ndarray:
    """The same sum with nodes linearly binned onto the grid, then one FFT convolution.

    Linear binning moves each node's mass by < Δt, a second-order error in Δt/σ (≈0.015 in both
    modes), so the result equals the direct sum to JS ≲ 1e-6 while costing O(K + G log G)
    instead of O(K·G) — what makes n_v = 1000 SLQ spectra usable.
    """
    n, step = grid.size, grid[1] - grid[0]
    u = (t - grid[0]) / step
    i = np.clip(np.floor(u).astype(np.int64), 0, n - 2)
    frac = u - i
    binned = np.bincount(i, weights * (1 - frac), minlength=n) + np.bincount(i + 1, weights * frac, minlength=n)
    offsets = np.arange(-(n - 1), n) * step / sigma
    import scipy.signal  # here, not at the top: importing it costs ~2 s per process

    full = scipy.signal.fftconvolve(binned, np.exp(-0.5 * offsets * offsets), mode="full")
    return np.maximum(full[n - 1:2 * n - 1], 0.0)  # FFT round-off leaves ~1e-17 negatives in the tails


def _smooth(t: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float) -> tuple[np.ndarray, str]:
    """Gaussian-smoothed density on ``grid`` divided by its Riemann sum, and how it was summed."""
    how = "direct" if t.size <= DIRECT_MAX_NODES else "binned"
    rho = (_direct_sum if how == "direct" else _binned_sum)(t, weights, grid, sigma)
    return rho / (rho.sum() * (grid[1] - grid[0])), how


def densities_from_nodes(spectra, *, mode: str = "log", scale: float | None = None) -> BlockDensities:
    """Gaussian-smoothed densities of several blocks on one shared grid (THEORY §7).

    Parameters
    ----------
    spectra : sequence of SpectralNodes or (nodes, weights) pairs
        One per block; plain pairs (e.g. SLQ output of a real network, ``problems.from_torch``)
        have their weights normalised to sum 1.
    mode : {'log', 'paper-lin'}
        See the module docstring (log mode folds nodes ≤ 0 to |θ| and records it).
    scale : float > 0, optional
        The global λ_max to divide by; default the largest |θ| over all blocks (= λ_max(H) for a
        block-diagonal SPD H; pass ``p.L`` to use a coupled H's own λ_max).

    Returns
    -------
    BlockDensities
    """
    one_of("mode", mode, MODES)
    if isinstance(spectra, (str, bytes)) or not isinstance(spectra, Sequence):
        raise TypeError(f"spectra must be a sequence of per-block spectra, got {type(spectra).__name__}")
    if not spectra:
        raise ValueError("spectra must contain at least one block, got 0")
    blocks = [_as_nodes(s, l) for l, s in enumerate(spectra)]
    if scale is None:
        scale = max(float(np.max(np.abs(b.nodes))) for b in blocks)
        if scale == 0:
            raise ValueError("every node is 0; pass scale explicitly")
    scale = positive("scale", scale)
    spec = MODES[mode]
    mapped = [_transform(b.nodes, b.weights, mode, scale) for b in blocks]
    lo = min(float(t.min()) for t, _, _ in mapped) - 6 * spec.sigma
    hi = max(float(t.max()) for t, _, _ in mapped) + 6 * spec.sigma
    grid = np.linspace(lo, hi, spec.n_grid)
    dens, smoothing = zip(*(_smooth(t, b.weights, grid, spec.sigma) for (t, _, _), b in zip(mapped, blocks)))
    slq = [b for b in blocks if b.method == "slq"]
    n_v, m, reo = (slq[0].n_v, slq[0].m, slq[0].reorthogonalize) if slq else (None, None, None)
    return BlockDensities(
        grid=frozen(grid), densities=frozen(np.stack(dens)), mode=mode, sigma=spec.sigma, scale=scale,
        methods=tuple(b.method for b in blocks), smoothing=smoothing, n_v=n_v, m=m, reorthogonalize=reo,
        folded_mass=frozen(np.array([f for _, f, _ in mapped])),
        floored_mass=frozen(np.array([f for _, _, f in mapped])),
    )


# -- Jensen–Shannon -----------------------------------------------------------------------------
def _probability(name: str, x) -> np.ndarray:
    x = finite_array(name, x, ndim=1)
    if np.any(x < 0):
        raise ValueError(f"{name} must be >= 0 everywhere, got min {x.min():.3g}")
    total = x.sum()
    if total <= 0:
        raise ValueError(f"{name} must have a positive sum, got {total}")
    return x / total


def _half_kl_bits(p: np.ndarray, s: np.ndarray) -> float:
    """Σ_{p>0} p (1 + log2(p/s)) with s = p + q: KL(p ‖ (p+q)/2) in bits.

    log2(p/s) keeps p = q an exact 0; where p/s would be sub-normal or 0 (sub-normal p against a
    normal s — where scipy's jensenshannon returns inf/nan) it is log2 p − log2 s instead.
    """
    nz = p > 0
    p, s = p[nz], s[nz]
    ratio = p / s
    safe = ratio >= np.finfo(np.float64).tiny
    logs = np.where(safe, np.log2(np.where(safe, ratio, 1.0)), np.log2(p) - np.log2(s))
    return float(np.sum(p * (1.0 + logs)))


def js_distance(p, q) -> float:
    """Jensen–Shannon distance √(JSD / ln 2) ∈ [0, 1] between two probability vectors (THEORY §7).

    ``p`` and ``q`` (≥ 0, same length) are normalised to sum 1 first, as scipy does. Equals
    ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` on well-scaled positive input and stays
    finite on sub-normal tails.
    """
    p = _probability("p", p)
    q = _probability("q", q)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {p.size} and {q.size}")
    s = p + q
    jsd_bits = 0.5 * (_half_kl_bits(p, s) + _half_kl_bits(q, s))
    return math.sqrt(min(max(jsd_bits, 0.0), 1.0))


def js_matrix(densities: BlockDensities) -> np.ndarray:
    """(B, B) symmetric matrix of JS distances between the blocks' densities (zero diagonal)."""
    masses = densities.masses
    b = masses.shape[0]
    out = np.zeros((b, b))
    for i in range(b):
        for j in range(i + 1, b):
            out[i, j] = out[j, i] = js_distance(masses[i], masses[j])
    return out


def _mean_pairs(matrix: np.ndarray) -> float:
    b = matrix.shape[0]
    if b < 2:
        raise ValueError(f"JS0 needs at least 2 blocks, got {b}")
    return float(matrix[np.triu_indices(b, k=1)].mean())


# -- problem-level entry points -----------------------------------------------------------------
def block_densities(p, *, method: str = "auto", mode: str = "log", n_v: int = 10, m: int = 100,
                    seed=0, reorthogonalize: bool = True, scale: float | None = None) -> BlockDensities:
    """Smoothed spectral densities of the diagonal blocks of ``p`` (THEORY §7).

    Parameters
    ----------
    p : BlockQuadratic or sequence of square blocks
    method : {'auto', 'exact', 'slq'}
    mode : {'log', 'paper-lin'}
    n_v, m, seed, reorthogonalize
        SLQ settings (``block_nodes``); recorded on the result.
    scale : float, optional
        Global λ_max (default: the largest block eigenvalue / Ritz value).
    """
    nodes = block_nodes(p, method=method, n_v=n_v, m=m, seed=seed, reorthogonalize=reorthogonalize)
    return densities_from_nodes(nodes, mode=mode, scale=scale)


def pairwise_js(p, **options) -> np.ndarray:
    """(B, B) JS distances between the blocks' densities; options as ``block_densities``."""
    return js_matrix(block_densities(p, **options))


def js0(p, **options) -> float:
    """JS⁰ = mean JS distance over unordered block pairs (THEORY §7); options as ``block_densities``."""
    return _mean_pairs(pairwise_js(p, **options))


def js0_from_nodes(spectra, *, mode: str = "log", scale: float | None = None) -> float:
    """JS⁰ from per-block (nodes, weights) pairs, e.g. SLQ spectra of a real network's blocks."""
    return _mean_pairs(js_matrix(densities_from_nodes(spectra, mode=mode, scale=scale)))
