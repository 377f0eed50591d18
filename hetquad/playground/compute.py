"""What the page shows, computed from a ``State``: runs, bounds, structure numbers (no web code here).

``evaluate(state)`` is pure and deterministic. What a change does not invalidate is cached: the
problem and its views (|H|, block spectra, JS⁰, τ) per (family, parameters, seed), the initial
points per problem and batch, each optimizer's curve per everything it depends on; so moving one
optimizer's slider re-runs that optimizer only. The runs that are needed go to a small thread pool
(the numba kernels release the GIL), each on one numba thread, while the calling thread computes
the problem's views; a run's numbers do not depend on which thread ran it.

``WarmUp`` loads the compiled kernels in a background thread, so a server can show its first page
before numba is ready (``Playground`` shows a "warming up" note until it is).
"""
from __future__ import annotations

import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .state import State, build_optimizer, build_problem, initial_points

HEATMAP_MAX_D = 400  # larger |H| heatmaps cost more to send than they teach
ETA_POINTS = 400


@dataclass(frozen=True, eq=False)
class ProblemView:
    """Problem-level quantities (independent of the optimizers and the initial points)."""

    problem: object
    abs_h: np.ndarray | None       # |H|, or None above HEATMAP_MAX_D
    offsets: tuple
    block_eigs: tuple
    kappa: float
    block_kappas: np.ndarray
    tau: float
    block_taus: np.ndarray
    js0: float
    l_p: float
    eta: np.ndarray                # grid for the ρ_l(η) picture
    rho: np.ndarray                # (B, len(eta)): max_i |1 − η λ_i| over block l's eigenvalues
    rho_global: np.ndarray         # the same over all eigenvalues (what one GD lr faces)


