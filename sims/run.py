"""``sims.run``: validate, choose an engine, run a batch of initializations, wrap a ``Result``."""
from __future__ import annotations

import time

import numpy as np

import hetquad
from hetquad.problems.validation import finite_array, integer, positive

from . import engines as _engines
from .result import Result
from .serialization import to_dict


def initial_points(problem, batch: int, seed: int) -> np.ndarray:
    """w0 = w* + N(0, I) per run; run i uses stream ``SeedSequence(seed).spawn(batch)[i]``,
    so run i is the same whatever the batch size (THEORY §1 [C])."""
    batch = integer("batch", batch, minimum=1)
    streams = np.random.SeedSequence(integer("seed", seed, minimum=0)).spawn(batch)
    w_star = getattr(problem, "w_star", np.zeros(problem.d))
    return np.stack([w_star + np.random.default_rng(s).standard_normal(problem.d) for s in streams])


def record_steps(steps: int, every: int) -> np.ndarray:
    """0, every, 2·every, … and always the last step."""
    rec = np.arange(0, steps + 1, every, dtype=np.int64)
    if rec[-1] != steps:
        rec = np.append(rec, steps)
    return rec


def _problem_config(problem) -> dict:
    return {"name": getattr(problem, "name", type(problem).__name__), "d": int(problem.d),
            "sizes": [int(s) for s in problem.sizes], "info": to_dict(getattr(problem, "info", {}))}


def build_task(problem, optimizer, steps: int, *, w0=None, seed: int = 0, batch: int | None = None,
               tol: float | None = None, record_every: int = 1, per_block: bool = False,
               noise=None) -> _engines.Task:
    """Validate ``run``'s arguments and return the engine ``Task`` (see ``run`` for them).

    Public so that code driving an engine directly (benchmarks, the batched array engine's
    tests) builds exactly the task ``run`` would.
    """
    steps = integer("steps", steps, minimum=0)
    seed = integer("seed", seed, minimum=0)
    record_every = integer("record_every", record_every, minimum=1)
    if tol is not None:
        tol = positive("tol", tol)
    if not all(hasattr(problem, a) for a in ("d", "sizes", "loss", "grad")):
        raise TypeError(f"problem must be a hetquad.problems problem (with d, sizes, loss, grad), "
                        f"got {type(problem).__name__}")
    if not hasattr(optimizer, "init") or not hasattr(optimizer, "update"):
        raise TypeError(f"optimizer must be a hetquad.sims optimizer spec, got {type(optimizer).__name__}")
    if w0 is None:
        batch = 1 if batch is None else integer("batch", batch, minimum=1)
        w0 = initial_points(problem, batch, seed)
    else:
        w0 = finite_array("w0", w0)
        if w0.ndim == 1:
            w0 = np.broadcast_to(w0, (1 if batch is None else integer("batch", batch, minimum=1), w0.size)).copy()
        if w0.ndim != 2 or w0.shape[1] != problem.d:
            raise ValueError(f"w0 must have shape ({problem.d},) or (n, {problem.d}), got {w0.shape}")
        if batch is not None and integer("batch", batch, minimum=1) != w0.shape[0]:
            raise ValueError(f"batch = {batch} does not match w0 with {w0.shape[0]} rows")
    return _engines.Task(problem, optimizer, steps, np.ascontiguousarray(w0),
                         optimizer.schedule.factors(steps), record_steps(steps, record_every),
                         tol, bool(per_block), noise)


def run(problem, optimizer, steps: int, *, w0=None, seed: int = 0, batch: int | None = None,
        engine: str = "auto", tol: float | None = None, record_every: int = 1,
        per_block: bool = False, noise=None) -> Result:
    """Run ``optimizer`` on ``problem`` for ``steps`` updates, for a batch of initializations.

    Parameters
    ----------
    problem : BlockQuadratic (or any problem with ``d``, ``sizes``, ``loss``, ``grad``)
    optimizer : an optimizer spec from ``hetquad.sims``
    steps : int >= 0
    w0 : (d,) or (n, d) array, optional
        Initial points; default w* + N(0, I) per run drawn from ``seed``.
    seed : int >= 0
    batch : int >= 1, optional
        Independent runs (default 1, or n when ``w0`` is (n, d)).
    engine : {'auto', 'numpy', 'numba', 'cupy'}
    tol : float > 0, optional
        Stop a run once loss ≤ tol·loss₀ (stop reason 'tol').
    record_every : int >= 1
        Record every k-th step (plus the last).
    per_block : bool
        Also record ‖g_l‖ per block.
    noise : GaussianNoise or MiniBatch, optional
        Stochastic gradients (numpy engine).

    Returns
    -------
    Result
    """
    task = build_task(problem, optimizer, steps, w0=w0, seed=seed, batch=batch, tol=tol,
                      record_every=record_every, per_block=per_block, noise=noise)
    mod = _engines.resolve(engine, task)
    t0 = time.perf_counter()
    traj = mod.simulate(task)
    wall = time.perf_counter() - t0
    config = {
        "problem": _problem_config(problem), "optimizer": to_dict(optimizer), "steps": task.steps,
        "seed": int(seed), "batch": task.n, "tol": task.tol, "record_every": int(record_every),
        "per_block": bool(per_block), "noise": to_dict(noise), "engine": mod.NAME,
        "versions": versions(),
    }
    return Result(loss=traj.loss, grad_norm=traj.grad_norm, steps=task.record,
                  stop_reason=tuple(_engines.STOP_CODES[int(c)] for c in traj.stop),
                  iterations=traj.iterations, final_loss=traj.final_loss, w_final=traj.w_final,
                  engine=mod.NAME, wall_time=wall, config=config, block_grad_norm=traj.block_grad_norm)


def versions() -> dict:
    """Package versions recorded with every result (reproducibility)."""
    import numba
    import scipy
    return {"hetquad": hetquad.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "numba": numba.__version__}
