"""What the page shows, computed from a ``State``: runs, bounds, structure numbers (no web code here).

``evaluate(state)`` is pure and deterministic. Problem-level quantities (|H|, block spectra, JS⁰,
τ) are cached per (family, parameters, seed), so moving an optimizer's slider only re-runs the
optimizers.
"""
from __future__ import annotations

import functools
import math
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
    bound_name: str | None
    bound_rate: float | None       # loosest per-step error contraction over the batch
    bound_iterations: float | None
    kappa_p: float | None          # κ(P) of the Adam / Adam-mini theorem variant
    psi: float | None              # block excess ψ = κ(P)/max_l κ_l (docs/theory.md §4; RateBound.r)

    @property
    def bound_loss(self) -> np.ndarray | None:
        """ℓ_t/ℓ_0 ≤ rate^{2t}."""
        if self.bound_rate is None:
            return None
        with np.errstate(over="ignore"):  # a step past 2/λ_max "bounds" by a growing factor: inf is right
            return self.bound_rate ** (2.0 * self.steps)

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
def _problem_view(key) -> ProblemView:
    from hetquad import problems

    name, params, seed = key
    p = build_problem(State(problem=name, params=params, seed=seed))
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


def _bound(choice, opt, p, w0, tol):
    """(name, loosest rate over the batch, its iterations to tol, κ(P), ψ) for the optimizers the
    theory covers with a constant step; Nones otherwise."""
    from hetquad import sims, theory

    none = (None, None, None, None, None)
    if choice.schedule[0] != "constant":
        return none
    if type(opt) is sims.GD:
        b = [theory.gd_rate(p, lr=opt.lr)]
    elif type(opt) is sims.BlockwiseGD and opt.lr == 1.0 and p.is_block_diagonal:
        b = [theory.blockwise_gd_rate(p)]
    elif choice.variant == "theorem" and choice.name == "adam":
        b = [theory.adam_variant_rate(p, w, lr=opt.lr) for w in w0]
    elif choice.variant == "theorem" and choice.name == "adam-mini" and p.is_block_diagonal:
        b = [theory.adam_mini_variant_rate(p, w, lr=opt.lr) for w in w0]
    else:
        return none
    worst = max(b, key=lambda x: x.rate)
    kp = None if worst.r is None else float(np.median([x.kappa for x in b]))
    r = None if worst.r is None else float(np.median([x.r for x in b]))
    return worst.name, float(worst.rate), float(worst.iterations(tol)), kp, r


@functools.lru_cache(maxsize=64)
def _cached_curve(key, choice) -> Curve:
    state = State(problem=key[0], params=key[1], seed=key[2], batch=key[3], gini=key[4], steps=key[5],
                  tol=key[6], engine=key[7])
    view = problem_view(state)
    return run_curve(state, choice, view.problem, initial_points(state, view.problem))


def curve(state: State, choice) -> Curve:
    """``run_curve`` memoised on everything it depends on: moving one optimizer's slider re-runs
    that optimizer only (runs are deterministic, so a cached curve is the curve)."""
    key = (state.problem, state.params, state.seed, state.batch, state.gini, state.steps, state.tol,
           state.engine)
    return _cached_curve(key, choice)


def run_curve(state: State, choice, p, w0) -> Curve:
    """Run one optimizer of the race on the batch ``w0`` and summarise it."""
    from hetquad import sims

    opt = build_optimizer(choice, p)
    res = sims.run(p, opt, state.steps, w0=w0, engine=state.engine, per_block=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = res.loss / res.loss[:, :1]
        grad = res.grad_norm / res.grad_norm[:, :1]
    its = res.iterations_to(state.tol)
    name, rate, b_its, kp, r = _bound(choice, opt, p, w0, state.tol)
    bg = res.block_grad_norm
    block_med = _band(bg)[0] if bg is not None else np.zeros((res.steps.size, 0))
    lm, ll, lh = _band(loss)
    gm, gl, gh = _band(grad)
    return Curve(choice.label, res.steps, lm, ll, lh, gm, gl, gh, block_med, float(np.median(its)),
                 tuple(res.stop_reason), name, rate, b_its, kp, r)


def evaluate(state: State) -> Snapshot:
    """Every number and curve of the page for ``state``.

    Raises
    ------
    ValueError
        On any bad control value (the message names it and the allowed range), as the public
        constructors of ``problems`` and ``sims`` raise it.
    """
    import time

    from hetquad import problems

    t0 = time.perf_counter()
    if not 1 <= state.batch <= 64:
        raise ValueError(f"batch must be in [1, 64], got {state.batch}")
    if not 1 <= state.steps <= 100_000:
        raise ValueError(f"steps must be in [1, 100000], got {state.steps}")
    if not 0.0 < state.tol < 1.0:
        raise ValueError(f"tol must be in (0, 1), got {state.tol}")
    if not 1 <= len(state.optimizers) <= 7:
        raise ValueError(f"choose between 1 and 7 optimizers, got {len(state.optimizers)}")
    view = problem_view(state)
    p = view.problem
    w0 = initial_points(state, p)
    het = problems.gradient_heterogeneity(p, w0)
    gini = float(np.median(np.atleast_1d(het.gini)))
    lg = float(np.median(np.atleast_1d(problems.l_g(p, w0)))) / view.l_p
    curves = tuple(curve(state, c) for c in state.optimizers)
    return Snapshot(state, view, gini, lg, curves, time.perf_counter() - t0)
