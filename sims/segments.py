"""Coordinates cut into segments of equal size, stacked for one batched array operation each.

Shared by the optimizer specs (Adam-mini's block mean, ``sims.optimizers``) and the array
engines (the stacked operator of the batched/cupy engine). Everything is xp-generic (numpy or
cupy) and *per-run*: every reduction runs along the last, contiguous axis of one run's data, and
the products are stacked row-vector × matrix items (one BLAS gemv per run and tile), so a run's
numbers do not depend on how many runs share the batch (a 2-D (n, s) @ (s, s) product would let
BLAS pick a different kernel, and summation order, for each n).
"""
from __future__ import annotations

import numpy as np


class Segments:
    """Coordinates cut into segments; segments of equal size are stacked into (n, k, s) views.

    A group whose segments are adjacent and in order is a reshaped slice (no copy on numpy);
    otherwise it is a gather/scatter through an index array of shape (k, s).

    Parameters
    ----------
    segments : list of 1-D int arrays
        The coordinates of each segment, together covering 0..d-1 exactly once.
    xp : array namespace
    """

    def __init__(self, segments, xp=np):
        by_size: dict[int, list] = {}
        for order, idx in enumerate(segments):
            by_size.setdefault(int(len(idx)), []).append((order, np.asarray(idx, dtype=np.int64)))
        self.groups = []   # (size, slice or device index array (k, s), segment order (k,))
        for s, members in by_size.items():
            idx = np.stack([m[1] for m in members])
            flat = idx.ravel()
            if np.array_equal(flat, np.arange(flat[0], flat[0] + flat.size)):
                where = slice(int(flat[0]), int(flat[0] + flat.size))
            else:
                where = xp.asarray(idx)
            self.groups.append((s, where, np.array([m[0] for m in members])))

    def split(self, x):
        """(n, d) → list of (n, k, s) arrays, one per group."""
        n = x.shape[0]
        return [x[:, where].reshape(n, -1, s) if isinstance(where, slice) else x[:, where]
                for s, where, _ in self.groups]

    def join(self, parts, out):
        """Write a list of (n, k, s) arrays back into ``out`` (n, d); returns ``out``."""
        n = out.shape[0]
        for (_, where, _), part in zip(self.groups, parts):
            out[:, where] = part.reshape(n, -1) if isinstance(where, slice) else part
        return out


def operator_segments(problem, xp=np):
    """``Segments`` of the problem's operator tiles and the tiles stacked per group (k, s, s)."""
    tiles = [np.asarray(h, dtype=np.float64) for h in problem.operator_blocks]
    stops = np.cumsum([h.shape[0] for h in tiles])
    if stops[-1] != problem.d:
        raise ValueError(f"operator tiles cover {stops[-1]} coordinates, the problem has d = {problem.d}")
    seg = Segments([np.arange(b - h.shape[0], b) for b, h in zip(stops, tiles)], xp)
    stacks = [xp.asarray(np.stack([tiles[i] for i in order])) for _, _, order in seg.groups]
    return seg, stacks


def partition_segments(ids: np.ndarray, counts: np.ndarray, xp=np) -> Segments:
    """``Segments`` of a partition given as one block id per coordinate."""
    order = np.argsort(ids, kind="stable")
    return Segments(np.split(order, np.cumsum(counts)[:-1]), xp)


class BlockOperator:
    """g = H (w − w*) and ℓ = ½ eᵀ g for a batch (n, d), with batched matmuls per tile size."""

    def __init__(self, problem, xp=np):
        self.xp = xp
        self.seg, self.stacks = operator_segments(problem, xp)
        self.w_star = xp.asarray(np.asarray(problem.w_star, dtype=np.float64))

    def __call__(self, w):
        """Return (loss (n,), gradient (n, d))."""
        xp = self.xp
        e = w - self.w_star
        # tiles are symmetric, so row form e_l @ H_l is (H_l e_l)ᵀ
        parts = [xp.matmul(x[:, :, None, :], h)[:, :, 0, :]  # (n, k, 1, s) @ (k, s, s): gemv items
                 for x, h in zip(self.seg.split(e), self.stacks)]
        g = self.seg.join(parts, xp.empty_like(e))
        return 0.5 * xp.sum(e * g, axis=1), g


class BlockMean:
    """mean_{i∈b} x_i broadcast back to every coordinate of block b (Adam-mini, THEORY §4)."""

    def __init__(self, ids, counts, xp=np):
        self.xp = xp
        self.seg = partition_segments(np.asarray(ids), np.asarray(counts), xp)

    def __call__(self, x):
        xp = self.xp
        full = [xp.broadcast_to(xs.sum(axis=-1, keepdims=True) / s, xs.shape)
                for xs, (s, _, _) in zip(self.seg.split(x), self.seg.groups)]
        return self.seg.join(full, xp.empty_like(x))
