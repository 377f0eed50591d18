"""GD's optimal constant step and rate from equioscillation (THEORY §2), and the construction.

For e ← (I − ηH)e the rate is ρ(η) = max(|1 − ηL|, |1 − ημ|): the first term increases and the
second decreases in η on the relevant range, so the minimum is where they are equal with opposite
signs, 1 − ημ = −(1 − ηL). Solving gives η* and ρ*; rewriting with L = κμ gives (κ−1)/(κ+1).
"""
from __future__ import annotations

from typing import NamedTuple

import sympy as sp

L, MU, ETA, KAPPA, EPS = sp.symbols("L mu eta kappa epsilon", positive=True)
T = sp.symbols("t", integer=True, nonnegative=True)


class OptimalGD(NamedTuple):
    lr: sp.Expr            # η*(L, μ)
    rate: sp.Expr          # ρ*(L, μ)
    rate_kappa: sp.Expr    # ρ*(κ)
    iterations: sp.Expr    # iters(ρ*(κ), ε) before the ceiling
    symbols: tuple         # (L, μ, κ, ε)


def optimal_gd() -> OptimalGD:
    """Solve the equioscillation condition 1 − ημ = −(1 − ηL) for η and simplify ρ* = 1 − η*μ."""
    (lr,) = sp.solve(sp.Eq(1 - ETA * MU, -(1 - ETA * L)), ETA)
    rate = sp.simplify(1 - lr * MU)
    rate_kappa = sp.simplify(rate.subs(L, KAPPA * MU))
    iterations = sp.log(1 / EPS) / (2 * sp.log(1 / rate_kappa))
    return OptimalGD(lr, rate, rate_kappa, iterations, (L, MU, KAPPA, EPS))


def construction_loss_ratio() -> tuple[sp.Expr, tuple]:
    """ℓ_t/ℓ_0 on e0 = a u_L + b u_μ with L a² = μ b² (THEORY §2): ½[(1−ηL)^{2t} + (1−ημ)^{2t}].

    Derived from ℓ = ½Σλ_i c_i²(1 − ηλ_i)^{2t} with the two eigen-components.
    """
    a2, b2 = 1 / L, 1 / MU  # L a² = μ b² = 1 = ℓ_0 ... up to the factor ½ below
    loss_t = sp.Rational(1, 2) * (L * a2 * (1 - ETA * L) ** (2 * T) + MU * b2 * (1 - ETA * MU) ** (2 * T))
    loss_0 = loss_t.subs(T, 0)
    return sp.simplify(loss_t / loss_0), (L, MU, ETA, T)
