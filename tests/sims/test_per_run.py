"""Per-run hyper-parameters, batch independence, grids, one-call tune, memory estimates, stop rules.

The central property (issue 19 item 5): a run's trajectory is the same bits whether it runs
alone or at any position of any batch, with any batch mates, on the numpy engine, the numba
engine and the batched array code (xp=numpy, the cupy engine's code path).
"""
from __future__ import annotations

import importlib
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad import sims
from hetquad.problems.quadratic import block_quadratic
from hetquad.sims import engines, stopping
from hetquad.sims.engines import batched
from hetquad.sims.estimate import estimate
from hetquad.sims.grid import grid
from hetquad.sims.optimizers import FAMILIES, GD, Adam, AdamMini, BlockwiseGD, RMSProp, SignSGD, Signum
from hetquad.sims.optimizers import SGD, AdamW, Lion, NAdam, RAdam
from hetquad.sims.optimizers import LAMB, SM3, ClippedGD, NormalizedGD, Sophia
from hetquad.sims.run import build_task

ENGINES = ["numpy", "numba", "batched-numpy"]


# block sizes 5, 7, 5, 2: equal sizes not adjacent (gathered stacks), odd tile offsets
PROBLEM = block_quadratic([np.linspace(1.0, 10.0, 5), np.geomspace(0.5, 80.0, 7), np.linspace(0.3, 3.0, 5),
                           np.array([2.0, 4.0])], seed=3, w_star=np.linspace(-1.0, 2.0, 19))


@pytest.fixture(scope="module")
def problem():
    return PROBLEM


def _outcome(engine, p, opt, steps, **kw):
    if engine == "batched-numpy":
        traj = batched.simulate(build_task(p, opt, steps, **kw), xp=np)
        return dict(loss=traj.loss, grad_norm=traj.grad_norm, w_final=traj.w_final, final_loss=traj.final_loss,
                    iterations=traj.iterations, stop=stopping.labels(traj.stop), bgn=traj.block_grad_norm)
    r = sims.run(p, opt, steps, engine=engine, **kw)
    return dict(loss=r.loss, grad_norm=r.grad_norm, w_final=r.w_final, final_loss=r.final_loss,
                iterations=r.iterations, stop=r.stop_reason, bgn=r.block_grad_norm)


def _row(out: dict, i: int) -> dict:
    """Run i of an outcome (stop reasons are a tuple, the rest arrays with runs first)."""
    return {k: None if v is None else v[i] for k, v in out.items()}


def _identical(a, b):
    for k in a:
        if a[k] is None:
            assert b[k] is None
        elif isinstance(a[k], np.ndarray):
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            assert a[k] == b[k], k


