"""SM3 (Anil, Gupta, Koren & Singer 2019): AdaGrad with one accumulator per cover set — the rows
and the columns of a matrix block, single coordinates of a vector block."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from hetquad.problems.validation import in_range, integer, nonnegative, positive
from ..schedules import Constant
from .base import _PerRun, _as_batch, _fit_batch, _schedule, column, namespace, per_run, scaled
from .partition import resolve_partition
from .records import SM3Record


class SM3Layout(NamedTuple):
    """Where the vector coordinates and the matrix blocks live (one group per distinct shape)."""

    vector: object   # (d_v,) device index array of the vector blocks' coordinates, or None
    groups: tuple    # ((r, c), device index array (k, r·c)) per distinct matrix shape


class SM3State(NamedTuple):
    w: np.ndarray
    t: int
    acc: np.ndarray   # (n, d): the accumulator of every vector coordinate (unused at matrix ones)
    rows: tuple       # per matrix group: (n, k, r) row accumulators
    cols: tuple       # per matrix group: (n, k, c) column accumulators
    buf: np.ndarray   # (n, d) momentum buffer
    lr: object        # (k, 1) columns
    momentum: object
    beta: object
    eps: object
    layout: SM3Layout


def _shapes(spec_shapes, problem) -> tuple:
    """One (r, c) or None per problem block: the spec's, else the problem's ``shapes``, else vectors."""
    shapes = spec_shapes if spec_shapes is not None else getattr(problem, "shapes", None)
    sizes = tuple(int(s) for s in problem.sizes)
    if shapes is None:
        return (None,) * len(sizes)
    shapes = tuple(None if s is None else (int(s[0]), int(s[1])) for s in shapes)
    if len(shapes) != len(sizes):
        raise ValueError(f"shapes must give one (r, c) or None per block ({len(sizes)} blocks), got {len(shapes)}")
    for b, (s, n) in enumerate(zip(shapes, sizes)):
        if s is not None and s[0] * s[1] != n:
            raise ValueError(f"shapes[{b}] = {tuple(s)} does not factor block {b} of size {n} (r·c must be {n})")
    return shapes


def _check_shape(b: int, s):
    if s is None:
        return None
    if isinstance(s, (str, bytes)) or np.ndim(s) != 1 or len(s) != 2:
        raise ValueError(f"shapes[{b}] must be None (a vector block) or a pair (r, c), got {s!r}")
    return (integer(f"shapes[{b}][0]", s[0], minimum=1), integer(f"shapes[{b}][1]", s[1], minimum=1))


@dataclass(frozen=True)
class SM3(_PerRun):
    r"""SM3-II (Anil et al., "Memory-efficient adaptive optimization", NeurIPS 2019, Algorithm 2).

    Cover sets: the rows and the columns of a matrix block of shape (r, c) (w_b = vec(W_b), row
    major), single coordinates of a vector block (there SM3 is AdaGrad). For every coordinate i:

    .. math::
        \nu_t(i) &= \beta' \min_{S \ni i} \mu_{t-1}(S) + (1-\beta)\, g_t(i)^2, \qquad
        \mu_t(S) = \max\big(\mu_{t-1}(S),\ \max_{j\in S} \nu_t(j)\big) \\
        \hat g_t(i) &= g_t(i) / \sqrt{\nu_t(i) + \varepsilon}, \qquad
        m_t = \mu_m m_{t-1} + (1-\mu_m)\, \hat g_t, \qquad w_{t+1} = w_t - \eta_t\, m_t

    with β' = β if β > 0 else 1 (0/0 := 0 in ĝ). β = 0 is the paper's SM3-II exactly (ν = min μ + g²,
    μ = max ν: the outer max is then a no-op); β > 0 is pytorch-optimizer's exponential-moving-average
    variant, and the momentum m (μ_m = 0: none) is its momentum; ε = 1e-30 inside the square root as
    in pytorch-optimizer (the paper has none). The paper's regret bound is for online convex
    optimization; no bound on the quadratics is implemented for SM3.

    Parameters
    ----------
    lr : float > 0, or a 1-D array (one per run)
    momentum : float in [0, 1), or a 1-D array
    beta : float in [0, 1), or a 1-D array
    eps : float >= 0, or a 1-D array
    shapes : None, or one (r, c) or None per block
        Overrides the problem's ``shapes`` (None: use the problem's; vectors when it has none).
    schedule : a ``sims.schedules`` spec
    """

    lr: float
    momentum: float = 0.0
    beta: float = 0.0
    eps: float = 1e-30
    shapes: tuple | None = None
    schedule: Constant = field(default_factory=Constant)
    name = "sm3"
    REFERENCE = "pytorch-optimizer 4.1 SM3 on matrix and vector blocks (test_crosscheck_zoo_c.py)"
    HYPER = ("lr", "momentum", "beta", "eps")

    def __post_init__(self):
        unit = lambda k, x: in_range(k, x, 0.0, 1.0, closed="left")  # noqa: E731
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "momentum", per_run("momentum", self.momentum, unit))
        object.__setattr__(self, "beta", per_run("beta", self.beta, unit))
        object.__setattr__(self, "eps", per_run("eps", self.eps, nonnegative))
        if self.shapes is not None:
            if isinstance(self.shapes, (str, bytes)):
                raise ValueError(f"shapes must be None or one (r, c) or None per block, got {self.shapes!r}")
            object.__setattr__(self, "shapes", tuple(_check_shape(b, s) for b, s in enumerate(self.shapes)))
        _schedule(self.schedule)
        self._check_runs()

    def _layout(self, problem, xp) -> SM3Layout:
        shapes = _shapes(self.shapes, problem)
        stops = np.cumsum(problem.sizes)
        vector, by_shape = [], {}
        for s, stop, size in zip(shapes, stops, problem.sizes):
            idx = np.arange(stop - size, stop)
            if s is None:
                vector.append(idx)
            else:
                by_shape.setdefault(s, []).append(idx)
        vec = xp.asarray(np.concatenate(vector)) if vector else None
        groups = tuple((s, xp.asarray(np.stack(members))) for s, members in by_shape.items())
        return SM3Layout(vec, groups)

    def init(self, problem, w0) -> SM3State:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp = namespace(w)
        lay = self._layout(problem, xp)
        n = w.shape[0]
        rows = tuple(xp.zeros((n, idx.shape[0], r)) for (r, _), idx in lay.groups)
        cols = tuple(xp.zeros((n, idx.shape[0], c)) for (_, c), idx in lay.groups)
        return SM3State(w, 0, xp.zeros_like(w), rows, cols, xp.zeros_like(w), column(self.lr, xp),
                        column(self.momentum, xp), column(self.beta, xp), column(self.eps, xp), lay)

    def lower(self, problem, n: int = 1, steps: int = 0) -> SM3Record:
        hy = self.hyper(n)
        shapes = _shapes(self.shapes, problem)
        part = resolve_partition("blocks", problem) if any(s is not None for s in shapes) else None
        return SM3Record(lr=hy["lr"], momentum=hy["momentum"], beta=hy["beta"], eps=hy["eps"], shapes=shapes,
                         partition=part)

    def update(self, state: SM3State, g) -> SM3State:
        xp = namespace(g)
        lay, n = state.layout, g.shape[0]
        # pytorch-optimizer (and the authors' code) scale the old accumulator by β only when β > 0:
        # β = 0 is SM3-II's running sum ν = min μ + g², not ν = g²
        keep = xp.where(state.beta > 0.0, state.beta, 1.0)
        fresh = 1.0 - state.beta
        ghat = xp.empty_like(g)
        acc = state.acc
        if lay.vector is not None:  # one cover per coordinate: its min and max are the coordinate
            gv = g[:, lay.vector]
            old = acc[:, lay.vector]
            nu = keep * old + fresh * (gv * gv)
            acc = acc.copy()
            acc[:, lay.vector] = xp.maximum(old, nu)
            ghat[:, lay.vector] = scaled(gv, xp.sqrt(nu + state.eps))
        rows, cols = [], []
        keep4, fresh4, eps4 = (x.reshape(-1, 1, 1, 1) for x in (keep, fresh, state.eps))
        for ((r, c), idx), row, col in zip(lay.groups, state.rows, state.cols):
            G = g[:, idx].reshape(n, -1, r, c)
            nu = keep4 * xp.minimum(row[..., :, None], col[..., None, :]) + fresh4 * (G * G)
            # max(μ, max ν): with β = 0 the outer max is a no-op (max_j min(μ_row i, μ_col j) ≥ μ_row i)
            rows.append(xp.maximum(row, nu.max(axis=3)))
            cols.append(xp.maximum(col, nu.max(axis=2)))
            ghat[:, idx] = scaled(G, xp.sqrt(nu + eps4)).reshape(n, -1, r * c)
        buf = state.momentum * state.buf + (1.0 - state.momentum) * ghat
        step = self.schedule.column(state.t, xp) * state.lr
        return state._replace(w=state.w - step * buf, t=state.t + 1, acc=acc, rows=tuple(rows), cols=tuple(cols),
                              buf=buf)
