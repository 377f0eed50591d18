"""Every bound of ``hetquad.theory`` against measured runs on random instances (``hetquad check``).

For every bound (THEORY §10's table) draw random instances from ``theory.suite`` (documented
ranges, fixed master seed), run the matching optimizer(s) from ``hetquad.sims``, call
``theory.check`` and collect one row per checked quantity: instances, runs, violations, min /
median slack and every run's slack (the ``bound-slack`` figure plots them).

The bounds, their instance draws and expected slacks are the rows of ``theory.registry`` (the
table ``hetquad run``, sweeps and the bound-slack figure read too); the runners that need more
than the row's ``run_spec`` (several lrs, Monte-Carlo batches, views) are here, by row name.
This module joins two rooms (``theory`` never imports ``sims``), like ``hetquad.sweep``; the CLI
in ``hetquad.commands.check`` only parses options and prints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

EPS = 1e-6            # relative loss target of the hitting-time parts
STEP_CAP = 20_000     # longest deterministic run; a bound beyond it leaves T undecided (NaN)
MC_STEPS = 200        # horizon of the Monte-Carlo averages (THEORY §8.4)
LOWER_STEPS = 1500    # horizon of the lower-bound runs
MODES = {"quick": {"instances": 25, "mc_instances": 5, "mc_runs": 200, "lower_lrs": 4},
         "full": {"instances": 100, "mc_instances": 100, "mc_runs": 200, "lower_lrs": 10}}



def _expected() -> dict:
    """THEORY §10 "expected slack" column, printed beside the measured slack (``theory.registry`` rows)."""
    from hetquad.theory import registry
    return {r.name: r.expected for r in registry.ROWS}


@dataclass(frozen=True)
class Case:
    """One bound: how to draw its instances and how to run and check one instance."""

    name: str
    key: int                                   # spawn key of its instance streams
    draw: Callable                             # (n, seed, key) -> list[Instance]
    run: Callable                              # (instance, engine, mode, rng) -> list[CheckRecord]
    stochastic: bool = False


# -- runners ---------------------------------------------------------------------------------------
def _steps(bound_its: float) -> int:
    return int(min(bound_its + 5, STEP_CAP)) if math.isfinite(bound_its) else STEP_CAP


def _run_rate(make_bound, make_opt, per_block=False):
    def run(inst, engine, mode, rng):
        from hetquad import sims, theory
        b = make_bound(inst.problem, inst.w0)
        its = b.iterations(EPS)
        its = its["adam_zhang"] if isinstance(its, dict) else its  # zhang_prediction: the Adam side
        res = sims.run(inst.problem, make_opt(inst.problem, b), _steps(its), w0=inst.w0,
                       engine=engine, tol=EPS, per_block=per_block)
        return [theory.check(res, b, eps=EPS)]
    return run


def _run_gd(inst, engine, mode, rng):
    """GD at η* and at a random η ∈ η*·[0.5, 1) (``gd_rate(p, lr=η)``)."""
    from hetquad import sims, theory
    out = []
    for lr in (None, float(rng.uniform(0.5, 1.0)) * 2.0 / (inst.problem.L + inst.problem.mu)):
        b = theory.gd_rate(inst.problem, lr=lr)
        res = sims.run(inst.problem, sims.GD(lr=b.lr), _steps(b.iterations(EPS)), w0=inst.w0, engine=engine, tol=EPS)
        out.append(theory.check(res, b, eps=EPS))
    return out


def _run_lower(inst, engine, mode, rng):
    """The construction init under GD at η* and at lrs on a log grid over [1e-3/L, 3/L]."""
    from hetquad import sims, theory
    p = inst.problem
    b = theory.gd_lower_bound(p)
    lrs = [b.lr, *np.geomspace(1e-3, 3.0, MODES[mode]["lower_lrs"]) / p.L]
    out = []
    for lr in lrs:
        res = sims.run(p, sims.GD(lr=float(lr)), LOWER_STEPS, w0=b.w0, engine=engine, tol=EPS)
        out.append(theory.check(res, b, eps=EPS))
    return out


def _run_mini(inst, engine, mode, rng):
    from hetquad import sims, theory
    from hetquad.theory.check import CheckRecord, compare
    b = theory.adam_mini_variant_rate(inst.problem, inst.w0)
    res = sims.run(inst.problem, sims.AdamMini.theorem_variant(b.lr), _steps(b.iterations(EPS)), w0=inst.w0,
                   engine=engine, tol=EPS, per_block=True)
    rec = theory.check(res, b, eps=EPS)
    # THEORY §4: κ(P_mini) ≥ max_l κ_l on every block-diagonal instance
    kmax = float(np.max(inst.problem.block_kappas))
    static = compare("kappa(P_mini) >= max kappa_l", "lower", np.array([0]), [[b.kappa]], kmax, 1e-12)
    return [CheckRecord(rec.bound, rec.parts + (static,))]


def _tomihari(inst, rng, sigma_frac=0.0):
    from hetquad import theory
    g0 = float(np.linalg.norm(inst.problem.grad(inst.w0)))
    alpha = float(rng.choice([0.5, 1.0, 1.5]))
    return theory.tomihari_bounds(inst.problem, inst.w0, 0.05 * g0, sigma_frac * g0, alpha=alpha)


def _run_tomihari_gd(inst, engine, mode, rng):
    from hetquad import sims, theory
    tb = _tomihari(inst, rng)
    res = sims.run_adaptive_gd(inst.problem, inst.w0, alpha=tb.alpha, delta=tb.delta, eps=tb.eps, steps=_steps(tb.gd.bound))
    return [theory.check(res, tb.gd)]


def _run_tomihari_sign(inst, engine, mode, rng):
    from hetquad import sims, theory
    tb = _tomihari(inst, rng)
    view = theory.suite.coordinate_view(inst.problem)
    res = sims.run(view, sims.SignSGD(lr=tb.sign.lr), _steps(tb.sign.bound), w0=inst.w0, engine=engine, per_block=True)
    return [theory.check(res, tb.sign)]


def _run_stochastic(method):
    def run(inst, engine, mode, rng):
        from hetquad import sims, theory
        tb = _tomihari(inst, rng, sigma_frac=float(rng.uniform(0.1, 1.0)))
        b = getattr(tb, method)
        noise = sims.GaussianNoise(b.noise_std, seed=int(rng.integers(2**31)))
        runs = MODES[mode]["mc_runs"]
        if method == "sgd":
            res = sims.run(inst.problem, sims.GD(lr=b.lr), MC_STEPS, w0=np.tile(inst.w0, (runs, 1)), noise=noise,
                           engine="numpy")
        else:
            view = theory.suite.coordinate_view(inst.problem)
            res = sims.run(view, sims.SignSGD(lr=b.lr), MC_STEPS, w0=np.tile(inst.w0, (runs, 1)), noise=noise,
                           engine="numpy", per_block=True)
        return [theory.check(res, b)]
    return run


def _run_plateau(inst, engine, mode, rng):
    from hetquad import sims, theory
    b = theory.sign_descent_plateau(inst.problem, inst.info["lr"], inst.w0)
    res = sims.run(inst.problem, sims.SignSGD(lr=b.lr), b.start + 100, w0=inst.w0, engine=engine)
    return [theory.check(res, b)]


def _run_normalized(inst, engine, mode, rng):
    from hetquad import sims, theory
    b = theory.normalized_gd_plateau(inst.problem, inst.info["lr"], inst.w0)
    res = sims.run(inst.problem, sims.NormalizedGD(lr=b.lr), b.start + 100, w0=inst.w0, engine=engine)
    return [theory.check(res, b)]


def _run_linear_head(inst, engine, mode, rng):
    from hetquad import sims, theory
    head = inst.problem
    b = theory.linear_head_sign_update(head, inst.info["lr"], inst.w0, epochs=inst.info["epochs"])
    res = sims.run(head, sims.SignSGD(lr=b.lr), b.steps, w0=inst.w0, noise=sims.MiniBatch(size=1, order="cyclic"),
                   engine="numpy")
    return [theory.check(res, b)]


def _run_spec(row):
    """The default runner of a registry row with a ``run_spec``: its optimizer from the instance's w0."""
    def run(inst, engine, mode, rng):
        from hetquad import sims, theory
        b = getattr(theory, row.function.__name__)(inst.problem)
        name, kwargs = row.run_spec(inst.problem, b)
        res = sims.run(inst.problem, sims.make(name, **kwargs), _steps(b.iterations(EPS)), w0=inst.w0,
                       engine=engine, tol=EPS)
        return [theory.check(res, b, eps=EPS)]
    return run


