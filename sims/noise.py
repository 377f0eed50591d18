"""Stochastic-gradient models with their own seed (THEORY §8.4).

``GaussianNoise`` draws from a counter-based stream: the normal number of run i, step t and
coordinate j is a pure function of (seed, i, t, j) — splitmix64 hashes of the key
(seed, run index) and the counter (t, j), two uniforms, Box–Muller — so a run's noise does not
depend on its batch mates or on how an engine orders its work, and the numpy, numba and
batched/cupy engines draw the very same numbers (the functions below are compiled by numba as
they are). ``GradientCorrelatedNoise`` (numpy engine) scales that stream's normals by the
gradient, coordinate by coordinate. ``MiniBatch`` (finite-sum problems, numpy engine) draws
run-independent index sets.
"""
from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import numpy as np

from hetquad.problems.validation import integer, nonnegative, one_of


_U = np.uint64


# -- the counter-based stream: plain numpy code that numba compiles unchanged (uint64 wraps) ---
def splitmix64(x):
    """The splitmix64 finalizer of ``x + golden``: a bijective 64-bit hash (uint64 in, uint64 out)."""
    x = x + _U(0x9E3779B97F4A7C15)
    x = (x ^ (x >> _U(30))) * _U(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> _U(27))) * _U(0x94D049BB133111EB)
    return x ^ (x >> _U(31))


def uniform(bits):
    """A uniform in (0, 1) from the top 53 bits (never 0, so log is finite)."""
    return (np.float64(bits >> _U(11)) + 0.5) * 1.1102230246251565e-16


def normal_pair(key, t, q, half):
    """Two independent standard normals of the stream ``key`` at step ``t`` for the coordinate
    pair q = (2q, 2q + 1), ``half`` = ⌈d/2⌉ pairs per step: Box–Muller on two hashed counters,
    so one log, one square root and one sine/cosine pair per two coordinates."""
    c = (t * half + q) * _U(2)
    u1 = uniform(splitmix64(key ^ c))
    u2 = uniform(splitmix64(key ^ (c + _U(1))))
    r = np.sqrt(-2.0 * np.log(u1))
    a = 6.283185307179586 * u2
    return r * np.cos(a), r * np.sin(a)


def run_keys(seed: int, n: int) -> np.ndarray:
    """(n,) uint64 stream keys of runs 0..n-1 of a batch drawn with ``seed``."""
    return splitmix64(splitmix64(np.full(n, seed, dtype=np.uint64)) ^ np.arange(n, dtype=np.uint64))


def scale_tiles(problem) -> tuple:
    """S_b = (c·H_b)^{1/2} per operator tile, c = d/tr(H): ξ = σ·S z has covariance σ²·d·H/tr(H).

    H is block diagonal over its operator tiles, so its square root is too (one dense tile for a
    coupled problem)."""
    tiles = [np.asarray(h, dtype=np.float64) for h in problem.operator_blocks]
    c = problem.d / sum(float(np.trace(h)) for h in tiles)
    out = []
    for h in tiles:
        lam, q = np.linalg.eigh(h)
        out.append((q * np.sqrt(np.clip(lam, 0, None) * c)) @ q.T)
    return tuple(out)


