"""The sign-descent plateau η²tr(H)/2 (THEORY §9.1), derived coordinate by coordinate.

One coordinate with curvature h > 0 and error e follows e ← e − η sign(e). While e > η it only
moves toward 0, so it needs k = ⌈e0/η⌉ − 1 steps to reach (0, η]; from any e ∈ (0, η] the map is
e ↦ e − η ∈ (−η, 0] and back: a 2-cycle, so |e| ≤ η for ever after and ½he² ≤ ½hη². Summing over
coordinates (H diagonal ⇒ they decouple) gives ℓ_t ≤ η² tr(H)/2 for t ≥ max_i ⌈|e0_i|/η⌉.
"""
from __future__ import annotations

from typing import NamedTuple

import sympy as sp


class SignPlateauDerivation(NamedTuple):
    start: sp.Expr          # max_i ⌈|e0_i|/η⌉
    level: sp.Expr          # η² Σ h_i / 2
    two_cycle: sp.Expr      # f(f(e)) − e on e ∈ (0, η]: 0
    attained_ratio: sp.Expr # ℓ_T / level for one coordinate with e0 = (T−1)η + δ: (1 − δ/η)²
    symbols: tuple          # (eta, (e0_i), (h_i), delta)


def sign_plateau(n: int = 3) -> SignPlateauDerivation:
    """Derive start time, level and tightness for an n-coordinate diagonal quadratic."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    eta, delta = sp.symbols("eta delta", positive=True)
    e0 = sp.symbols(f"e0_0:{n}", real=True)
    h = sp.symbols(f"h_0:{n}", positive=True)
    e = sp.Symbol("e", positive=True)
    # one step from e ∈ (0, η] lands in (−η, 0]; from there sign(e) = −1 brings it back
    f1 = e - eta
    f2 = f1 + eta
    two_cycle = sp.simplify(f2 - e)
    # the bound on ½ h e² over |e| ≤ η is attained at |e| = η
    per_coord = sp.maximum(sp.Rational(1, 2) * h[0] * e ** 2, e, sp.Interval(0, eta))
    level = sp.simplify(sum(per_coord.subs(h[0], hi) for hi in h))
    start = sp.Max(*[sp.ceiling(sp.Abs(x) / eta) for x in e0])
    # one coordinate, e0 = (T−1)η + δ (0 < δ < η): at t = T−1 the error is δ, at T it is δ − η
    e_T = delta - eta
    attained_ratio = sp.simplify((sp.Rational(1, 2) * h[0] * e_T ** 2) / (sp.Rational(1, 2) * h[0] * eta ** 2))
    return SignPlateauDerivation(start, level, two_cycle, attained_ratio, (eta, e0, h, delta))
