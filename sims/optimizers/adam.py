"""Adam, Adam-mini, RMSProp and AdamW: one update, differing only in the second moment (per
coordinate or one scalar per partition block) and the weight decay. The Adam theorem variant of
THEORY §4 (β1 = 0, β2 = 1, v0 = g0², ε = 0, no bias correction) is a plain ``Adam`` configuration.

``_Moments`` is the shared machinery (init, update, lowering) of every spec that keeps Adam's two
moments; NAdam and RAdam (``adam_variants``) are its other directions. The per-step scalars of
NAdam and RAdam (μ products, rectification) are computed once per distinct hyper-parameter tuple
in Python float arithmetic by ``variant_table``, which both the update here and the numba
lowering read, so every engine applies the very same scalars and a run's numbers do not depend
on its batch mates."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from hetquad.problems.validation import boolean, in_range, nonnegative, one_of, positive
from ..schedules import Constant
from ..segments import BlockMean, partition_segments
from .base import _PerRun, _as_batch, _fit_batch, _schedule, column, corrections, ema, namespace, per_run, run_values, scaled
from .partition import NAMED, Partition, resolve_partition
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
    wd: object = 0.0                      # (k, 1) weight decay λ (AdamW, NAdam, RAdam)
    reduce: Callable | None = None        # Adam-mini's 'max'/'min'/'norm' block reducer of v
    table: "_Table | None" = None         # NAdam / RAdam per-step scalars
    key: np.ndarray | None = None         # (k,) row of ``table`` of each run


REDUCERS = ("mean", "max", "min", "norm")
VARIANT_COLUMNS = {"adam": 1, "nadam": 5, "radam": 3}


def variant_table(variant: str, keys: np.ndarray, steps: int) -> np.ndarray:
    """Per-step scalars of NAdam / RAdam, (max(steps, 1), U, K), t = 1..steps, one column per row of
    ``keys`` = (β1, β2, momentum_decay); Python float arithmetic in torch's order of operations.

    NAdam (K = 5): 1 − β2^t, 1 − μ_t, 1 − Π_t, μ_{t+1}, 1 − Π_{t+1} with
    μ_t = β1(1 − ½·0.96^{t·ψ}) and Π_t = μ_1⋯μ_t. RAdam (K = 3): 1 − β1^t, (1 − β2^t)^½, and the
    rectification r_t when ρ_t > 5 (else −1: the un-adapted step), ρ∞ = 2/(1 − β2) − 1,
    ρ_t = ρ∞ − 2tβ2^t/(1 − β2^t).
    """
    K = VARIANT_COLUMNS[variant]
    out = np.ones((max(int(steps), 1), len(keys), K))
    for u, (b1, b2, md) in enumerate(np.asarray(keys, dtype=np.float64).reshape(-1, 3).tolist()):
        prod = 1.0
        for i in range(int(steps)):
            step = float(i + 1)
            bc2 = 1 - b2 ** step
            if variant == "nadam":
                mu = b1 * (1.0 - 0.5 * (0.96 ** (step * md)))
                mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * md)))
                prod = prod * mu
                out[i, u] = (bc2, 1.0 - mu, 1.0 - prod, mu_next, 1.0 - prod * mu_next)
            elif variant == "radam":
                rho_inf = 2 / (1 - b2) - 1
                rho_t = rho_inf - 2 * step * (b2 ** step) / bc2
                rect = -1.0
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                out[i, u] = (1 - b1 ** step, bc2 ** 0.5, rect)
    return out


class _Table:
    """``variant_table`` of a run's distinct tuples, grown on demand as the steps advance."""

    def __init__(self, variant: str, keys: np.ndarray):
        self.variant, self.keys = variant, keys
        self.rows = variant_table(variant, keys, 0)[:0]

    def __call__(self, t: int) -> np.ndarray:
        """(U, K) scalars of step t = 1, 2, …"""
        if t > self.rows.shape[0]:
            self.rows = variant_table(self.variant, self.keys, max(2 * t, 64))
        return self.rows[t - 1]


class BlockReduce:
    """max / min / 2-norm of x over each partition block, broadcast back to the block's coordinates
    (Adam-mini's reducer ablation, [M] App. C.2 Fig. 15); per run, along the last axis."""

    def __init__(self, ids, counts, kind: str, xp=np):
        self.xp, self.kind = xp, kind
        self.seg = partition_segments(np.asarray(ids), np.asarray(counts), xp)

    def _one(self, xs):
        xp = self.xp
        if self.kind == "max":
            return xs.max(axis=-1, keepdims=True)
        if self.kind == "min":
            return xs.min(axis=-1, keepdims=True)
        return xp.sqrt(xp.sum(xs * xs, axis=-1, keepdims=True))

    def __call__(self, x):
        full = [self.xp.broadcast_to(self._one(xs), xs.shape) for xs in self.seg.split(x)]
        return self.seg.join(full, self.xp.empty_like(x))


