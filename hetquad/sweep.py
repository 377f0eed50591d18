"""Parallel, resumable parameter sweeps (``hetquad sweep``).

A ``SweepConfig`` (``hetquad.config``) is planned into **chunks**: one problem point × one
optimizer entry × its variants that differ only in numeric hyper-parameters (lr, β1, β2, ...) ×
a batch of seeds. A chunk builds its problem once and runs all its variants × seeds in ONE
``sims.run`` call with per-run hyper-parameters (``sims.grid.stack``), and its lr searches
(``lr = "tune"``: every variant × every candidate lr) in one more; groups are split only by
``chunk_size`` and a per-chunk memory target (``budget.CHUNK_BYTES``). A run's numbers do not
depend on its batch mates, so every row equals the run done alone. A chunk is named by the
canonical hash of its spec (``sims.config_hash``), so a finished chunk is found again whatever
else changed; a run's id hashes its own grid point and seed only (``point_spec``), so it does
not depend on the grouping. Small work (estimated below ``IN_PROCESS_SECONDS``) runs in this
process unless a number of workers is given: a pool's start-up would cost more than the work.

Execution: in-process (``workers=1``), a local ``ProcessPoolExecutor`` (spawn context, default
all cores), or a ``dask.distributed`` cluster (``scheduler='tcp://…'``, ``'local'`` for a
``LocalCluster``, or a ``distributed.Client``). Workers return Parquet bytes; only this process
writes to the directory (atomic writes, see ``hetquad.results``), so a remote cluster needs no
shared file system. An atomic lock (``hetquad.lock``: flock on ``DIR/.lock``) keeps two sweeps
out of one directory; a lock left by a dead process is taken over.

A sweep writes only into a directory it owns: a new or empty one, or one holding its
``manifest.json``; it refuses any other non-empty directory, and touches only the files it writes.
Before any work it prints a size estimate (``hetquad.budget``) and refuses a sweep whose memory
estimate exceeds the budget. Pool workers die with their parent (even on SIGKILL), and Ctrl-C
stops the sweep at once, keeping the finished chunks for the resume.

Failures are data: a run whose problem, tuning or simulation raises becomes a row with
``status='failed'`` and the exception as ``reason``; a run that diverges (``sims.run`` stop
reason, DESIGN: NaN/inf or loss > 1e12·loss₀) has ``status='diverged'``. Both are stored once and
not retried by a re-run (delete the chunk file to retry it).
"""
from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hetquad import results as _results
from hetquad.config import SweepConfig, build_optimizer
from hetquad.problems.validation import integer

LOCK = ".lock"


# -- planning --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Chunk:
    """A unit of work: ``spec`` (JSON-ready) fully determines its rows; ``key`` is its hash.

    ``optimizers`` are the validated specs of ``spec['variants']`` (built once, when the config
    was parsed), carried to the worker with the spec; they are not part of the key.
    """

    key: str
    spec: dict
    optimizers: tuple = field(default=(), compare=False, repr=False)

    @property
    def n_runs(self) -> int:
        return len(self.spec["variants"]) * len(self.spec["seeds"])

    def run_ids(self) -> list[str]:
        """The id of every run of the chunk, variant by variant, seed by seed (its row order)."""
        return [r for v in self.spec["variants"] for r in run_ids(point_spec(self.spec, v), self.spec["seeds"])]

    def payload(self) -> dict:
        """What a worker gets: the spec plus the validated optimizer specs (key 'validated')."""
        return {**self.spec, "validated": self.optimizers} if self.optimizers else self.spec


def plan(config: SweepConfig) -> list[Chunk]:
    """The chunks of ``config`` in a fixed order (points × optimizers × groups × seed batches).

    A chunk is one engine call: one problem point (one instance, or one per seed with
    ``seed = "run"``), one optimizer entry, the variants of that entry that differ only in
    numeric hyper-parameters (``HYPER``: lr, β1, β2, ε, ...; anything else — schedule,
    partition, bias_correction, v0 — splits groups), × a batch of seeds. A group is split only
    by ``chunk_size`` (seeds) and the per-chunk memory target ``budget.CHUNK_BYTES``, both fixed
    by the config, so the keys do not depend on the machine or the number of workers.
    """
    from hetquad import budget
    from hetquad.sims import config_hash

    seeds = list(config.seeds)
    run = {"steps": config.steps, "tol": config.tol, "engine": config.engine,
           "record_every": config.record_every, "per_block": config.per_block}
    chunks = []
    for point in config.points():
        per_run = budget.chunk_run_bytes(config, point)
        for entry in config.optimizers:
            variants, specs = entry.variants(), entry.variant_specs()
            tune = asdict(config.tune) if entry.lrs is None else None
            for group in entry.groups():
                for batch, part in budget.chunk_layout(group, seeds, chunk_size=config.chunk_size,
                                                       run_bytes=per_run):
                    spec = {
                        "problem": {"name": config.problem, "params": {**dict(config.fixed), **point},
                                    "seed": config.problem_seed},
                        "axes": point,
                        "optimizer": {"label": entry.label, "type": entry.type},
                        "variants": [{"hyper": variants[i][0], "lr": variants[i][1]} for i in part],
                        "hyper_axes": config.hyper_axis_names,
                        "tune": tune, "run": run, "seeds": batch,
                    }
                    chunks.append(Chunk(config_hash(spec), spec, tuple(specs[i] for i in part)))
    return chunks


