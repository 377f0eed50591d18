"""The GPU engine: the batched array code of ``batched.py`` with ``xp = cupy`` (float64).

Available only when cupy imports *and* a CUDA device answers; ``why_unavailable()`` says which
of the two is missing. ``engine='auto'`` picks it only for tasks with enough work per step
(``MIN_AUTO_WORK``): below that, kernel-launch latency and the per-step host copy of the losses
dominate and the compiled CPU engine is faster.
"""
from __future__ import annotations

from functools import lru_cache

from . import Task, Trajectory
from . import batched

NAME = "cupy"

# Multiply-adds per step (n · Σ_tiles s²) below which 'auto' leaves a task to the CPU engines.
# A step costs ~20 kernel launches plus one device→host copy (≈ 100-200 µs on a GPU), which the
# numba engine matches at about 1e6 multiply-adds per step on one CPU core (~ 1-2 GFLOP/s/core
# for small tiles). Not measured on a GPU here (no GPU in CI): a conservative order of magnitude.
MIN_AUTO_WORK = 2**20


@lru_cache(maxsize=1)
def _probe() -> str:
    """'' when cupy and a CUDA device are usable, else why not (never raises)."""
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        return f"cupy is not importable ({type(exc).__name__}: {exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when no driver/device
        return f"cupy is installed but no CUDA device is usable ({type(exc).__name__}: {exc})"
    if count < 1:
        return "cupy is installed but no CUDA device is present"
    return ""


def is_available() -> bool:
    return _probe() == ""


def why_unavailable() -> str:
    return _probe()


def unsupported(task: Task) -> str | None:
    return batched.unsupported(task)


def work(task: Task) -> int:
    """Multiply-adds per step of the gradient: n · Σ s² over the operator tiles."""
    return task.n * sum(int(h.shape[0]) ** 2 for h in task.problem.operator_blocks)


def auto_skip(task: Task) -> str | None:
    """Why 'auto' should not pick this engine for ``task`` even though it could run it."""
    w = work(task)
    if w < MIN_AUTO_WORK:
        return f"too little work per step for the GPU ({w} < {MIN_AUTO_WORK} multiply-adds)"
    return None


def simulate(task: Task) -> Trajectory:
    import cupy
    return batched.simulate(task, xp=cupy)
