"""The sign-descent plateau on diagonal quadratics (THEORY §9.1).

With H = diag(h), constant η and sign(0) = 0 the coordinates decouple: each e_i moves by η toward
0 until |e_i| ≤ η and then oscillates with |e_i| ≤ η forever. Hence ℓ_t ≤ η²·tr(H)/2 for every
t ≥ T = max_i ⌈|e0_i|/η⌉ — tight as a supremum, never attained. ``theory.derivations.sign_descent``
derives it with sympy. A rotated H breaks it (43/50 instances fail at T, THEORY §9.1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hetquad.problems.validation import finite_array, positive
from .rates import _require_quadratic
from .records import Provenance


@dataclass(frozen=True)
class SignPlateau:
    """ℓ_t ≤ ``level`` = η² tr(H)/2 for every t ≥ ``start`` = max_i ⌈|e0_i|/η⌉."""

    lr: float
    level: float
    start: int
    provenance: Provenance
    name: str = "sign_descent_plateau"

    def iterations(self, eps: float | None = None) -> int:
        """Steps after which the plateau bound holds (it does not depend on ε)."""
        return self.start


def sign_descent_plateau(p, lr: float, w0) -> SignPlateau:
    """THEORY §9.1 for SignSGD with constant ``lr`` from ``w0`` on a diagonal quadratic ``p``.

    Raises
    ------
    ValueError
        If H is not diagonal (every block diagonal, no coupling): the plateau fails there.
    """
    _require_quadratic(p)
    lr = positive("lr", lr)
    w0 = finite_array("w0", w0, ndim=1)
    if w0.size != p.d:
        raise ValueError(f"w0 must have shape ({p.d},), got {w0.shape}")
    if not p.is_block_diagonal or any(np.count_nonzero(b - np.diag(np.diag(b))) for b in p.blocks):
        raise ValueError("sign_descent_plateau needs a diagonal H (THEORY §9.1: coordinates must "
                         "decouple); build p with rotation='identity' and no coupling")
    h = np.concatenate([np.diag(b) for b in p.blocks])
    e0 = w0 - p.w_star
    start = int(np.max(np.ceil(np.abs(e0) / lr))) if np.any(e0) else 0
    return SignPlateau(lr, lr * lr * float(h.sum()) / 2.0, start,
                       Provenance("l_t <= eta^2 tr(H)/2 for t >= max_i ceil(|e0_i|/eta)",
                                  "THEORY §9.1 [D]", ("H diagonal", "constant step, sign(0) = 0",
                                                      "deterministic gradients")))