def _cdiv(a, x, denom):
    """(a·x)/denom (torch's addcdiv order) with 0 where x = 0 (``scaled``'s ε → 0⁺ rule)."""
    xp = namespace(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.where(x == 0.0, 0.0, (a * x) / denom)


class AdamState(NamedTuple):
    w: np.ndarray
    t: int
    m: np.ndarray
    v: np.ndarray
    partition: Partition
    hyper: AdamHyper | None = None


class _Moments(_PerRun):
    """Init, update and lowering of every spec with Adam's two moments (Adam, Adam-mini, RMSProp,
    AdamW, NAdam, RAdam). A spec says which direction (``variant``), which weight decay
    (``_decay()``), and for Adam-mini which second moment (``second_moment_kind``, ``_reducer()``)."""

    variant = "adam"
    second_moment_kind = "coordinate"  # or 'block' (Adam-mini)
    bias_correction = True
    v0 = "zero"

    def _decay(self) -> str:
        """'none', 'coupled' (λ·w added to g, L2) or 'decoupled' (w scaled by 1 − lr·λ first)."""
        return "none"

    def _reducer(self) -> str:
        return "mean"

    def _keys(self, hy: dict) -> np.ndarray:
        """(n, 3) rows (β1, β2, momentum decay): what the per-step scalars depend on."""
        md = hy.get("momentum_decay", np.zeros_like(hy["beta1"]))
        return np.stack([hy["beta1"], hy["beta2"], md], axis=1)

    def _partition(self, problem) -> Partition:
        return resolve_partition("coordinates", problem)

    def init(self, problem, w0) -> AdamState:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp = namespace(w)
        part = self._partition(problem)
        reduce = None
        if self.second_moment_kind == "block" and self._reducer() == "mean":
            mean = BlockMean(part.ids, part.counts, xp)
            square = lambda g: mean(g * g)  # noqa: E731
        else:
            square = lambda g: g * g  # noqa: E731
            if self.second_moment_kind == "block":
                reduce = BlockReduce(part.ids, part.counts, self._reducer(), xp)
        table = key = None
        if self.variant != "adam":
            k = self.runs() or 1
            uniq, key = np.unique(self._keys(self.hyper(k)), axis=0, return_inverse=True)
            table, key = _Table(self.variant, uniq), key.ravel()
        wd = getattr(self, "weight_decay", 0.0)
        hyper = AdamHyper(column(self.lr, xp), column(self.beta1, xp), column(self.beta2, xp),
                          column(self.eps, xp), np.array(run_values(self.beta1)),
                          np.array(run_values(self.beta2)), square, xp, column(wd, xp), reduce, table, key)
        return AdamState(w, 0, xp.zeros_like(w), xp.zeros_like(w), part, hyper)

    def update(self, state: AdamState, g) -> AdamState:
        h = state.hyper
        xp = h.xp
        w = state.w
        lr = h.lr * self.schedule.column(state.t, xp)  # (k, 1) when per-run
        decay = self._decay()
        if decay == "coupled":  # torch: grad.add(param, alpha=weight_decay)
            g = g + h.wd * w
        elif decay == "decoupled":  # torch: param.mul_(1 - lr * weight_decay)
            w = w * (1.0 - lr * h.wd)
        sq = h.square(g)
        v = sq if (self.v0 == "g0sq" and state.t == 0) else state.v
        m = ema(state.m, g, h.beta1)
        v = ema(v, sq, h.beta2)
        t = state.t + 1
        vr = v if h.reduce is None else h.reduce(v)
        if self.variant == "nadam":
            s = xp.asarray(h.table(t)[h.key])
            bc2, one_mu, one_p, mu_next, one_pn = (s[:, j:j + 1] for j in range(5))
            denom = xp.sqrt(vr / bc2) + h.eps
            w = w + _cdiv((-lr * one_mu) / one_p, g, denom)
            w = w + _cdiv((-lr * mu_next) / one_pn, m, denom)
        elif self.variant == "radam":
            s = xp.asarray(h.table(t)[h.key])
            bc1, sb2, rect = (s[:, j:j + 1] for j in range(3))
            bcm = m / bc1
            with np.errstate(divide="ignore", invalid="ignore"):
                adapted = ((bcm * lr) * (sb2 / (xp.sqrt(vr) + h.eps))) * rect
            w = w - xp.where(m == 0.0, 0.0, xp.where(rect > 0.0, adapted, bcm * lr))
        else:
            if self.bias_correction:  # torch.optim.Adam's order of operations
                step = lr / xp.asarray(corrections(h.beta1s, t)[:, None])
                denom = xp.sqrt(vr) / xp.asarray(np.sqrt(corrections(h.beta2s, t))[:, None]) + h.eps
            else:
                step, denom = lr, xp.sqrt(vr) + h.eps
            w = w - step * scaled(m, denom)
        return AdamState(w, t, m, v, state.partition, h)

    def lower(self, problem, n: int = 1, steps: int = 0) -> AdamRecord:
        hy = self.hyper(n)
        uniq, corr = np.unique(self._keys(hy), axis=0, return_inverse=True)
        T = max(int(steps), 1)
        c1, c2 = np.ones((T, uniq.shape[0])), np.ones((T, uniq.shape[0]))
        if self.variant == "adam" and self.bias_correction:  # a function of (β1, β2): the same in any batch
            t = np.arange(1, steps + 1, dtype=np.float64)
            for u, (b1, b2, _) in enumerate(uniq.tolist()):
                c1[:steps, u] = 1.0 - np.power(b1, t)
                c2[:steps, u] = np.sqrt(1.0 - np.power(b2, t))
        extra = variant_table(self.variant, uniq, steps)
        part = self._partition(problem) if self.second_moment_kind == "block" else None
        return AdamRecord(lr=hy["lr"], beta1=hy["beta1"], beta2=hy["beta2"], eps=hy["eps"],
                          weight_decay=hy.get("weight_decay", np.zeros(n)), c1=c1, c2=c2, extra=extra,
                          corr=corr.ravel().astype(np.int64), v0=self.v0, variant=self.variant,
                          decay=self._decay(), reducer=self._reducer(), partition=part)


@dataclass(frozen=True)
class Adam(_Moments):
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


@dataclass(frozen=True)
class AdamMini(Adam):
    """Adam with one second-moment scalar per partition block (Adam-mini, [M] Alg. 1).

    ``partition``: 'blocks' (the problem's blocks), 'coordinates' (Adam), 'single' (one v), 'rows'
    (one v per output neuron: per row of each matrix-shaped block) or 'heads' (per attention head for
    Q/K where the problem lists heads); ``partition.resolve_partition`` documents them. An int array
    gives any partition.

    ``reducer`` is the second moment of a block ([M] App. C.2, the Fig. 15 ablation of "quantities
    borrowed from Adam": mean(v), max(v), min(v), 2-norm(v) of Adam's per-coordinate v):

    * 'mean' (default, Adam-mini): v_b ← β2·v_b + (1−β2)·mean_{i∈b} g_i² — equal to mean_{i∈b} v_i;
    * 'max' / 'min': Adam's v_i ← β2·v_i + (1−β2)·g_i² per coordinate, and the block uses
      max_{i∈b} v_i / min_{i∈b} v_i;
    * 'norm': the same v, and the block uses ‖v_b‖₂ = (Σ_{i∈b} v_i²)^½ (not divided by the block
      size: the paper's literal 2-norm, which grows like √|b| × a typical v_i).

    In every case the step is lr·m̂/(√(R_b(v̂)) + ε); the bias correction passes through R (all four
    are positively homogeneous).
    """

    partition: object = "blocks"
    reducer: str = "mean"
    name = "adam-mini"
    second_moment_kind = "block"

    @classmethod
    def theorem_variant(cls, lr: float, partition="blocks") -> "AdamMini":
        return cls(lr=lr, beta1=0.0, beta2=1.0, eps=0.0, bias_correction=False, v0="g0sq", partition=partition)

    def __post_init__(self):
        super().__post_init__()
        one_of("reducer", self.reducer, REDUCERS)
        if isinstance(self.partition, str):
            one_of("partition", self.partition, NAMED)
            return
        ids = np.asarray(self.partition)
        if ids.ndim == 1 and ids.size == 0:
            raise ValueError("partition must give one block id per coordinate, got an empty array")
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"partition must be one of {list(NAMED)} or a non-empty 1-D "
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

    def _reducer(self) -> str:
        return self.reducer


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


@dataclass(frozen=True)
class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
    Regularization", ICLR 2019), with ``torch.optim.AdamW``'s order of operations.

    .. math:: w \leftarrow w (1 - \eta_t \lambda), \qquad\text{then the Adam step from } w.

    Parameters
    ----------
    weight_decay : float >= 0, or a 1-D array (one per run)
        λ (torch's default 1e-2), multiplied by the scheduled lr η_t.

    The others as ``Adam``. No convergence bound on these quadratics is implemented for AdamW
    (with λ > 0 a fixed point has λw = −g/(|g| + ε) per coordinate, so it is not w* unless w* = 0).
    """

    weight_decay: float = 1e-2
    name = "adamw"
    HYPER = ("lr", "beta1", "beta2", "eps", "weight_decay")

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "weight_decay", per_run("weight_decay", self.weight_decay, nonnegative))
        self._check_runs()

    def _decay(self) -> str:
        return "decoupled"

