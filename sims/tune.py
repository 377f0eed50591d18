"""Learning-rate grid search: run each lr, score it, return the table and the best lr."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hetquad.problems.validation import finite_array, one_of

from .run import run

METRICS = ("final_loss", "iterations", "tail_grad")


def score(result, metric: str = "final_loss", *, tol: float = 1e-6) -> float:
    """Lower is better; a run that diverged scores +inf.

    'final_loss' — median log10(ℓ_N/ℓ_0); 'iterations' — median steps to loss ≤ tol·ℓ_0;
    'tail_grad' — median over runs of the worst log10(‖g_t‖/‖g_0‖) over t ∈ [0.9N, N]
    (THEORY §6 protocol: penalises bouncing).
    """
    one_of("metric", metric, METRICS)
    if "diverged" in result.stop_reason:
        return float("inf")
    if metric == "iterations":
        return float(np.median(result.iterations_to(tol)))
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "final_loss":
            vals = np.log10(result.final_loss / result.loss[:, 0])
        else:
            n = result.steps[-1]
            tail = result.steps >= 0.9 * n
            vals = np.nanmax(np.log10(result.grad_norm[:, tail] / result.grad_norm[:, :1]), axis=1)
    vals = np.where(np.isfinite(vals), vals, -np.inf if metric != "iterations" else np.inf)
    return float(np.median(vals))


@dataclass(frozen=True)
class TuneResult:
    """``table`` rows are (lr, score, stop reasons); ``best_lr`` minimises the score (first on ties)."""

    table: tuple
    best_lr: float
    best_score: float
    metric: str

    def as_rows(self) -> list[dict]:
        return [{"lr": lr, "score": s, "stop": dict(zip(*np.unique(r, return_counts=True)))}
                for lr, s, r in self.table]


def tune(problem, make_optimizer, lrs, steps: int, *, metric: str = "final_loss", tol: float = 1e-6,
         **run_kwargs) -> TuneResult:
    """Grid-search the learning rate.

    Parameters
    ----------
    problem : a problem
    make_optimizer : callable lr -> optimizer spec
    lrs : 1-D array of candidate lrs (a log grid, e.g. ``np.logspace(-4, 0, 17)``)
    steps : int
    metric : {'final_loss', 'iterations', 'tail_grad'}
    **run_kwargs : passed to ``sims.run`` (seed, batch, engine, tol, ...)
    """
    one_of("metric", metric, METRICS)
    lrs = finite_array("lrs", lrs, ndim=1)
    if np.any(lrs <= 0):
        raise ValueError(f"lrs must all be > 0, got min {lrs.min()}")
    if metric == "iterations":
        run_kwargs.setdefault("tol", tol)
    rows = []
    for lr in lrs:
        res = run(problem, make_optimizer(float(lr)), steps, **run_kwargs)
        rows.append((float(lr), score(res, metric, tol=tol), res.stop_reason))
    scores = np.array([r[1] for r in rows])
    if np.all(scores == np.inf):
        if all("diverged" in r[2] for r in rows):
            raise ValueError("every lr in the grid diverged; lower the grid")
        raise ValueError(f"no lr in the grid reached loss <= tol*loss0 = {tol:g}*loss0 within {steps} steps "
                         "(metric='iterations'; the others diverged); raise steps or tol, or move the grid")
    best = int(np.argmin(scores))
    return TuneResult(tuple(rows), rows[best][0], float(scores[best]), metric)