@dataclass(frozen=True, eq=False)
class Curve:
    """One optimizer's batch, summarised for drawing (relative to the run's own t = 0)."""

    label: str
    steps: np.ndarray
    loss_med: np.ndarray
    loss_lo: np.ndarray
    loss_hi: np.ndarray
    grad_med: np.ndarray
    grad_lo: np.ndarray
    grad_hi: np.ndarray
    block_grad_med: np.ndarray     # (steps, B) median over the batch of ‖g_l‖
    iterations: float              # median iterations to tol (inf when not reached)
    stop_reasons: tuple
    bound_name: str | None         # the theory.registry row that applies to this run
    bound_reason: str | None       # the registry's reason when none applies
    bound_loss: np.ndarray | None  # ℓ_t/ℓ_0 ≤ this at every step (loosest over the batch)
    bound_rate: float | None       # loosest per-step error contraction over the batch
    bound_iterations: float | None
    kappa_p: float | None          # κ(P) of the Adam / Adam-mini theorem variant
    psi: float | None              # block excess ψ = κ(P)/max_l κ_l (docs/theory.md §4; RateBound.r)

    @property
    def slack(self) -> float | None:
        """Bound iterations / measured iterations (≥ 1 when the bound holds)."""
        if self.bound_iterations is None or not math.isfinite(self.iterations) or self.iterations == 0:
            return None
        return self.bound_iterations / self.iterations


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Everything the page draws for one ``State``."""

    state: State
    view: ProblemView
    gini: float                    # median over the batch of the Gini of g0's x_l
    l_g_over_l_p: float            # median L_G(w0)/L_P
    curves: tuple
    wall_s: float


def _key(state: State):
    return (state.problem, state.params, state.seed)


@functools.lru_cache(maxsize=32)
def _problem(key):
    name, params, seed = key
    return build_problem(State(problem=name, params=params, seed=seed))


@functools.lru_cache(maxsize=32)
def _initial_points(key, batch: int, gini) -> np.ndarray:
    w0 = initial_points(State(problem=key[0], params=key[1], seed=key[2], batch=batch, gini=gini), _problem(key))
    w0.setflags(write=False)  # shared by every run of the race
    return w0


@functools.lru_cache(maxsize=32)
def _start_numbers(key, batch: int, gini) -> tuple:
    """(median Gini of g0's block norms, median L_G(w0)/L_P) over the batch of initial points."""
    from hetquad import problems

    p, w0 = _problem(key), _initial_points(key, batch, gini)
    het = problems.gradient_heterogeneity(p, w0)
    lg = float(np.median(np.atleast_1d(problems.l_g(p, w0)))) / _problem_view(key).l_p
    return float(np.median(np.atleast_1d(het.gini))), lg


@functools.lru_cache(maxsize=32)
def _problem_view(key) -> ProblemView:
    from hetquad import problems

    p = _problem(key)
    eigs = tuple(np.asarray(e) for e in p.block_eigvals)
    h = p.hessian() if p.d <= HEATMAP_MAX_D else None
    block_taus = np.array([problems.tau(b) for b in p.blocks])
    tau = problems.tau(h) if h is not None else float("nan")
    js0 = problems.js0(p) if p.n_blocks > 1 else 0.0
    # log-spaced from well below the sharpest block's best step to past the flattest one's, so every
    # block's valley ρ_l(η_l) = (κ_l−1)/(κ_l+1) at η_l = 2/(L_l+μ_l) is on the picture
    L, mu = float(max(e[-1] for e in eigs)), float(min(e[0] for e in eigs))
    eta = np.geomspace(0.1 / L, 2.2 / mu, ETA_POINTS)
    rho = np.stack([np.max(np.abs(1.0 - np.outer(eta, e)), axis=1) for e in eigs])
    lam = p.eigvalsh()
    rho_global = np.maximum(np.abs(1.0 - eta * lam[0]), np.abs(1.0 - eta * lam[-1]))
    return ProblemView(p, None if h is None else np.abs(h), p.offsets, eigs, float(p.kappa),
                       np.asarray(p.block_kappas), float(tau), block_taus, float(js0),
                       float(problems.l_p(p)), eta, rho, rho_global)


def problem_view(state: State) -> ProblemView:
    """The cached problem-level quantities of ``state`` (raises ``ValueError`` on bad parameters)."""
    return _problem_view(_key(state))


def _band(x: np.ndarray):
    """Median, 10 % and 90 % over the batch; a stopped run's missing (NaN) tail counts as +inf
    (nearest-rank quantiles, so inf never becomes NaN by interpolation) and is drawn as a gap."""
    x = np.where(np.isnan(x), np.inf, x)
    q = np.quantile(x, (0.5, 0.1, 0.9), axis=0, method="nearest")
    q[~np.isfinite(q)] = np.nan
    return tuple(q)


def _bound(opt, p, w0, steps, tol):
    """The bound ``theory.registry.match`` gives this run, loosest over the batch ``w0``:
    (name, or the registry's reason why none applies; ℓ_t/ℓ_0 envelope at ``steps`` or None;
    rate or None; iterations to tol or None; κ(P) or None; ψ or None), κ(P) and ψ as medians over
    the batch where the bound has them (the Adam variants, THEORY §4).

    The registry is the one table of which bound holds for which optimizer and hyper-parameters;
    like ``hetquad.sweep.bound_check`` this asks it about block quadratics with a constant step.
    A row that accepts ``w0=None`` gives one bound for the whole batch; the others are asked once
    per initial point.
    """
    from hetquad import sims, theory
    from hetquad.problems.quadratic import BlockQuadratic

    if not isinstance(p, BlockQuadratic):
        return "n/a: not a block quadratic", None, None, None, None, None
    if getattr(opt, "schedule", sims.Constant()) != sims.Constant():
        return "n/a: the bounds hold for a constant step (schedule given)", None, None, None, None, None
    row, b = theory.registry.match(p, opt, None)
    if row is not None:
        bounds = [b]
    else:
        matches = [theory.registry.match(p, opt, w) for w in w0]
        if any(r is None for r, _ in matches):  # the reason the run's own initial point gets
            return next(x for r, x in matches if r is None), None, None, None, None, None
        row, bounds = matches[0][0], [x for _, x in matches]
    its = max(float(x.iterations(tol)) for x in bounds)
    env = None
    if all(hasattr(x, "loss_bound") for x in bounds):
        with np.errstate(over="ignore"):  # a step past 2/λ_max "bounds" by a growing factor: inf is right
            env = np.max([np.broadcast_to(x.loss_bound(steps), steps.shape) for x in bounds], axis=0)
    rates = [getattr(x, "rate", None) for x in bounds]
    rate = None if any(r is None for r in rates) else float(max(rates))
    rs = [getattr(x, "r", None) for x in bounds]
    kp = r = None
    if all(v is not None for v in rs):
        kp, r = float(np.median([x.kappa for x in bounds])), float(np.median(rs))
    return row.name, env, rate, its, kp, r


@functools.lru_cache(maxsize=64)
def _cached_curve(key, choice, per_block: bool) -> Curve:
    state = State(problem=key[0], params=key[1], seed=key[2], batch=key[3], gini=key[4], steps=key[5],
                  tol=key[6], engine=key[7])
    pkey = _key(state)
    _one_numba_thread(state.engine)
    return run_curve(state, choice, _problem(pkey), _initial_points(pkey, state.batch, state.gini),
                     per_block=per_block)


def curve(state: State, choice, *, per_block: bool = True) -> Curve:
    """``run_curve`` memoised on everything it depends on: moving one optimizer's slider re-runs
    that optimizer only (runs are deterministic, so a cached curve is the curve)."""
    key = (state.problem, state.params, state.seed, state.batch, state.gini, state.steps, state.tol,
           state.engine)
    return _cached_curve(key, choice, per_block)


def run_curve(state: State, choice, p, w0, *, per_block: bool = True) -> Curve:
    """Run one optimizer of the race on the batch ``w0`` and summarise it (``per_block``: also
    record ‖g_l‖, which only the per-block view of the first optimizer draws)."""
    from hetquad import sims

    opt = build_optimizer(choice, p)
    res = sims.run(p, opt, state.steps, w0=w0, engine=state.engine, per_block=per_block)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = res.loss / res.loss[:, :1]
        grad = res.grad_norm / res.grad_norm[:, :1]
    its = res.iterations_to(state.tol)
    name, env, rate, b_its, kp, r = _bound(opt, p, w0, res.steps, state.tol)
    bg = res.block_grad_norm
    block_med = _band(bg)[0] if bg is not None else np.zeros((res.steps.size, 0))
    lm, ll, lh = _band(loss)
    gm, gl, gh = _band(grad)
    applies = not name.startswith("n/a")
    return Curve(choice.label, res.steps, lm, ll, lh, gm, gl, gh, block_med, float(np.median(its)),
                 tuple(res.stop_reason), name if applies else None, None if applies else name, env, rate, b_its,
                 kp, r)


_local = threading.local()


def _one_numba_thread(engine: str) -> None:
    """Run this thread's numba kernels on one thread: the race is parallel over optimizers
    instead, which needs no synchronisation between threads inside a run."""
    if engine not in ("auto", "numba") or getattr(_local, "one_thread", False):
        return
    try:
        import numba
    except ImportError:
        return
    numba.set_num_threads(1)  # thread-local in numba
    _local.one_thread = True


_pool: ThreadPoolExecutor | None = None
_workers = min(2, os.cpu_count() or 1)


def set_workers(n: int | None) -> None:
    """Run at most ``n`` optimizers at once (None: one per core, at most 8)."""
    global _pool, _workers
    n = min(8, os.cpu_count() or 1) if n is None else int(n)
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {n}")
    if n != _workers and _pool is not None:
        _pool.shutdown(wait=False)
        _pool = None
    _workers = n


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_workers, thread_name_prefix="hetquad-playground")
    return _pool


