"""Learning-rate grid search: run each lr, score it, return the table and the best lr."""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np

from hetquad.problems.validation import finite_array, integer, one_of

from . import engines as _engines
from .estimate import DEFAULT_BUDGET, estimate
from .run import build_task, run

METRICS = ("final_loss", "iterations", "tail_grad")
EDGES = ("low", "high", "both")
MAX_LRS = 100_000  # candidate lrs of one search (a finer grid is not a search)


def parse_lrs(value, *, name: str = "lrs") -> np.ndarray:
    """The one lr-grid parser (``hetquad tune --lrs``, a sweep's ``[tune] lrs``, Python callers).

    Parameters
    ----------
    value : str, dict or sequence
        ``'LOW:HIGH:NUM'`` or ``{low, high, num}``: ``np.geomspace(LOW, HIGH, NUM)``;
        ``'a,b,c'`` or a sequence: those values.
    name : str
        How errors name the argument (``'--lrs'`` on the command line).

    Returns
    -------
    (k,) float64 array of distinct, finite lrs > 0.

    Raises
    ------
    ValueError
        A malformed string, NUM < 2 or > ``MAX_LRS``, LOW >= HIGH, a value <= 0 or not finite,
        an empty or repeated list, each naming ``name``.
    """
    from hetquad.problems.validation import positive

    if isinstance(value, str):
        try:
            if ":" in value:
                low, high, num = value.split(":")
                return _log_grid(name, float(low), float(high), int(num), sep=" ")
            return _listed(name, [float(x) for x in value.split(",")])
        except (TypeError, ValueError) as exc:
            if name in str(exc):
                raise
            raise ValueError(f"{name} must be LOW:HIGH:NUM or a comma list of numbers, got {value!r}") from None
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"low", "high", "num"})
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} in {name} (allowed: high, low, num)")
        return _log_grid(name, value.get("low", 0), value.get("high", 0), value.get("num", 0), sep=".")
    if isinstance(value, (bytes, bool)) or np.ndim(value) != 1:
        raise ValueError(f"{name} must be a non-empty list of numbers, LOW:HIGH:NUM or {{low, high, num}}, "
                         f"got {value!r}")
    values = list(np.asarray(value, dtype=object).tolist())
    return _listed(name, [positive(f"{name}[{i}]", x) for i, x in enumerate(values)])


def _log_grid(name: str, low, high, num, *, sep: str) -> np.ndarray:
    from hetquad.problems.validation import positive

    low, high = positive(f"{name}{sep}low", low), positive(f"{name}{sep}high", high)
    num = integer(f"{name}{sep}num", num, minimum=2)
    if num > MAX_LRS:
        raise ValueError(f"{name}{sep}num must be <= {MAX_LRS}, got {num}; search a coarse grid first, then a "
                         "finer one around its best lr")
    if not low < high:
        raise ValueError(f"{name}{sep}low must be < {name}{sep}high, got {low} and {high}")
    return np.geomspace(low, high, num)


def _listed(name: str, values: list) -> np.ndarray:
    from hetquad.problems.validation import positive

    if not values:
        raise ValueError(f"{name} must be a non-empty list of lrs, got []")
    if len(values) > MAX_LRS:
        raise ValueError(f"{name} must hold <= {MAX_LRS} lrs, got {len(values)}")
    arr = np.array([positive(name, x) for x in values], dtype=np.float64)
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name} has repeated values: {arr.tolist()}")
    return arr