def point_spec(spec: dict, variant: dict) -> dict:
    """The spec one grid point (one variant of a chunk) had when it was its own chunk: its run ids
    are hashes of it, so they do not change with how points are grouped or seeds batched."""
    return {"problem": spec["problem"], "axes": spec["axes"],
            "optimizer": {**spec["optimizer"], "hyper": variant["hyper"], "lr": variant["lr"]},
            "hyper_axes": spec["hyper_axes"], "tune": spec["tune"] if variant["lr"] is None else None,
            "run": spec["run"], "seeds": spec["seeds"]}


def run_id(spec: dict, seed: int) -> str:
    """A run's id: the hash of its grid point's spec (``point_spec``) with the seed batch replaced
    by its own seed, so it does not depend on how seeds were batched or points grouped."""
    from hetquad.sims import config_hash

    return config_hash({**spec, "seeds": [int(seed)]})


_SEED_SLOT = "hetquad-run-seed-slot"


def run_ids(spec: dict, seeds) -> list[str]:
    """``[run_id(spec, s) for s in seeds]``, serialising ``spec`` once: its canonical JSON with a
    placeholder seed, the placeholder then replaced by each seed (an int serialises as its digits),
    so the ids of 100k runs cost 100k SHA-256s, not 100k canonical serialisations."""
    import hashlib

    from hetquad.sims import canonical_json

    slot = f'["{_SEED_SLOT}"]'
    data = {**spec, "seeds": [_SEED_SLOT]}
    try:  # a chunk spec is plain JSON data already: json.dumps alone gives canonical_json's text
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=True)
    except TypeError:
        text = canonical_json(data)
    if text.count(slot) != 1:  # the placeholder is also a value somewhere: no shortcut
        return [run_id(spec, s) for s in seeds]
    head, tail = text.split(slot)
    return [hashlib.sha256(f"{head}[{int(s)}]{tail}".encode()).hexdigest()[:16] for s in seeds]


# -- one chunk -------------------------------------------------------------------------------------
def run_chunk(key: str, spec: dict) -> bytes:
    """Run a chunk and return its rows as Parquet bytes (``hetquad.results.rows_to_parquet``).

    ``spec`` is ``Chunk.payload()`` (or a plain chunk spec: the optimizer specs are then rebuilt).
    Never raises for a failing run: the exception becomes the rows' ``reason``.
    """
    return _results.rows_to_parquet(chunk_rows(spec), key=key)


def chunk_rows(spec: dict) -> list[dict]:
    """One dict per run of the chunk, variant by variant, seed by seed (columns: ``hetquad.results``).

    The chunk's variants × seeds run in one ``sims.run`` call per problem instance (and its lr
    searches in one more). Should that grouped call raise, each variant runs on its own, so a
    failing grid point becomes its own failed rows and does not take its chunk mates with it.
    """
    from hetquad import problems

    seeds = [int(s) for s in spec["seeds"]]
    pseed = spec["problem"]["seed"]
    points = [point_spec(spec, v) for v in spec["variants"]]
    bases = [_base(p) for p in points]
    given = list(spec.get("validated") or ())
    done: dict = {}     # variant index -> its rows
    specs: dict = {}    # variant index -> validated scalar spec (with its final lr)
    for i, p in enumerate(points):
        opt = p["optimizer"]
        try:
            specs[i] = given[i] if len(given) == len(points) else \
                build_optimizer(opt["type"], opt["hyper"], 1.0 if opt["lr"] is None else opt["lr"])
        except Exception as exc:  # noqa: BLE001 — recorded, not raised
            lr = math.nan if opt["lr"] is None else float(opt["lr"])
            done[i] = [failed_row(p, bases[i], s, _reason(exc), lr=lr) for s in seeds]
    lrs: dict = {}
    if spec["tune"] is not None:
        for i, got in learning_rates(spec, points, specs).items():
            if isinstance(got, BaseException):
                done[i] = [failed_row(points[i], bases[i], s, f"tuning: {_reason(got)}", lr=math.nan) for s in seeds]
                del specs[i]
                continue
            lr, source, table, edge = got
            bases[i].update(lr_source=source, tune_table=table, lr_edge=edge)
            lrs[i], specs[i] = lr, _with_lr(specs[i], lr)
    else:
        for i in specs:
            lrs[i] = float(points[i]["optimizer"]["lr"])
            bases[i].update(lr_source="fixed", tune_table=None, lr_edge=None)
    live = sorted(specs)
    groups = {s: [s] for s in seeds} if pseed == "run" else {int(pseed): seeds}
    for problem_seed, run_seeds in groups.items():
        try:
            p = problems.get(spec["problem"]["name"], seed=problem_seed, **spec["problem"]["params"])
        except Exception as exc:  # noqa: BLE001
            for i in live:
                done.setdefault(i, []).extend(failed_row(points[i], bases[i], s, _reason(exc), lr=lrs[i],
                                                         problem_seed=problem_seed) for s in run_seeds)
            continue
        grouped = None
        if len(live) > 1:
            try:
                grouped = simulate_group(points, bases, p, [(i, specs[i], lrs[i]) for i in live], run_seeds,
                                         problem_seed=problem_seed)
            except Exception:  # noqa: BLE001 — run the points one by one: only the failing one fails
                grouped = None
        for i in live:
            if grouped is not None:
                rows = grouped[i]
            else:
                try:
                    rows = simulate(points[i], bases[i], p, run_seeds, lr=lrs[i], problem_seed=problem_seed,
                                    optimizer=specs[i])
                except Exception as exc:  # noqa: BLE001
                    rows = [failed_row(points[i], bases[i], s, _reason(exc), lr=lrs[i], problem_seed=problem_seed)
                            for s in run_seeds]
            done.setdefault(i, []).extend(rows)
    return [row for i in range(len(points)) for row in done.get(i, [])]


