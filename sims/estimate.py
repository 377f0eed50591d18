"""How much memory a run will allocate, computed before anything is allocated.

``sims.run`` refuses a run whose estimate exceeds a budget, with a one-line error that gives the
bytes needed and how to reduce them; the sweep code calls ``estimate`` to size its chunks. The
numbers are Python ints (no array is built), so ``steps = 10**12`` is refused at once. Besides the
(n, d) state and the records they count the lr-schedule table ((steps, n) with per-run parameters)
and the Kronecker factors Shampoo and SOAP keep per matrix block.
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BUDGET = 8 * 2**30  # bytes a single sims.run may allocate unless told otherwise
_STATE_ARRAYS = 10          # (n, d) float64 arrays alive at once: w, g, m, v, lr, snapshots, scratch
#: r×r (and c×c) matrices a spec keeps per side of an r×c matrix block of the problem (``shapes``),
#: by spec name: Shampoo the statistic L (R) and its inverse 4th root, SOAP L (R) and its eigenbasis
KRONECKER_KEPT = {"shampoo": 2, "soap": 2}
#: factor matrices alive at the peak of an update, per kept one: the old slots until the new state is
#: returned, the new ones, and eigh's guarded copy and eigenvectors (measured in tests/sims/test_estimate.py)
_KRONECKER_PEAK = 3


@dataclass(frozen=True)
class Estimate:
    """Bytes a run will allocate, in total and by part (records, state, factors, schedule, tables)."""

    bytes: int
    parts: dict
    per_run: int  # bytes that grow with the batch, per run (to size chunks)

    def __str__(self) -> str:
        shown = ", ".join(f"{k} {human(v)}" for k, v in self.parts.items() if v)
        return f"{human(self.bytes)} ({shown})"


def human(n: int) -> str:
    """Bytes as a short string: 512 B, 3.2 MiB, 1.46 TiB."""
    x = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if x < 1024 or unit == "PiB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.3g} {unit}"
        x /= 1024
    return f"{x:.3g} EiB"


def run_bytes(*, d: int, n_blocks: int, steps: int, record_every: int, per_block: bool) -> tuple[int, int]:
    """Bytes one run keeps: (its recorded trajectories, its engine state), float64.

    The one per-run memory model: ``estimate`` (a built problem) and ``hetquad.budget`` (a sweep
    config, before any problem is built) both use it.
    """
    R = int(steps) // int(record_every) + 2          # recorded steps, plus the last
    return 8 * R * (2 + (int(n_blocks) if per_block else 0)), 8 * int(d) * _STATE_ARRAYS  # loss, ‖g‖ (‖g_l‖)


def factor_bytes(problem, optimizer) -> tuple[int, int]:
    """Bytes of one run's Kronecker factors: (kept in the state, alive at the peak of an update).

    ``KRONECKER_KEPT[optimizer.name]`` r×r and c×c float64 matrices per r×c matrix block of the
    problem (its ``shapes``; vector blocks keep (n, d)-sized state, counted by ``run_bytes``); 0
    for a spec that keeps none.
    """
    kept = KRONECKER_KEPT.get(getattr(optimizer, "name", None), 0)
    shapes = getattr(problem, "shapes", None) or ()
    per_copy = 8 * sum(int(s[0]) ** 2 + int(s[1]) ** 2 for s in shapes if s is not None)
    return kept * per_copy, _KRONECKER_PEAK * kept * per_copy


def schedule_columns(optimizer, n: int) -> int:
    """Columns of the lr-schedule table a run of ``n`` runs holds: ``schedule.factors(steps)`` is
    (steps,) for a schedule of numbers, (steps, n) with per-run parameters."""
    schedule = getattr(optimizer, "schedule", None)
    return int(n) if schedule is not None and schedule.runs() is not None else 1


def estimate(problem, optimizer, steps: int, *, batch: int = 1, record_every: int = 1,
             per_block: bool = False) -> Estimate:
    """Estimate the memory ``sims.run`` would allocate for these arguments.

    Parameters
    ----------
    problem : a problem (``d``, ``sizes`` and, for the Kronecker-factored specs, ``shapes`` are read)
    optimizer : an optimizer spec
    steps, batch, record_every : int
    per_block : bool

    Returns
    -------
    Estimate
        ``bytes`` (total), ``parts`` (records, state, Kronecker factors, schedule, bias tables,
        tiles) and ``per_run``.
    """
    n = int(batch)
    records_per_run, state_per_run = run_bytes(d=int(problem.d), n_blocks=len(problem.sizes), steps=steps,
                                               record_every=record_every, per_block=per_block)
    factors_per_run = factor_bytes(problem, optimizer)[1]
    columns = schedule_columns(optimizer, n)
    distinct = 1
    if getattr(optimizer, "bias_correction", False):
        lengths = optimizer._lengths() if hasattr(optimizer, "_lengths") else {}
        distinct = min(n, max(lengths.values(), default=1))
    parts = {
        "records": n * records_per_run,
        "state": n * state_per_run,
        "factors": n * factors_per_run,
        "schedule": 8 * int(steps) * columns,
        "bias tables": 16 * int(steps) * distinct if hasattr(optimizer, "bias_correction") else 0,
        "tiles": 8 * sum(int(s) ** 2 for s in problem.sizes),
    }
    schedule_per_run = 8 * int(steps) if columns > 1 else 0  # a per-run table is split with the batch
    return Estimate(sum(parts.values()), parts, records_per_run + state_per_run + factors_per_run + schedule_per_run)


def check_budget(problem, optimizer, steps: int, *, batch: int, record_every: int, per_block: bool,
                 budget: int | None = None) -> Estimate:
    """``estimate``, raising ``ValueError`` (one line: bytes needed, how to reduce) beyond ``budget``."""
    budget = DEFAULT_BUDGET if budget is None else int(budget)
    est = estimate(problem, optimizer, steps, batch=batch, record_every=record_every, per_block=per_block)
    if est.bytes <= budget:
        return est
    fixed = est.bytes - batch * est.per_run
    fits = max(0, (budget - fixed) // est.per_run) if est.per_run else 0
    how = (f"split the batch into chunks of <= {fits} runs, " if 0 < fits < batch else "")
    raise ValueError(f"this run would allocate about {est} > memory_budget {human(budget)}: {how}"
                     f"raise record_every (now {record_every}; {steps // record_every + 1} records per run), "
                     f"lower steps (now {steps}) or batch (now {batch}), or pass a larger memory_budget")
