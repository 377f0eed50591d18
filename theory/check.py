"""``theory.check(result, bound)``: a measured run against a bound, at every recorded step.

Results store losses, gradient norms and (``per_block=True``) per-block gradient norms — not
errors — so the checks use quantities that THEORY shows contract by the same factors:

* the loss ℓ = ½eᵀHe (= ½uᵀPu for the Adam variants) contracts per step by rate² because the
  iteration matrix commutes with H (with P) (THEORY §2, §4);
* for GD, g = He obeys g_{t+1} = (I − ηH) g_t, so ‖g‖ contracts by the error's rate; for
  blockwise GD and the Adam-mini variant the same holds block by block (THEORY §3, §4);
* hitting times T(ε) (loss), T_ε (gradient norms, THEORY §8.3) are compared as integers.

Every part reports ``slack`` ≥ 1 when the bound holds: bound/measured for upper bounds,
measured/bound for lower bounds. Tolerances (module constants) are explicit and justified below;
a part holds for a run iff every compared step has slack ≥ 1 − tol.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

from hetquad.problems.validation import in_range
from .lower_bound import LowerBound
from .rates import ZhangPrediction
from .records import RateBound
from .normalized import NormalizedPlateau
from .sign_descent import SignPlateau
from .tomihari import IterationBound, LinearHeadSignUpdate, StochasticBound

# Per-step ratios: one step of e ← (I − ηA)e in float64 perturbs the result by ~d·ε_mach·κ(A)
# relative to ‖e‖ (≤ 1e-10 for d ≤ 100, κ ≤ 1e4); the bound is attained exactly at η* on the
# THEORY §2 construction, so some slack for round-off is needed. THEORY §2/§4 use 1e-12–1e-9.
RATIO_RTOL = 1e-9
# Aggregated loss bounds ℓ_t vs c·ρ^{2t}ℓ_0 accumulate t per-step round-offs (t ≤ 1e4 here).
LOSS_RTOL = 1e-9
# Stop comparing once the loss fell 24 decades (‖e‖ by 12: THEORY §2's "‖e‖ ≤ 1e-12‖w*‖" floor,
# expressed relative to ℓ_0 since results do not carry w*), and below 1e-200 (sums of squares
# of sub-1e-154 numbers underflow; THEORY §3's "‖e_l‖ > 1e-100").
LOSS_REL_FLOOR = 1e-24
ABS_FLOOR = 1e-200
NORM_FLOOR = 1e-100
# Prop. 4.10 updates are sums of ±η over the steps: exact up to the summation round-off
# steps·ε_mach·max|w| (×4 for the w − η·s subtraction order); never below THEORY §8.5's 1e-12.
EXACT_ATOL = 1e-12
# Monte-Carlo averages: the bound must hold within 3 standard errors of the run-average.
MC_SIGMAS = 3.0
# A run is at the bound's lr when they agree to 1e-9 (theory.registry.PARAM_RTOL, which ``applies``
# uses): configs store the lr as given, so only a re-derived lr (η* recomputed) differs, by ~1e-15.
LR_RTOL = 1e-9


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class CheckPart:
    """One measured-vs-bounded comparison.

    Attributes
    ----------
    quantity : str
    kind : {'upper', 'lower', 'equal'}
    steps : (K,) array          steps at which it was compared
    measured, bounded : (runs, K) arrays   NaN where not compared
    slack : (runs, K) array     ≥ 1 ⇔ holds (bound/measured or measured/bound)
    holds : (runs,) bool array
    tol : float                 a step holds iff slack ≥ 1 − tol
    """

    quantity: str
    kind: str
    steps: np.ndarray
    measured: np.ndarray
    bounded: np.ndarray
    slack: np.ndarray
    holds: np.ndarray
    tol: float

    @property
    def run_slack(self) -> np.ndarray:
        """Smallest slack of each run (NaN if nothing was compared)."""
        flat = self.slack.reshape(self.slack.shape[0], -1)
        if flat.shape[1] == 0:
            return np.full(flat.shape[0], np.nan)
        out = np.where(np.isnan(flat), np.inf, flat).min(axis=1)
        return np.where(np.all(np.isnan(flat), axis=1), np.nan, out)


@dataclass(frozen=True)
class CheckRecord:
    """``theory.check``'s answer: the parts and, per run, whether all of them hold."""

    bound: str
    parts: tuple

    @property
    def holds(self) -> np.ndarray:
        return np.logical_and.reduce([p.holds for p in self.parts])

    @property
    def all_hold(self) -> bool:
        return bool(np.all(self.holds))

    @property
    def violations(self) -> int:
        return int(np.sum(~self.holds))

    def part(self, quantity: str) -> CheckPart:
        for p in self.parts:
            if p.quantity == quantity:
                return p
        raise KeyError(f"no part {quantity!r}; parts: {[p.quantity for p in self.parts]}")


