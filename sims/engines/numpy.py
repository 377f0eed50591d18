"""The reference engine: the optimizer's pure ``update`` on numpy arrays, a Python loop (float64).

Readable and slow on purpose; every other engine is tested equal to it. The gradient is the
problem's own ``grad``/``loss`` (any problem, stochastic gradients included).
"""
from __future__ import annotations

import numpy as np

from . import Task, Trajectory
from .tracking import simulate_rule

NAME = "numpy"


def is_available() -> bool:
    return True


def why_unavailable() -> str:
    return ""


def unsupported(task: Task) -> str | None:
    return None


def simulate(task: Task) -> Trajectory:
    p = task.problem
    noisy = None
    if task.noise is not None:
        draw = task.noise.sampler(p, task.n)
        noisy = lambda w, g, t: task.noise.gradient(p, w, draw)  # noqa: E731
    return simulate_rule(task, lambda w: (p.loss(w), p.grad(w)), np, noisy)
