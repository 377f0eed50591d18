"""Partitions of the coordinates into blocks, and the second-moment maps over them (Adam, Adam-mini)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hetquad.problems.validation import one_of


class Partition(NamedTuple):
    """Block id of every coordinate and the block sizes (ids need not be contiguous)."""

    ids: np.ndarray      # (d,) int64 in [0, B)
    counts: np.ndarray   # (B,) int64, all > 0


def resolve_partition(partition, problem) -> Partition:
    """'blocks' → the problem's blocks; an int array of length d → those block ids."""
    d = problem.d
    if isinstance(partition, str):
        one_of("partition", partition, ("blocks", "coordinates", "single"))
        if partition == "blocks":
            ids = np.repeat(np.arange(len(problem.sizes)), problem.sizes)
        elif partition == "coordinates":
            ids = np.arange(d)
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