def compare(quantity, kind, steps, measured, bounded, tol) -> CheckPart:
    """One ``CheckPart``: slack = bounded/measured ('upper') or measured/bounded ('lower') per
    (run, step); a run holds iff every compared step has slack ≥ 1 − tol (NaN: not compared)."""
    measured = np.asarray(measured, dtype=float)
    bounded = np.broadcast_to(np.asarray(bounded, dtype=float), measured.shape).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        slack = bounded / measured if kind == "upper" else measured / bounded
        if kind == "upper":
            slack = np.where(measured <= 0, np.inf, slack)  # a zero measured value cannot violate
        slack = np.where(np.isnan(measured) | np.isnan(bounded), np.nan, slack)
        ok = np.where(np.isnan(slack), True, slack >= 1.0 - tol)
    holds = ok.all(axis=tuple(range(1, ok.ndim))) if ok.ndim > 1 else ok
    return CheckPart(quantity, kind, np.asarray(steps), measured, bounded, slack, np.asarray(holds), tol)


def _ratios(x: np.ndarray, floor: np.ndarray | float):
    """x[:, k]/x[:, k−1] where x[:, k−1] > floor (else NaN); x is (runs, K[, B])."""
    prev, cur = x[:, :-1], x[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cur / prev
    return np.where(prev > floor, r, np.nan)


def _hitting(result, values: np.ndarray, threshold) -> tuple[np.ndarray, np.ndarray]:
    """(T_lo, T_hit) per run: the first recorded step with value ≤ threshold is T_hit; the true
    first step lies in [T_lo, T_hit] with T_lo = previous recorded step + 1 (T_hit if it is 0).
    inf where never reached."""
    steps = np.asarray(result.steps)
    thr = np.broadcast_to(np.asarray(threshold, dtype=float).reshape(-1, 1), values.shape)
    with np.errstate(invalid="ignore"):
        hit = values <= thr
    first = np.argmax(hit, axis=1)
    reached = hit.any(axis=1)
    t_hit = np.where(reached, steps[first], np.inf).astype(float)
    prev = np.where(first > 0, steps[np.maximum(first - 1, 0)] + 1, steps[first])
    t_lo = np.where(reached, prev, np.inf).astype(float)
    return t_lo, t_hit


def _last_step(result) -> np.ndarray:
    """Last step each run was recorded at (runs stop early on tol / divergence)."""
    ok = ~np.isnan(result.loss)
    idx = np.where(ok.any(axis=1), ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1), 0)
    return np.asarray(result.steps)[idx].astype(float)


def _upper_time(quantity, result, t_lo, bound) -> CheckPart:
    """T ≤ bound, exact integers; undecided (NaN) if not reached before the run ended short of it."""
    bound = np.broadcast_to(np.asarray(bound, dtype=float), t_lo.shape)
    last = _last_step(result)
    measured = np.where(np.isinf(t_lo) & (last < bound), np.nan, t_lo)
    return compare(quantity, "upper", np.array([0]), measured[:, None], bound[:, None], 0.0)


def _is_spec(type_name, names) -> bool:
    """Whether a config's ``type`` (a spec's class name) is one of the ``sims`` spec ``names``.

    ``sims`` names a spec by its class name in lower case with '-' between words (``AdamMini`` is
    'adam-mini'); ``theory`` never imports ``sims``, so the two are compared with hyphens and case
    dropped (tests/theory/test_config_mismatch.py pins the rule to every spec of ``sims.OPTIMIZERS``).
    """
    return isinstance(type_name, str) and type_name.lower() in {n.replace("-", "").lower() for n in names}


def _run_lr(opt: dict) -> np.ndarray:
    """The step sizes of a run's optimizer config: its lr (one per run, or one), times its per-block
    ``lrs`` when it has them (BlockwiseGD): shape (runs or 1,) or (runs or 1, blocks)."""
    lr = np.atleast_1d(np.asarray(opt["lr"], dtype=float))
    if "lrs" not in opt:
        return lr
    return lr[:, None] * np.atleast_2d(np.asarray(opt["lrs"], dtype=float))


