"""Cartesian grids of per-run hyper-parameters × seeds for one ``sims.run`` call.

``grid(sims.Adam, seeds=range(8), lr=np.geomspace(1e-4, 1, 17), beta1=[0.0, 0.9])`` gives one
optimizer spec whose swept hyper-parameters are per-run arrays, and the per-run seeds: the whole
grid (17 × 2 × 8 = 272 runs) is then one engine call, ``g.run(problem, steps)``. Run i starts at
``initial_points(problem, 1, seed_i)``, the point ``sims.run(..., seed=seed_i)`` alone would use,
and a run's numbers do not depend on its batch mates, so every run equals the same run done alone.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from hetquad.problems.validation import integer

MAX_RUNS = 10**7  # a grid beyond this is almost certainly a typo; chunk it by hand


@dataclass(frozen=True, eq=False)
class Grid:
    """A hyper-parameter × seed product ready for ``sims.run``.

    Attributes
    ----------
    optimizer : optimizer spec
        The swept hyper-parameters are per-run tuples, the others as given.
    seed : tuple of int
        Per-run seeds (pass as ``sims.run(..., seed=np.array(g.seed))``).
    axes : mapping name → (n,) array
        The value of every swept axis for every run, plus 'seed'.
    """

    optimizer: object
    seed: tuple
    axes: dict

    @property
    def n(self) -> int:
        return len(self.seed)

    def run(self, problem, steps: int, **run_kwargs):
        """``sims.run(problem, self.optimizer, steps, seed=self.seed, **run_kwargs)``."""
        from .run import run
        return run(problem, self.optimizer, steps, seed=np.array(self.seed), **run_kwargs)

    def as_frame(self):
        """One row per run, one column per axis (pandas)."""
        import pandas as pd
        return pd.DataFrame({k: (list(map(tuple, v)) if np.ndim(v) == 2 else v) for k, v in self.axes.items()})


def _is_axis(cls, name: str, value) -> bool:
    """A swept axis: a numeric hyper-parameter given as a sequence (a 2-D array for ``lrs``,
    whose 1-D form is one per-block vector)."""
    if name not in getattr(cls, "HYPER", ()) or isinstance(value, (str, bytes)):
        return False
    return np.ndim(value) == (2 if name == "lrs" else 1)


def grid(optimizer, *, seeds=(0,), **hyper) -> Grid:
    """The Cartesian product of hyper-parameter axes × seeds, as one per-run optimizer spec.

    Parameters
    ----------
    optimizer : an optimizer spec class (``sims.Adam``) or its name (``'adam'``)
    seeds : iterable of int >= 0, or an int (one seed)
        The fastest-varying axis: runs i·S … i·S + S − 1 share their hyper-parameters.
    **hyper
        Keyword arguments of the spec. A numeric hyper-parameter given as a 1-D sequence is an
        axis (for BlockwiseGD's ``lrs``, a 2-D array: one per-block row per grid point); anything
        else is passed unchanged. Axes vary in keyword order, the first slowest.

    Returns
    -------
    Grid

    Examples
    --------
    >>> g = grid(Adam, seeds=range(4), lr=[1e-3, 1e-2], beta1=[0.0, 0.9])   # doctest: +SKIP
    >>> res = g.run(problem, 300, engine="numba")                           # doctest: +SKIP
    >>> res.hyper.as_frame()                                                # doctest: +SKIP
    """
    from .optimizers import OPTIMIZERS
    cls = OPTIMIZERS[optimizer] if isinstance(optimizer, str) else optimizer
    if not isinstance(cls, type) or not hasattr(cls, "HYPER"):
        raise TypeError(f"optimizer must be a hetquad.sims optimizer class or name, got {optimizer!r}")
    seeds = [seeds] if np.ndim(seeds) == 0 else list(np.asarray(seeds, dtype=object).ravel())
    if not seeds:
        raise ValueError("seeds must give at least one seed, got none")
    seeds = [integer(f"seeds[{i}]", s, minimum=0) for i, s in enumerate(seeds)]
    axes = {k: list(np.asarray(v, dtype=object).tolist()) for k, v in hyper.items() if _is_axis(cls, k, v)}
    for k, v in axes.items():
        if not v:
            raise ValueError(f"{k} must give at least one value, got an empty axis")
    n = math.prod(len(v) for v in axes.values()) * len(seeds)
    if n > MAX_RUNS:
        raise ValueError(f"the grid has {n} runs (> {MAX_RUNS}): split it into chunks over one axis "
                         f"({', '.join(f'{k}: {len(v)}' for k, v in axes.items())}, seeds: {len(seeds)})")
    points = list(itertools.product(*axes.values(), seeds))
    per_run = {k: tuple(tuple(p[j]) if k == "lrs" else p[j] for p in points) for j, k in enumerate(axes)}
    spec = cls(**{**hyper, **per_run})
    columns = {k: np.array(v, dtype=np.float64) for k, v in per_run.items()}
    columns["seed"] = np.array([p[-1] for p in points], dtype=np.int64)
    for a in columns.values():
        a.setflags(write=False)
    return Grid(spec, tuple(int(p[-1]) for p in points), columns)


def stack(specs, *, repeat: int = 1, **values):
    """One per-run spec from validated specs that differ only in numeric hyper-parameters.

    Run ``i·repeat + j`` (j < ``repeat``) gets the hyper-parameters of ``specs[i]``: a sweep
    stacks its grid points' specs, each repeated over its seeds, into the one spec of one engine
    call. The specs were validated when they were built (a sweep config builds each once), and
    repeating a valid value keeps it valid, so no constructor check runs again: building the
    per-run spec of 100k runs through the constructor would cost seconds of re-validation.

    Parameters
    ----------
    specs : sequence of optimizer specs of one class, all with scalar (not per-run) hyper-parameters
        Every field outside the class's ``HYPER`` (schedule, bias_correction, v0, partition, ...)
        must be equal.
    repeat : int >= 1
        Consecutive runs per spec.
    **values
        Per-run overrides, already validated, one value per run (``len(specs) * repeat``), e.g.
        the candidate lrs of an lr search.

    Returns
    -------
    An optimizer spec of ``type(specs[0])``. A hyper-parameter equal in every spec stays a number
    (it broadcasts); the others become per-run tuples. Equal to building it through the
    constructor with those tuples (tested for every registered optimizer).

    Raises
    ------
    ValueError
        Specs of different classes, differing fields outside ``HYPER``, per-run specs, or an
        override of the wrong length or outside ``HYPER``.
    """
    import copy
    import dataclasses

    specs = list(specs)
    repeat = integer("repeat", repeat, minimum=1)
    if not specs:
        raise ValueError("specs must hold at least one optimizer spec, got none")
    first = specs[0]
    cls = type(first)
    hyper = tuple(getattr(cls, "HYPER", ()))
    if not dataclasses.is_dataclass(first) or not hyper:
        raise TypeError(f"specs must be hetquad.sims optimizer specs with HYPER, got {cls.__name__}")
    n = len(specs) * repeat
    for name, v in values.items():
        if name not in hyper:
            raise ValueError(f"{name} is not a per-run hyper-parameter of {cls.__name__} (HYPER: {', '.join(hyper)})")
        if len(v) != n:
            raise ValueError(f"{name} has {len(v)} values but the stack has {n} runs")
    fixed = [f.name for f in dataclasses.fields(first) if f.name not in hyper]
    for i, s in enumerate(specs):
        if type(s) is not cls:
            raise ValueError(f"specs[{i}] is a {type(s).__name__}, not a {cls.__name__}: one engine call runs one class")
        if s.runs() is not None:
            raise ValueError(f"specs[{i}] already has per-run hyper-parameters; stack takes scalar specs")
        for f in fixed:
            if getattr(s, f) != getattr(first, f):
                raise ValueError(f"specs[{i}].{f} = {getattr(s, f)!r} differs from specs[0].{f} = "
                                 f"{getattr(first, f)!r}; only {', '.join(hyper)} may vary within one call")
    out = copy.copy(first)
    for name in hyper:
        if name in values:
            per = tuple(values[name])
        else:
            vals = [getattr(s, name) for s in specs]
            if all(v == vals[0] for v in vals[1:]):
                continue  # shared: stays a number and broadcasts
            per = tuple(v for v in vals for _ in range(repeat))
        object.__setattr__(out, name, per)
    out._check_runs()
    return out
