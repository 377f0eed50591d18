"""Normalized gradient descent and gradient-norm clipping, global or per problem block.

Both rescale the gradient by a norm: of the whole gradient (one number per run) or of each problem
block's part of it. The per-block norms are stacked reductions along each run's own contiguous
data (``segments.partition_segments``), so a run's norms — hence its bits — do not depend on its
batch mates (a scatter-add over the batch would not give that guarantee).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from hetquad.problems.validation import boolean, nonnegative, positive
from ..schedules import Constant
from ..segments import partition_segments
from .base import _PerRun, _as_batch, _fit_batch, _schedule, column, namespace, per_run, scaled
from .partition import resolve_partition
from .records import NormRecord

TORCH_CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_: max_norm / (total_norm + 1e-6)


class BlockNorm:
    """‖x_b‖₂ of every problem block b, broadcast back to the block's coordinates: (n, d) → (n, d).

    The sums of squares run along the last axis of stacked (n, k, s) views, one run's data at a
    time, so the result of a run is the same bits in any batch.
    """

    def __init__(self, problem, xp=np):
        part = resolve_partition("blocks", problem)
        self.xp = xp
        self.seg = partition_segments(part.ids, part.counts, xp)

    def __call__(self, x):
        xp = self.xp
        full = [xp.broadcast_to(xp.sqrt((xs * xs).sum(axis=-1, keepdims=True)), xs.shape)
                for xs in self.seg.split(x)]
        return self.seg.join(full, xp.empty_like(x))


def global_norm(x):
    """‖x‖₂ of every run: (n, d) → (n, 1)."""
    xp = namespace(x)
    return xp.sqrt(xp.sum(x * x, axis=1, keepdims=True))


def norm_map(problem, per_block: bool, xp) -> Callable:
    """The norm an update divides by: per block (``BlockNorm``) or global (``global_norm``)."""
    return BlockNorm(problem, xp) if per_block else global_norm


class NormState(NamedTuple):
    w: np.ndarray
    t: int
    lr: object        # (k, 1) column
    scale: object     # (k, 1) column: eps (NormalizedGD) or max_norm (ClippedGD)
    norm: Callable    # (n, d) -> (n, 1) global or (n, d) per-block norms


class _NormScaled(_PerRun):
    """What NormalizedGD and ClippedGD share: lr, one more per-run number ``SCALE`` (its name and
    check: ε or max_norm), ``per_block``, the schedule, and a state that carries the norm map."""

    SCALE: tuple = ()
    KIND: str = ""    # NormRecord.kind

    def __post_init__(self):
        name, check = self.SCALE
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, name, per_run(name, getattr(self, name), check))
        boolean("per_block", self.per_block)
        _schedule(self.schedule)
        self._check_runs()

    def init(self, problem, w0) -> NormState:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp = namespace(w)
        return NormState(w, 0, column(self.lr, xp), column(getattr(self, self.SCALE[0]), xp),
                         norm_map(problem, self.per_block, xp))

    def lower(self, problem, n: int = 1, steps: int = 0) -> NormRecord:
        hy = self.hyper(n)
        part = resolve_partition("blocks" if self.per_block else "single", problem)
        return NormRecord(lr=hy["lr"], scale=hy[self.SCALE[0]], kind=self.KIND, partition=part)


@dataclass(frozen=True)
class NormalizedGD(_NormScaled):
    r"""Normalized gradient descent, w ← w − lr_t · g / (‖g‖ + ε), globally or per block.

    .. math:: w_{t+1} = w_t - \eta_t \frac{g_t}{\lVert g_t\rVert + \varepsilon}
              \quad\text{or, per block } b:\quad
              w_{t+1,b} = w_{t,b} - \eta_t \frac{g_{t,b}}{\lVert g_{t,b}\rVert + \varepsilon}

    A gradient (or block gradient) that is exactly 0 does not move (0/0 := 0). With a constant
    step the iterates never converge on a quadratic: they stall on a plateau at distance about
    lr/2 from w* (``hetquad.theory.normalized``: the exact 1-D 2-cycle and the diagonal /
    block-diagonal bounds).

    Parameters
    ----------
    lr : float > 0, or a 1-D array (one per run)
        Step length: with ε = 0 every step moves w by exactly lr (per block: by lr in each block).
    per_block : bool
        Normalize each problem block's gradient by its own norm (the problem's blocks).
    eps : float >= 0, or a 1-D array
        Added to the norm (0: the exact normalized step).
    schedule : a ``sims.schedules`` spec

    References
    ----------
    Nesterov (1984); Hazan, Levy & Shalev-Shwartz, "Beyond convexity: stochastic quasi-convex
    optimization", NeurIPS 2015 (normalized GD).
    """

    lr: float
    per_block: bool = False
    eps: float = 0.0
    schedule: Constant = field(default_factory=Constant)
    name = "normalized-gd"
    REFERENCE = ("closed forms: exactly lr per step, the exact 1-D 2-cycle, per block on 1x1 blocks = SignSGD "
                 "bit for bit (test_zoo_c.py)")
    HYPER = ("lr", "eps")
    SCALE = ("eps", nonnegative)
    KIND = "normalized"

    def update(self, state: NormState, g) -> NormState:
        xp = namespace(g)
        step = self.schedule.column(state.t, xp) * state.lr
        return state._replace(w=state.w - step * scaled(g, state.norm(g) + state.scale), t=state.t + 1)


@dataclass(frozen=True)
class ClippedGD(_NormScaled):
    r"""Gradient descent on the norm-clipped gradient (torch.nn.utils.clip_grad_norm_ semantics).

    .. math:: c_t = \min\Big(1, \frac{\text{max\_norm}}{\lVert g_t\rVert + 10^{-6}}\Big), \qquad
              w_{t+1} = w_t - \eta_t\, c_t\, g_t

    Globally (one c per run, torch's ``clip_grad_norm_`` over all parameters) or per problem block
    (one c per block: ``clip_grad_norm_`` called on each block separately). Below the threshold it
    is plain GD (c = 1 exactly whenever ‖g‖ + 1e-6 ≤ max_norm). Bound: on a quadratic with
    lr < 2/L the clipped steps are the first ones and there are at most f₀ / (lr·max_norm²·(1 −
    lr·L/2)) of them, then GD's rate (``hetquad.theory.normalized.clipped_gd_clip_steps``).

    Parameters
    ----------
    lr : float > 0, or a 1-D array (one per run)
    max_norm : float > 0, or a 1-D array
    per_block : bool
        Clip each problem block's gradient at ``max_norm`` on its own.
    schedule : a ``sims.schedules`` spec
    """

    lr: float
    max_norm: float = 1.0
    per_block: bool = False
    schedule: Constant = field(default_factory=Constant)
    name = "clipped-gd"
    REFERENCE = "torch.nn.utils.clip_grad_norm_ (global or per block) + torch.optim.SGD (test_crosscheck_zoo_c.py)"
    HYPER = ("lr", "max_norm")
    SCALE = ("max_norm", positive)
    KIND = "clipped"

    def update(self, state: NormState, g) -> NormState:
        xp = namespace(g)
        coef = xp.minimum(state.scale / (state.norm(g) + TORCH_CLIP_EPS), 1.0)  # torch's clamp(max=1)
        step = self.schedule.column(state.t, xp) * state.lr
        return state._replace(w=state.w - step * (g * coef), t=state.t + 1)
