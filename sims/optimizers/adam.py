"""Adam, Adam-mini and RMSProp: one update, differing only in the second moment (per coordinate or
one scalar per partition block). The Adam theorem variant of THEORY §4 (β1 = 0, β2 = 1, v0 = g0²,
ε = 0, no bias correction) is a plain ``Adam`` configuration."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from hetquad.problems.validation import boolean, in_range, nonnegative, one_of, positive
from ..schedules import Constant
from ..segments import BlockMean
from .base import _PerRun, _as_batch, _fit_batch, _schedule, column, corrections, ema, namespace, per_run, run_values, scaled
from .partition import Partition, resolve_partition
from .records import AdamRecord


class AdamHyper(NamedTuple):
    """Per-run Adam hyper-parameters as (k, 1) columns on the arrays' device, plus host β copies
    for the bias corrections and the second-moment map."""

    lr: object
    beta1: object
    beta2: object
    eps: object
    beta1s: np.ndarray
    beta2s: np.ndarray
    square: Callable
    xp: object


class AdamState(NamedTuple):
    w: np.ndarray
    t: int
    m: np.ndarray
    v: np.ndarray
    partition: Partition
    hyper: AdamHyper | None = None


@dataclass(frozen=True)
class Adam(_PerRun):
    """Adam with torch semantics, plus the knobs of THEORY §4.

    Parameters
    ----------
    lr : float > 0, or a 1-D array (one per run)
    beta1, beta2 : float in [0, 1]  (β1 < 1), or 1-D arrays
    eps : float >= 0, or a 1-D array
    bias_correction : bool
        Divide m by 1−β1^t and v by 1−β2^t (torch). Needs β2 < 1 and ``v0='zero'``.
    v0 : {'zero', 'g0sq'}
        Initial second moment: zeros (torch) or g0⊙g0 (THEORY §4 [C]).
    """

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    bias_correction: bool = True
    v0: str = "zero"
    schedule: Constant = field(default_factory=Constant)
    name = "adam"
    second_moment_kind = "coordinate"  # or 'block' (Adam-mini)
    HYPER = ("lr", "beta1", "beta2", "eps")

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "beta1", per_run(
            "beta1", self.beta1, lambda k, x: in_range(k, x, 0.0, 1.0, closed="left")))
        object.__setattr__(self, "beta2", per_run("beta2", self.beta2, lambda k, x: in_range(k, x, 0.0, 1.0)))
        object.__setattr__(self, "eps", per_run("eps", self.eps, nonnegative))
        boolean("bias_correction", self.bias_correction)
        one_of("v0", self.v0, ("zero", "g0sq"))
        _schedule(self.schedule)
        self._check_runs()
        if self.bias_correction and 1.0 in run_values(self.beta2):
            raise ValueError("beta2 = 1 needs bias_correction=False (1 - beta2^t = 0; THEORY §4 pitfall)")
        if self.bias_correction and self.v0 == "g0sq":
            raise ValueError("v0='g0sq' has no zero-init bias to correct; use bias_correction=False")

    @classmethod
    def theorem_variant(cls, lr: float) -> "Adam":
        """β1 = 0, β2 = 1, v0 = g0², ε = 0, no bias correction: w ← w − lr·g/|g0| (THEORY §4)."""
        return cls(lr=lr, beta1=0.0, beta2=1.0, eps=0.0, bias_correction=False, v0="g0sq")

    def _partition(self, problem) -> Partition:
        return resolve_partition("coordinates", problem)

    def init(self, problem, w0) -> AdamState:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp = namespace(w)
        part = self._partition(problem)
        if self.second_moment_kind == "block":
            mean = BlockMean(part.ids, part.counts, xp)
            square = lambda g: mean(g * g)  # noqa: E731
        else:
            square = lambda g: g * g  # noqa: E731
        hyper = AdamHyper(column(self.lr, xp), column(self.beta1, xp), column(self.beta2, xp),
                          column(self.eps, xp), np.array(run_values(self.beta1)),
                          np.array(run_values(self.beta2)), square, xp)
        return AdamState(w, 0, xp.zeros_like(w), xp.zeros_like(w), part, hyper)

    def update(self, state: AdamState, g) -> AdamState:
        h = state.hyper
        xp = h.xp
        sq = h.square(g)
        v = sq if (self.v0 == "g0sq" and state.t == 0) else state.v
        m = ema(state.m, g, h.beta1)
        v = ema(v, sq, h.beta2)
        t = state.t + 1
        lr = h.lr * self.schedule.factor(state.t)
        if self.bias_correction:  # torch.optim.Adam's order of operations
            step = lr / xp.asarray(corrections(h.beta1s, t)[:, None])
            denom = xp.sqrt(v) / xp.asarray(np.sqrt(corrections(h.beta2s, t))[:, None]) + h.eps
        else:
            step, denom = lr, xp.sqrt(v) + h.eps
        return AdamState(state.w - step * scaled(m, denom), t, m, v, state.partition, h)

    def lower(self, problem, n: int = 1, steps: int = 0) -> AdamRecord:
        hy = self.hyper(n)
        pairs = np.stack([hy["beta1"], hy["beta2"]], axis=1)
        uniq, corr = np.unique(pairs, axis=0, return_inverse=True)
        T = max(int(steps), 1)
        c1, c2 = np.ones((T, uniq.shape[0])), np.ones((T, uniq.shape[0]))
        if self.bias_correction:  # a function of (β1, β2) alone: the same table in any batch
            t = np.arange(1, steps + 1, dtype=np.float64)
            for u, (b1, b2) in enumerate(uniq.tolist()):
                c1[:steps, u] = 1.0 - np.power(b1, t)
                c2[:steps, u] = np.sqrt(1.0 - np.power(b2, t))
        part = self._partition(problem) if self.second_moment_kind == "block" else None
        return AdamRecord(lr=hy["lr"], beta1=hy["beta1"], beta2=hy["beta2"], eps=hy["eps"], c1=c1, c2=c2,
                          corr=corr.ravel().astype(np.int64), v0=self.v0, partition=part)


@dataclass(frozen=True)
class AdamMini(Adam):
    """Adam with one second-moment scalar per partition block (Adam-mini, [M] Alg. 1).

    ``partition='blocks'`` uses the problem's blocks; an int array gives any partition.
    """

    partition: object = "blocks"
    name = "adam-mini"
    second_moment_kind = "block"

    @classmethod
    def theorem_variant(cls, lr: float, partition="blocks") -> "AdamMini":
        return cls(lr=lr, beta1=0.0, beta2=1.0, eps=0.0, bias_correction=False, v0="g0sq", partition=partition)

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.partition, str):
            one_of("partition", self.partition, ("blocks", "coordinates", "single"))
            return
        ids = np.asarray(self.partition)
        if ids.ndim == 1 and ids.size == 0:
            raise ValueError("partition must give one block id per coordinate, got an empty array")
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise TypeError("partition must be 'blocks', 'coordinates', 'single' or a non-empty 1-D "
                            f"integer array (one block id per coordinate), got dtype {ids.dtype} "
                            f"shape {ids.shape}")
        if ids.min() < 0:
            raise ValueError(f"partition ids must be >= 0, got {ids.min()}")
        if ids.max() >= ids.size:  # B blocks over d coordinates: every id < d
            raise ValueError(f"partition ids must be in [0, {ids.size}) (consecutive 0..B-1 over "
                             f"{ids.size} coordinates), got {ids.max()}")
        object.__setattr__(self, "partition", tuple(int(i) for i in ids))

    def _partition(self, problem) -> Partition:
        part = self.partition if isinstance(self.partition, str) else np.array(self.partition)
        return resolve_partition(part, problem)


@dataclass(frozen=True)
class RMSProp(Adam):
    """torch.optim.RMSprop (centered=False, momentum=0): v ← α·v + (1−α)·g²; w ← w − lr·g/(√v + ε).

    ``beta2`` plays torch's ``alpha``; it is Adam with β1 = 0 and no bias correction.
    """

    beta2: float = 0.99
    beta1: float = 0.0
    bias_correction: bool = False
    name = "rmsprop"

    def __post_init__(self):
        super().__post_init__()
        if any(b != 0.0 for b in run_values(self.beta1)) or self.bias_correction:
            raise ValueError("RMSProp has beta1 = 0 and no bias correction; use Adam otherwise")