class TuneAtEdgeWarning(UserWarning):
    """The best lr of a ``sims.tune`` grid is its first or last point: the optimum may lie
    outside the grid, so widen it on that side (``TuneResult.edge`` names the side)."""


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
        its = result.iterations_to(tol)
        run_tol = (result.config or {}).get("tol")
        if run_tol is not None and run_tol <= tol:  # a run stopped by tol between two records
            stopped = np.array([r == "tol" for r in result.stop_reason])
            its = np.where(stopped, np.minimum(its, result.iterations), its)
        return float(np.median(its))
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
    """``table`` rows are (lr, score, stop reasons); ``best_lr`` minimises the score (first on ties).

    ``at_edge`` is True when ``best_lr`` is the smallest or the largest lr of the grid; ``edge``
    then says which: 'low', 'high', or 'both' for a one-point grid (None when interior).
    """

    table: tuple
    best_lr: float
    best_score: float
    metric: str
    at_edge: bool = False
    edge: str | None = None

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

    All candidates run in one engine call (a per-run lr; results equal to one call per lr, bit
    for bit) unless ``make_optimizer`` changes more than ``lr``, noise is given, or the
    combined batch would exceed the memory budget; then one call per lr.
    A best lr at the first or last grid point warns ``TuneAtEdgeWarning`` (``at_edge``).
    """
    one_of("metric", metric, METRICS)
    lrs = finite_array("lrs", lrs, ndim=1)
    if np.any(lrs <= 0):
        raise ValueError(f"lrs must all be > 0, got min {lrs.min()}")
    if metric == "iterations":
        run_kwargs.setdefault("tol", tol)
    results = _one_call(problem, make_optimizer, lrs, steps, run_kwargs)
    if results is None:  # the specs differ beyond lr, or noise: one run per lr
        results = [run(problem, make_optimizer(float(lr)), steps, **run_kwargs) for lr in lrs]
    out = decide(lrs, results, steps, metric=metric, tol=tol)
    if out.edge is not None:
        warnings.warn(f"the best lr {out.best_lr:.6g} is at the {out.edge} edge of the grid "
                      f"[{lrs.min():.6g}, {lrs.max():.6g}]; the optimum may lie outside it: widen the grid",
                      TuneAtEdgeWarning, stacklevel=2)
    return out


def decide(lrs, results, steps: int, *, metric: str = "final_loss", tol: float = 1e-6) -> TuneResult:
    """The ``TuneResult`` of finished runs: ``results[i]`` is the ``Result`` of ``lrs[i]``.

    ``tune`` runs the grid and calls this; a caller that ran several grids in one engine call (a
    sweep: every hyper-parameter variant × every lr) decides each grid from its row slices. Warns
    nothing (``tune`` warns at an edge). Raises ``ValueError`` when every lr diverged, or none
    reached tol under ``metric='iterations'``.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    rows = [(float(lr), score(res, metric, tol=tol), res.stop_reason) for lr, res in zip(lrs, results)]
    scores = np.array([r[1] for r in rows])
    if np.all(scores == np.inf):
        if all("diverged" in r[2] for r in rows):
            raise ValueError("every lr in the grid diverged; lower the grid")
        raise ValueError(f"no lr in the grid reached loss <= tol*loss0 = {tol:g}*loss0 within {steps} steps "
                         "(metric='iterations'; the others diverged); raise steps or tol, or move the grid")
    best = int(np.argmin(scores))
    edge = _edge(lrs, best)
    return TuneResult(tuple(rows), rows[best][0], float(scores[best]), metric,
                      at_edge=edge is not None, edge=edge)


