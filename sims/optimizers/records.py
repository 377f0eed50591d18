"""Lowered records: what the numba engine reads, one keyword-built record per optimizer family."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .partition import Partition


@dataclass(frozen=True, kw_only=True, eq=False)
class GDRecord:
    """w ← w − f_t·lr ⊙ g."""

    lr: np.ndarray        # (n, d) base lr per run and coordinate


@dataclass(frozen=True, kw_only=True, eq=False)
class SignRecord:
    """buf ← μ·buf + (1−μ)·g; w ← w − f_t·lr ⊙ sign(buf)."""

    lr: np.ndarray        # (n, d)
    momentum: np.ndarray  # (n,)


@dataclass(frozen=True, kw_only=True, eq=False)
class AdamRecord:
    """m, v moments; w ← w − (f_t·lr/c1_t)·m/(√v/c2_t + ε); c1 = c2 = 1 without bias correction."""

    lr: np.ndarray        # (n,)
    beta1: np.ndarray     # (n,)
    beta2: np.ndarray     # (n,)
    eps: np.ndarray       # (n,)
    c1: np.ndarray        # (max(steps, 1), U): 1 − β1^t, t = 1..steps, for U distinct (β1, β2)
    c2: np.ndarray        # (max(steps, 1), U): √(1 − β2^t)
    corr: np.ndarray      # (n,) int64: the column of c1/c2 of each run
    v0: str               # 'zero' | 'g0sq'
    partition: Partition | None  # second moment per partition block; None: per coordinate


FAMILIES = {"gd": GDRecord, "sign": SignRecord, "adam": AdamRecord}


def _family(record) -> str:
    return next(k for k, cls in FAMILIES.items() if isinstance(record, cls))