# family -> spec from per-run values (lr, second hyper-parameter in [0, 1))
MAKERS = {
    "gd": lambda lr, h: GD(lr=lr),
    "blockwise-gd": lambda lr, h: BlockwiseGD(lr=lr, lrs=(0.1, 0.02, 0.5, 0.2)),
    "signum": lambda lr, h: Signum(lr=lr, momentum=h),
    "signsgd": lambda lr, h: SignSGD(lr=lr),
    "adam": lambda lr, h: Adam(lr=lr, beta1=h, beta2=0.99 + 0.009 * h, eps=1e-6),
    "adam-nobc": lambda lr, h: Adam(lr=lr, beta1=h, beta2=0.999, eps=1e-7, bias_correction=False),
    "adam-mini": lambda lr, h: AdamMini(lr=lr, beta1=h, eps=1e-6),
    "rmsprop": lambda lr, h: RMSProp(lr=lr, beta2=0.9 + 0.09 * h, eps=1e-3),
    # zoo-a: every numeric hyper-parameter of the issue-16 elementwise optimizers varies per run
    "sgd": lambda lr, h: SGD(lr=lr, momentum=h, dampening=0.5 * h, weight_decay=0.01 * h),
    "sgd-nesterov": lambda lr, h: SGD(lr=lr, momentum=0.05 + 0.9 * h, nesterov=True, weight_decay=0.02 * h),
    "adamw": lambda lr, h: AdamW(lr=lr, beta1=h, beta2=0.99 + 0.009 * h, eps=1e-6 * (1 + h), weight_decay=0.1 * h),
    "nadam": lambda lr, h: NAdam(lr=lr, beta1=h, beta2=0.99 + 0.009 * h, eps=1e-6, weight_decay=0.01 * h,
                                 momentum_decay=0.004 + 0.01 * h),
    "radam": lambda lr, h: RAdam(lr=lr, beta1=h, beta2=0.9 + 0.09 * h, eps=1e-6, weight_decay=0.01 * h,
                                 decoupled_weight_decay=True),
    "lion": lambda lr, h: Lion(lr=lr, beta1=h, beta2=0.99 - 0.5 * h, weight_decay=0.1 * h),
    "adam-mini-max": lambda lr, h: AdamMini(lr=lr, beta1=h, eps=1e-6, reducer="max"),
    "adam-mini-norm": lambda lr, h: AdamMini(lr=lr, beta1=h, beta2=0.99 + 0.009 * h, eps=1e-6, reducer="norm"),
    # zoo-c: the per-block and elementwise rules numba renders too
    "lamb": lambda lr, h: LAMB(lr=lr, beta1=h, beta2=0.99 + 0.009 * h, eps=1e-6 * (1 + h), weight_decay=0.01 * h),
    "sm3": lambda lr, h: SM3(lr=lr, momentum=h, beta=0.5 * h, eps=1e-30 * (1 + h), shapes=(None, (7, 1), None, (1, 2))),
    "sophia": lambda lr, h: Sophia(lr=lr, beta1=h, beta2=0.9 + 0.09 * h, gamma=0.5 + h, weight_decay=0.01 * h, k=2),
    "normalized-gd": lambda lr, h: NormalizedGD(lr=lr, eps=0.1 * h, per_block=True),
    "clipped-gd": lambda lr, h: ClippedGD(lr=lr, max_norm=0.5 + h, per_block=True),
}
# specs whose draws follow a run's index in the batch (as GaussianNoise): the same bits in any
# batch *at the same index*, so they are only in the cross-engine table
INDEXED = {"sophia-hutchinson": lambda lr, h: Sophia(lr=lr, beta1=h, gamma=0.5 + h, hessian="hutchinson", k=2,
                                                     seed=1)}
LR_RANGE = {"gd": (0.002, 0.02), "blockwise-gd": (0.5, 1.5), "sgd": (0.002, 0.02), "sgd-nesterov": (0.002, 0.01),
            "normalized-gd": (0.001, 0.01), "clipped-gd": (0.002, 0.02)}


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(MAKERS)), engine=st.sampled_from(ENGINES), n=st.integers(1, 7),
       data=st.data(), seed=st.integers(0, 2**16))
def test_a_run_is_the_same_bits_alone_and_at_any_position_of_any_batch(name, engine, n, data, seed):
    pos = data.draw(st.integers(0, n - 1))
    rng = np.random.default_rng(seed)
    lo, hi = LR_RANGE.get(name, (1e-3, 5e-2))
    lrs = rng.uniform(lo, hi, n)
    hs = rng.uniform(0.0, 0.95, n)
    w0 = np.asarray(PROBLEM.w_star) + rng.standard_normal((n, PROBLEM.d))
    make = MAKERS[name]
    kw = dict(record_every=3, per_block=True, tol=0.05)
    batch = _outcome(engine, PROBLEM, make(lrs, hs), 40, w0=w0, **kw)
    alone = _outcome(engine, PROBLEM, make(float(lrs[pos]), float(hs[pos])), 40, w0=w0[pos:pos + 1], **kw)
    _identical(_row(alone, 0), _row(batch, pos))


def test_the_test_table_covers_every_family(problem):
    """The family registry and the optimizer table agree: every family has a row here and in
    test_optimizers.OPTIMIZERS (through its spec's lowered record)."""
    from tests.sims.test_optimizers import OPTIMIZERS as TABLE, PROBLEM as TP  # noqa: PLC0415
    covered = {next(k for k, c in FAMILIES.items() if isinstance(make(TP).lower(TP), c))
               for _, make in TABLE if hasattr(make(TP), "lower")}  # xp-only specs have no family
    assert covered == set(FAMILIES)
    here = {next(k for k, c in FAMILIES.items() if isinstance(m(0.01, 0.5).lower(problem), c)) for m in MAKERS.values()}
    assert here == set(FAMILIES)


