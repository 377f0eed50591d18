"""Random instances on which ``hetquad check`` tests every bound (THEORY §10).

Pure problem generation — nothing here runs an optimizer (``theory`` never imports ``sims``);
``hetquad.checks`` runs them. Every instance is drawn from its own stream
``SeedSequence(master_seed, spawn_key=(bound index,)).spawn(n)[i]`` so instance i of a bound does
not depend on how many instances are drawn. The documented ranges (``RANGES``) keep κ ≤ 30² = 900,
so GD needs at most iters(ρ*, 1e-6) ≈ 3.1e3 steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetquad.problems.heterogeneity import initial_point
from hetquad.problems.linear_head import linear_head
from hetquad.problems.quadratic import BlockQuadratic, block_quadratic
from hetquad.problems.validation import integer

#: Ranges every instance is drawn from (uniform on integers, log-uniform on scales).
RANGES = {
    "n_blocks": (2, 5),            # B
    "block_size": (2, 8),          # d_l
    "block_kappa": (1.0, 30.0),    # κ_l, log-uniform (endpoints always in the spectrum)
    "block_scale": (1.0, 30.0),    # μ_l, log-uniform: κ = max L_l / min μ_l ≤ 900
    "rotation": ("haar", "givens", "identity"),  # τ from 1 (identity) down; givens R ~ U[0, 1]
    "gini": (0.0, 0.8),            # target Gini of the gradient profile, × (B−1)/B
    "placement": ("random", "sharpest"),
    "coupling": (0.0, 0.5),        # strength of a random off-block coupling (Tomihari, δ > 0), half the instances
    "sign_lr_fraction": (0.02, 0.3),   # plateau: η = fraction × max|e0_i|
    "linear_head": {"n_samples": (20, 80), "n_classes": (2, 10), "n_features": (2, 6),
                    # lr ≤ 1e-2 keeps logit gaps < 30 over 3 epochs: beyond ~37, float64 softmax
                    # rounds p to 0/1, sign(e_ic) becomes 0 and Prop. 4.10's 0 < p < 1 fails
                    "lr": (1e-4, 1e-2), "epochs": (1, 3)},
}


@dataclass(frozen=True, eq=False)
class Instance:
    """A problem, an initial point and the numbers that made them."""

    problem: object
    w0: np.ndarray
    info: dict = field(default_factory=dict)


def _loguniform(rng, lo, hi) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def random_spectrum(rng, n: int) -> np.ndarray:
    """n eigenvalues log-uniform in [μ_l, μ_l κ_l], both endpoints included."""
    mu = _loguniform(rng, *RANGES["block_scale"])
    kappa = _loguniform(rng, *RANGES["block_kappa"])
    inner = rng.uniform(0.0, 1.0, size=max(n - 2, 0))
    u = np.concatenate([[0.0, 1.0][:n], inner])
    return np.sort(mu * kappa ** u)


def random_problem(rng, *, rotation: str | None = None) -> BlockQuadratic:
    """A block-diagonal quadratic with B blocks of random sizes, spectra and rotations (RANGES)."""
    B = int(rng.integers(RANGES["n_blocks"][0], RANGES["n_blocks"][1] + 1))
    sizes = rng.integers(RANGES["block_size"][0], RANGES["block_size"][1] + 1, size=B)
    rotation = rotation or str(rng.choice(RANGES["rotation"]))
    eigs = [random_spectrum(rng, int(n)) for n in sizes]
    return block_quadratic(eigs, rotation=rotation, R=float(rng.uniform()), seed=int(rng.integers(2**31)),
                           name=f"suite-{rotation}")


def random_initial_point(rng, p) -> tuple[np.ndarray, dict]:
    """w0 with a random gradient profile: Gini ~ U[RANGES['gini']]·(B−1)/B, random placement."""
    B = len(p.sizes)
    g = float(rng.uniform(*RANGES["gini"])) * (B - 1) / B
    placement = str(rng.choice(RANGES["placement"]))
    w0 = initial_point(p, gini=g, placement=placement, seed=int(rng.integers(2**31)))
    return w0, {"gini": g, "placement": placement}


def coordinate_view(p) -> BlockQuadratic:
    """The same H partitioned into its d coordinates: 1×1 blocks diag(H) plus the off-diagonal part
    as a coupling, so a run with ``per_block=True`` records |g_i| and hence ‖g‖₁ exactly (what the
    sign-based bounds of THEORY §8.3–§8.4 measure). Dense: meant for small d."""
    h = p.hessian()
    diag = np.diag(h).copy()
    off = h - np.diag(diag)
    return BlockQuadratic(tuple(x.reshape(1, 1) for x in diag), w_star=p.w_star,
                          coupling=off if np.any(off) else None, name=f"{p.name}/coordinates",
                          info={**p.info, "view": "coordinates"})


def _rng(seed: int, key: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed, spawn_key=(key,)).spawn(n)]


def quadratic_instances(n: int, *, seed: int, key: int, rotation: str | None = None,
                        coupling: bool = False) -> list[Instance]:
    """n random (problem, w0) pairs; with ``coupling`` half of them get an off-block coupling."""
    from hetquad.problems.quadratic import coupled

    n = integer("n", n, minimum=1)
    out = []
    for rng in _rng(integer("seed", seed, minimum=0), key, n):
        p = random_problem(rng, rotation=rotation)
        info = {"rotation": p.info["rotation"], "kappa": p.kappa, "B": len(p.sizes), "d": p.d}
        if coupling and rng.uniform() < 0.5:
            strength = float(rng.uniform(*RANGES["coupling"]))
            p = coupled(p, strength=strength, seed=int(rng.integers(2**31)))
            info["coupling"] = strength
        w0, prof = random_initial_point(rng, p)
        out.append(Instance(p, w0, {**info, **prof}))
    return out


def plateau_instances(n: int, *, seed: int, key: int) -> list[Instance]:
    """Diagonal problems (rotation 'identity') with w0 ~ N(0, I) and a SignSGD lr (THEORY §9.1)."""
    out = []
    for rng in _rng(integer("seed", seed, minimum=0), key, integer("n", n, minimum=1)):
        p = random_problem(rng, rotation="identity")
        w0 = p.w_star + rng.standard_normal(p.d)
        lr = float(rng.uniform(*RANGES["sign_lr_fraction"])) * float(np.max(np.abs(w0 - p.w_star)))
        out.append(Instance(p, w0, {"lr": lr, "d": p.d}))
    return out


def linear_head_instances(n: int, *, seed: int, key: int) -> list[Instance]:
    """Linear heads (THEORY §8.5) with a SignSGD lr, epochs and w0 ~ N(0, 0.1²)."""
    r = RANGES["linear_head"]
    out = []
    for rng in _rng(integer("seed", seed, minimum=0), key, integer("n", n, minimum=1)):
        head = linear_head(n_samples=int(rng.integers(r["n_samples"][0], r["n_samples"][1] + 1)),
                           n_classes=int(rng.integers(r["n_classes"][0], r["n_classes"][1] + 1)),
                           n_features=int(rng.integers(r["n_features"][0], r["n_features"][1] + 1)),
                           balanced=bool(rng.uniform() < 0.5), seed=int(rng.integers(2**31)))
        w0 = 0.1 * rng.standard_normal(head.d)
        out.append(Instance(head, w0, {"lr": _loguniform(rng, *r["lr"]),
                                       "epochs": int(rng.integers(r["epochs"][0], r["epochs"][1] + 1))}))
    return out
