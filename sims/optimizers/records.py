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
class MomentumRecord:
    """torch.optim.SGD: g' = g + λ·w; buf ← g' at t = 0, else μ·buf + (1−δ)·g';
    w ← w − f_t·lr ⊙ (g' + μ·buf if nesterov, buf if μ > 0, g' if μ = 0)."""

    lr: np.ndarray            # (n, d)
    momentum: np.ndarray      # (n,) μ
    dampening: np.ndarray     # (n,) δ
    weight_decay: np.ndarray  # (n,) λ (coupled, L2)
    nesterov: bool


@dataclass(frozen=True, kw_only=True, eq=False)
class SignRecord:
    """c = β1·m + (1−β1)·g; m ← β2·m + (1−β2)·g; w ← w·(1 − f_t·lr·λ) − f_t·lr ⊙ sign(c).

    Signum: β1 = β2 = μ, λ = 0; Lion: its own β1, β2, λ."""

    lr: np.ndarray            # (n, d)
    beta1: np.ndarray         # (n,)
    beta2: np.ndarray         # (n,)
    weight_decay: np.ndarray  # (n,)


@dataclass(frozen=True, kw_only=True, eq=False)
class AdamRecord:
    """m, v moments and one of three directions (``variant``):

    * 'adam': w ← w − (f_t·lr/c1_t)·m/(R(v)^½/c2_t + ε); c1 = c2 = 1 without bias correction;
    * 'nadam': torch's NAdam, from the per-step scalars ``extra`` = (1−β2^t, 1−μ_t, 1−Π_t, μ_{t+1}, 1−Π_{t+1});
    * 'radam': torch's RAdam, ``extra`` = (1−β1^t, (1−β2^t)^½, r_t or −1 when ρ_t ≤ 5).

    Weight decay λ: 'coupled' adds λ·w to g (L2, torch's default), 'decoupled' scales w by
    1 − f_t·lr·λ first (AdamW), 'none'. R is the identity per coordinate, or with a partition:
    'mean' keeps v as the EMA of the block mean of g² (Adam-mini), 'max' / 'min' / 'norm' keep
    Adam's v per coordinate and use its block max / min / 2-norm.
    """

    lr: np.ndarray        # (n,)
    beta1: np.ndarray     # (n,)
    beta2: np.ndarray     # (n,)
    eps: np.ndarray       # (n,)
    weight_decay: np.ndarray  # (n,)
    c1: np.ndarray        # (max(steps, 1), U): 1 − β1^t, t = 1..steps, for U distinct hyper tuples
    c2: np.ndarray        # (max(steps, 1), U): √(1 − β2^t)
    extra: np.ndarray     # (max(steps, 1), U, K): the variant's other per-step scalars
    corr: np.ndarray      # (n,) int64: the column of c1/c2/extra of each run
    v0: str               # 'zero' | 'g0sq'
    variant: str          # 'adam' | 'nadam' | 'radam'
    decay: str            # 'none' | 'coupled' | 'decoupled'
    reducer: str          # 'mean' | 'max' | 'min' | 'norm' (used with a partition)
    partition: Partition | None  # second moment per partition block; None: per coordinate


FAMILIES = {"gd": GDRecord, "momentum": MomentumRecord, "sign": SignRecord, "adam": AdamRecord}


def _family(record) -> str:
    return next(k for k, cls in FAMILIES.items() if isinstance(record, cls))
