"""Batched array rendering of a lowered optimizer through an ``xp`` namespace (numpy or cupy).

The same code runs on the CPU (``xp=numpy``, the "best batched numpy" baseline of the
benchmarks) and on a GPU (``xp=cupy``, the body of the cupy engine). Per step:

- gradient: the operator tiles of equal size are stacked into (k, s, s) and multiplied with
  one batched matmul over (blocks × instances): (k, n, s) @ (k, s, s) (THEORY §1, g = H e);
- update: elementwise over (n, d) by family ('gd', 'sign', 'adam'; THEORY §3, §4, §9.2);
- Adam-mini: the second moment is averaged over the partition blocks ``v_ids``/``v_counts``
  (any partition: equal-size blocks are stacked the same way as the tiles).

Stop, divergence and recording rules are those of ``tracking.Tracker`` (shared with the numpy
engine); the only device→host copies are the per-step losses (n floats, needed by the stop
rules) and the gradient norms at recorded steps.
"""
from __future__ import annotations

import math

import numpy as np

from . import Task, Trajectory
from .tracking import Tracker


def unsupported(task: Task) -> str | None:
    """Why this array rendering cannot run ``task`` (None when it can)."""
    if task.noise is not None:
        return "noise models run on the numpy engine only"
    p = task.problem
    if not all(hasattr(p, a) for a in ("operator_blocks", "w_star", "sizes")):
        return f"{type(p).__name__} is not a block quadratic (no operator_blocks)"
    if not hasattr(task.optimizer, "lower"):
        return f"{type(task.optimizer).__name__} cannot be lowered to an array or kernel family"
    return None


class Segments:
    """Coordinates cut into segments; segments of equal size are stacked into (n, k, s) views.

    A group whose segments are adjacent and in order is a reshaped slice (no copy on numpy);
    otherwise it is a gather/scatter through an index array of shape (k, s).

    Parameters
    ----------
    segments : list of 1-D int arrays
        The coordinates of each segment, together covering 0..d-1 exactly once.
    xp : array namespace
    """

    def __init__(self, segments, xp=np):
        by_size: dict[int, list] = {}
        for order, idx in enumerate(segments):
            by_size.setdefault(int(len(idx)), []).append((order, np.asarray(idx, dtype=np.int64)))
        self.groups = []   # (size, slice or device index array (k, s), segment order (k,))
        for s, members in by_size.items():
            idx = np.stack([m[1] for m in members])
            flat = idx.ravel()
            if np.array_equal(flat, np.arange(flat[0], flat[0] + flat.size)):
                where = slice(int(flat[0]), int(flat[0] + flat.size))
            else:
                where = xp.asarray(idx)
            self.groups.append((s, where, np.array([m[0] for m in members])))

    def split(self, x):
        """(n, d) → list of (n, k, s) arrays, one per group."""
        n = x.shape[0]
        return [x[:, where].reshape(n, -1, s) if isinstance(where, slice) else x[:, where]
                for s, where, _ in self.groups]

    def join(self, parts, out):
        """Write a list of (n, k, s) arrays back into ``out`` (n, d); returns ``out``."""
        n = out.shape[0]
        for (_, where, _), part in zip(self.groups, parts):
            out[:, where] = part.reshape(n, -1) if isinstance(where, slice) else part
        return out


def operator_segments(problem, xp=np):
    """``Segments`` of the problem's operator tiles and the tiles stacked per group (k, s, s)."""
    tiles = [np.asarray(h, dtype=np.float64) for h in problem.operator_blocks]
    stops = np.cumsum([h.shape[0] for h in tiles])
    if stops[-1] != problem.d:
        raise ValueError(f"operator tiles cover {stops[-1]} coordinates, the problem has d = {problem.d}")
    seg = Segments([np.arange(b - h.shape[0], b) for b, h in zip(stops, tiles)], xp)
    stacks = [xp.asarray(np.stack([tiles[i] for i in order])) for _, _, order in seg.groups]
    return seg, stacks


def partition_segments(ids: np.ndarray, counts: np.ndarray, xp=np) -> Segments:
    """``Segments`` of a partition given as one block id per coordinate."""
    order = np.argsort(ids, kind="stable")
    return Segments(np.split(order, np.cumsum(counts)[:-1]), xp)


class BlockOperator:
    """g = H (w − w*) and ℓ = ½ eᵀ g for a batch (n, d), with batched matmuls per tile size."""

    def __init__(self, problem, xp=np):
        self.xp = xp
        self.seg, self.stacks = operator_segments(problem, xp)
        self.w_star = xp.asarray(np.asarray(problem.w_star, dtype=np.float64))

    def __call__(self, w):
        """Return (loss (n,), gradient (n, d))."""
        xp = self.xp
        e = w - self.w_star
        # tiles are symmetric, so row form e_l @ H_l is (H_l e_l)ᵀ
        parts = [xp.matmul(x.transpose(1, 0, 2), h).transpose(1, 0, 2)
                 for x, h in zip(self.seg.split(e), self.stacks)]
        g = self.seg.join(parts, xp.empty_like(e))
        return 0.5 * xp.sum(e * g, axis=1), g


