"""Shared pieces of the matrix-shaped optimizers (Shampoo, SOAP, Muon, Adafactor, CAME).

A matrix block l of a problem (``problem.shapes[l] = (r, c)``) holds vec(W_l) row-major, so a
batch (n, d) of gradients gives the block's (n, r, c) stack as a reshaped view of its columns.
Everything here is xp-generic (numpy or cupy, read off the arrays) and per run: products are
stacked (n, ·, ·) matmuls, one BLAS call per run, and reductions run inside one run's matrix, so
a run computes the same bits alone or in any batch.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import namespace

NS_COEFFS = (3.4445, -4.7750, 2.0315)  # Jordan et al. 2024, the quintic Newton–Schulz step of Muon


class MatrixState(NamedTuple):
    """The state of a matrix spec: w (n, d), the step count, per-block slots (a tuple per block:
    its ``Block`` then its arrays) and optional flat (n, d) moments (frozen with w for a stopped
    run by the array engines)."""

    w: np.ndarray
    t: int
    slots: tuple
    m: object = None
    v: object = None


class Block(NamedTuple):
    """One problem block: its columns [start, stop) in w and its matrix shape (None: a vector)."""

    index: int
    start: int
    stop: int
    shape: tuple | None


def blocks(problem) -> tuple[Block, ...]:
    """The problem's blocks with their shapes (every block a vector when the problem has none)."""
    shapes = tuple(getattr(problem, "shapes", None) or (None,) * len(problem.sizes))
    stops = np.cumsum(problem.sizes)
    return tuple(Block(l, int(b - n), int(b), s) for l, (b, n, s) in enumerate(zip(stops, problem.sizes, shapes)))


def factored_slots(problem, xp, n: int, pairs: int = 1) -> tuple:
    """Per block: (block, (n, d_b) zeros) for a vector block, (block, then ``pairs`` × a row (n, r, 1)
    and a column (n, 1, c) of zeros) for an r × c matrix block: the factored second moments of
    Adafactor (one pair) and CAME (two: second moment and confidence)."""
    out = []
    for b in blocks(problem):
        if b.shape is None:
            out.append((b, xp.zeros((n, b.stop - b.start))))
        else:
            r, c = b.shape
            out.append((b,) + tuple(z for _ in range(pairs) for z in (xp.zeros((n, r, 1)), xp.zeros((n, 1, c)))))
    return tuple(out)


def unvec(x, block: Block):
    """(n, d) → the block's (n, r, c) matrices (row-major vec), or its (n, d_l) vector."""
    part = x[:, block.start:block.stop]
    return part if block.shape is None else part.reshape((x.shape[0],) + tuple(block.shape))


def vec(parts, like):
    """Per-block (n, r, c) / (n, d_l) arrays → one (n, d) array (the inverse of ``unvec``)."""
    xp = namespace(like)
    return xp.concatenate([p.reshape(p.shape[0], -1) for p in parts], axis=1)


def col3(column):
    """A (k, 1) per-run column as (k, 1, 1), to broadcast against (n, r, c) stacks."""
    return column[:, :, None]


def mT(x):
    """Transpose the last two axes of a stack."""
    return x.swapaxes(-1, -2)


def frob(x):
    """‖X‖_F per run of an (n, r, c) stack, shape (n, 1, 1) (a contiguous per-run reduction)."""
    xp = namespace(x)
    flat = xp.ascontiguousarray(x).reshape(x.shape[0], -1)
    return xp.sqrt(xp.sum(flat * flat, axis=1))[:, None, None]


def rms(x):
    """Root mean square per run of an (n, ...) array, shape (n,) + (1,)*(ndim−1)."""
    xp = namespace(x)
    flat = xp.ascontiguousarray(x).reshape(x.shape[0], -1)
    out = xp.sqrt(xp.sum(flat * flat, axis=1) / flat.shape[1])
    return out.reshape((x.shape[0],) + (1,) * (x.ndim - 1))


def row_mean(x):
    """mean over the columns of each row: (n, r, c) → (n, r, 1)."""
    xp = namespace(x)
    return xp.sum(x, axis=-1, keepdims=True) / x.shape[-1]


def col_mean(x):
    """mean over the rows of each column: (n, r, c) → (n, 1, c), as a contiguous reduction
    (the transposed copy keeps the summation order per run fixed, whatever the batch)."""
    xp = namespace(x)
    return mT(xp.sum(xp.ascontiguousarray(mT(x)), axis=-1, keepdims=True)) / x.shape[-2]


def gram(x):
    """X Xᵀ per run: (n, r, c) → (n, r, r)."""
    xp = namespace(x)
    return xp.matmul(x, mT(x))


