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
class _MomentHyper:
    """The per-run numbers the moment families (Adam, LAMB, Sophia) share, one value per run."""

    lr: np.ndarray            # (n,)
    beta1: np.ndarray         # (n,)
    beta2: np.ndarray         # (n,)
    eps: np.ndarray           # (n,)
    weight_decay: np.ndarray  # (n,)


@dataclass(frozen=True, kw_only=True, eq=False)
class AdamRecord(_MomentHyper):
    """m, v moments and one of three directions (``variant``):

    * 'adam': w ← w − (f_t·lr/c1_t)·m/(R(v)^½/c2_t + ε); c1 = c2 = 1 without bias correction;
    * 'nadam': torch's NAdam, from the per-step scalars ``extra`` = (1−β2^t, 1−μ_t, 1−Π_t, μ_{t+1}, 1−Π_{t+1});
    * 'radam': torch's RAdam, ``extra`` = (1−β1^t, (1−β2^t)^½, r_t or −1 when ρ_t ≤ 5).

    Weight decay λ: 'coupled' adds λ·w to g (L2, torch's default), 'decoupled' scales w by
    1 − f_t·lr·λ first (AdamW), 'none'. R is the identity per coordinate, or with a partition:
    'mean' keeps v as the EMA of the block mean of g² (Adam-mini), 'max' / 'min' / 'norm' keep
    Adam's v per coordinate and use its block max / min / 2-norm.
    """

    c1: np.ndarray        # (max(steps, 1), U): 1 − β1^t, t = 1..steps, for U distinct hyper tuples
    c2: np.ndarray        # (max(steps, 1), U): √(1 − β2^t)
    extra: np.ndarray     # (max(steps, 1), U, K): the variant's other per-step scalars
    corr: np.ndarray      # (n,) int64: the column of c1/c2/extra of each run
    v0: str               # 'zero' | 'g0sq'
    variant: str          # 'adam' | 'nadam' | 'radam'
    decay: str            # 'none' | 'coupled' | 'decoupled'
    reducer: str          # 'mean' | 'max' | 'min' | 'norm' (used with a partition)
    partition: Partition | None  # second moment per partition block; None: per coordinate


@dataclass(frozen=True, kw_only=True, eq=False)
class NormRecord:
    """Normalized GD and gradient clipping, with ‖g‖_P the 2-norm of g over the partition block
    of a coordinate (the problem's blocks, or one block for the global norm):

    * 'normalized': w ← w − f_t·lr ⊙ g / (‖g‖_P + s)  (0/0 := 0), s = ε;
    * 'clipped': w ← w − f_t·lr ⊙ (g · min(s / (‖g‖_P + 10⁻⁶), 1)), s = max_norm.
    """

    lr: np.ndarray         # (n,)
    scale: np.ndarray      # (n,) ε or max_norm
    kind: str              # 'normalized' | 'clipped'
    partition: Partition   # 'blocks' (per block) or 'single' (global)


@dataclass(frozen=True, kw_only=True, eq=False)
class LambRecord(_MomentHyper):
    """LAMB: Adam's m, v; u = m̂/(√v̂ + ε) + λ·w with m̂ = m/c1_t, v̂ = v/c2_t; per partition block
    (the problem's blocks) w ← w − f_t·lr·(φ/(‖u‖ + ε))·u, φ = min(‖w‖, clamp), ratio 1 when φ or
    ‖u‖ is 0."""

    clamp: np.ndarray         # (n,)
    c1: np.ndarray            # (max(steps, 1), U): 1 − β1^t (Python float power), or 1
    c2: np.ndarray            # (max(steps, 1), U): 1 − β2^t (not its root), or 1
    corr: np.ndarray          # (n,) int64: the column of c1/c2 of each run
    partition: Partition      # the problem's blocks


@dataclass(frozen=True, kw_only=True, eq=False)
class SophiaRecord(_MomentHyper):
    """Sophia: m ← EMA(g); every k steps (t mod k = 0) h ← EMA(ĥ), ĥ = diag(H) or u ⊙ Hu;
    w ← w − f_t·lr·λ·w, then w ← w − f_t·lr·clip(m / max(γ·h, ε), 1)."""

    gamma: np.ndarray         # (n,)
    k: int
    diag: np.ndarray | None   # (d,) exact diag(H); None with Hutchinson
    keys: np.ndarray | None   # (n,) uint64 Hutchinson stream keys (``sophia.hutchinson_keys``)


@dataclass(frozen=True, kw_only=True, eq=False)
class SM3Record:
    """SM3 with momentum: per coordinate of a vector block ν = β'·acc + (1−β)·g², acc ← max(acc, ν);
    per matrix block (r, c) ν_ij = β'·min(μ_row i, μ_col j) + (1−β)·g_ij², μ ← max(μ, max ν) over
    each row / column; ĝ = g/√(ν + ε); buf ← μ_m·buf + (1−μ_m)·ĝ; w ← w − f_t·lr·buf."""

    lr: np.ndarray            # (n,)
    momentum: np.ndarray      # (n,)
    beta: np.ndarray          # (n,)
    eps: np.ndarray           # (n,)
    shapes: tuple             # one (r, c) or None per problem block
    partition: Partition | None  # the problem's blocks when a block is a matrix (its rows and columns
                                 # must be advanced together), else None


FAMILIES = {"gd": GDRecord, "momentum": MomentumRecord, "sign": SignRecord, "adam": AdamRecord,
            "norm": NormRecord, "lamb": LambRecord, "sophia": SophiaRecord, "sm3": SM3Record}


def _family(record) -> str:
    return next(k for k, cls in FAMILIES.items() if isinstance(record, cls))
