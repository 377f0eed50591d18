"""Stochastic-gradient models with their own seed (THEORY §8.4).

Run i of a batch draws from its own stream ``SeedSequence(seed).spawn(n)[i]``, so a run's noise
does not depend on the batch it was launched in.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hetquad.problems.validation import integer, nonnegative, one_of


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

    def sampler(self, problem, n: int):
        """Return ``draw() -> (n, d)`` noise for successive steps."""
        gens = _streams(self.seed, n)
        d = problem.d
        if self.covariance == "identity":
            scale = None
        else:
            h = problem.hessian()
            lam, q = np.linalg.eigh(h)
            scale = (q * np.sqrt(np.clip(lam, 0, None) * d / lam.sum())) @ q.T
        sigma = float(self.sigma)

        def draw() -> np.ndarray:
            z = np.stack([g.standard_normal(d) for g in gens])
            return sigma * (z if scale is None else z @ scale.T)

        return draw

    def gradient(self, problem, w: np.ndarray, draw) -> np.ndarray:
        return problem.grad(w) + draw()


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