def newton_schulz(g, *, steps: int = 5, eps: float | object = 1e-7, coeffs=NS_COEFFS):
    """Muon's orthogonalisation: ``steps`` quintic Newton–Schulz iterations on G/(‖G‖_F + eps).

    X ← a·X + (b·A + c·A²)·X with A = X Xᵀ (Jordan et al. 2024, ``zeropower_via_newtonschulz5``),
    on the wide orientation (a tall G is transposed, iterated and transposed back). Float64
    throughout (the reference iterates in bfloat16). ``eps`` may be a (k, 1, 1) per-run column.

    Parameters
    ----------
    g : (n, r, c) array
    steps : int >= 0
    eps : float >= 0 or (k, 1, 1) array
    coeffs : (a, b, c)

    Returns
    -------
    (n, r, c) array, ≈ U Vᵀ of G = U Σ Vᵀ (singular values pushed into about [0.7, 1.2]).
    """
    xp = namespace(g)
    a, b, c = coeffs
    tall = g.shape[-2] > g.shape[-1]
    x = mT(g) if tall else g
    x = xp.ascontiguousarray(x) / (frob(x) + eps)
    for _ in range(steps):
        A = xp.matmul(x, mT(x))
        B = b * A + c * xp.matmul(A, A)
        x = a * x + xp.matmul(B, x)
    return mT(x) if tall else x


def eigh(m):
    """Eigen-decomposition of a stack of symmetric matrices (n, k, k): ascending λ (n, k), Q (n, k, k).

    A run whose matrix is not finite (its statistics overflowed) gets NaN λ and Q instead of
    LAPACK's error for the whole stack, so it diverges alone and its batch mates go on.
    """
    xp = namespace(m)
    bad = ~xp.all(xp.isfinite(m.reshape(m.shape[0], -1)), axis=1)
    lam, q = xp.linalg.eigh(xp.where(bad[:, None, None], xp.eye(m.shape[-1]), m))
    return xp.where(bad[:, None], xp.nan, lam), xp.where(bad[:, None, None], xp.nan, q)


def inverse_root(m, p: int, eps):
    """(M + eps·I)^{-1/p} for a stack of symmetric PSD matrices, by eigh.

    ``eps`` is added to the eigenvalues after clipping the round-off negatives of a rank-deficient
    M at 0: Q diag((max(λ_i, 0) + eps)^{-1/p}) Qᵀ, which is (M + eps·I)^{-1/p} exactly in exact
    arithmetic (Shampoo's L_0 = eps·I start, Gupta et al. 2018, Alg. 1). ``eps`` may be a (k, 1)
    per-run column (it broadcasts over the eigenvalues (n, k)).
    """
    xp = namespace(m)
    lam, q = eigh(m)
    return xp.matmul(q * inverse_power(xp.maximum(lam, 0.0) + eps, p)[:, None, :], mT(q))


def inverse_power(x, p: int):
    """x^{-1/p} elementwise; p = 2 and 4 through sqrt (correctly rounded on every path, so a run's
    bits never depend on the array length the way a vectorised ``power`` may)."""
    xp = namespace(x)
    if p == 2:
        return 1.0 / xp.sqrt(x)
    if p == 4:
        return 1.0 / xp.sqrt(xp.sqrt(x))
    return x ** (-1.0 / p)


def lerp(a, b, weight):
    """torch's ``a.lerp(b, weight)``: a + w·(b − a) for w < 0.5, b − (b − a)·(1 − w) otherwise
    (exact at w = 1). ``weight`` is a number or a per-run column broadcasting against a, b."""
    xp = namespace(a)
    weight = xp.asarray(weight)  # cupy's where wants an array condition
    return xp.where(weight < 0.5, a + weight * (b - a), b - (b - a) * (1.0 - weight))


def host_power(values, t: int, fn) -> np.ndarray:
    """fn(value, t) per run with Python floats, once per distinct value (a run's scalars never
    depend on its batch mates, nor on a vectorised power's rounding); a (k, 1) float64 column."""
    vals = np.asarray(values, dtype=np.float64)
    uniq, inv = np.unique(vals, return_inverse=True)
    return np.array([fn(float(u), t) for u in uniq])[inv.ravel()][:, None]


def single_int(name: str, value, minimum: int) -> int:
    """An integer knob that is one value for the whole batch (a schedule of recomputations)."""
    from hetquad.problems.validation import integer

    if np.ndim(value) > 0:
        raise ValueError(f"{name} must be a single integer for the whole batch (it fixes when every run "
                         f"recomputes), got an array of shape {np.shape(value)}")
    return integer(name, value.item() if isinstance(value, np.generic) else value, minimum=minimum)


def matrix_required(name: str, problem, vector: str) -> None:
    """Raise for a vector block when ``vector='error'`` (the spec's matrix rule needs a shape)."""
    if vector != "error":
        return
    for b in blocks(problem):
        if b.shape is None:
            raise ValueError(f"{name} needs matrix-shaped blocks: block {b.index} (size {b.stop - b.start}) is a vector "
                             f"(problem.shapes[{b.index}] is None); give it a shape or pass vector='diagonal'")
