"""The batched array engine body through an ``xp`` namespace (numpy or cupy).

The same code runs on the CPU (``xp=numpy``, the "best batched numpy" baseline of the
benchmarks) and on a GPU (``xp=cupy``, the body of the cupy engine). Per step:

- gradient: the operator tiles of equal size are stacked into (k, s, s) and multiplied as
  row-vector items (n, k, 1, s) @ (k, s, s) (THEORY §1, g = H e; ``segments.BlockOperator``),
  so a run's gradient does not depend on its batch mates;
- update: the optimizer spec's own xp-generic ``update`` (``sims.optimizers``), the very code
  the numpy engine runs.

Stop, divergence and recording rules are those of ``tracking.Tracker`` (shared with the numpy
engine); the only device→host copies are the per-step losses (n floats, needed by the stop
rules) and the gradient norms at recorded steps.
"""
from __future__ import annotations

import numpy as np

from ..segments import BlockOperator
from . import Task, Trajectory
from .tracking import simulate_rule


def unsupported(task: Task) -> str | None:
    """Why this array rendering cannot run ``task`` (None when it can)."""
    if task.noise is not None and type(task.noise).__name__ != "GaussianNoise":
        return f"{type(task.noise).__name__} runs on the numpy engine only (only GaussianNoise has a counter-based stream in the array engines)"
    return lowering_limits(task)


def lowering_limits(task: Task) -> str | None:
    """Why the problem cannot be rendered as stacked operator tiles (any xp-generic spec runs here)."""
    p = task.problem
    if not all(hasattr(p, a) for a in ("operator_blocks", "w_star", "sizes")):
        return f"{type(p).__name__} is not a block quadratic (no operator_blocks)"
    return None


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
    noisy = None
    if task.noise is not None:  # the counter-based stream, drawn on the host: the same numbers as numpy
        stream = task.noise.stream(task.problem, task.n)
        noisy = lambda w, g, t: g + xp.asarray(stream.at(t))  # noqa: E731
    return simulate_rule(task, BlockOperator(task.problem, xp), xp, noisy)