def _with_lr(spec, lr: float):
    """``spec`` with the tuned ``lr``, a point of the validated [tune] grid: no check runs again."""
    import copy

    out = copy.copy(spec)
    object.__setattr__(out, "lr", float(lr))
    return out


def _base(spec: dict) -> dict:
    """Columns every row of a grid point shares (``spec``: a ``point_spec``)."""
    opt = spec["optimizer"]
    return {"problem": spec["problem"]["name"], **spec["axes"], "optimizer": opt["label"],
            "optimizer_type": opt["type"], "hyper": json.dumps(opt["hyper"], sort_keys=True),
            # None where this optimizer lacks the swept hyper-parameter ('lr' is its own column)
            **{n: opt["hyper"].get(n) for n in spec["hyper_axes"] if n != "lr"}}


def failed_chunk(chunk, exc: BaseException) -> bytes:
    """Every run of ``chunk`` as a 'failed' row: its worker raised outside ``chunk_rows``."""
    reason = f"worker: {_reason(exc)}"
    points = [point_spec(chunk.spec, v) for v in chunk.spec["variants"]]
    try:
        rows = [failed_row(p, _base(p), int(s), reason, lr=_fixed_lr(p)) for p in points for s in chunk.spec["seeds"]]
        return _results.rows_to_parquet(rows, key=chunk.key)
    except Exception as again:  # noqa: BLE001 — the failure path must not raise: store what can be stored
        rows = [{**failed_row(p, _base(p), 0, f"{reason} (seed {s}; {_reason(again)})", lr=_fixed_lr(p)),
                 "run_id": run_id(p, s) if isinstance(s, int) else str(s), "seed": -1}
                for p in points for s in chunk.spec["seeds"]]
        return _results.rows_to_parquet(rows, key=chunk.key)


def _fixed_lr(point: dict) -> float:
    lr = point["optimizer"]["lr"]
    return math.nan if lr is None else float(lr)


def _guarded(chunk) -> bytes:
    try:
        return run_chunk(chunk.key, chunk.payload())
    except Exception as exc:  # noqa: BLE001 — recorded, the sweep goes on
        return failed_chunk(chunk, exc)


def learning_rates(spec: dict, points: list[dict], specs: dict) -> dict:
    """{variant index: ``learning_rate``'s tuple, or the exception} for the variants in ``specs``.

    Every variant × every candidate lr runs in one engine call on the held-out seed; each variant's
    lr is then chosen from its own rows by ``sims.tune.decide``, the rule ``sims.tune`` applies
    (per-run results are bit-identical alone or batched, so the choice is the same). If that call
    raises, each variant is tuned on its own (``learning_rate``), so only a failing one fails.
    """
    from hetquad import problems
    from hetquad.sims.tune import decide

    order = sorted(specs)
    t, r = spec["tune"], spec["run"]
    pseed = t["seed"] if spec["problem"]["seed"] == "run" else spec["problem"]["seed"]
    results = None
    try:
        p = problems.get(spec["problem"]["name"], seed=pseed, **spec["problem"]["params"])
        results = _tune_runs(p, [specs[i] for i in order], np.asarray(t["lrs"], dtype=np.float64), t, r)
    except Exception:  # noqa: BLE001 — one by one below
        results = None
    out = {}
    for k, i in enumerate(order):
        try:
            if results is None:
                out[i] = learning_rate(points[i])
                continue
            res = decide(t["lrs"], results[k], t["steps"], metric=t["metric"], tol=r["tol"])
            table = [{"lr": lr, "score": s, "stop": list(st)} for lr, s, st in res.table]
            out[i] = (res.best_lr, "tuned", json.dumps(table), res.edge or "interior")
        except Exception as exc:  # noqa: BLE001
            out[i] = exc
    return out


