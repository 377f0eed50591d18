"""Optimizer specs: frozen hyper-parameters plus pure ``init``/``update`` on numpy arrays.

Following optax, an optimizer is a pair of pure functions over an immutable state. Arrays are
batched: ``w`` has shape (n, d), n independent runs. The numpy engine is literally a loop over
``update``; the numba and cupy engines render the same spec through ``lower`` (a flat record of
the family and its scalars) and are tested equal to this file.

Adam, Adam-mini and RMSProp share the moment pieces below and differ only in the second moment:
per coordinate (``coordinate_second_moment``) or one scalar per partition block
(``block_second_moment``). The Adam theorem variant of THEORY §4 (β1 = 0, β2 = 1, v0 = g0²,
ε = 0, no bias correction) is a plain ``Adam`` configuration.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from hetquad.problems.validation import boolean, in_range, nonnegative, one_of, positive
from .schedules import Constant

FAMILIES = ("gd", "sign", "adam")


# -- partitions ------------------------------------------------------------------------------
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
    ids = ids.astype(np.int64)
    counts = np.bincount(ids)
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"partition ids must be consecutive 0..B-1; block ids {missing} have no coordinate")
    return Partition(ids, counts)


# -- shared moment pieces --------------------------------------------------------------------
def ema(buf: np.ndarray, x: np.ndarray, beta: float) -> np.ndarray:
    """buf ← β·buf + (1−β)·x."""
    return beta * buf + (1.0 - beta) * x


def coordinate_second_moment(g: np.ndarray, partition: Partition) -> np.ndarray:
    """g ⊙ g (Adam, RMSProp)."""
    return g * g


def block_second_moment(g: np.ndarray, partition: Partition) -> np.ndarray:
    """mean_{i∈b} g_i² broadcast back to every coordinate of block b (Adam-mini)."""
    sums = np.zeros(g.shape[:-1] + (partition.counts.size,))
    np.add.at(sums, (..., partition.ids), g * g)
    return (sums / partition.counts)[..., partition.ids]


def scaled(m: np.ndarray, denom: np.ndarray) -> np.ndarray:
    """m / denom with 0/0 := 0: with ε = 0, a coordinate whose gradient has always been 0 (m = v = 0)
    does not move (the ε → 0⁺ limit) instead of turning the run into NaN. m ≠ 0 over denom = 0
    stays ±inf, so a v that really vanished is still reported as a divergence."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m == 0.0, 0.0, m / denom)


class Lowered(NamedTuple):
    """What a compiled engine needs: the family and its scalars, all flat."""

    family: str            # 'gd' | 'sign' | 'adam'
    lr: np.ndarray         # (d,) base lr per coordinate (before the schedule factor)
    beta1: float = 0.0     # adam first moment / sign momentum
    beta2: float = 0.0
    eps: float = 0.0
    bias_correction: bool = False
    v0_g0sq: bool = False
    v_block: bool = False  # second moment averaged over partition blocks
    v_ids: np.ndarray | None = None
    v_counts: np.ndarray | None = None


# -- states ----------------------------------------------------------------------------------
class GDState(NamedTuple):
    w: np.ndarray
    t: int
    lr: np.ndarray  # per-coordinate base lr, (d,)


class SignState(NamedTuple):
    w: np.ndarray
    t: int
    lr: np.ndarray
    buf: np.ndarray


class AdamState(NamedTuple):
    w: np.ndarray
    t: int
    m: np.ndarray
    v: np.ndarray
    partition: Partition


def _schedule(s):
    if not isinstance(s, Constant):
        raise TypeError(f"schedule must be a hetquad.sims.schedules spec, got {type(s).__name__}")
    return s


def _as_batch(w0) -> np.ndarray:
    w = np.array(w0, dtype=np.float64)
    return w[None, :] if w.ndim == 1 else w


# -- specs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GD:
    """Gradient descent w ← w − lr_t·g."""

    lr: float
    schedule: Constant = field(default_factory=Constant)
    name = "gd"

    def __post_init__(self):
        positive("lr", self.lr)
        _schedule(self.schedule)

    def _lr_vector(self, problem) -> np.ndarray:
        return np.full(problem.d, float(self.lr))

    def init(self, problem, w0) -> GDState:
        return GDState(_as_batch(w0), 0, self._lr_vector(problem))

    def update(self, state: GDState, g: np.ndarray) -> GDState:
        step = self.schedule.factor(state.t) * state.lr
        return GDState(state.w - step * g, state.t + 1, state.lr)

    def lower(self, problem) -> Lowered:
        return Lowered("gd", self._lr_vector(problem))


