"""Frozen records that every bound returns: the numbers, the formula's name, source and assumptions.

A record never runs an optimizer; ``theory.check`` compares a ``sims.Result`` with it. Rates are
per-step contraction factors of an *error norm* (THEORY notation), so the loss contracts by
rate² and ``iterations(eps)`` is THEORY's iters(ρ, ε) = ⌈ln(1/ε) / (2 ln(1/ρ))⌉.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hetquad.problems.validation import in_range


def iters(rate: float, eps: float) -> float:
    """iters(ρ, ε) = ⌈ln(1/ε) / (2 ln(1/ρ))⌉ — steps until ρ^{2t} ≤ ε (THEORY notation).

    ``inf`` when ρ ≥ 1 (no contraction), 0 when ε ≥ 1 or ρ = 0 after one step.
    """
    eps = in_range("eps", eps, 0.0, 1.0, closed="right")
    if eps == 1.0:
        return 0.0
    if rate >= 1.0:
        return math.inf
    if rate <= 0.0:
        return 1.0
    return float(math.ceil(math.log(1.0 / eps) / (2.0 * math.log(1.0 / rate))))


def contraction(kappa: float) -> float:
    """(κ − 1)/(κ + 1): the optimal constant-step rate for condition number κ (THEORY §2)."""
    return (kappa - 1.0) / (kappa + 1.0)


@dataclass(frozen=True)
class Provenance:
    """Where a formula comes from and what it assumes."""

    formula: str          # short name, e.g. "rho* = (kappa-1)/(kappa+1)"
    source: str           # THEORY section and paper tag, e.g. "THEORY §2 [D]"
    assumptions: tuple    # of str


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class RateBound:
    """A per-step contraction bound ‖e_{t+1}‖ ≤ rate·‖e_t‖ in some norm, and what follows from it.

    Attributes
    ----------
    name : str
        Public function that made it (``'gd_rate'``, ``'adam_variant_rate'``, ...).
    rate : float
        Per-step contraction of the error norm; the loss contracts by ``rate**2`` per step.
    lr : float or None
        The step the rate holds at (the optimal one unless a step was given); ``None`` where no
        single step exists (blockwise GD: see ``block_lrs``).
    kappa : float
        Condition number of the matrix that governs the iteration (H, or P = D^{-1/2}HD^{-1/2}).
    provenance : Provenance
    block_rates, block_lrs : tuple of float, optional
        Per-block rates and steps (blockwise GD, Adam-mini variant on a block-diagonal H).
    loss_factor : float, optional
        Bound on the per-step loss ratio ℓ_{t+1}/ℓ_t when it is stated separately from rate²
        (the Zhang et al. form 1 − 1/(ψ·max κ_l), THEORY §4); default rate².
    r : float, optional
        The block excess ψ = κ(P)/max_l κ_l (Adam variants, THEORY §4). The attribute keeps the
        name ``r`` for compatibility; it is not Adam-mini's r = κ(D_Adam H)/κ(H) (THEORY §5b).
    scaling : (d,) array, optional
        The diagonal D of the preconditioned iteration w ← w − η D⁻¹ g (Adam variants).
    """

    name: str
    rate: float
    lr: float | None
    kappa: float
    provenance: Provenance
    block_rates: tuple | None = None
    block_lrs: tuple | None = None
    loss_factor: float | None = None
    r: float | None = None
    scaling: np.ndarray | None = None

    @property
    def per_step_loss_factor(self) -> float:
        """Bound on ℓ_{t+1}/ℓ_t."""
        return self.rate ** 2 if self.loss_factor is None else self.loss_factor

    def iterations(self, eps: float) -> float:
        """Upper bound on T(ε) = first t with ℓ_t ≤ ε ℓ_0: iters(rate, ε) (THEORY §2–§4)."""
        return iters(self.rate, eps)

    def loss_bound(self, t) -> np.ndarray:
        """ℓ_t/ℓ_0 ≤ rate^{2t}."""
        return self.rate ** (2.0 * np.asarray(t, dtype=float))


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class LowerBound:
    """THEORY §2 lower-bound construction: ℓ_t ≥ ½ ρ*^{2t} ℓ_0 for every constant lr and every t.

    Attributes
    ----------
    w0 : (d,) array
        The initial point w* + a·u_L + b·u_μ with L a² = μ b² = ``loss0``.
    rate : float
        ρ* = (κ−1)/(κ+1).
    lr : float
        η* = 2/(L+μ), where the bound is attained up to the factor ½ at every step.
    loss0 : float
        ℓ(w0).
    """

    name: str
    w0: np.ndarray
    rate: float
    lr: float
    kappa: float
    loss0: float
    provenance: Provenance

    def loss_bound(self, t) -> np.ndarray:
        """ℓ_t/ℓ_0 ≥ ½ ρ*^{2t} (for t ≥ 1; ℓ_0/ℓ_0 = 1 at t = 0)."""
        t = np.asarray(t, dtype=float)
        return np.where(t == 0, 1.0, 0.5 * self.rate ** (2.0 * t))

    def iterations(self, eps: float) -> float:
        """Lower bound on T(ε) for *any* constant lr: ⌈ln(1/(2ε)) / (2 ln(1/ρ*))⌉ (THEORY §2)."""
        eps = in_range("eps", eps, 0.0, 1.0, closed="right")
        if eps >= 0.5:
            return 1.0 if eps < 1.0 else 0.0
        if self.rate <= 0.0:
            return 1.0
        return float(math.ceil(math.log(1.0 / (2.0 * eps)) / (2.0 * math.log(1.0 / self.rate))))