@pytest.mark.parametrize("engine", ["numba", "batched-numpy"])
@pytest.mark.parametrize("name", sorted(MAKERS) + sorted(INDEXED))
def test_per_run_hyper_parameters_agree_across_engines(problem, name, engine):
    rng = np.random.default_rng(1)
    lo, hi = LR_RANGE.get(name, (1e-3, 5e-2))
    opt = {**MAKERS, **INDEXED}[name](rng.uniform(lo, hi, 5), rng.uniform(0.0, 0.9, 5))
    kw = dict(seed=4, record_every=7, per_block=True, tol=0.05)
    got, ref = _outcome(engine, problem, opt, 60, **kw), _outcome("numpy", problem, opt, 60, **kw)
    assert got["stop"] == ref["stop"]
    np.testing.assert_array_equal(got["iterations"], ref["iterations"])
    for k in ("loss", "grad_norm", "final_loss", "bgn"):
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-10, atol=0, equal_nan=True, err_msg=k)


def test_blockwise_lrs_per_run(problem):
    rows = np.array([[0.1, 0.02, 0.5, 0.2], [0.05, 0.01, 0.3, 0.1]])
    res = sims.run(problem, BlockwiseGD(lrs=rows), 30, seed=[3, 4], engine="numba")
    for i in range(2):
        alone = sims.run(problem, BlockwiseGD(lrs=tuple(rows[i])), 30, seed=3 + i, engine="numba")
        np.testing.assert_array_equal(res.loss[i], alone.loss[0])
    np.testing.assert_array_equal(res.hyper["lrs"], rows)
    assert list(res.hyper.as_frame().columns) == ["lr", "lrs[0]", "lrs[1]", "lrs[2]", "lrs[3]"]