def _tune_runs(problem, specs: list, lrs: np.ndarray, t: dict, r: dict) -> list[list]:
    """results[k][j]: the ``Result`` of variant k at lrs[j], from one engine call, as ``sims.tune``
    runs it: from ``initial_points(problem, 1, seed)``, tol only for the 'iterations' metric, the
    engine 'auto' gives one lr alone."""
    from hetquad import sims
    from hetquad.sims import engines
    from hetquad.sims.grid import stack
    from hetquad.sims.run import build_task
    from hetquad.sims.tune import select_runs

    V, L = len(specs), len(lrs)
    w0 = sims.initial_points(problem, 1, t["seed"])
    tol = r["tol"] if t["metric"] == "iterations" else None
    engine = r["engine"]
    if engine == "auto":
        engine = engines.resolve(engine, build_task(problem, specs[0], t["steps"], w0=w0, tol=tol,
                                                    record_every=r["record_every"])).NAME
    opt = stack(specs, repeat=L, lr=tuple(float(x) for _ in range(V) for x in lrs))
    res = sims.run(problem, opt, t["steps"], w0=np.repeat(w0, V * L, axis=0), engine=engine, tol=tol,
                   record_every=r["record_every"])
    return [[select_runs(res, slice(k * L + j, k * L + j + 1)) for j in range(L)] for k in range(V)]


