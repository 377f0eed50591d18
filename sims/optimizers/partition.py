"""Partitions of the coordinates into blocks, and the second-moment maps over them (Adam, Adam-mini)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hetquad.problems.validation import one_of


class Partition(NamedTuple):
    """Block id of every coordinate and the block sizes (ids need not be contiguous)."""

    ids: np.ndarray      # (d,) int64 in [0, B)
    counts: np.ndarray   # (B,) int64, all > 0


NAMED = ("blocks", "coordinates", "single", "rows", "heads")


def resolve_partition(partition, problem) -> Partition:
    """The block id of every coordinate for a named partition or an explicit id array.

    Parameters
    ----------
    partition : {'blocks', 'coordinates', 'single', 'rows', 'heads'} or (d,) int array
        'blocks': the problem's blocks; 'coordinates': one block per coordinate; 'single': one
        block. Adam-mini's official partitions need the blocks' matrix shapes
        (``problem.shapes``, vec row-major): 'rows' gives one block per row of every matrix block
        (one v per output neuron, or per token of an embedding) and keeps vector blocks whole;
        'heads' is 'rows' except inside the row ranges listed in ``problem.info['heads']`` as
        ``[block, row_start, row_stop, n_heads]`` entries (Q and K of a fused qkv weight; the
        ``real-transformer-blocks`` catalog entry sets them), which are cut into n_heads equal
        groups of rows, one block per head. An int array gives block ids directly.

    Returns
    -------
    Partition
    """
    d = problem.d
    if isinstance(partition, str):
        one_of("partition", partition, NAMED)
        if partition == "blocks":
            ids = np.repeat(np.arange(len(problem.sizes)), problem.sizes)
        elif partition == "coordinates":
            ids = np.arange(d)
        elif partition in ("rows", "heads"):
            ids = _row_ids(problem, _heads(problem) if partition == "heads" else {})
        else:
            ids = np.zeros(d, dtype=np.int64)
    else:
        ids = np.asarray(partition)
        if ids.shape != (d,) or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"partition must be 'blocks' or an integer array of shape ({d},) "
                             f"(one block id per coordinate), got dtype {ids.dtype} shape {ids.shape}")
        if ids.min() < 0:
            raise ValueError(f"partition ids must be >= 0, got {ids.min()}")
        if ids.max() >= d:  # before bincount allocates max+1 counters
            raise ValueError(f"partition ids must be in [0, d) = [0, {d}) (consecutive 0..B-1), got {ids.max()}")
    ids = ids.astype(np.int64)
    counts = np.bincount(ids)
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"partition ids must be consecutive 0..B-1; block ids {missing} have no coordinate")
    return Partition(ids, counts)


def _shapes(problem) -> tuple:
    return tuple(getattr(problem, "shapes", None) or (None,) * len(problem.sizes))


def _heads(problem) -> dict:
    """problem.info['heads'] validated: block → sorted [(row_start, row_stop, n_heads)]."""
    entries = getattr(problem, "info", {}).get("heads")
    if entries is None:
        raise ValueError("partition='heads' needs problem.info['heads'] = [[block, row_start, row_stop, n_heads], ...] "
                         "(set by the real-transformer-blocks catalog entry); use partition='rows' otherwise")
    shapes, out = _shapes(problem), {}
    for k, entry in enumerate(entries):
        if len(entry) != 4:
            raise ValueError(f"problem.info['heads'][{k}] must be [block, row_start, row_stop, n_heads], got {entry!r}")
        b, r0, r1, h = (int(x) for x in entry)
        if not 0 <= b < len(shapes) or shapes[b] is None:
            raise ValueError(f"problem.info['heads'][{k}]: block {b} is not a matrix block of the problem")
        if not (0 <= r0 < r1 <= shapes[b][0]) or h < 1 or (r1 - r0) % h:
            raise ValueError(f"problem.info['heads'][{k}] = {entry!r}: rows [{r0}, {r1}) of block {b} "
                             f"({shapes[b][0]} rows) must split into {h} equal heads")
        out.setdefault(b, []).append((r0, r1, h))
    for b, ranges in out.items():
        ranges.sort()
        if any(a[1] > c[0] for a, c in zip(ranges, ranges[1:])):
            raise ValueError(f"problem.info['heads']: overlapping row ranges in block {b}: {ranges}")
    return out


def _row_ids(problem, heads: dict) -> np.ndarray:
    """Block ids for one block per row of each matrix block (a head's rows share one id)."""
    ids, nxt = [], 0
    for b, (n, shape) in enumerate(zip(problem.sizes, _shapes(problem))):
        if shape is None:
            ids.append(np.full(n, nxt))
            nxt += 1
            continue
        r, c = shape
        row_group = np.arange(r)  # a group label per row; heads merge their rows
        for r0, r1, h in heads.get(b, ()):
            row_group[r0:r1] = r0 + (np.arange(r1 - r0) // ((r1 - r0) // h))
        _, dense = np.unique(row_group, return_inverse=True)  # consecutive ids in row order
        ids.append(np.repeat(nxt + dense.ravel(), c))
        nxt += int(dense.max()) + 1
    return np.concatenate(ids).astype(np.int64)


def coordinate_second_moment(g: np.ndarray, partition: Partition) -> np.ndarray:
    """g ⊙ g (Adam, RMSProp)."""
    return g * g


def block_second_moment(g: np.ndarray, partition: Partition) -> np.ndarray:
    """mean_{i∈b} g_i² broadcast back to every coordinate of block b (Adam-mini).

    The reference by scatter-add in coordinate order; the specs use the stacked, xp-generic
    ``segments.BlockMean`` (tested equal to this)."""
    sums = np.zeros(g.shape[:-1] + (partition.counts.size,))
    np.add.at(sums, (..., partition.ids), g * g)
    return (sums / partition.counts)[..., partition.ids]