class BlockMean:
    """mean_{i∈b} x_i broadcast back to every coordinate of block b (Adam-mini, THEORY §4)."""

    def __init__(self, ids, counts, xp=np):
        self.xp = xp
        self.seg = partition_segments(np.asarray(ids), np.asarray(counts), xp)

    def __call__(self, x):
        xp = self.xp
        full = [xp.broadcast_to(xs.sum(axis=-1, keepdims=True) / s, xs.shape)
                for xs, (s, _, _) in zip(self.seg.split(x), self.seg.groups)]
        return self.seg.join(full, xp.empty_like(x))


# -- the update rules by family (same operation order as sims/optimizers.py) -----------------
def _ema(buf, x, beta: float):
    return beta * buf + (1.0 - beta) * x


class _Rule:
    """State and step of one lowered family on (n, d) arrays."""

    def __init__(self, low, w, xp):
        self.low, self.xp = low, xp
        self.lr = xp.asarray(np.asarray(low.lr, dtype=np.float64))
        if low.family not in ("gd", "sign", "adam"):
            raise ValueError(f"unknown optimizer family {low.family!r}")
        self.buf = xp.zeros_like(w) if low.family == "sign" else None
        self.m = xp.zeros_like(w) if low.family == "adam" else None
        self.v = xp.zeros_like(w) if low.family == "adam" else None
        self.square = None
        if low.family == "adam":
            mean = BlockMean(low.v_ids, low.v_counts, xp) if low.v_block else None
            self.square = (lambda g: mean(g * g)) if mean else (lambda g: g * g)

    def fields(self):
        return [f for f in ("buf", "m", "v") if getattr(self, f) is not None]

    def step(self, w, g, t: int, factor: float):
        """New w after update t (0-based); updates the moment buffers in place of the attributes."""
        low, xp = self.low, self.xp
        if low.family == "gd":
            return w - (factor * self.lr) * g
        if low.family == "sign":
            self.buf = _ema(self.buf, g, low.beta1)
            return w - (factor * self.lr) * xp.sign(self.buf)
        sq = self.square(g)
        v = sq if (low.v0_g0sq and t == 0) else self.v
        self.m = _ema(self.m, g, low.beta1)
        self.v = _ema(v, sq, low.beta2)
        lr = factor * self.lr
        if low.bias_correction:  # torch.optim.Adam's order of operations
            step = lr / (1.0 - low.beta1 ** (t + 1))
            denom = xp.sqrt(self.v) / math.sqrt(1.0 - low.beta2 ** (t + 1)) + low.eps
        else:
            step, denom = lr, xp.sqrt(self.v) + low.eps
        return w - step * xp.where(self.m == 0.0, 0.0, self.m / denom)  # 0/0 := 0 (optimizers.scaled)


def simulate(task: Task, xp=np) -> Trajectory:
    """Run ``task`` with array code through ``xp`` (numpy or cupy); float64 throughout.

    Parameters
    ----------
    task : Task
        As built by ``sims.run``; ``unsupported(task)`` must be None.
    xp : module
        The array namespace: ``numpy`` or ``cupy``.

    Returns
    -------
    Trajectory
        Host (numpy) arrays.
    """
    why = unsupported(task)
    if why:
        raise ValueError(f"the batched engine cannot run this task: {why}")
    p = task.problem
    op = BlockOperator(p, xp)
    w = xp.asarray(np.ascontiguousarray(task.w0, dtype=np.float64))
    rule = _Rule(task.optimizer.lower(p), w, xp)
    tracker = Tracker(task, xp)
    host_active, dev_active = None, None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        loss, g = op(w)
        tracker.start(loss, g)
        for t in range(task.steps):
            active = tracker.active
            if not active.any():
                break
            old = {f: getattr(rule, f) for f in rule.fields()}
            w_new = rule.step(w, g, t, float(task.factors[t]))
            if active.all():
                w = w_new
            else:  # freeze stopped runs (copy the mask to the device only when it changes)
                if host_active is None or not np.array_equal(host_active, active):
                    host_active, dev_active = active.copy(), xp.asarray(active)[:, None]
                w = xp.where(dev_active, w_new, w)
                for f, a in old.items():
                    setattr(rule, f, xp.where(dev_active, getattr(rule, f), a))
            loss, g = op(w)
            tracker.observe(t + 1, loss, g)
    return tracker.finish(w)