def _config_lr_mismatch(result, bound, row) -> None:
    """``ValueError`` when the run is one of ``row.optimizers`` at other step sizes than the bound's.

    ``row.run_lr(bound)`` (a number, or one per block) is the step size that makes ``bound`` the
    run's own; rows without it, runs of other optimizers and configs without an lr are not compared.
    """
    opt = (getattr(result, "config", None) or {}).get("optimizer") or {}
    if row.run_lr is None or "lr" not in opt or not _is_spec(opt.get("type"), row.optimizers):
        return
    want = np.asarray(row.run_lr(bound), dtype=float)
    try:
        used = _run_lr(opt)
    except ValueError:  # ragged per-run lrs rows: nothing comparable
        used = np.array([math.nan])
    fits = used.shape[-1:] == want.shape if want.ndim else used.ndim == 1
    if fits and np.allclose(used, want, rtol=LR_RTOL, atol=0.0):
        return
    ran = used[0].tolist() if used.shape[0] == 1 else used.tolist()  # one run's, else every run's
    if want.ndim:
        raise ValueError(f"{bound.name} holds at the per-block optimal lrs {tuple(want.tolist())}, "
                         f"the run used {ran}")
    how = (f"build the bound with lr={opt['lr']!r}" if "lr" in inspect.signature(row.function).parameters
           else f"run at lr = {float(want):.6g}")
    shown = f"{ran:.6g}" if isinstance(ran, float) else str(ran)
    raise ValueError(f"{bound.name} holds at lr = {float(want):.6g}, the run used lr = {shown}; {how}")


def _loss_floor(loss: np.ndarray) -> np.ndarray:
    return np.maximum(LOSS_REL_FLOOR * loss[:, :1], ABS_FLOOR)


# -- the checkers ------------------------------------------------------------------------------
def _check_rate(result, b: RateBound, eps: float) -> CheckRecord:
    steps = np.asarray(result.steps)
    dt = np.diff(steps).astype(float)
    loss = result.loss
    parts = [compare("loss ratio per step", "upper", steps[1:], _ratios(loss, _loss_floor(loss)),
                     b.per_step_loss_factor ** dt, RATIO_RTOL)]
    if b.name == "gd_rate":
        gn = result.grad_norm
        parts.append(compare("gradient-norm ratio per step", "upper", steps[1:],
                             _ratios(gn, np.maximum(1e-12 * gn[:, :1], NORM_FLOOR)),
                             b.rate ** dt, RATIO_RTOL))
    block_contracts = b.name in ("blockwise_gd_rate", "adam_mini_variant_rate") and b.block_rates is not None
    if block_contracts and result.block_grad_norm is not None:
        bn = result.block_grad_norm
        rates = np.asarray(b.block_rates)[None, None, :] ** dt[None, :, None]
        parts.append(compare("block gradient-norm ratio per step", "upper", steps[1:],
                             _ratios(bn, NORM_FLOOR), rates, RATIO_RTOL))
    t_lo, _ = _hitting(result, loss, eps * loss[:, 0])
    parts.append(_upper_time(f"T({eps:g})", result, t_lo, b.iterations(eps)))
    return CheckRecord(b.name, tuple(parts))


def _check_lower(result, b: LowerBound, eps: float) -> CheckRecord:
    steps = np.asarray(result.steps, dtype=float)
    ratio = result.loss / result.loss[:, :1]
    lower = b.loss_bound(steps)[None, :]
    compared = (steps[None, :] > 0) & (lower > ABS_FLOOR / np.maximum(result.loss[:, :1], 1e-300))
    measured = np.where(compared, ratio, np.nan)
    parts = [compare("loss / (1/2 rho*^(2t) loss0)", "lower", steps, measured, lower, LOSS_RTOL)]
    t_lo, _ = _hitting(result, result.loss, eps * result.loss[:, 0])
    parts.append(compare(f"T({eps:g}) lower bound", "lower", np.array([0]), t_lo[:, None],
                         np.full((t_lo.size, 1), b.iterations(eps)), 0.0))
    return CheckRecord(b.name, tuple(parts))


