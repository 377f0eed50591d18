"""Interchangeable engines that run a ``Task`` and return a ``Trajectory``.

Each engine module declares ``NAME``, ``is_available()``, ``unsupported(task) -> reason | None``
and ``simulate(task)``. ``engine='auto'`` picks the fastest engine that is available and supports
the task; naming an engine that is unavailable or cannot run the task raises ``ValueError`` —
never a silent fallback that would change results. An engine may also define
``auto_skip(task) -> reason | None``: a task it can run but that 'auto' should give to the next
engine (the GPU engine skips tasks too small to pay for kernel launches).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..stopping import LABELS as STOP_CODES  # noqa: F401  (code -> label, kept for callers)
from ..stopping import labels as stop_labels  # noqa: F401

from .names import NAMES  # the one tuple (the CLI loads names.py alone, for an instant --help)
AUTO_ORDER = ("cupy", "numba", "numpy")


@dataclass(frozen=True, eq=False)
class Task:
    """Everything an engine needs, already validated by ``sims.run``.

    ``factors[t]`` is the schedule multiplier of step t; ``record`` the sorted step indices to
    record (always containing 0); ``tol`` stops a run once loss ≤ tol·loss₀.
    """

    problem: object
    optimizer: object
    steps: int
    w0: np.ndarray          # (n, d)
    factors: np.ndarray     # (steps,)
    record: np.ndarray      # (R,) int64
    tol: float | None
    per_block: bool
    noise: object | None

    @property
    def n(self) -> int:
        return int(self.w0.shape[0])


class Trajectory(NamedTuple):
    loss: np.ndarray                 # (n, R)
    grad_norm: np.ndarray            # (n, R)
    block_grad_norm: np.ndarray | None  # (n, R, B)
    iterations: np.ndarray           # (n,) int64
    stop: np.ndarray                 # (n,) int8, ``stopping.StopCode`` values
    final_loss: np.ndarray           # (n,)
    w_final: np.ndarray              # (n, d)


def get(name: str):
    """The engine module called ``name``."""
    if name not in NAMES:
        raise ValueError(f"engine must be one of {['auto', *NAMES]}, got {name!r}")
    return importlib.import_module(f"{__name__}.{name}")


def available() -> list[str]:
    """Names of the engines usable on this machine."""
    return [n for n in NAMES if get(n).is_available()]


def resolve(name: str, task: Task):
    """Return the engine module for ``name`` ('auto' or an engine name) and ``task``."""
    if name == "auto":
        reasons = []
        for cand in AUTO_ORDER:
            mod = get(cand)
            why = None if mod.is_available() else "not available"
            why = why or mod.unsupported(task)
            skip = getattr(mod, "auto_skip", None)
            why = why or (skip(task) if skip else None)
            if why is None:
                return mod
            reasons.append(f"{cand}: {why}")
        raise ValueError("no engine can run this task: " + "; ".join(reasons))
    mod = get(name)
    if not mod.is_available():
        raise ValueError(f"engine {name!r} is not available on this machine: {mod.why_unavailable()}")
    why = mod.unsupported(task)
    if why:
        raise ValueError(f"engine {name!r} cannot run this task: {why}")
    return mod