# -- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda: Adam(lr=[0.1, float("nan"), 0.2]), r"^lr\[1\] must be finite, got nan$"),
    (lambda: Adam(lr=[0.1, -0.2]), r"^lr\[1\] must be > 0, got -0.2$"),
    (lambda: Adam(lr=0.1, beta1=[0.5, 1.0]), r"^beta1\[1\] must be in \[0.0, 1.0\), got 1.0$"),
    (lambda: Adam(lr=[0.1, 0.2], beta1=[0.1, 0.2, 0.3]), r"lr has 2, beta1 has 3"),
    (lambda: Adam(lr=np.zeros((2, 2)) + 0.1), r"lr must be a number or a non-empty 1-D array"),
    (lambda: Adam(lr=[]), r"lr must be a number or a non-empty 1-D array"),
    (lambda: Signum(lr=0.1, momentum=[0.5, -0.1]), r"momentum\[1\] must be in"),
    (lambda: BlockwiseGD(lrs=[[0.1, 0.2], [0.1, -1.0]]), r"lrs\[1\]\[1\] must be > 0"),
    (lambda: RMSProp(lr=0.1, beta1=[0.0, 0.5]), r"RMSProp has beta1 = 0"),
    (lambda: SGD(lr=0.1, momentum=[0.5, 1.0]), r"^momentum\[1\] must be in \[0.0, 1.0\), got 1.0$"),
    (lambda: SGD(lr=0.1, momentum=[0.5, 0.0], nesterov=True), r"nesterov=True needs momentum > 0"),
    (lambda: AdamW(lr=0.1, weight_decay=[0.1, -0.1]), r"^weight_decay\[1\] must be >= 0"),
    (lambda: NAdam(lr=0.1, momentum_decay=[0.1, 0.2, 0.3], beta1=[0.1, 0.2]), r"has 3, .* has 2|has 2, .* has 3"),
    (lambda: Lion(lr=0.1, beta2=[0.5, 1.0]), r"^beta2\[1\] must be in \[0.0, 1.0\)"),
])
def test_bad_per_run_values_name_the_argument_and_index(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("kw,match", [
    (dict(batch=4), r"^batch = 4 does not match lr with 3 per-run values: per-run arrays need one entry per run$"),
    (dict(w0=np.zeros((2, 19))), r"w0 with 2 rows does not match lr with 3 per-run values"),
    (dict(seed=[1, 2]), r"seed with 2 entries does not match lr with 3 per-run values"),
])
def test_a_per_run_length_that_is_not_the_batch_is_one_line(problem, kw, match):
    with pytest.raises(ValueError, match=match):
        sims.run(problem, GD(lr=[0.01, 0.02, 0.03]), 5, engine="numpy", **kw)


def test_result_hyper_has_one_value_per_run(problem):
    res = sims.run(problem, Adam(lr=[0.01, 0.02, 0.03], beta1=0.8), 5, engine="numpy")
    np.testing.assert_array_equal(res.hyper["lr"], [0.01, 0.02, 0.03])
    np.testing.assert_array_equal(res.hyper["beta1"], [0.8] * 3)
    assert set(res.hyper) == {"lr", "beta1", "beta2", "eps"}
    with pytest.raises(ValueError):
        res.hyper["lr"][0] = 1.0  # read-only
    frame = res.hyper.as_frame()
    assert frame.shape == (3, 4) and frame["lr"].tolist() == [0.01, 0.02, 0.03]
    assert res.config["batch"] == 3 and res.config["optimizer"]["lr"] == [0.01, 0.02, 0.03]


def test_per_run_specs_serialize_and_hash(problem):
    for spec in (Adam(lr=[0.01, 0.02], beta2=[0.9, 0.99]), BlockwiseGD(lrs=[[0.1, 0.2], [0.3, 0.4]], lr=[1.0, 2.0]),
                 AdamMini(lr=[0.1, 0.2], partition=np.arange(19) % 2),
                 SGD(lr=[0.1, 0.2], momentum=0.9, nesterov=True), AdamW(lr=0.1, weight_decay=[0.1, 0.2]),
                 NAdam(lr=0.1, momentum_decay=[0.1, 0.2], decoupled_weight_decay=True), RAdam(lr=[0.1, 0.2]),
                 Lion(lr=0.1, beta2=[0.9, 0.95]), AdamMini(lr=0.1, reducer="norm")):
        back = sims.from_dict(sims.to_dict(spec))
        assert back == spec and sims.config_hash(back) == sims.config_hash(spec)
    assert sims.config_hash(Adam(lr=[0.01, 0.02])) != sims.config_hash(Adam(lr=[0.01, 0.03]))
    assert sims.config_hash(Adam(lr=np.array([0.01, 0.02]))) == sims.config_hash(Adam(lr=(0.01, 0.02)))


# -- grids -----------------------------------------------------------------------------------
def test_grid_is_the_product_with_seeds_fastest(problem):
    g = grid(Adam, seeds=[5, 6], lr=[1e-3, 1e-2, 1e-1], beta1=[0.0, 0.9], eps=1e-6)
    assert g.n == 12 and g.optimizer.eps == 1e-6
    assert g.axes["lr"].tolist() == [1e-3] * 4 + [1e-2] * 4 + [1e-1] * 4
    assert g.axes["beta1"].tolist() == [0.0, 0.0, 0.9, 0.9] * 3
    assert g.seed == (5, 6) * 6
    res = g.run(problem, 25, engine="numba")
    for i in (0, 7, 11):
        alone = sims.run(problem, Adam(lr=g.axes["lr"][i], beta1=g.axes["beta1"][i], eps=1e-6), 25,
                         seed=g.seed[i], engine="numba")
        np.testing.assert_array_equal(res.loss[i], alone.loss[0])
    assert g.as_frame().shape == (12, 3)
    assert grid("gd", lr=[0.1, 0.2]).n == 2 and grid(BlockwiseGD, lrs=[[1, 2], [3, 4]]).optimizer.lrs == ((1, 2), (3, 4))


def test_grid_refuses_what_it_cannot_build():
    with pytest.raises(ValueError, match=r"the grid has 1000000000000 runs .*lr: 1000000"):
        grid(Adam, seeds=range(10**6), lr=np.ones(10**6))
    with pytest.raises(ValueError, match=r"seeds\[1\] must be >= 0"):
        grid(Adam, seeds=[1, -1], lr=[0.1])
    with pytest.raises(TypeError, match="optimizer must be"):
        grid(3.0, lr=[0.1])


# -- tune in one call ------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::hetquad.sims.TuneAtEdgeWarning")
@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("metric", ["final_loss", "iterations", "tail_grad"])
def test_tune_in_one_call_equals_the_loop_bit_for_bit(problem, engine, metric, monkeypatch):
    lrs = np.geomspace(1e-3, 3.0, 9)
    kw = dict(seed=2, batch=3, engine=engine, record_every=5)
    one = sims.tune(problem, lambda lr: Adam(lr=lr, eps=1e-6), lrs, 100, metric=metric, tol=0.3, **kw)
    tune_mod = importlib.import_module("hetquad.sims.tune")
    calls = []
    real_run = tune_mod.run
    monkeypatch.setattr(tune_mod, "_one_call", lambda *a: None)  # force one call per lr
    monkeypatch.setattr(tune_mod, "run", lambda *a, **k: calls.append(1) or real_run(*a, **k))
    loop = sims.tune(problem, lambda lr: Adam(lr=lr, eps=1e-6), lrs, 100, metric=metric, tol=0.3, **kw)
    assert len(calls) == lrs.size  # the reference really ran one call per lr
    assert one.table == loop.table and one.best_lr == loop.best_lr and one.best_score == loop.best_score


def test_tune_makes_one_engine_call(problem, monkeypatch):
    tune_mod = importlib.import_module("hetquad.sims.tune")
    calls = []
    real_run = tune_mod.run
    monkeypatch.setattr(tune_mod, "run", lambda *a, **k: calls.append(k.get("w0").shape[0]) or real_run(*a, **k))
    out = sims.tune(problem, lambda lr: GD(lr=lr), np.geomspace(1e-3, 0.3, 7), 20, batch=2, engine="numpy")
    assert calls == [14] and not out.at_edge


# -- memory estimate -------------------------------------------------------------------------
def test_steps_1e12_is_refused_at_once(problem):
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"^this run would allocate about .*TiB.*raise record_every") as err:
        sims.run(problem, Adam(lr=0.1), 10**12, engine="numpy")
    assert time.perf_counter() - t0 < 1.0 and "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"split the batch into chunks of <= \d+ runs"):
        sims.run(problem, GD(lr=0.01), 10**6, batch=10**4, engine="numpy", memory_budget=2**30)