def tune_interior(problem, make_optimizer, lrs, steps: int, *, widen: int = 4, max_rounds: int = 6,
                  **tune_kwargs) -> TuneResult:
    """``tune``, widening the grid until the best lr is interior (the fair-race protocol).

    While the best lr is the first or last grid point, ``widen`` more points of the grid's own
    spacing (the ratio of its first two points) are added on that side and the search is re-run.

    Parameters
    ----------
    problem, make_optimizer, lrs, steps : as for ``tune`` (``lrs`` ascending, at least 2 points)
    widen : int >= 1
        Points added on the edge side per round.
    max_rounds : int >= 1
        Searches before giving up.
    **tune_kwargs : passed to ``tune`` (metric, tol, seed, batch, engine, ...)

    Returns
    -------
    TuneResult
        Of the last search; ``at_edge`` is False, and ``table`` holds the widened grid.

    Raises
    ------
    ValueError
        When the best lr is still at an edge after ``max_rounds`` searches (with the grid reached).
    """
    lrs = finite_array("lrs", lrs, ndim=1)
    if lrs.size < 2 or np.any(np.diff(lrs) <= 0):
        raise ValueError(f"lrs must be an ascending grid of at least 2 points, got {lrs.size} points")
    widen = integer("widen", widen, minimum=1)
    max_rounds = integer("max_rounds", max_rounds, minimum=1)
    ratio = lrs[1] / lrs[0]
    extra = ratio ** np.arange(1, widen + 1)
    for round_ in range(max_rounds):
        if round_:
            lrs = (np.concatenate([lrs[0] / extra[::-1], lrs]) if result.edge == "low"
                   else np.concatenate([lrs, lrs[-1] * extra]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TuneAtEdgeWarning)  # handled here: widen and retry
            result = tune(problem, make_optimizer, lrs, steps, **tune_kwargs)
        if not result.at_edge:
            return result
    raise ValueError(f"the best lr is still at the {result.edge} edge after {max_rounds} searches, on the grid "
                     f"[{lrs[0]:.3g}, {lrs[-1]:.3g}]; raise max_rounds or widen, or move the grid")


def _edge(lrs: np.ndarray, best: int) -> str | None:
    """Which end of the grid (by value, so a descending grid works too) holds ``lrs[best]``."""
    if lrs.size == 1:
        return "both"
    lr = lrs[best]
    if lr == lrs.min():
        return "low"
    if lr == lrs.max():
        return "high"
    return None


def _one_call(problem, make_optimizer, lrs: np.ndarray, steps: int, run_kwargs: dict):
    """Every candidate lr (× the batch) in one engine call through a per-run lr; the per-lr
    Results are row slices of it, equal bit for bit to one call per lr (runs do not depend on
    their batch mates). None when that is not possible: ``make_optimizer`` changes more than
    ``lr``, or noise streams (drawn per batch position) would change with the batch."""
    specs = [make_optimizer(float(lr)) for lr in lrs]
    first = specs[0]
    if run_kwargs.get("noise") is not None or not dataclasses.is_dataclass(first):
        return None
    if not all(type(s) is type(first) and isinstance(getattr(s, "lr", None), float) for s in specs):
        return None
    if any(dataclasses.replace(s, lr=first.lr) != first for s in specs[1:]):
        return None
    kw = dict(run_kwargs)
    one = build_task(problem, first, steps, w0=kw.get("w0"), seed=kw.get("seed", 0), batch=kw.get("batch"),
                     tol=kw.get("tol"), record_every=kw.get("record_every", 1),
                     per_block=kw.get("per_block", False))
    b, L = one.n, len(specs)
    budget = kw.get("memory_budget") or DEFAULT_BUDGET
    if estimate(problem, first, steps, batch=b * L, record_every=kw.get("record_every", 1),
                per_block=one.per_block).bytes > budget:
        return None  # one lr at a time fits where all of them at once would not
    kw["engine"] = _engines.resolve(kw.get("engine", "auto"), one).NAME  # the engine one lr alone gets
    kw.pop("seed", None)
    kw.pop("batch", None)
    kw["w0"] = np.tile(one.w0, (L, 1))
    res = run(problem, dataclasses.replace(first, lr=tuple(s.lr for s in specs for _ in range(b))), steps, **kw)
    return [select_runs(res, slice(i * b, (i + 1) * b)) for i in range(L)]


def select_runs(res, rows: slice):
    """The Result of runs ``rows`` (a slice) of ``res``: per-lr results of one engine call."""
    bgn = None if res.block_grad_norm is None else res.block_grad_norm[rows]
    return dataclasses.replace(res, loss=res.loss[rows], grad_norm=res.grad_norm[rows],
                               stop_reason=res.stop_reason[rows], iterations=res.iterations[rows],
                               final_loss=res.final_loss[rows], w_final=res.w_final[rows],
                               block_grad_norm=bgn, hyper=None)
