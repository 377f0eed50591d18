"""Orthogonal matrices that turn a spectrum into a dense block (THEORY §1, §5b).

``haar`` is the uniform distribution on O(n) (QR of a Gaussian, columns sign-fixed by diag R);
``givens`` is Adam-mini's Fig. 5 family: a product of rotations over all pairs (i, j) with angles
θ_ij ~ U[−π/2, π/2] scaled by R ∈ [0, 1], so R = 0 is the identity and R = 1 a dense rotation;
``householder`` maps e_1 to a given unit vector (used by the exact target-τ generator).
"""
from __future__ import annotations

import numpy as np

from .validation import finite_array, in_range, integer, one_of

KINDS = ("identity", "haar", "givens")


def identity(n: int) -> np.ndarray:
    """The n×n identity."""
    return np.eye(integer("n", n, minimum=1))


def haar(n: int, seed=None) -> np.ndarray:
    """A Haar-random orthogonal n×n matrix (QR of a Gaussian, sign-fixed)."""
    n = integer("n", n, minimum=1)
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return q * signs  # scale columns: makes the distribution exactly Haar


def givens(n: int, *, R: float, seed=None) -> np.ndarray:
    """Product of Givens rotations over all pairs i < j, angles R·θ_ij, θ_ij ~ U[−π/2, π/2].

    Follows the Adam-mini App. E.2 loop: starting from Q = I, for i = 0..n−1, j = i+1..n−1,
    left-multiply by the rotation acting on rows (i, j) with block [[c, s], [−s, c]]. Rotating
    the two rows in place is that product without forming each n×n factor.
    """
    n = integer("n", n, minimum=1)
    R = in_range("R", R, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    q = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            theta = R * rng.uniform(-np.pi / 2, np.pi / 2)
            c, s = np.cos(theta), np.sin(theta)
            qi, qj = q[i].copy(), q[j]
            q[i] = c * qi + s * qj
            q[j] = -s * qi + c * qj
    return q


def householder(q) -> np.ndarray:
    """The symmetric orthogonal reflection I − 2vvᵀ/‖v‖² that maps e_1 to q/‖q‖.

    v = q − e_1 with its first entry computed as −‖q_{2:}‖²/(1 + q_1) when q_1 > 0 (Golub & Van
    Loan, Alg. 5.1.1): the plain q_1 − 1 cancels when q ≈ e_1, which is the τ → 1 end of the
    target-τ generator (THEORY §5b), and would lose up to all digits of Q e_1 there.
    """
    q = finite_array("q", q, ndim=1)
    norm = np.linalg.norm(q)
    if norm == 0:
        raise ValueError("q must be non-zero")
    q = q / norm
    v = q.copy()
    tail = float(q[1:] @ q[1:])
    v[0] = -tail / (1.0 + q[0]) if q[0] > 0 else q[0] - 1.0
    nv = np.linalg.norm(v)
    n = q.size
    if nv == 0:  # q is e_1 exactly
        return np.eye(n)
    v /= nv
    return np.eye(n) - 2.0 * np.outer(v, v)


def rotation(kind: str, n: int, *, seed=None, R: float = 1.0) -> np.ndarray:
    """Dispatch by name: 'identity', 'haar' or 'givens' (with scale ``R``)."""
    one_of("rotation", kind, KINDS)
    if kind == "identity":
        return identity(n)
    if kind == "haar":
        return haar(n, seed)
    return givens(n, R=R, seed=seed)