@dataclass(frozen=True)
class BlockwiseGD(GD):
    """GD with one lr per problem block (THEORY §3). ``lr`` is a global multiplier (default 1)."""

    lrs: tuple = ()
    lr: float = 1.0
    name = "blockwise-gd"

    def __post_init__(self):
        if isinstance(self.lrs, (str, bytes)) or np.ndim(self.lrs) > 1:
            raise TypeError(f"lrs must be a flat sequence of numbers (one per block), got {self.lrs!r}")
        lrs = tuple(positive(f"lrs[{l}]", x) for l, x in enumerate(np.atleast_1d(self.lrs).tolist()))
        if not lrs:
            raise ValueError("lrs must give one learning rate per block, got none")
        object.__setattr__(self, "lrs", lrs)
        super().__post_init__()

    @classmethod
    def optimal(cls, problem, **kw) -> "BlockwiseGD":
        """Per-block optimal steps 2/(L_l + μ_l) (THEORY §3)."""
        lrs = tuple(2.0 / (e[-1] + e[0]) for e in problem.block_eigvals)
        return cls(lrs=lrs, **kw)

    def _lr_vector(self, problem) -> np.ndarray:
        if len(self.lrs) != len(problem.sizes):
            raise ValueError(f"lrs has {len(self.lrs)} entries but the problem has {len(problem.sizes)} blocks")
        return float(self.lr) * np.repeat(np.array(self.lrs), problem.sizes)


@dataclass(frozen=True)
class Signum:
    """Sign descent with momentum: buf ← μ·buf + (1−μ)·g; w ← w − lr_t·sign(buf) (THEORY §9.2)."""

    lr: float
    momentum: float = 0.9
    schedule: Constant = field(default_factory=Constant)
    name = "signum"

    def __post_init__(self):
        positive("lr", self.lr)
        in_range("momentum", self.momentum, 0.0, 1.0, closed="left")
        _schedule(self.schedule)

    def init(self, problem, w0) -> SignState:
        w = _as_batch(w0)
        return SignState(w, 0, np.full(problem.d, float(self.lr)), np.zeros_like(w))

    def update(self, state: SignState, g: np.ndarray) -> SignState:
        buf = ema(state.buf, g, self.momentum)
        step = self.schedule.factor(state.t) * state.lr
        return SignState(state.w - step * np.sign(buf), state.t + 1, state.lr, buf)

    def lower(self, problem) -> Lowered:
        return Lowered("sign", np.full(problem.d, float(self.lr)), beta1=float(self.momentum))


@dataclass(frozen=True)
class SignSGD(Signum):
    """Sign descent w ← w − lr_t·sign(g) (Signum with momentum 0; sign(0) = 0)."""

    momentum: float = 0.0
    name = "signsgd"

    def __post_init__(self):
        super().__post_init__()
        if self.momentum != 0.0:
            raise ValueError(f"SignSGD has momentum 0; use Signum for momentum {self.momentum}")


@dataclass(frozen=True)
class Adam:
    """Adam with torch semantics, plus the knobs of THEORY §4.

    Parameters
    ----------
    lr : float > 0
    beta1, beta2 : float in [0, 1]  (β1 < 1)
    eps : float >= 0
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
    second_moment = staticmethod(coordinate_second_moment)

    def __post_init__(self):
        positive("lr", self.lr)
        in_range("beta1", self.beta1, 0.0, 1.0, closed="left")
        in_range("beta2", self.beta2, 0.0, 1.0)
        nonnegative("eps", self.eps)
        boolean("bias_correction", self.bias_correction)
        one_of("v0", self.v0, ("zero", "g0sq"))
        _schedule(self.schedule)
        if self.bias_correction and self.beta2 == 1.0:
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
        w = _as_batch(w0)
        return AdamState(w, 0, np.zeros_like(w), np.zeros_like(w), self._partition(problem))

    def update(self, state: AdamState, g: np.ndarray) -> AdamState:
        sq = self.second_moment(g, state.partition)
        v = sq if (self.v0 == "g0sq" and state.t == 0) else state.v
        m = ema(state.m, g, self.beta1)
        v = ema(v, sq, self.beta2)
        t = state.t + 1
        lr = self.lr * self.schedule.factor(state.t)
        if self.bias_correction:  # torch.optim.Adam's order of operations
            step = lr / (1.0 - self.beta1 ** t)
            denom = np.sqrt(v) / np.sqrt(1.0 - self.beta2 ** t) + self.eps
        else:
            step, denom = lr, np.sqrt(v) + self.eps
        return AdamState(state.w - step * scaled(m, denom), t, m, v, state.partition)

    def lower(self, problem) -> Lowered:
        part = self._partition(problem)
        return Lowered("adam", np.full(problem.d, float(self.lr)), float(self.beta1), float(self.beta2),
                       float(self.eps), bool(self.bias_correction), self.v0 == "g0sq",
                       self.second_moment is block_second_moment, part.ids, part.counts)


@dataclass(frozen=True)
class AdamMini(Adam):
    """Adam with one second-moment scalar per partition block (Adam-mini, [M] Alg. 1).

    ``partition='blocks'`` uses the problem's blocks; an int array gives any partition.
    """

    partition: object = "blocks"
    name = "adam-mini"
    second_moment = staticmethod(block_second_moment)

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
        if self.beta1 != 0.0 or self.bias_correction:
            raise ValueError("RMSProp has beta1 = 0 and no bias correction; use Adam otherwise")


OPTIMIZERS = {cls.name: cls for cls in (GD, BlockwiseGD, SignSGD, Signum, Adam, AdamMini, RMSProp)}


def make(name: str, **hyper):
    """Build an optimizer spec by its name (``sims.OPTIMIZERS`` lists them)."""
    one_of("optimizer", name, OPTIMIZERS)
    return OPTIMIZERS[name](**hyper)