def learning_rate(spec: dict) -> tuple[float, str, str | None, str | None]:
    """(lr, 'fixed' | 'tuned', tune table as JSON or None, lr_edge) of one grid point (a
    ``point_spec``). Tuning runs ``sims.tune`` on the held-out seed's initial point (and instance,
    when the instance varies with the seed).

    ``lr_edge`` is None for a fixed lr, else where the tuned lr sits in its grid: 'interior', or
    'low' / 'high' / 'both' when it is a grid edge (``TuneResult.at_edge``: the optimum may lie
    outside the grid). It is a column of every row instead of a warning from a worker.
    """
    import warnings

    from hetquad import problems, sims

    opt = spec["optimizer"]
    if opt["lr"] is not None:
        return float(opt["lr"]), "fixed", None, None
    t = spec["tune"]
    pseed = t["seed"] if spec["problem"]["seed"] == "run" else spec["problem"]["seed"]
    p = problems.get(spec["problem"]["name"], seed=pseed, **spec["problem"]["params"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sims.TuneAtEdgeWarning)  # recorded in the lr_edge column
        res = sims.tune(p, lambda lr: build_optimizer(opt["type"], opt["hyper"], lr), list(t["lrs"]),
                        t["steps"], metric=t["metric"], tol=spec["run"]["tol"], seed=t["seed"],
                        engine=spec["run"]["engine"], record_every=spec["run"]["record_every"])
    table = [{"lr": lr, "score": s, "stop": list(r)} for lr, s, r in res.table]
    return res.best_lr, "tuned", json.dumps(table), res.edge or "interior"


def simulate(spec: dict, base: dict, problem, seeds: list[int], *, lr: float, problem_seed: int,
             optimizer=None) -> list[dict]:
    """One batched ``sims.run`` of one grid point (a ``point_spec``) over ``seeds`` (run i starts
    at ``initial_points(p, 1, seed_i)``, the point ``sims.run(seed=seed_i)`` would use), one row
    per run. ``optimizer``: its validated spec at ``lr`` (default: built from ``spec``)."""
    from hetquad import sims

    r = spec["run"]
    opt = build_optimizer(spec["optimizer"]["type"], spec["optimizer"]["hyper"], lr) if optimizer is None else optimizer
    w0 = np.concatenate([sims.initial_points(problem, 1, s) for s in seeds])
    res = sims.run(problem, opt, r["steps"], w0=w0, engine=r["engine"], tol=r["tol"],
                   record_every=r["record_every"], per_block=r["per_block"])
    sec_per_step = res.wall_time / max(int(res.iterations.sum()), 1)
    return result_rows(spec, base, problem, opt, res, 0, seeds, w0, lr=lr, problem_seed=problem_seed,
                       sec_per_step=sec_per_step)


def simulate_group(points: list[dict], bases: list[dict], problem, variants: list, seeds: list[int], *,
                   problem_seed: int) -> dict:
    """{variant index: rows}: every (index, validated spec, lr) of ``variants`` × ``seeds`` in ONE
    ``sims.run`` call (``sims.grid.stack``: per-run hyper-parameters), rows equal bit for bit to
    ``simulate`` of each point alone (a run does not depend on its batch mates). With engine
    'auto', the engine is the one a point alone would get, so the rows stay equal."""
    from hetquad import sims
    from hetquad.sims import engines
    from hetquad.sims.grid import stack
    from hetquad.sims.run import build_task

    r = points[0]["run"]
    S = len(seeds)
    w0 = np.concatenate([sims.initial_points(problem, 1, s) for s in seeds])
    engine = r["engine"]
    if engine == "auto":
        engine = engines.resolve(engine, build_task(problem, variants[0][1], r["steps"], w0=w0, tol=r["tol"],
                                                    record_every=r["record_every"],
                                                    per_block=r["per_block"])).NAME
    opt = stack([s for _, s, _ in variants], repeat=S)
    res = sims.run(problem, opt, r["steps"], w0=np.tile(w0, (len(variants), 1)), engine=engine, tol=r["tol"],
                   record_every=r["record_every"], per_block=r["per_block"])
    # the batch shares one engine call: apportion its time by the updates each run made
    sec_per_step = res.wall_time / max(int(res.iterations.sum()), 1)
    return {i: result_rows(points[i], bases[i], problem, spec, res, k * S, seeds, w0, lr=lr,
                           problem_seed=problem_seed, sec_per_step=sec_per_step)
            for k, (i, spec, lr) in enumerate(variants)}


def result_rows(spec: dict, base: dict, problem, opt, res, first: int, seeds: list[int], w0, *, lr: float,
                problem_seed, sec_per_step: float) -> list[dict]:
    """The rows of runs ``first .. first + len(seeds) - 1`` of ``res`` (one grid point's seeds)."""
    r = spec["run"]
    rows = []
    same_bound = None
    ids = run_ids(spec, seeds)
    for j, seed in enumerate(seeds):
        i = first + j
        stop = res.stop_reason[i]
        its = int(res.iterations[i])
        # the engine stops a run at the first update with loss ≤ tol·loss₀, so the hitting time
        # is exact (not on the recording grid); a run that never got there has T = inf
        t_tol = float(its) if stop == "tol" else (math.inf if stop == "steps" else math.nan)
        if same_bound is None:
            name, bound_its, slack = bound_check(problem, opt, t_tol, tol=r["tol"], steps=r["steps"], w0=w0[j])
            if name.startswith("n/a"):  # why no bound applies depends on the problem and optimizer only
                same_bound = (name, bound_its, slack)
        else:
            name, bound_its, slack = same_bound
        blocks = None if res.block_grad_norm is None else res.block_grad_norm[i]
        rows.append({
            **row_identity(spec, base, seed, lr=lr, problem_seed=problem_seed, run=ids[j]),
            "status": "diverged" if stop == "diverged" else "ok",
            "reason": (f"diverged at iteration {its} (loss {res.final_loss[i]:.3g})" if stop == "diverged" else None),
            "stop_reason": stop, "iterations": float(its), "iterations_to_tol": t_tol,
            "final_loss": float(res.final_loss[i]),
            "final_loss_ratio": float(res.final_loss[i] / res.loss[i, 0]),
            "wall_time": sec_per_step * its, "time_to_tol": sec_per_step * t_tol,
            "engine": res.engine, "bound": name, "bound_iterations": bound_its, "bound_slack": slack,
            "n_blocks_recorded": float(len(problem.sizes)),
            "loss": res.loss[i], "grad_norm": res.grad_norm[i], "block_grad_norm": blocks,
        })
    return rows


def row_identity(spec: dict, base: dict, seed: int, *, lr: float, problem_seed, run: str | None = None) -> dict:
    return {"run_id": run_id(spec, seed) if run is None else run, **base, "lr": float(lr), "seed": int(seed),
            "problem_seed": float(problem_seed) if problem_seed is not None else math.nan}


def failed_row(spec: dict, base: dict, seed: int, reason: str, *, lr: float, problem_seed=None) -> dict:
    nan = math.nan
    return {**row_identity(spec, base, seed, lr=lr, problem_seed=problem_seed),
            "lr_source": base.get("lr_source", "tuned" if spec["optimizer"]["lr"] is None else "fixed"),
            "tune_table": base.get("tune_table"),
            "lr_edge": base.get("lr_edge"),
            "status": "failed", "reason": reason, "stop_reason": None, "iterations": nan,
            "iterations_to_tol": nan, "final_loss": nan, "final_loss_ratio": nan, "wall_time": nan,
            "time_to_tol": nan, "engine": None, "bound": None, "bound_iterations": nan,
            "bound_slack": nan, "n_blocks_recorded": nan, "loss": None, "grad_norm": None,
            "block_grad_norm": None}


def _reason(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


# -- bounds ----------------------------------------------------------------------------------------
def bound_check(problem, optimizer, iterations_to_tol: float, *, tol: float, steps: int | None = None,
                w0=None) -> tuple[str, float, float]:
    """(bound name, or why none applies; bound iterations; slack = bound / measured T(tol)).

    slack ≥ 1: the measured T(tol) respects the upper bound; < 1: violated. A run that never
    reached tol has slack 0 when the bound promised it within ``steps``, else NaN (undecided).
    Wired bounds: the rows of ``hetquad.theory.registry`` with an ``applies`` predicate, first match:

    - GD: ``theory.gd_rate(p, lr=η)`` (THEORY §2: T(ε) ≤ iters(ρ(η), ε));
    - blockwise GD at the per-block optimal steps (``BlockwiseGD.optimal(p)``):
      ``theory.blockwise_gd_rate(p)`` (THEORY §3);
    - the Adam theorem variant (``Adam.theorem_variant``): ``theory.adam_variant_rate(p, w0, lr=η)``
      (THEORY §4, the bound depends on w0);
    - the Adam-mini theorem variant on the problem's blocks (``AdamMini.theorem_variant``):
      ``theory.adam_mini_variant_rate(p, w0, lr=η)`` (THEORY §4);
    - SGD with heavy-ball / Nesterov momentum at the optimal (lr, momentum):
      ``theory.heavy_ball_rate(p)``, ``theory.nesterov_rate(p)`` (THEORY §12).

    A bound that exists only at its own lr (blockwise GD) applies only to runs at that lr.
    Every other optimizer gets NaN and the reason in ``bound``.
    """
    from hetquad import sims
    from hetquad.problems.quadratic import BlockQuadratic

    nan = math.nan
    if not isinstance(problem, BlockQuadratic):
        return "n/a: not a block quadratic", nan, nan
    from hetquad import theory

    if getattr(optimizer, "schedule", sims.Constant()) != sims.Constant():
        return "n/a: the bounds hold for a constant step (schedule given)", nan, nan
    row, b = theory.registry.match(problem, optimizer, w0)  # the one table of bounds (theory.registry)
    if row is None:
        return b, nan, nan
    fn_name = row.name
    its = float(b.iterations(tol))
    if math.isinf(iterations_to_tol):
        slack = 0.0 if steps is not None and its <= steps else nan
    else:
        slack = its / iterations_to_tol if iterations_to_tol > 0 else math.inf
    return f"theory.{fn_name}", its, slack


# -- the directory lock (hetquad.lock) -------------------------------------------------------------
from hetquad.lock import directory_lock  # noqa: E402,F401  (re-exported: sweep.directory_lock)


# -- executors -------------------------------------------------------------------------------------
def _worker_init(parent: int | None = None) -> None:
    """Pool worker set-up: die with the parent, leave Ctrl-C to it, one numba thread.

    A worker whose parent is killed (SIGKILL leaves no chance to clean up) would go on computing
    queued chunks for nobody: on Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` has the kernel kill
    it, and a daemon thread that polls the parent pid covers the rest (other systems, and a
    parent that died before the prctl call). SIGINT goes to the whole foreground process group;
    the parent alone decides what an interrupt means.
    """
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid() if parent is None else parent
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        pass

    def watch():
        while True:
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.2)

    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, daemon=True, name="hetquad-parent-watch").start()
    try:
        import numba
        numba.set_num_threads(1)
    except Exception:  # noqa: BLE001 — numba missing or threads fixed: harmless
        pass


