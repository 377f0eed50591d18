"""The Adam theorem variant is preconditioned GD (THEORY §4), derived for a generic n×n H.

With β1 = 0, β2 = 1, v0 = g0², ε = 0 and no bias correction, v_t ≡ g0² and the update is
w ← w − η g/√v = w − η D⁻¹ g, D = diag(|g0|). Substituting g = He and u = D^{1/2}e gives
u_{t+1} = D^{1/2}(I − ηD⁻¹H)D^{−1/2} u_t, which simplifies to (I − ηP)u_t with
P = D^{−1/2} H D^{−1/2}: GD on P, so §2's rate applies with κ(P).
"""
from __future__ import annotations

from typing import NamedTuple

import sympy as sp


class Equivalence(NamedTuple):
    P: sp.Matrix                # D^{-1/2} H D^{-1/2} in terms of the symbols
    u_map: sp.Matrix            # the derived u-iteration matrix
    residual: sp.Matrix         # u_map − (I − ηP), simplified: the zero matrix
    h_symbols: tuple            # the upper-triangle entries of H, row-major
    d_symbols: tuple            # the entries of D (positive)
    eta: sp.Symbol


def preconditioned_equivalence(n: int = 2) -> Equivalence:
    """Derive the u-iteration of the Adam variant for a symbolic symmetric n×n H."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    hs = {}
    for i in range(n):
        for j in range(i, n):
            hs[(i, j)] = sp.Symbol(f"h_{i}{j}", real=True)
    H = sp.Matrix(n, n, lambda i, j: hs[(min(i, j), max(i, j))])
    ds = sp.symbols(f"D_0:{n}", positive=True)
    eta = sp.Symbol("eta", positive=True)
    g0 = sp.Matrix(ds)                     # |g0| = D; v = g0² ⇒ √v = D (positive symbols)
    sqrt_v = g0.applyfunc(lambda x: sp.sqrt(x ** 2))
    e = sp.Matrix(sp.symbols(f"e_0:{n}", real=True))
    w_step = -eta * sp.diag(*sqrt_v).inv() * (H * e)        # Δw = −η g/√v, g = He
    e_next = e + w_step
    A = e_next.jacobian(e)                                   # e_{t+1} = A e_t
    Dh, Dmh = sp.diag(*[sp.sqrt(d) for d in ds]), sp.diag(*[1 / sp.sqrt(d) for d in ds])
    u_map = sp.simplify(Dh * A * Dmh)                        # u = D^{1/2} e
    P = sp.simplify(Dmh * H * Dmh)
    residual = sp.simplify(u_map - (sp.eye(n) - eta * P))
    return Equivalence(P, u_map, residual, tuple(hs.values()), tuple(ds), eta)
