"""Size estimates made before any work: memory and time of a sweep or an lr search.

The numbers come from the config alone (no problem is built, no run is made), so a grid that
would need a terabyte or a year is refused in milliseconds with what it would need and how to
cut it, instead of failing after minutes with a ``MemoryError``. They are deliberately rough
(a factor of a few): a model of what the code allocates, not a measurement.

Memory model (bytes, float64 = 8):

- per run: its recorded trajectories plus the engine's state, the model of
  ``hetquad.sims.estimate.run_bytes`` (shared with ``sims.run``'s own check);
- per chunk (one engine call): its runs, the schedule array ``steps · 8`` and the problem's
  dense blocks ``d · b · 8`` (b the largest block);
- per sweep: the plan (about 2 KiB per chunk) and the assembled results (every run's
  trajectories, about three copies while the table and the netCDF file are written).

Time model: ``runs · steps · (c0 + c1 · d · b)`` seconds with c0 = 50 ns, c1 = 1 ns — the order
of the numba engine's per-run-step cost on this project's benchmark sizes — plus building the
problem in every chunk, ``(d / b) · c3 · b³`` (an eigendecomposition per block, c3 = 5 ns).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

F64 = 8
PLAN_BYTES_PER_CHUNK = 2048
ASSEMBLY_COPIES = 3
C0, C1 = 50e-9, 1e-9        # seconds per run-step, per run-step-(d·b)
C3 = 5e-9                   # seconds per b³ of building one block
MAX_CHUNKS = 1_000_000      # a plan longer than this is itself the problem (split the grid)
#: Memory target of one chunk (one engine call): its runs' trajectories and engine state
#: (``sims.estimate.run_bytes``). Big enough that a chunk's fixed costs (building the problem,
#: one Parquet part) are amortised over thousands of runs of the seeds' problem sizes, small
#: enough that a 100k-run grid streams to disk in several parts and a worker's peak stays tens of
#: MiB. A constant, not the machine's memory: chunk keys (and the resume) must not depend on it.
CHUNK_BYTES = 32 * 2**20
#: problem parameters that scale the dimension (value / default multiplies d)
SIZE_PARAMS = ("d", "n_blocks", "block_size", "n_features", "n_classes")


def default_memory_budget() -> int:
    """Half the machine's physical memory (bytes); 4 GiB when it cannot be read."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def gib(n: float) -> str:
    """Bytes as a short human string (``sims.estimate.human``)."""
    from hetquad.sims.estimate import human

    return human(int(n))


