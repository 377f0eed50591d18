"""``sims.run``: validate, estimate the memory, choose an engine, run a batch, wrap a ``Result``."""
from __future__ import annotations

import time

import numpy as np

import hetquad
from hetquad.problems.validation import boolean, finite_array, integer, positive

from . import engines as _engines
from .estimate import check_budget
from .result import Hyper, Result
from .schedules import Constant
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
    """What a result records of its problem: name, d, sizes, info (a catalog problem's name, params
    and seed rebuild it) and, when some block is matrix-shaped, the ``shapes`` (None: a vector
    block), which the catalog parameters need not fix (``dataclasses.replace(p, shapes=...)``)."""
    out = {"name": getattr(problem, "name", type(problem).__name__), "d": int(problem.d),
           "sizes": [int(s) for s in problem.sizes], "info": to_dict(getattr(problem, "info", {}))}
    shapes = getattr(problem, "shapes", None)
    if shapes is not None and any(s is not None for s in shapes):
        out["shapes"] = [None if s is None else [int(x) for x in s] for s in shapes]
    return out


def _seeds(seed):
    """An int ≥ 0, or a 1-D array of them (one per run)."""
    if np.ndim(seed) == 0:
        return integer("seed", seed.item() if isinstance(seed, np.ndarray) else seed, minimum=0)
    arr = np.asarray(seed, dtype=object)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"seed must be an integer or a non-empty 1-D array of integers (one per run), "
                         f"got shape {arr.shape}")
    return tuple(integer(f"seed[{i}]", s, minimum=0) for i, s in enumerate(arr.tolist()))


def _schedule(optimizer) -> Constant:
    """The optimizer's lr schedule (a spec without one, e.g. ``sims.custom``, runs a constant lr)."""
    return getattr(optimizer, "schedule", None) or Constant()


def _batch(problem, optimizer, w0, seed, batch) -> int:
    """The number of runs, checked against every source that fixes it."""
    given = {}  # source -> (runs, how to say it)
    if batch is not None:
        b = integer("batch", batch, minimum=1)
        given["batch"] = (b, f"batch = {b}")
    if w0 is not None and w0.ndim == 2:
        given["w0"] = (w0.shape[0], f"w0 with {w0.shape[0]} rows")
    if isinstance(seed, tuple):
        given["seed"] = (len(seed), f"seed with {len(seed)} entries")
    lengths = optimizer._lengths() if hasattr(optimizer, "_lengths") else {}
    lengths.update({f"schedule.{k}": n for k, n in _schedule(optimizer)._lengths().items()})
    for name, k in lengths.items():
        given[name] = (k, f"{name} with {k} per-run values")
    first = next(iter(given.values()), None)
    for k, said in given.values():
        if k != first[0]:
            raise ValueError(f"{first[1]} does not match {said}: per-run arrays need one entry per run")
    return first[0] if first else 1


def build_task(problem, optimizer, steps: int, *, w0=None, seed=0, batch: int | None = None,
               tol: float | None = None, record_every: int = 1, per_block: bool = False,
               noise=None, memory_budget: int | None = None) -> _engines.Task:
    """Validate ``run``'s arguments and return the engine ``Task`` (see ``run`` for them).

    Public so that code driving an engine directly (benchmarks, the batched array engine's
    tests) builds exactly the task ``run`` would. Refuses, before allocating anything, a run
    whose memory estimate (``sims.estimate``) exceeds ``memory_budget``.
    """
    steps = integer("steps", steps, minimum=0)
    seed = _seeds(seed)
    record_every = integer("record_every", record_every, minimum=1)
    per_block = boolean("per_block", per_block)  # "no" would be truthy
    if tol is not None:
        tol = positive("tol", tol)
    if not all(hasattr(problem, a) for a in ("d", "sizes", "loss", "grad")):
        raise TypeError(f"problem must be a hetquad.problems problem (with d, sizes, loss, grad), "
                        f"got {type(problem).__name__}")
    if not hasattr(optimizer, "init") or not hasattr(optimizer, "update"):
        raise TypeError(f"optimizer must be a hetquad.sims optimizer spec, got {type(optimizer).__name__}")
    if w0 is not None:
        w0 = finite_array("w0", w0)
        if w0.ndim not in (1, 2) or w0.shape[-1] != problem.d:
            shape = (1, w0.size) if w0.ndim == 1 else w0.shape
            raise ValueError(f"w0 must have shape ({problem.d},) or (n, {problem.d}), got {shape}")
    n = _batch(problem, optimizer, w0, seed, batch)
    check_budget(problem, optimizer, steps, batch=n, record_every=record_every, per_block=per_block,
                 budget=memory_budget)
    if w0 is None:
        if isinstance(seed, tuple):
            w0 = np.concatenate([initial_points(problem, 1, s) for s in seed])
        else:
            w0 = initial_points(problem, n, seed)
    elif w0.ndim == 1:
        w0 = np.broadcast_to(w0, (n, problem.d)).copy()
    return _engines.Task(problem, optimizer, steps, np.ascontiguousarray(w0),
                         _schedule(optimizer).factors(steps), record_steps(steps, record_every),
                         tol, bool(per_block), noise)