class WarmUp:
    """Evaluate ``state`` once in a background thread, started by ``start()`` (idempotent);
    ``is_set()`` tells when it finished.

    It loads numba's compiled kernels (from numba's on-disk cache after the first run on a
    machine: seconds, not the minutes of a first compile) and leaves the state's curves in the
    cache, so a server can show its page first and the curves when the engine is ready. An error
    is not kept: the page's own ``evaluate`` meets it again and shows its message.
    """

    def __init__(self, state: State):
        self.state = state
        self.wall_s = float("nan")
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> "WarmUp":
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="hetquad-playground-warm-up", daemon=True)
                self._thread.start()
        return self

    def _work(self):
        import time

        t0 = time.perf_counter()
        try:
            evaluate(self.state)
        except Exception:  # noqa: BLE001 — the page's own evaluate reports it
            pass
        finally:
            self.wall_s = time.perf_counter() - t0
            self._done.set()

    def is_set(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


def evaluate(state: State, *, runs: bool = True) -> Snapshot:
    """Every number and curve of the page for ``state`` (``runs=False``: the problem's numbers
    only, no optimizer runs, ``curves`` empty).

    Raises
    ------
    ValueError
        On any bad control value (the message names it and the allowed range), as the public
        constructors of ``problems`` and ``sims`` raise it.
    """
    import time

    t0 = time.perf_counter()
    if not 1 <= state.batch <= 64:
        raise ValueError(f"batch must be in [1, 64], got {state.batch}")
    if not 1 <= state.steps <= 100_000:
        raise ValueError(f"steps must be in [1, 100000], got {state.steps}")
    if not 0.0 < state.tol < 1.0:
        raise ValueError(f"tol must be in (0, 1), got {state.tol}")
    if not 1 <= len(state.optimizers) <= 7:
        raise ValueError(f"choose between 1 and 7 optimizers, got {len(state.optimizers)}")
    key = _key(state)
    _initial_points(key, state.batch, state.gini)  # a bad Gini fails here, before any run starts
    # runs first (in the pool), the problem's views meanwhile here; only the first optimizer's
    # per-block norms are drawn, so only its run records them
    jobs = [_executor().submit(curve, state, c, per_block=i == 0) for i, c in enumerate(state.optimizers)] if runs else []
    try:
        view = problem_view(state)
        gini, lg = _start_numbers(key, state.batch, state.gini)
    finally:
        for j in jobs:  # wait for every run, so none outlives a failing view
            j.exception()
    curves = tuple(j.result() for j in jobs)
    return Snapshot(state, view, gini, lg, curves, time.perf_counter() - t0)