def _streams(seed: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


@dataclass(frozen=True)
class GaussianNoise:
    """g̃ = ∇ℓ(w) + ξ, ξ ~ N(0, σ²I) or N(0, σ²H/tr(H)·d) ('hessian', the noisy quadratic model).

    With ``covariance='hessian'`` the covariance is σ²·d·H/tr(H), so E‖ξ‖² = σ²·d in both cases.
    """

    sigma: float
    covariance: str = "identity"
    seed: int = 0

    def __post_init__(self):
        nonnegative("sigma", self.sigma)
        one_of("covariance", self.covariance, ("identity", "hessian"))
        integer("seed", self.seed, minimum=0)

    def stream(self, problem, n: int) -> "GaussianStream":
        """The noise of a batch of ``n`` runs as a function of the step: ``stream.at(t)``."""
        if self.covariance == "hessian" and not hasattr(problem, "operator_blocks"):
            raise ValueError(f"covariance='hessian' needs a block quadratic (operator_blocks), "
                             f"got {type(problem).__name__}")
        tiles = scale_tiles(problem) if self.covariance == "hessian" else None
        return GaussianStream(float(self.sigma), run_keys(self.seed, n), int(problem.d), tiles)

    def sampler(self, problem, n: int):
        """Return ``draw() -> (n, d)`` noise for successive steps 0, 1, 2, …"""
        stream = self.stream(problem, n)
        step = iter(range(2**62))
        return lambda: stream.at(next(step))

    def gradient(self, problem, w: np.ndarray, draw) -> np.ndarray:
        return problem.grad(w) + draw()


@dataclass(frozen=True, eq=False)
class GaussianStream:
    """σ·ξ of every run at step t: ξ = z (identity) or S z per tile (hessian), z from ``normal``."""

    sigma: float
    keys: np.ndarray     # (n,) uint64
    d: int
    tiles: tuple | None  # scale tiles S_b (hessian covariance), None for identity

    def at(self, t: int) -> np.ndarray:
        """(n, d) noise of step ``t``."""
        half = (self.d + 1) // 2
        q = np.arange(half, dtype=np.uint64)[None, :]
        with np.errstate(over="ignore"):
            z0, z1 = normal_pair(self.keys[:, None], np.full((1, 1), t, dtype=np.uint64), q, _U(half))
        z = np.empty((self.keys.size, 2 * half))
        z[:, 0::2], z[:, 1::2] = z0, z1  # coordinate 2q gets the cosine, 2q + 1 the sine
        z = z[:, :self.d]
        if self.tiles is not None:
            out, a = np.empty_like(z), 0
            for h in self.tiles:  # row-vector items: the same bits for a run whatever the batch
                b = a + h.shape[0]
                out[:, a:b] = np.matmul(z[:, None, a:b], h)[:, 0, :]
                a = b
            z = out
        return self.sigma * z


@dataclass(frozen=True)
class GradientCorrelatedNoise:
    """g̃ = ∇ℓ(w) + ξ with ξ_i = σ·√d·|g_i|/‖g‖·z_i: noise shaped coordinate-wise by the gradient.

    Given the true gradient g (≠ 0) the noise is Gaussian with mean 0 and covariance

        Cov[ξ | g] = σ²·d·diag(g ∘ g)/‖g‖²,   so E‖ξ‖² = σ²·d as for ``GaussianNoise``;

    ξ = 0 where g = 0 (at the minimum, and on any coordinate whose gradient vanishes). A coordinate's
    noise is proportional to its own gradient: our reading [C] of the coordinate-wise
    noise–gradient correlation of Tomihari & Sato 2025, Assumption 4.8, Eq. (21) (THEORY §8.4),
    whose constants the text does not give. σz is ``GaussianNoise(σ, seed=seed)``'s counter-based
    stream, so the noise of run i at step t is a pure function of (seed, i, t, g): the same seed
    gives the same bits, whatever the batch mates. Runs on the numpy engine (the numba and cupy
    engines refuse it).

    Parameters
    ----------
    sigma : float >= 0
        Noise scale: E‖ξ‖² = σ²·d.
    seed : int >= 0, keyword-only
    """

    sigma: float
    _: KW_ONLY
    seed: int = 0

    def __post_init__(self):
        nonnegative("sigma", self.sigma)
        integer("seed", self.seed, minimum=0)

    def stream(self, problem, n: int) -> "GradientCorrelatedStream":
        """The noise of a batch of ``n`` runs as a function of the step and gradient: ``at(t, g)``."""
        n = integer("n", n, minimum=1)
        return GradientCorrelatedStream(GaussianNoise(self.sigma, seed=self.seed).stream(problem, n))

    def sampler(self, problem, n: int):
        """Return ``draw(g) -> (n, d)`` noise for successive steps 0, 1, 2, … at gradients ``g``."""
        stream = self.stream(problem, n)
        step = iter(range(2**62))
        return lambda g: stream.at(next(step), g)

    def gradient(self, problem, w: np.ndarray, draw) -> np.ndarray:
        g = problem.grad(w)
        return g + draw(g)


@dataclass(frozen=True, eq=False)
class GradientCorrelatedStream:
    """ξ = σz·√d·|g|/‖g‖ of every run at step t, σz the isotropic stream ``iso`` (a GaussianStream)."""

    iso: GaussianStream

    def at(self, t: int, g: np.ndarray) -> np.ndarray:
        """(n, d) noise of step ``t`` at the true gradients ``g`` (n, d), one row per run."""
        g = np.asarray(g, dtype=np.float64)
        if g.shape != (self.iso.keys.size, self.iso.d):
            raise ValueError(f"g must have shape ({self.iso.keys.size}, {self.iso.d}) (runs, d), got {g.shape}")
        norm = np.linalg.norm(g, axis=1, keepdims=True)
        return self.iso.at(t) * np.sqrt(self.iso.d) * np.abs(g) / np.where(norm > 0, norm, 1.0)


@dataclass(frozen=True)
class MiniBatch:
    """Mini-batch gradients for finite-sum problems that expose ``grad(w, samples=idx)``.

    ``order='cyclic'`` walks the samples in order (a sample-wise epoch for size 1, as in
    Tomihari & Sato Prop. 4.10); ``'random'`` draws without replacement each step.
    """

    size: int = 1
    order: str = "cyclic"
    seed: int = 0

    def __post_init__(self):
        integer("size", self.size, minimum=1)
        one_of("order", self.order, ("cyclic", "random"))
        integer("seed", self.seed, minimum=0)

    def sampler(self, problem, n: int):
        if not hasattr(problem, "n_samples"):
            raise ValueError(f"MiniBatch needs a finite-sum problem (with n_samples), got {type(problem).__name__}")
        N = problem.n_samples
        if self.size > N:
            raise ValueError(f"size must be <= n_samples = {N}, got {self.size}")
        gen = np.random.default_rng(self.seed)
        state = {"pos": 0}

        def draw() -> np.ndarray:
            if self.order == "random":
                return gen.choice(N, size=self.size, replace=False)
            idx = (state["pos"] + np.arange(self.size)) % N
            state["pos"] = (state["pos"] + self.size) % N
            return idx

        return draw

    def gradient(self, problem, w: np.ndarray, draw) -> np.ndarray:
        return problem.grad(w, samples=draw())