def _check_zhang(result, b: ZhangPrediction, eps: float) -> CheckRecord:
    steps = np.asarray(result.steps)
    loss = result.loss
    parts = [compare("loss ratio per step <= 1 - 1/(r kappa_max)", "upper", steps[1:],
                     _ratios(loss, _loss_floor(loss)), b.adam_loss_factor ** np.diff(steps).astype(float), RATIO_RTOL)]
    t_lo, _ = _hitting(result, loss, eps * loss[:, 0])
    parts.append(_upper_time(f"T({eps:g}) <= Zhang prediction", result, t_lo, b.iterations(eps)["adam_zhang"]))
    return CheckRecord(b.name, tuple(parts))


def _coordinate_l1(result, d: int) -> np.ndarray:
    """‖g‖₁/√d from per-block norms of a run whose blocks are single coordinates."""
    bn = result.block_grad_norm
    if bn is None or bn.shape[-1] != d:
        raise ValueError(f"sign-based bounds measure ‖g‖₁/√d: run the problem partitioned into its d = {d} "
                         "coordinates with per_block=True (see hetquad.theory.suite.coordinate_view)")
    return bn.sum(axis=-1) / math.sqrt(d)


def _check_iterations(result, b: IterationBound) -> CheckRecord:
    if b.method == "gd":
        values = result.grad_norm
        bound = np.full(result.batch, b.bound)
        bn = result.block_grad_norm
        if bn is not None and bn.shape[-1] == len(b.sizes):
            # L̄_G = max_{t<T} L_G(w_t) along the run (THEORY §8.2), T the measured hitting time
            sq = bn ** 2
            with np.errstate(invalid="ignore", divide="ignore"):
                lg = (sq @ np.asarray(b.block_L)) / sq.sum(axis=-1)
            t_lo, _ = _hitting(result, values, b.eps)
            steps = np.asarray(result.steps)
            upto = steps[None, :] < np.where(np.isinf(t_lo), np.inf, t_lo)[:, None]
            lbar = np.nanmax(np.where(upto, lg, -np.inf), axis=1)
            lbar = np.where(np.isfinite(lbar), lbar, b.smoothness)
            bound = np.array([b.bound_for(x) for x in lbar])
        quantity = "T_eps(l2) with Lbar_G measured"
    else:
        values = _coordinate_l1(result, sum(b.sizes))
        bound = np.full(result.batch, b.bound)
        quantity = "T_eps(l1/sqrt d)"
    t_lo, _ = _hitting(result, values, b.eps)
    return CheckRecord(b.name, (_upper_time(quantity, result, t_lo, bound),))


def _check_stochastic(result, b: StochasticBound) -> CheckRecord:
    steps = np.asarray(result.steps)
    if not np.array_equal(steps, np.arange(steps.size)):
        raise ValueError("averaged stochastic bounds need every step recorded (record_every=1)")
    if result.batch < 2:
        raise ValueError(f"a Monte-Carlo check needs >= 2 runs, got {result.batch}")
    q = result.grad_norm ** 2 if b.method == "sgd" else _coordinate_l1(result, b.d)
    q = q[:, :-1]  # t = 0..T−1
    T = np.arange(1, q.shape[1] + 1, dtype=float)
    avg = np.cumsum(q, axis=1) / T                    # per run (1/T) Σ_{t<T}
    mean = avg.mean(axis=0)
    se = avg.std(axis=0, ddof=1) / math.sqrt(result.batch)
    bound = b.average_bound(T)
    quantity = "(1/T) sum E|g_t|^2" if b.method == "sgd" else "(1/T) sum E|g_t|_1/sqrt d"
    # holds iff the run-average is within MC_SIGMAS standard errors of satisfying the bound;
    # the slack is reported on the plain mean
    holds = np.array([bool(np.all(mean - MC_SIGMAS * se <= bound))])
    part = CheckPart(f"{quantity} (Monte-Carlo, {MC_SIGMAS:g} SE)", "upper", T, mean[None, :], bound[None, :],
                     (bound / mean)[None, :], holds, 0.0)
    return CheckRecord(b.name, (part,))


def _check_plateau(result, b: SignPlateau) -> CheckRecord:
    steps = np.asarray(result.steps)
    measured = np.where(steps[None, :] >= b.start, result.loss, np.nan)
    return CheckRecord(b.name, (compare("loss for t >= max_i ceil(|e0_i|/eta)", "upper", steps, measured, b.level,
                                        LOSS_RTOL),))