def _serial(chunks):
    for c in chunks:
        yield c, _guarded(c)


def _collected(futures: dict, finished, *, fatal=()):
    """(chunk, Parquet bytes) for each future of ``futures`` (future → chunk) in ``finished`` order;
    an exception raised inside a worker becomes the chunk's failed rows, except ``fatal`` ones."""
    for f in finished:
        try:
            data = f.result()
        except fatal:
            raise
        except Exception as exc:  # noqa: BLE001 — raised inside the worker: recorded
            data = failed_chunk(futures[f], exc)
        yield futures[f], data


def _pool(chunks, workers: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    ex = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_worker_init, initargs=(os.getpid(),))
    done = False
    try:
        futures = {ex.submit(run_chunk, c.key, c.payload()): c for c in chunks}
        try:
            yield from _collected(futures, as_completed(futures), fatal=BrokenProcessPool)
        except BrokenProcessPool:
            raise ChildProcessError("a sweep worker process died (killed or out of memory); finished "
                                    "chunks are saved: re-run the same command to resume") from None
        done = True
    finally:
        if done:
            ex.shutdown(wait=True)
        else:  # interrupted or failed: stop now, do not wait for chunks nobody will write
            procs = list((getattr(ex, "_processes", None) or {}).values())
            ex.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.kill()
            for proc in procs:
                proc.join(timeout=5)


def _dask(chunks, scheduler, workers: int):
    from distributed import Client, LocalCluster, as_completed

    own = []
    if isinstance(scheduler, Client):
        client = scheduler
    elif scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        own = [client, cluster]
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot reach the dask scheduler at {scheduler!r}: {exc}") from None
        own = [client]
    futures = {}
    done = False
    try:
        futures = {client.submit(run_chunk, c.key, c.payload(), key=f"hetquad-chunk-{c.key}", pure=False): c
                   for c in chunks}
        yield from _collected(futures, as_completed(futures))
        done = True
    finally:
        if not done and futures:  # interrupted: a shared cluster must not go on computing for nobody
            try:
                client.cancel(list(futures))
            except Exception:  # noqa: BLE001 — the cluster may be gone already
                pass
        for thing in own:
            thing.close()