def duration(seconds: float) -> str:
    for unit, size in (("years", 365 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.2g} s"


@dataclass(frozen=True)
class Estimate:
    """What a piece of work would take: bytes at its peak and seconds of engine time."""

    runs: int
    chunks: int
    memory: float          # bytes, peak
    chunk_memory: float    # bytes, one chunk in one worker
    seconds: float         # engine time, one core

    def line(self, *, workers: int = 1) -> str:
        return (f"estimate: {self.runs} runs in {self.chunks} chunks, peak memory ~{gib(self.memory)}, "
                f"~{duration(self.seconds / max(workers, 1))} of engine time on {workers} worker(s)")

    def refuse_beyond(self, budget: float, *, what: str, how: str) -> None:
        """``ValueError`` with the numbers and ``how`` to cut the work when over ``budget`` bytes."""
        if self.chunks > MAX_CHUNKS:
            raise ValueError(f"{what} has {self.chunks} chunks (more than {MAX_CHUNKS}); {how}")
        if self.memory > budget:
            raise ValueError(f"{what} would need ~{gib(self.memory)} of memory (budget {gib(budget)}: "
                             f"{self.runs} runs, ~{gib(self.chunk_memory)} per chunk); {how}")


def problem_size(name: str, params: dict) -> tuple[int, int]:
    """(d, largest block b) of catalog problem ``name`` at ``params``, scaled from its default.

    The default instance is built once per name (cached; the catalog's defaults are small), and
    every size parameter given scales d (and b, for ``block_size``/``d``) by value / default.
    """
    base_d, base_b, defaults = _default_size(name)
    d, b = float(base_d), float(base_b)
    for key in SIZE_PARAMS:
        if key in params and key in defaults and isinstance(params[key], (int, float)) \
                and not isinstance(params[key], bool) and defaults[key]:
            ratio = max(float(params[key]), 1.0) / float(defaults[key])
            d *= ratio
            if key in ("block_size", "d"):
                b *= ratio
    return max(int(d), 1), max(int(min(b, d)), 1)


_SIZES: dict = {}


def _default_size(name: str):
    if name not in _SIZES:
        from hetquad.problems import catalog

        defaults = catalog.parameters(name)
        p = catalog.get(name, seed=0)
        sizes = [int(s) for s in getattr(p, "sizes", (p.d,))]
        _SIZES[name] = (int(p.d), max(sizes) if sizes else int(p.d), defaults)
    return _SIZES[name]


def estimate(*, runs: int, chunks: int, chunk_runs: int, steps: int, record_every: int, d: int, b: int,
             n_blocks: int, per_block: bool, workers: int = 1, extra_steps: int = 0) -> Estimate:
    """The ``Estimate`` of ``runs`` runs of ``steps`` updates on a d-dimensional problem.

    ``extra_steps``: additional engine run-steps not stored (an lr search before the runs).
    """
    from hetquad.sims.estimate import run_bytes

    per_run_traj, state = run_bytes(d=d, n_blocks=n_blocks, steps=steps, record_every=record_every,
                                    per_block=per_block)
    per_run = per_run_traj + state
    chunk = chunk_runs * per_run + steps * F64 + d * b * F64
    peak = (min(workers, max(chunks, 1)) * chunk + chunks * PLAN_BYTES_PER_CHUNK
            + ASSEMBLY_COPIES * runs * per_run_traj)
    seconds = (runs * steps + extra_steps) * (C0 + C1 * d * b) + chunks * (d / b) * C3 * float(b) ** 3
    return Estimate(int(runs), int(chunks), float(peak), float(chunk), float(seconds))


def chunk_run_bytes(config, point: dict) -> int:
    """Bytes one run of ``config`` at problem point ``point`` keeps (trajectories + engine state)."""
    d, b = problem_size(config.problem, {**dict(config.fixed), **point})
    return sum(run_bytes_of(d=d, n_blocks=max(d // max(b, 1), 1), config=config))


def run_bytes_of(*, d: int, n_blocks: int, config) -> tuple[int, int]:
    """``sims.estimate.run_bytes`` at ``config``'s steps, record_every and per_block."""
    from hetquad.sims.estimate import run_bytes

    return run_bytes(d=d, n_blocks=n_blocks, steps=config.steps, record_every=config.record_every,
                     per_block=config.per_block)


def chunk_layout(group: list, seeds: list, *, chunk_size: int, run_bytes: int) -> list[tuple[list, list]]:
    """(seed batch, variant indices) of each chunk of one variant ``group``: at most ``chunk_size``
    seeds, and at most ``CHUNK_BYTES // run_bytes`` runs (variants × seeds) per chunk."""
    cap = max(CHUNK_BYTES // max(int(run_bytes), 1), 1)
    per = max(min(chunk_size, cap), 1)
    batches = [seeds[i:i + per] for i in range(0, len(seeds), per)]
    out = []
    for batch in batches:
        step = max(cap // len(batch), 1)
        out += [(batch, group[i:i + step]) for i in range(0, len(group), step)]
    return out


def sweep_estimate(config, *, workers: int = 1) -> Estimate:
    """The ``Estimate`` of a ``SweepConfig`` without planning it (the largest problem point counts)."""
    n_points = math.prod(len(v) for _, v in config.axes) * math.prod(len(g[0][1]) for g in config.zips)
    variants = sum(math.prod(len(v) for _, v in o.axes) * (len(o.lrs) if o.lrs is not None else 1)
                   for o in config.optimizers)
    n_seeds = len(config.seeds)
    batches = -(-n_seeds // config.chunk_size)
    runs = n_points * variants * n_seeds
    # the largest value of every size parameter, over fixed values and axes
    params = dict(config.fixed)
    for name, values in [*config.axes, *(kv for g in config.zips for kv in g)]:
        nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if nums:
            params[name] = max(nums)
    d, b = problem_size(config.problem, params)
    n_blocks = max(d // max(b, 1), 1)
    # the plan's layout (``hetquad.sweep.plan``), sized at the largest point
    per_run = sum(run_bytes_of(d=d, n_blocks=n_blocks, config=config))
    seeds = list(config.seeds)
    layouts = [chunk_layout(g, seeds, chunk_size=config.chunk_size, run_bytes=per_run)
               for o in config.optimizers for g in o.groups()]
    chunks = n_points * sum(len(lay) for lay in layouts)
    chunk_runs = max((len(batch) * len(part) for lay in layouts for batch, part in lay), default=1)
    tuned = sum(math.prod(len(v) for _, v in o.axes) for o in config.optimizers if o.lrs is None)
    extra = 0 if config.tune is None else (n_points * tuned * batches * len(config.tune.lrs) * config.tune.steps)
    return estimate(runs=runs, chunks=chunks, chunk_runs=chunk_runs, steps=config.steps,
                    record_every=config.record_every, d=d, b=b, n_blocks=n_blocks, per_block=config.per_block,
                    workers=workers, extra_steps=extra)
