"""Batched runs for figures: a whole lr grid (× inits) as one ``sims.run`` with a per-run lr.

Not a figure (the registry skips modules starting with ``_``). A run's numbers do not depend on
its batch mates (sims.run's guarantee, tested there), so row k of the one call is the run at
``lrs[k]`` alone, bit for bit; ``tests/figures/test_runs.py`` checks it against separate runs.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from hetquad import sims


def rows(res, index) -> "sims.Result":
    """The Result of runs ``index`` (a slice or an index array) of ``res``."""
    bgn = None if res.block_grad_norm is None else res.block_grad_norm[index]
    reasons = tuple(np.asarray(res.stop_reason, dtype=object)[index].tolist())
    return dataclasses.replace(res, loss=res.loss[index], grad_norm=res.grad_norm[index], stop_reason=reasons,
                               iterations=res.iterations[index], final_loss=res.final_loss[index],
                               w_final=res.w_final[index], block_grad_norm=bgn, hyper=None)


def lr_sweep(problem, make, lrs, steps: int, *, w0, **run_kwargs) -> list:
    """Every lr of ``lrs`` from every row of ``w0`` in one engine call.

    Parameters
    ----------
    problem : a problem
    make : callable lr -> optimizer spec whose only per-run hyper-parameter is ``lr``
        Called once with the whole lr column (a 1-D array, one value per run).
    lrs : 1-D array of learning rates
    steps : int
    w0 : (d,) or (n, d) array of initial points
    **run_kwargs : passed to ``sims.run`` (tol, record_every, per_block, engine, ...)

    Returns
    -------
    list of Result, one per lr, each with the ``n`` runs from ``w0`` in order.
    """
    lrs = np.asarray(lrs, dtype=float).ravel()
    w0 = np.atleast_2d(np.asarray(w0, dtype=float))
    n, L = w0.shape[0], lrs.size
    res = sims.run(problem, make(np.repeat(lrs, n)), steps, w0=np.tile(w0, (L, 1)), **run_kwargs)
    return [rows(res, slice(k * n, (k + 1) * n)) for k in range(L)]


def iterations_to_tol(problem, make, w0, steps: int, *, tol: float, groups=None, first: int = 512,
                      growth: int = 4, **run_kwargs) -> np.ndarray:
    """Iterations to loss ≤ ``tol``·ℓ_0 of every row, exact where it decides a group's minimum.

    Row i runs ``make(rows)`` (a spec for the active rows, given their indices) from ``w0[i]``.
    Rows are grouped (``groups[i]``; default: one group) and only each group's fastest rows
    matter, so the horizon grows geometrically, ``first``, ``growth``·``first``, … up to
    ``steps``: a group is settled at the first horizon where any of its rows hits ``tol`` — a row
    that has not hit by then needs more iterations than the hit, so it cannot be the minimum.
    Rows of settled groups (and diverged rows) do not run again. The runs of one horizon are one
    engine call; a run's numbers do not depend on its batch mates or its horizon (constant-lr
    specs), so the minimum per group and its argmin (first on ties) equal those of running every
    row for ``steps`` (tested).

    Returns
    -------
    (n,) float array: the iterations of rows that hit ``tol``; inf for rows that diverged, never
    hit within ``steps``, or were left unfinished because their group was settled by a faster row.
    """
    w0 = np.atleast_2d(np.asarray(w0, dtype=float))
    n = w0.shape[0]
    groups = np.zeros(n, dtype=int) if groups is None else np.asarray(groups)
    its = np.full(n, np.inf)
    active = np.arange(n)
    horizon = min(first, steps)
    while active.size:
        res = sims.run(problem, make(active), horizon, w0=w0[active], tol=tol, record_every=horizon, **run_kwargs)
        reason = np.asarray(res.stop_reason)
        hit = reason == "tol"
        its[active[hit]] = res.iterations[hit]
        settled = np.unique(groups[active[hit]])
        keep = ~hit & (reason != "diverged") & ~np.isin(groups[active], settled)
        if horizon >= steps:
            break
        active, horizon = active[keep], min(horizon * growth, steps)
    return its