#: Estimated engine seconds (``hetquad.budget``'s quiet-machine time model) below which local work
#: runs in this process instead of a pool. A spawn pool costs each worker an interpreter, the
#: imports (numpy, scipy, numba, hetquad; 3.4 s on the quiet machine per issue 15) and loading the
#: numba kernels: two 272-run chunks took 1.0-1.5 s each in-process but 32-35 s through a fresh
#: pool of 2 (measured on this 2-core box at load average 14). The model puts the 2176-run
#: benchmark grid at 0.09 s and the 100k-run one at 4 s; the numba engine already spreads one call
#: over every core (prange over runs), so a pool pays off only for work well beyond its start-up.
IN_PROCESS_SECONDS = 10.0


def executor(chunks, *, workers: int, scheduler=None, seconds: float | None = None):
    """Yield ``(chunk, parquet bytes)`` as chunks finish, on the chosen backend.

    ``seconds``: the estimated engine time of ``chunks``; below ``IN_PROCESS_SECONDS`` a local
    sweep runs in this process (a dask scheduler, when given, is always used).
    """
    if not chunks:
        return iter(())
    if scheduler is not None:
        return _dask(chunks, scheduler, workers)
    if workers == 1 or len(chunks) <= 1 or (seconds is not None and seconds < IN_PROCESS_SECONDS):
        return _serial(chunks)
    return _pool(chunks, workers)


# -- the sweep -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepSummary:
    """What a sweep did: run counts by status, failure reasons, chunks computed/skipped."""

    directory: Path
    runs: int
    ok: int
    diverged: int
    failed: int
    reasons: tuple          # ((status, reason, count), ...) most common first
    chunks_computed: int
    chunks_skipped: int
    chunks_corrupt: int
    wall_time: float

    def lines(self) -> list[str]:
        out = [f"{self.runs} runs in {self.directory}: {self.ok} ok, {self.diverged} diverged, "
               f"{self.failed} failed ({self.chunks_computed} chunks computed, {self.chunks_skipped} "
               f"reused, {self.chunks_corrupt} corrupt recomputed; {self.wall_time:.1f} s)"]
        out += [f"  {n} × {status}: {reason}" for status, reason, n in self.reasons]
        return out


def manifest_for(config: SweepConfig, chunks: list[Chunk], *, status: str, created: str | None = None) -> dict:
    import hetquad
    from hetquad.sims import config_hash, versions

    cfg = config.to_dict()
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return {"config": cfg, "config_hash": config_hash(cfg), "hetquad_version": hetquad.__version__,
            "versions": versions(), "chunks": [c.key for c in chunks], "n_runs": config.n_runs(),
            "axes": config.axis_names, "hyper_axes": config.hyper_axis_names,
            "steps_recorded": _recorded_steps(config), "status": status,
            "created": created or now, "updated": now}


def _recorded_steps(config: SweepConfig) -> list[int]:
    from hetquad.sims.run import record_steps
    return record_steps(config.steps, config.record_every).tolist()