def _runners() -> dict:
    """Dedicated runners, by registry row name (rows with a ``run_spec`` need none)."""
    from hetquad import sims, theory
    return {
        "gd_rate": _run_gd,
        "gd_lower_bound": _run_lower,
        "blockwise_gd_rate": _run_rate(lambda p, w0: theory.blockwise_gd_rate(p),
                                       lambda p, b: sims.BlockwiseGD.optimal(p), per_block=True),
        "adam_variant_rate": _run_rate(theory.adam_variant_rate, lambda p, b: sims.Adam.theorem_variant(b.lr)),
        "adam_mini_variant_rate": _run_mini,
        "zhang_prediction": _run_rate(theory.zhang_prediction, lambda p, b: sims.Adam.theorem_variant(b.lr)),
        "tomihari_bounds.gd": _run_tomihari_gd,
        "tomihari_bounds.sign": _run_tomihari_sign,
        "tomihari_bounds.sgd": _run_stochastic("sgd"),
        "tomihari_bounds.signsgd": _run_stochastic("signsgd"),
        "sign_descent_plateau": _run_plateau,
        "linear_head_sign_update": _run_linear_head,
        "normalized_gd_plateau": _run_normalized,
    }


def _draws() -> dict:
    """``theory.suite`` draws by a registry row's ``instances``."""
    from hetquad.theory import suite
    return {
        "quadratic": lambda n, seed, key: suite.quadratic_instances(n, seed=seed, key=key),
        "coupled": lambda n, seed, key: suite.quadratic_instances(n, seed=seed, key=key, coupling=True),
        "plateau": lambda n, seed, key: suite.plateau_instances(n, seed=seed, key=key),
        "linear_head": lambda n, seed, key: suite.linear_head_instances(n, seed=seed, key=key),
    }