def run(problem, optimizer, steps: int, *, w0=None, seed=0, batch: int | None = None,
        engine: str = "auto", tol: float | None = None, record_every: int = 1,
        per_block: bool = False, noise=None, memory_budget: int | None = None) -> Result:
    """Run ``optimizer`` on ``problem`` for ``steps`` updates, for a batch of initializations.

    Parameters
    ----------
    problem : BlockQuadratic (or any problem with ``d``, ``sizes``, ``loss``, ``grad``)
    optimizer : an optimizer spec from ``hetquad.sims``
        Its numeric hyper-parameters may be 1-D arrays, one value per run (``sims.grid``).
    steps : int >= 0
    w0 : (d,) or (n, d) array, optional
        Initial points; default w* + N(0, I) per run drawn from ``seed``.
    seed : int >= 0, or 1-D array of them
        An int: run i starts at ``initial_points(problem, batch, seed)[i]``. An array: run i
        starts at ``initial_points(problem, 1, seed[i])`` (the point ``seed=seed[i]`` alone gives).
    batch : int >= 1, optional
        Independent runs (default: the length of ``w0``, ``seed`` or the per-run
        hyper-parameters, else 1; all that are given must agree).
    engine : {'auto', 'numpy', 'numba', 'cupy'}
    tol : float > 0, optional
        Stop a run once loss ≤ tol·loss₀ (stop reason 'tol').
    record_every : int >= 1
        Record every k-th step (plus the last).
    per_block : bool
        Also record ‖g_l‖ per block.
    noise : GaussianNoise, GradientCorrelatedNoise or MiniBatch, optional
        Stochastic gradients: GaussianNoise on every engine (one counter-based stream, so the
        engines draw the same numbers); GradientCorrelatedNoise (ξ ∝ |g|, Tomihari & Sato's
        gradient-correlated model) and MiniBatch (finite-sum problems) on the numpy engine.
    memory_budget : int, optional
        Bytes the run may allocate (default ``sims.estimate.DEFAULT_BUDGET``); a larger estimate
        is refused before any work with the bytes needed and how to reduce them.

    Returns
    -------
    Result
    """
    task = build_task(problem, optimizer, steps, w0=w0, seed=seed, batch=batch, tol=tol,
                      record_every=record_every, per_block=per_block, noise=noise,
                      memory_budget=memory_budget)
    mod = _engines.resolve(engine, task)
    t0 = time.perf_counter()
    traj = mod.simulate(task)
    wall = time.perf_counter() - t0
    seed = _seeds(seed)
    config = {
        "problem": _problem_config(problem), "optimizer": to_dict(optimizer), "steps": task.steps,
        "seed": list(seed) if isinstance(seed, tuple) else int(seed), "batch": task.n, "tol": task.tol,
        "record_every": int(record_every), "per_block": bool(per_block), "noise": to_dict(noise),
        "engine": mod.NAME + getattr(optimizer, "engine_suffix", ""), "versions": versions(),
    }
    hyper = optimizer.hyper(task.n) if hasattr(optimizer, "hyper") else {}
    hyper.update(_schedule(optimizer).hyper(task.n))  # per-run schedule parameters are hyper-parameters too
    hyper = Hyper.build(hyper) if hyper else None
    return Result(loss=traj.loss, grad_norm=traj.grad_norm, steps=task.record,
                  stop_reason=_engines.stop_labels(traj.stop),
                  iterations=traj.iterations, final_loss=traj.final_loss, w_final=traj.w_final,
                  engine=mod.NAME + getattr(optimizer, "engine_suffix", ""), wall_time=wall, config=config, block_grad_norm=traj.block_grad_norm,
                  hyper=hyper)


def versions() -> dict:
    """Package versions recorded with every result (reproducibility)."""
    import numba
    import scipy
    return {"hetquad": hetquad.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "numba": numba.__version__}