@pytest.mark.parametrize("per_block", [False, True])
def test_estimate_of_the_records_matches_what_a_run_allocates(problem, per_block):
    steps, every, n = 200, 7, 5
    est = estimate(problem, GD(lr=0.01), steps, batch=n, record_every=every, per_block=per_block)
    res = sims.run(problem, GD(lr=0.01), steps, batch=n, record_every=every, per_block=per_block, engine="numpy")
    actual = res.loss.nbytes + res.grad_norm.nbytes + (res.block_grad_norm.nbytes if per_block else 0)
    row = actual // res.steps.size
    assert actual <= est.parts["records"] <= actual + row  # at most one spare record slot
    assert est.parts["schedule"] == 8 * steps and est.bytes == sum(est.parts.values())


# -- stop rules ------------------------------------------------------------------------------
def test_stop_rules_known_answers():
    loss0 = np.array([1.0, 2.0, 0.0, 1.0])
    thr = stopping.divergence_threshold(loss0)
    np.testing.assert_array_equal(thr, [1e12, 2e12, np.inf, 1e12])
    loss = np.array([1e12 + 1e-3 * 1e12, 1e-3, 0.0, np.nan])
    gsq = np.array([1.0, 1.0, np.inf, 1.0])
    div, hit = stopping.decide(loss, gsq, threshold=thr, tol=1e-2, loss0=loss0)
    assert div.tolist() == [True, False, True, True] and hit.tolist() == [False, True, False, False]
    assert stopping.labels([0, 1, 2]) == ("steps", "tol", "diverged") == stopping.STOP_REASONS
    assert engines.STOP_CODES == {0: "steps", 1: "tol", 2: "diverged"}
    assert all(stopping.MESSAGES[c] for c in stopping.StopCode)
