"""The reference engine: a plain Python loop over the optimizer's pure ``update`` (float64).

Readable and slow on purpose; every other engine is tested equal to it.
"""
from __future__ import annotations

import numpy as np

from . import Task, Trajectory
from .tracking import Tracker

NAME = "numpy"


def is_available() -> bool:
    return True


def why_unavailable() -> str:
    return ""


def unsupported(task: Task) -> str | None:
    return None


def _freeze(new, old, active):
    """Keep the state of stopped runs: batched (n, ...) fields take ``old`` where inactive."""
    n = active.size
    fields = {}
    for name, a, b in zip(new._fields, new, old):
        if isinstance(a, np.ndarray) and a.ndim == 2 and a.shape[0] == n:
            fields[name] = np.where(active[:, None], a, b)
    return new._replace(**fields)


def simulate(task: Task) -> Trajectory:
    p, opt = task.problem, task.optimizer
    state = opt.init(p, task.w0)
    draw = task.noise.sampler(p, task.n) if task.noise is not None else None
    tracker = Tracker(task)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        g = p.grad(state.w)
        tracker.start(p.loss(state.w), g)
        for t in range(task.steps):
            if not tracker.active.any():
                break
            g_used = g if draw is None else task.noise.gradient(p, state.w, draw)
            state = _freeze(opt.update(state, g_used), state, tracker.active)
            g = p.grad(state.w)
            tracker.observe(t + 1, p.loss(state.w), g)
    return tracker.finish(state.w)