def _check_normalized_plateau(result, b: NormalizedPlateau) -> CheckRecord:
    """Both sides of THEORY §13: the level from ``start`` on, and the floor of f_t + f_{t+1} (every step)."""
    steps = np.asarray(result.steps)
    if steps.size < 2 or np.any(np.diff(steps) != 1):
        raise ValueError("normalized_gd_plateau's floor compares consecutive steps: run with record_every=1")
    measured = np.where(steps[None, :] >= b.start, result.loss, np.nan)
    pairs = result.loss[:, :-1] + result.loss[:, 1:]
    return CheckRecord(b.name, (compare("loss for t >= start", "upper", steps, measured, b.level, LOSS_RTOL),
                                compare("f_t + f_t+1", "lower", steps[:-1], pairs, b.floor, LOSS_RTOL)))


def _check_linear_head(result, b: LinearHeadSignUpdate) -> CheckRecord:
    if np.any(np.asarray(result.iterations) != b.steps):
        raise ValueError(f"the prediction covers {b.steps} steps ({b.epochs} epochs of {b.n_samples}); "
                         f"the run made {np.asarray(result.iterations).tolist()}")
    err = np.max(np.abs(result.w_final - b.w_pred[None, :]), axis=1)
    atol = max(EXACT_ATOL, 4.0 * max(b.steps, 1) * np.finfo(float).eps * float(np.max(np.abs(b.w_pred))))
    part = compare("max |w_T - w_pred|", "upper", np.array([b.steps]), err[:, None],
                   np.full((err.size, 1), atol), 0.0)
    return CheckRecord(b.name, (part,))


def _check_envelope(result, b, eps: float) -> CheckRecord:
    """Momentum methods (THEORY §12): ℓ_t/ℓ_0 ≤ b.loss_bound(t) at every recorded step, and T(ε)."""
    steps = np.asarray(result.steps)
    loss = result.loss
    ratio = loss / loss[:, :1]
    measured = np.where((steps[None, :] > 0) & (loss > _loss_floor(loss)), ratio, np.nan)
    parts = [compare("loss / loss0 <= envelope(t)", "upper", steps, measured, b.loss_bound(steps)[None, :],
                     LOSS_RTOL)]
    t_lo, _ = _hitting(result, loss, eps * loss[:, 0])
    parts.append(_upper_time(f"T({eps:g})", result, t_lo, b.iterations(eps)))
    return CheckRecord(b.name, tuple(parts))


def check(result, bound, *, eps: float = 1e-6) -> CheckRecord:
    """Compare a run (``sims.Result``) with a bound record from ``hetquad.theory``.

    Parameters
    ----------
    result : sims.Result
        The run(s). Per-block bounds use ``block_grad_norm`` when present (``per_block=True``);
        sign-based bounds need a run on ``theory.suite.coordinate_view(p)`` with ``per_block=True``.
    bound : a record from ``gd_rate``, ``blockwise_gd_rate``, ``adam_variant_rate``,
        ``adam_mini_variant_rate``, ``zhang_prediction``, ``gd_lower_bound``, ``tomihari_bounds(...).gd``
        / ``.sign`` / ``.sgd`` / ``.signsgd``, ``sign_descent_plateau``, ``linear_head_sign_update``,
        ``heavy_ball_rate`` or ``nesterov_rate`` (any record with a row in ``theory.registry``).
    eps : float in (0, 1]
        Relative loss target of the hitting-time parts T(ε) (rate and lower bounds).

    Returns
    -------
    CheckRecord
        ``holds`` per run, and per part the measured and bounded values at every compared step and
        the slack (≥ 1 ⇔ holds).

    Raises
    ------
    ValueError
        The run is one of the bound's row's ``optimizers`` but its config used another step size
        than ``row.run_lr(bound)`` (the bound is not this run's).
    """
    from .registry import row_for  # the one table of bounds says how each record is checked

    eps = in_range("eps", eps, 0.0, 1.0, closed="right")
    row = row_for(bound)
    _config_lr_mismatch(result, bound, row)
    return row.checker(result, bound, eps)


#: how each kind of bound record is compared with a run (``theory.registry`` rows point here)
CHECKERS = {
    RateBound: _check_rate,
    LowerBound: _check_lower,
    ZhangPrediction: _check_zhang,
    IterationBound: lambda result, b, eps: _check_iterations(result, b),
    StochasticBound: lambda result, b, eps: _check_stochastic(result, b),
    SignPlateau: lambda result, b, eps: _check_plateau(result, b),
    NormalizedPlateau: lambda result, b, eps: _check_normalized_plateau(result, b),
    LinearHeadSignUpdate: lambda result, b, eps: _check_linear_head(result, b),
}