def _cases() -> list[Case]:
    """One case per row of ``theory.registry`` (the one table of bounds)."""
    from hetquad.theory import registry

    runners, draws = _runners(), _draws()
    cases = []
    for row in registry.ROWS:
        run = runners.get(row.name) or (_run_spec(row) if row.run_spec else None)
        if run is None:
            raise RuntimeError(f"bound {row.name!r} has neither a run_spec nor a runner in hetquad.checks")
        cases.append(Case(row.name, row.key, draws[row.instances], run, stochastic=row.stochastic))
    return cases


def case_names() -> list[str]:
    return [c.name for c in _cases()]


# -- the table -------------------------------------------------------------------------------------
def run_case(case: Case, *, n: int, seed: int, engine: str, mode: str) -> list[dict]:
    """Run one bound on n instances; one row per checked quantity."""
    parts: dict[str, list] = {}
    instances = case.draw(n, seed, case.key)
    for i, inst in enumerate(instances):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(case.key, 1_000_003, i)))
        for rec in case.run(inst, engine, mode, rng):
            for part in rec.parts:
                parts.setdefault(part.quantity, []).append(part)
    rows = []
    for quantity, plist in parts.items():
        holds = np.concatenate([p.holds for p in plist])
        slack = np.concatenate([p.run_slack for p in plist])
        finite = slack[np.isfinite(slack)]
        rows.append({"bound": case.name, "quantity": quantity, "instances": len(instances), "runs": int(holds.size),
                     "slacks": [None if not math.isfinite(s) else float(s) for s in slack],
                     "compared": int(np.sum(~np.isnan(slack))), "violations": int(np.sum(~holds)),
                     "min_slack": float(finite.min()) if finite.size else math.nan,
                     "median_slack": float(np.median(finite)) if finite.size else math.nan,
                     "expected": _expected().get(case.name, "")})
    return rows


def run_checks(*, quick: bool = False, seed: int = 0, engine: str = "auto", only: list[str] | None = None,
               instances: int | None = None) -> list[dict]:
    """All bounds (or ``only`` those) on the suite; the rows of ``hetquad check``'s table."""
    mode = "quick" if quick else "full"
    rows = []
    for case in _cases():
        if only and case.name not in only:
            continue
        n = instances or MODES[mode]["mc_instances" if case.stochastic else "instances"]
        rows.extend(run_case(case, n=n, seed=seed, engine=engine, mode=mode))
    return rows
