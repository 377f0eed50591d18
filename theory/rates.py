"""Closed-form rates of GD, blockwise GD and the Adam / Adam-mini theorem variants (THEORY §2–§4).

All of them are instances of one fact (THEORY §2): the iteration x ← (I − ηA)x with A SPD
contracts ‖x‖ by ρ(η) = max(|1 − ηλmax(A)|, |1 − ηλmin(A)|), minimised by the equioscillation
step 2/(λmax + λmin) at (κ(A) − 1)/(κ(A) + 1). GD uses A = H, blockwise GD A = H_l per block,
the Adam variant A = P = D^{-1/2} H D^{-1/2} with D = diag(|g0|) (THEORY §4), the Adam-mini
variant the same with D block-constant. ``theory.derivations.gd`` derives these with sympy.

Because A commutes with I − ηA, every quantity of the form xᵀ f(A) x contracts too: the loss
ℓ = ½eᵀHe per step by ρ², and the gradient g = He obeys g_{t+1} = (I − ηH)g_t for GD, so ‖g‖
contracts by ρ exactly as ‖e‖ does. ``theory.check`` uses this, since results store losses and
gradient norms, not errors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from hetquad.problems.validation import finite_array, frozen, positive
from .records import Provenance, RateBound, contraction, iters

BLOCK_DIAGONAL = "H exactly block-diagonal (no coupling)"
CONSTANT_STEP = "constant step size, deterministic gradients"


def step_rate(lr: float, lam_max: float, lam_min: float) -> float:
    """ρ(η) = max(|1 − η λmax|, |1 − η λmin|): the contraction of I − ηA (THEORY §2)."""
    return max(abs(1.0 - lr * lam_max), abs(1.0 - lr * lam_min))


def optimal_step(lam_max: float, lam_min: float) -> float:
    """η* = 2/(λmax + λmin), the equioscillation step (THEORY §2)."""
    return 2.0 / (lam_max + lam_min)


def _require_quadratic(p) -> None:
    if not hasattr(p, "eigvalsh") or not hasattr(p, "block_eigvals"):
        raise TypeError(f"p must be a BlockQuadratic, got {type(p).__name__}")


def _require_block_diagonal(p, what: str) -> None:
    if not p.is_block_diagonal:
        raise ValueError(f"{what} needs a block-diagonal H (THEORY §3/§4); p has a coupling "
                         f"of norm delta = {p.delta:.3g}")


def gd_rate(p, *, lr: float | None = None) -> RateBound:
    """GD with a constant step on ℓ = ½eᵀHe (THEORY §2).

    Parameters
    ----------
    p : BlockQuadratic
    lr : float > 0, optional
        A given step η; default the optimum η* = 2/(L+μ).

    Returns
    -------
    RateBound
        ``rate`` = ρ(η) = max(|1−ηL|, |1−ημ|) ((κ−1)/(κ+1) at η*); ``lr`` = η;
        ``iterations(eps)`` = iters(ρ, ε) ≥ T(ε) for every initial point.
    """
    _require_quadratic(p)
    L, mu = p.L, p.mu
    if lr is None:
        lr, formula = optimal_step(L, mu), "rho* = (kappa-1)/(kappa+1) at eta* = 2/(L+mu)"
        rate = contraction(p.kappa)
    else:
        lr, formula = positive("lr", lr), "rho(eta) = max(|1-eta L|, |1-eta mu|)"
        rate = step_rate(lr, L, mu)
    return RateBound("gd_rate", rate, lr, p.kappa,
                     Provenance(formula, "THEORY §2 [D, classical]", (CONSTANT_STEP, "H SPD")))


def blockwise_gd_rate(p) -> RateBound:
    """Blockwise GD with per-block optimal steps η_l = 2/(L_l + μ_l) (THEORY §3).

    Blocks decouple, so block l contracts by ρ_l = (κ_l−1)/(κ_l+1) and the whole error by
    max_l ρ_l. ``lr`` is None (no single step); ``block_lrs`` and ``block_rates`` hold the
    per-block numbers, ``kappa`` = max_l κ_l.
    """
    _require_quadratic(p)
    _require_block_diagonal(p, "blockwise_gd_rate")
    lrs = tuple(optimal_step(e[-1], e[0]) for e in p.block_eigvals)
    rates = tuple(contraction(float(k)) for k in p.block_kappas)
    return RateBound("blockwise_gd_rate", max(rates), None, float(np.max(p.block_kappas)),
                     Provenance("max_l (kappa_l-1)/(kappa_l+1) at eta_l = 2/(L_l+mu_l)",
                                "THEORY §3 [M §2.1, App. E.2; D]",
                                (BLOCK_DIAGONAL, CONSTANT_STEP, "(L_l, mu_l) known")),
                     block_rates=rates, block_lrs=lrs)


# -- the Adam / Adam-mini theorem variants (THEORY §4) ------------------------------------------
def adam_scaling(p, w0) -> np.ndarray:
    """D = |g0| per coordinate (the Adam variant's frozen √v, THEORY §4); needs every g0_i ≠ 0."""
    g0 = _initial_gradient(p, w0)
    zero = np.flatnonzero(g0 == 0)
    if zero.size:
        raise ValueError(f"the Adam variant needs every g0_i != 0 (D = diag(|g0|)); g0 is 0 at "
                         f"i = {zero[:10].tolist()}")
    return frozen(np.abs(g0))


def adam_mini_scaling(p, w0) -> np.ndarray:
    """D_mini = √(mean_{i∈l} g0_i²) on every coordinate of block l (THEORY §4, [M] Alg. 1)."""
    g0 = _initial_gradient(p, w0)
    ids = np.repeat(np.arange(len(p.sizes)), p.sizes)
    rms = np.sqrt(np.bincount(ids, weights=g0 * g0) / np.asarray(p.sizes, dtype=float))
    if np.any(rms == 0):
        raise ValueError(f"the Adam-mini variant needs a non-zero g0 on every block; blocks "
                         f"{np.flatnonzero(rms == 0).tolist()} have g0 = 0")
    return frozen(rms[ids])


def _initial_gradient(p, w0) -> np.ndarray:
    _require_quadratic(p)
    w0 = finite_array("w0", w0, ndim=1)
    if w0.size != p.d:
        raise ValueError(f"w0 must have shape ({p.d},), got {w0.shape}")
    return p.grad(w0)


def preconditioned_block_eigvals(p, scaling) -> tuple[np.ndarray, ...]:
    """Eigenvalues of P = D^{-1/2} H D^{-1/2} per operator tile (THEORY §4).

    For a block-diagonal H, P is block-diagonal with tiles D_l^{-1/2} H_l D_l^{-1/2}, so
    spec(P) is the union of the returned arrays; with a coupling there is one dense tile.
    """
    s = 1.0 / np.sqrt(scaling)
    out, start = [], 0
    for h in p.operator_blocks:
        n = h.shape[0]
        sl = s[start:start + n]
        out.append(scipy.linalg.eigvalsh(sl[:, None] * h * sl[None, :]))
        start += n
    return tuple(out)


def _variant(name: str, p, scaling, lr, formula: str, source: str, assumptions: tuple) -> RateBound:
    tiles = preconditioned_block_eigvals(p, scaling)
    lam_max = max(float(e[-1]) for e in tiles)
    lam_min = min(float(e[0]) for e in tiles)
    kappa_p = lam_max / lam_min
    if lr is None:
        lr, rate = optimal_step(lam_max, lam_min), contraction(kappa_p)
    else:
        lr = positive("lr", lr)
        rate = step_rate(lr, lam_max, lam_min)
    kmax = float(np.max(p.block_kappas))
    r = kappa_p / kmax
    block_rates = (tuple(step_rate(lr, float(e[-1]), float(e[0])) for e in tiles)
                   if p.is_block_diagonal else None)
    return RateBound(name, rate, lr, kappa_p, Provenance(formula, source, assumptions),
                     block_rates=block_rates, r=r, scaling=scaling)


VARIANT_ASSUMPTIONS = ("beta1 = 0, beta2 = 1, v0 = g0^2, eps = 0, no bias correction",
                       "every g0_i != 0", CONSTANT_STEP)


def adam_variant_rate(p, w0, *, lr: float | None = None) -> RateBound:
    """The Adam theorem variant w ← w − η D⁻¹g, D = diag(|g0|) (THEORY §4).

    With u = D^{1/2}e the iteration is u ← (I − ηP)u, P = D^{-1/2}HD^{-1/2}, so the rate in
    the D-norm is ρ_P = (κ(P)−1)/(κ(P)+1) at η_P = 2/(λmax(P)+λmin(P)) (or ρ(η) at a given
    ``lr``), and ℓ = ½uᵀPu contracts by ρ_P² per step. ``r`` holds the block excess ψ = κ(P)/max_l κ_l
    (THEORY's symbol table; not Adam-mini's r of THEORY §5b).

    Parameters
    ----------
    p : BlockQuadratic
    w0 : (d,) array
        The initial point (D depends on it through g0).
    lr : float > 0, optional
        A given step; default η_P.
    """
    return _variant("adam_variant_rate", p, adam_scaling(p, w0), lr,
                    "rho_P = (kappa(P)-1)/(kappa(P)+1), P = D^-1/2 H D^-1/2, D = diag(|g0|)",
                    "THEORY §4 [D]", VARIANT_ASSUMPTIONS)


def adam_mini_variant_rate(p, w0, *, lr: float | None = None) -> RateBound:
    """The Adam-mini variant: as ``adam_variant_rate`` with D_mini = blockdiag(√mean(g0_l²)·I).

    For a block-diagonal H, P_mini = blockdiag(H_l/D_l), so κ(P_mini) ≥ max_l κ_l (THEORY §4):
    ``r`` (the block excess ψ) ≥ 1 always, and ``block_rates`` are the per-block contractions at the common lr.
    """
    return _variant("adam_mini_variant_rate", p, adam_mini_scaling(p, w0), lr,
                    "rho_P = (kappa(P_mini)-1)/(kappa(P_mini)+1), D_mini block-constant rms(g0_l)",
                    "THEORY §4 [M Alg. 1; D]", VARIANT_ASSUMPTIONS + ("partition = the problem's blocks",))


# -- Zhang et al.'s statement in quantitative form (THEORY §4) --------------------------------
@dataclass(frozen=True)
class ZhangPrediction:
    """GD vs the Adam variant on one (H, w0) (THEORY §4, "the block excess ψ and Zhang et al.'s claim").

    Attributes
    ----------
    gd : RateBound            GD at η* (ρ* = (κ−1)/(κ+1)).
    adam : RateBound          the Adam variant at η_P.
    r : float                 the block excess ψ = κ(P)/max_l κ_l (not Adam-mini's r, THEORY §5b).
    adam_loss_factor : float  max_l (1 − 1/(ψ κ_l)) = 1 − 1/(ψ·max κ_l) ≥ ρ_P²: the variant's
                              loss contracts at least this fast per step.
    gd_loss_factor : float    (1 − 2/(κ+1))² = ρ*²: no constant-lr GD beats it (on the
                              THEORY §2 construction, aggregated form).
    adam_beats_gd : bool      κ(P) < κ.
    """

    gd: RateBound
    adam: RateBound
    r: float
    kappa: float
    kappa_block_max: float
    adam_loss_factor: float
    gd_loss_factor: float
    adam_beats_gd: bool
    provenance: Provenance
    name: str = "zhang_prediction"

    @property
    def rate(self) -> float:
        """√(1 − 1/(ψ κ_max)): the error-norm form of ``adam_loss_factor``."""
        return math.sqrt(self.adam_loss_factor)

    @property
    def lr(self) -> float:
        return self.adam.lr

    def iterations(self, eps: float) -> dict:
        """Predicted T(ε): GD upper bound at η*, the Adam variant at η_P from ρ_P and from the
        Zhang et al. factor 1 − 1/(ψ κ_max)."""
        return {"gd": self.gd.iterations(eps), "adam": self.adam.iterations(eps),
                "adam_zhang": iters(self.rate, eps)}


def zhang_prediction(p, w0) -> ZhangPrediction:
    """Zhang et al.'s GD-vs-Adam statement with its numbers for (p, w0) (THEORY §4, §6).

    The Adam variant contracts the loss by at most max_l (1 − 1/(ψ·κ_l)) per step (ψ = κ(P)/max_l κ_l); GD cannot
    beat (1 − 2/(κ+1))²; the variant is predicted faster iff κ(P) < κ.
    """
    gd = gd_rate(p)
    adam = adam_variant_rate(p, w0)
    kmax = float(np.max(p.block_kappas))
    return ZhangPrediction(
        gd=gd, adam=adam, r=adam.r, kappa=p.kappa, kappa_block_max=kmax,
        adam_loss_factor=1.0 - 1.0 / (adam.r * kmax), gd_loss_factor=contraction(p.kappa) ** 2,
        adam_beats_gd=adam.kappa < p.kappa,
        provenance=Provenance("Adam: max_l(1 - 1/(r kappa_l)); GD: >= (1 - 2/(kappa+1))^2",
                              "THEORY §4 [D; Z for the qualitative claim]",
                              VARIANT_ASSUMPTIONS + ("GD side: aggregated lower bound of THEORY §2",)))