def execute(config: SweepConfig, out, *, workers: int | None = None, scheduler=None, resume: bool = False,
            force: bool = False, progress: bool = True, memory_budget: float | None = None,
            say=None) -> SweepSummary:
    """Run (or finish) the sweep ``config`` in directory ``out``.

    Parameters
    ----------
    config : SweepConfig
    out : path
        The sweep directory: created if missing; an existing one must be empty or hold this
        sweep's ``manifest.json`` (a sweep never writes into a folder it does not own).
    workers : int >= 1, optional
        Local processes; 1 runs in this process. Default: all cores, but work estimated below
        ``IN_PROCESS_SECONDS`` runs in this process (a pool would start slower than it ends);
        an explicit count is obeyed. With a ``LocalCluster``
        (``scheduler='local'``) the number of its workers.
    scheduler : str or distributed.Client, optional
        'tcp://host:port' of a dask scheduler, 'local' for a new ``LocalCluster``, or a client.
    resume : bool
        Require ``out`` to hold this sweep already (a plain re-run resumes too).
    force : bool
        Accept a different config in ``out`` (its finished chunks are still reused where their
        hash matches: a chunk's key covers everything that determines its rows).
    progress : bool
        Show a progress bar with ETA on stderr.
    memory_budget : float > 0, optional
        Bytes the sweep may use at its peak (default: half the physical memory). A sweep whose
        estimate (``hetquad.budget``) exceeds it is refused before any work.
    say : callable(str), optional
        Where the size estimate line goes (default: nowhere).

    Returns
    -------
    SweepSummary

    Raises
    ------
    ValueError
        An unusable or foreign ``out``, a sweep over budget, a directory in use, a different
        config without ``force``.
    KeyboardInterrupt
        Ctrl-C: the workers are stopped, the finished chunks stay for the resume.
    """
    from hetquad import budget

    if not isinstance(config, SweepConfig):
        raise TypeError(f"config must be a hetquad.config.SweepConfig, got {type(config).__name__}")
    if isinstance(scheduler, str) and scheduler != "local" and "://" not in scheduler:
        raise ValueError(f"scheduler must be 'local' or an address like tcp://HOST:PORT, got {scheduler!r}")
    chosen = workers is not None  # an explicit count is obeyed; the default may stay in-process
    workers = (os.cpu_count() or 1) if workers is None else integer("workers", workers, minimum=1)
    if memory_budget is None:
        memory_budget = budget.default_memory_budget()
    elif isinstance(memory_budget, bool) or not isinstance(memory_budget, (int, float)) or \
            not math.isfinite(memory_budget) or memory_budget <= 0:
        raise ValueError(f"memory_budget must be a number of bytes > 0, got {memory_budget!r}")
    out = Path(out)
    check_out_directory(out, resume=resume)
    est = budget.sweep_estimate(config, workers=workers)
    est.refuse_beyond(memory_budget, what="this sweep",
                      how="cut it into several sweeps (fewer axis values or seeds each), lower steps or "
                          "raise record_every (fewer recorded steps), or lower chunk_size")
    if say is not None:
        say(est.line(workers=workers))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with directory_lock(out):
        check_out_directory(out, resume=resume)  # again, now that no other sweep can change it
        old = _results.read_manifest(out)
        chunks = plan(config)
        new = manifest_for(config, chunks, status="running", created=old and old.get("created"))
        if old is not None and old.get("config_hash") != new["config_hash"] and not force:
            raise ValueError(f"{out} holds a sweep of a different config (hash {old.get('config_hash')} vs "
                             f"{new['config_hash']}); use another --out, or --force to replace it")
        _results.write_manifest(out, new)
        _results.remove_own_temp_files(out)  # half-written files of a killed run (we hold the lock)
        todo, corrupt = [], 0
        for c in chunks:
            if not _results.chunk_is_valid(out, c.key):
                corrupt += _results.chunk_path(out, c.key).exists()
                todo.append(c)
        seconds = None if chosen else est.seconds * sum(c.n_runs for c in todo) / max(est.runs, 1)
        for chunk, data in _progress(executor(todo, workers=workers, scheduler=scheduler, seconds=seconds), todo,
                                     enabled=progress):
            _results.write_chunk(out, chunk.key, data)
        table, _ = _results.assemble(out, [c.key for c in chunks], axes=config.axis_names + config.hyper_axis_names,
                                     steps=new["steps_recorded"])
        _results.write_manifest(out, {**new, "status": "complete", "outputs": _results.output_digests(out),
                                      "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    counts = Counter(table["status"])
    reasons = Counter((s, r) for s, r in zip(table["status"], table["reason"]) if s != "ok")
    return SweepSummary(out, len(table), counts.get("ok", 0), counts.get("diverged", 0), counts.get("failed", 0),
                        tuple((s, r, n) for (s, r), n in reasons.most_common()), len(todo),
                        len(chunks) - len(todo), corrupt, time.perf_counter() - t0)


def check_out_directory(out: Path, *, resume: bool = False) -> None:
    """Refuse an ``out`` a sweep must not write into (``ValueError`` saying why).

    Allowed: a path that does not exist yet (not with ``resume``), an empty directory, a directory
    that holds only what a sweep killed before its manifest leaves (its lock, its temp files), or a
    directory holding a hetquad sweep manifest (``results.read_manifest`` validates it).
    """
    if out.is_symlink() and not out.exists():
        raise ValueError(f"--out {out} is a symbolic link to nothing (dangling, or a loop); give a directory")
    if not out.exists():
        if resume:
            raise ValueError(f"--resume: {out} holds no sweep yet (the directory does not exist)")
        above = next((a for a in out.absolute().parents if a.exists() or a.is_symlink()), None)
        if above is not None and not above.is_dir():
            raise ValueError(f"--out {out}: {above} is a file (Not a directory), so no sweep directory can be made there")
        return
    if not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a sweep directory")
    manifest = _results.read_manifest(out)  # ValueError: a manifest that is not a hetquad sweep's
    if manifest is not None:
        return
    foreign = sorted(p.name for p in out.iterdir() if not _results.is_own_leftover(p.name))
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise ValueError(f"--out {out} is a non-empty directory that holds no hetquad sweep ({shown}); "
                         "a sweep writes only into a new or empty directory or its own: give another --out")
    if resume:
        raise ValueError(f"--resume: {out} holds no sweep yet (no {_results.MANIFEST})")


def _progress(stream, todo, *, enabled: bool):
    """Pass ``stream`` through, advancing a rich progress bar with ETA once each item is handled."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("chunks"),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=Console(stderr=True), disable=not enabled) as bar:
        task = bar.add_task("sweep", total=len(todo))
        for chunk, data in stream:
            yield chunk, data
            bar.advance(task)
