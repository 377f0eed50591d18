"""Optimizer specs: frozen hyper-parameters plus pure ``init``/``update`` on batched arrays.

Following optax, an optimizer is a pair of pure functions over an immutable state. Arrays are
batched: ``w`` has shape (n, d), n independent runs. ``update`` is written once and is
xp-generic: the numpy engine runs it on numpy arrays and the batched/cupy engine runs the very
same code on cupy arrays (the namespace is read off the arrays). The numba engine is the one
second rendering; it reads the per-family record that ``lower`` returns (``FAMILIES`` is the
registry of families and their records).

Every numeric hyper-parameter (lr, beta1, beta2, eps, momentum, BlockwiseGD's lr and lrs) is a
number or a 1-D array with one value per run (for ``lrs``: one row of per-block lrs per run).
A per-run value is stored as a tuple (the spec stays frozen, hashable and serializable);
``runs()`` is the common length (None when every value is a number) and ``hyper(n)`` the table of
per-run values. The arithmetic of a run uses its own values elementwise, so a run computes the
same bits alone or inside any batch.

Adam, Adam-mini and RMSProp share the moment pieces below and differ only in the second moment:
per coordinate or one scalar per partition block. The Adam theorem variant of THEORY §4
(β1 = 0, β2 = 1, v0 = g0², ε = 0, no bias correction) is a plain ``Adam`` configuration.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from hetquad.problems.validation import boolean, in_range, nonnegative, one_of, positive
from .schedules import Constant
from .segments import BlockMean


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
        if ids.max() >= d:  # before bincount allocates max+1 counters
            raise ValueError(f"partition ids must be in [0, d) = [0, {d}) (consecutive 0..B-1), got {ids.max()}")
    ids = ids.astype(np.int64)
    counts = np.bincount(ids)
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"partition ids must be consecutive 0..B-1; block ids {missing} have no coordinate")
    return Partition(ids, counts)




# -- array namespace and per-run hyper-parameters --------------------------------------------
def namespace(a):
    """The array module (numpy or cupy) that ``a`` belongs to."""
    if type(a).__module__.partition(".")[0] == "cupy":
        import cupy
        return cupy
    return np


def per_run(name: str, value, check):
    """A number → ``check(name, value)``; a 1-D array → a tuple, element i checked as ``name[i]``.

    So a NaN in run 3's lr is ``ValueError: lr[3] must be finite, got nan``.
    """
    if isinstance(value, (str, bytes)):
        return check(name, value)  # the validator's own TypeError ("must be a real number")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if np.ndim(value) == 0:
        return check(name, value)
    arr = np.asarray(value, dtype=object)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D array (one value per run), "
                         f"got shape {arr.shape}")
    return tuple(check(f"{name}[{i}]", x.item() if isinstance(x, np.generic) else x)
                 for i, x in enumerate(arr.tolist()))


def run_values(value) -> tuple:
    """The per-run values of a hyper-parameter as a tuple (a number gives a 1-tuple)."""
    return value if isinstance(value, tuple) else (value,)


def column(value, xp=np):
    """(k, 1) float64 column of a hyper-parameter: k = its runs, 1 for a number (broadcasts)."""
    return xp.asarray(np.array(run_values(value), dtype=np.float64)[:, None])


def _fit_batch(w, runs: int | None):
    """Broadcast a single initial point over ``runs`` per-run hyper-parameter rows."""
    if runs is None or w.shape[0] == runs:
        return w
    if w.shape[0] == 1:
        return namespace(w).repeat(w, runs, axis=0)
    raise ValueError(f"the optimizer has {runs} per-run hyper-parameter values but w0 has {w.shape[0]} rows")


class _PerRun:
    """Per-run bookkeeping of the numeric hyper-parameters named by ``HYPER``."""

    HYPER: tuple = ()

    def _lengths(self) -> dict:
        return {k: len(getattr(self, k)) for k in self.HYPER if isinstance(getattr(self, k), tuple)}

    def _check_runs(self) -> None:
        lengths = self._lengths()
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise ValueError(f"per-run hyper-parameters must all have one value per run: {shown}")

    def runs(self) -> int | None:
        """Number of runs the per-run hyper-parameters give (None when all are numbers)."""
        lengths = self._lengths()
        return next(iter(lengths.values())) if lengths else None

    def hyper(self, n: int) -> dict:
        """Per-run values of every numeric hyper-parameter: name → (n,) float array."""
        return {k: np.broadcast_to(np.array(run_values(getattr(self, k)), dtype=np.float64), (n,)).copy()
                for k in self.HYPER}


# -- shared moment pieces --------------------------------------------------------------------
def ema(buf, x, beta):
    """buf ← β·buf + (1−β)·x (β a number or a (k, 1) per-run column)."""
    return beta * buf + (1.0 - beta) * x


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


def scaled(m, denom):
    """m / denom with 0/0 := 0: with ε = 0, a coordinate whose gradient has always been 0 (m = v = 0)
    does not move (the ε → 0⁺ limit) instead of turning the run into NaN. m ≠ 0 over denom = 0
    stays ±inf, so a v that really vanished is still reported as a divergence."""
    xp = namespace(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.where(m == 0.0, 0.0, m / denom)


def corrections(betas: np.ndarray, t: int) -> np.ndarray:
    """1 − β^t per run with Python's float power (torch's scalar rule), once per distinct β.

    Never numpy's vectorised power: its SIMD and scalar paths may round differently, which
    would make a run's numbers depend on its position in the batch.
    """
    uniq, inv = np.unique(betas, return_inverse=True)
    return np.array([1.0 - float(b) ** t for b in uniq])[inv.ravel()]


# -- lowered records: what the numba engine reads, one per family ----------------------------
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


# -- states ----------------------------------------------------------------------------------
class GDState(NamedTuple):
    w: np.ndarray
    t: int
    lr: np.ndarray  # (k, d) base lr per run (k = runs, or 1 shared) and coordinate


class SignState(NamedTuple):
    w: np.ndarray
    t: int
    lr: np.ndarray
    buf: np.ndarray
    momentum: object = 0.0  # (k, 1) column


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


def _schedule(s):
    if not isinstance(s, Constant):
        raise TypeError(f"schedule must be a hetquad.sims.schedules spec, got {type(s).__name__}")
    return s


def _as_batch(w0):
    xp = namespace(w0)
    w = xp.array(w0, dtype=np.float64)
    return w[None, :] if w.ndim == 1 else w


# -- specs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GD(_PerRun):
    """Gradient descent w ← w − lr_t·g."""

    lr: float
    schedule: Constant = field(default_factory=Constant)
    name = "gd"
    HYPER = ("lr",)

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        _schedule(self.schedule)
        self._check_runs()

    def _lr_matrix(self, problem) -> np.ndarray:
        """(k, d) base lr per run and coordinate."""
        return np.repeat(column(self.lr), problem.d, axis=1)

    def init(self, problem, w0) -> GDState:
        w = _fit_batch(_as_batch(w0), self.runs())
        return GDState(w, 0, namespace(w).asarray(self._lr_matrix(problem)))

    def update(self, state: GDState, g) -> GDState:
        step = self.schedule.factor(state.t) * state.lr
        return GDState(state.w - step * g, state.t + 1, state.lr)

    def lower(self, problem, n: int = 1, steps: int = 0) -> GDRecord:
        return GDRecord(lr=_rows(self._lr_matrix(problem), n))


def _rows(a: np.ndarray, n: int) -> np.ndarray:
    """(k, ...) per-run rows (k = n, or 1 shared) → (n, ...)."""
    return np.ascontiguousarray(np.broadcast_to(a, (n,) + a.shape[1:]))


@dataclass(frozen=True)
class BlockwiseGD(GD):
    """GD with one lr per problem block (THEORY §3). ``lr`` is a global multiplier (default 1).

    Per run: ``lr`` a 1-D array, and/or ``lrs`` a 2-D array (one row of per-block lrs per run).
    """

    lrs: tuple = ()
    lr: float = 1.0
    name = "blockwise-gd"
    HYPER = ("lr", "lrs")

    def __post_init__(self):
        if isinstance(self.lrs, (str, bytes)) or np.ndim(self.lrs) > 2:
            raise TypeError(f"lrs must be a flat sequence of numbers (one per block), or one such row "
                            f"per run, got {self.lrs!r}")
        if np.ndim(self.lrs) == 2:
            rows = np.asarray(self.lrs, dtype=object).tolist()
            lrs = tuple(tuple(positive(f"lrs[{r}][{l}]", x) for l, x in enumerate(row))
                        for r, row in enumerate(rows))
            if not lrs or not lrs[0]:
                raise ValueError("lrs must give one learning rate per block, got none")
        else:
            lrs = tuple(positive(f"lrs[{l}]", x) for l, x in enumerate(np.atleast_1d(self.lrs).tolist()))
            if not lrs:
                raise ValueError("lrs must give one learning rate per block, got none")
        object.__setattr__(self, "lrs", lrs)
        super().__post_init__()

    def _lengths(self) -> dict:
        out = {"lr": len(self.lr)} if isinstance(self.lr, tuple) else {}
        if isinstance(self.lrs[0], tuple):
            out["lrs"] = len(self.lrs)
        return out

    def hyper(self, n: int) -> dict:
        lrs = np.array(self.lrs, dtype=np.float64)
        lrs = lrs[None, :] if lrs.ndim == 1 else lrs
        return {"lr": np.broadcast_to(np.array(run_values(self.lr), dtype=np.float64), (n,)).copy(),
                "lrs": np.broadcast_to(lrs, (n, lrs.shape[1])).copy()}

    @classmethod
    def optimal(cls, problem, **kw) -> "BlockwiseGD":
        """Per-block optimal steps 2/(L_l + μ_l) (THEORY §3)."""
        lrs = tuple(2.0 / (e[-1] + e[0]) for e in problem.block_eigvals)
        return cls(lrs=lrs, **kw)

    def _lr_matrix(self, problem) -> np.ndarray:
        lrs = np.array(self.lrs, dtype=np.float64)
        lrs = lrs[None, :] if lrs.ndim == 1 else lrs
        if lrs.shape[1] != len(problem.sizes):
            raise ValueError(f"lrs has {lrs.shape[1]} entries but the problem has {len(problem.sizes)} blocks")
        return column(self.lr) * np.repeat(lrs, problem.sizes, axis=1)


@dataclass(frozen=True)
class Signum(_PerRun):
    """Sign descent with momentum: buf ← μ·buf + (1−μ)·g; w ← w − lr_t·sign(buf) (THEORY §9.2)."""

    lr: float
    momentum: float = 0.9
    schedule: Constant = field(default_factory=Constant)
    name = "signum"
    HYPER = ("lr", "momentum")

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "momentum", per_run(
            "momentum", self.momentum, lambda k, x: in_range(k, x, 0.0, 1.0, closed="left")))
        _schedule(self.schedule)
        self._check_runs()

    def _lr_matrix(self, problem) -> np.ndarray:
        return np.repeat(column(self.lr), problem.d, axis=1)

    def init(self, problem, w0) -> SignState:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp = namespace(w)
        return SignState(w, 0, xp.asarray(self._lr_matrix(problem)), xp.zeros_like(w),
                         column(self.momentum, xp))

    def update(self, state: SignState, g) -> SignState:
        xp = namespace(g)
        buf = ema(state.buf, g, state.momentum)
        step = self.schedule.factor(state.t) * state.lr
        return SignState(state.w - step * xp.sign(buf), state.t + 1, state.lr, buf, state.momentum)

    def lower(self, problem, n: int = 1, steps: int = 0) -> SignRecord:
        return SignRecord(lr=_rows(self._lr_matrix(problem), n),
                          momentum=_rows(column(self.momentum)[:, 0], n))


@dataclass(frozen=True)
class SignSGD(Signum):
    """Sign descent w ← w − lr_t·sign(g) (Signum with momentum 0; sign(0) = 0)."""

    momentum: float = 0.0
    name = "signsgd"

    def __post_init__(self):
        super().__post_init__()
        if any(x != 0.0 for x in run_values(self.momentum)):
            raise ValueError(f"SignSGD has momentum 0; use Signum for momentum {self.momentum}")


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


OPTIMIZERS = {cls.name: cls for cls in (GD, BlockwiseGD, SignSGD, Signum, Adam, AdamMini, RMSProp)}


def make(name: str, **hyper):
    """Build an optimizer spec by its name (``sims.OPTIMIZERS`` lists them)."""
    one_of("optimizer", name, OPTIMIZERS)
    return OPTIMIZERS[name](**hyper)
