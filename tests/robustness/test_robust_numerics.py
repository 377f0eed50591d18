"""Numerical faults end as a recorded stop reason per run, never as a silent NaN or a frozen run:
divergence (lr far above 2/L), overflow of Adam's second moment, underflow to 0 in sign methods,
ε = 0 with a gradient coordinate that is exactly 0. The other runs of the batch are bit-identical
to running them alone, and ``Result.summary`` / the sweep summary count the stop reasons.
"""
from __future__ import annotations

import tomllib
import warnings

import numpy as np
import pytest

import hetquad
from hetquad import config, sims, sweep
from hetquad.problems.quadratic import BlockQuadratic, block_quadratic
from hetquad.sims import engines

ENGINES = [e for e in ("numpy", "numba") if e in engines.available()]
# identity rotation: H = diag(1, 2 | 3, 4, 5), so each coordinate is an eigen-direction
P = block_quadratic([[1.0, 2.0], [3.0, 4.0, 5.0]], rotation="identity", seed=0)


def _alone(engine, opt, w0_row, steps):
    return sims.run(P, opt, steps, w0=w0_row[None, :], engine=engine)


def _assert_run_equals_alone(res, i, alone):
    np.testing.assert_array_equal(res.loss[i], alone.loss[0])
    np.testing.assert_array_equal(res.w_final[i], alone.w_final[0])
    assert res.stop_reason[i] == alone.stop_reason[0]


@pytest.mark.parametrize("engine", ENGINES)
def test_divergence_is_recorded_per_run_and_spares_the_batch(engine):
    # lr = 0.5 > 2/L = 0.4: only the top direction (coordinate 4, λ = 5) grows, by |1 − 0.5·5| = 1.5
    # (λ = 4 sits exactly at |1 − 0.5·4| = 1: bounded, not growing)
    w0 = np.ones((3, 5))
    w0[1, 4] = 0.0  # run 1 has no component along it: it converges
    w0[2] *= 3.0
    res = sims.run(P, sims.GD(lr=0.5), 200, w0=w0, engine=engine)
    assert res.stop_reason == ("diverged", "steps", "diverged")
    for i in (0, 2):  # stopped at the first step with loss > 1e12·loss₀, and the loss is kept
        its = int(res.iterations[i])
        assert res.final_loss[i] > 1e12 * res.loss[i, 0] and np.isfinite(res.final_loss[i])
        assert np.all(res.loss[i, :its] <= 1e12 * res.loss[i, 0])  # not earlier
        assert np.isnan(res.loss[i, its + 1:]).all()
    _assert_run_equals_alone(res, 1, _alone(engine, sims.GD(lr=0.5), w0[1], 200))
    s = res.summary()
    assert (s["runs"], s["diverged"], s["steps"], s["tol"]) == (3, 2, 1, 0)


@pytest.mark.parametrize("engine", ENGINES)
def test_overflowing_adam_second_moment_is_a_divergence_not_a_frozen_run(engine):
    # λ ≈ 1e300 with e ≈ 1e-140: loss ≈ 1e20 is finite but g ≈ 1e160 and g² = inf, so v = inf and
    # the update m/√v = 0 would freeze w while reporting 'steps'
    q = block_quadratic([[1e300, 1e299], [1.0]], rotation="identity")
    w0 = np.array([[1e-140, 1e-140, 1.0], [0.0, 0.0, 1.0]])  # run 1 lives in the benign block
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.sum(q.grad(w0[0]) ** 2)) and np.isfinite(q.loss(w0[0]))
    opt = sims.Adam(lr=1e-3)
    res = sims.run(q, opt, 20, w0=w0, engine=engine)
    assert res.stop_reason == ("diverged", "steps")
    assert res.iterations[0] == 1 and np.isnan(res.loss[0, 2:]).all()
    alone = sims.run(q, opt, 20, w0=w0[1:], engine=engine)
    np.testing.assert_array_equal(res.loss[1], alone.loss[0])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("opt", [sims.Adam.theorem_variant(0.05), sims.Adam(lr=0.05, eps=0.0),
                                 sims.RMSProp(lr=0.05, eps=0.0), sims.AdamMini(lr=0.05, eps=0.0, partition="coordinates")],
                         ids=["theorem-variant", "adam", "rmsprop", "adam-mini"])
def test_eps_zero_with_a_zero_gradient_coordinate_does_not_move_it(engine, opt):
    # coordinate 2 starts at its optimum and H is diagonal: g_2 = 0 forever, m = v = 0, 0/0 := 0
    w0 = np.array([[1.0, -1.0, 0.0, 0.5, 2.0], [1.0, -1.0, 0.3, 0.5, 2.0]])
    res = sims.run(P, opt, 30, w0=w0, engine=engine)
    assert res.stop_reason == ("steps", "steps")
    assert np.all(np.isfinite(res.loss)) and np.all(np.isfinite(res.w_final))
    assert res.w_final[0, 2] == 0.0  # the coordinate did not move
    # the other coordinates evolve exactly as in the problem without coordinate 2
    sub = block_quadratic([[1.0, 2.0], [4.0, 5.0]], rotation="identity")
    keep = [0, 1, 3, 4]
    sub_opt = opt if not isinstance(opt, sims.AdamMini) else sims.AdamMini(lr=0.05, eps=0.0, partition="coordinates")
    ref = sims.run(sub, sub_opt, 30, w0=w0[:1, keep], engine="numpy")
    np.testing.assert_allclose(res.w_final[0, keep], ref.w_final[0], rtol=1e-12, atol=0)


@pytest.mark.parametrize("engine", ENGINES)
def test_eps_zero_over_a_vanished_second_moment_is_still_reported(engine):
    # the theorem variant needs every g0_i != 0 (THEORY §4): with a coupling, coordinate 0 starts
    # at g_0 = 0 but later moves, so m/0 = inf — that must be 'diverged', not hidden
    h = np.array([[2.0, 0.5], [0.5, 1.0]])
    q = BlockQuadratic([h])
    w0 = np.linalg.solve(h, np.array([0.0, 1.0]))[None, :]  # g0 = H w0 = (0, 1)
    res = sims.run(q, sims.Adam.theorem_variant(0.1), 10, w0=w0, engine=engine)
    assert res.stop_reason == ("diverged",) and res.iterations[0] == 2


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("make", [lambda: sims.SignSGD(lr=1e-310), lambda: sims.Signum(lr=1e-3, momentum=0.9)],
                         ids=["signsgd-subnormal-lr", "signum"])
def test_sign_methods_underflowing_to_zero_stay_finite(engine, make):
    # errors of 1e-300: losses underflow to exactly 0; sign(0) = 0 keeps w put, nothing becomes NaN
    w0 = np.vstack([np.full(5, 1e-300), np.zeros(5), np.ones(5)])
    res = sims.run(P, make(), 20, w0=w0, engine=engine, tol=1e-6)
    assert not np.isnan(res.w_final).any() and np.all(np.isfinite(res.final_loss))
    assert res.loss[0, 0] == 0.0 and res.loss[1, 0] == 0.0  # underflowed / exact optimum
    assert res.stop_reason[0] == res.stop_reason[1] == "tol"  # 0 ≤ tol·0: reached, not diverged
    assert res.stop_reason[2] in ("steps", "tol")
    assert res.summary()["diverged"] == 0


def test_summary_of_runs_started_at_the_optimum_has_no_ratio_and_no_warning():
    res = sims.run(P, sims.Adam(lr=1e-3), 5, w0=np.zeros((2, 5)), engine="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = res.summary()
    assert np.isnan(s["median_final_loss_ratio"]) and s["steps"] == 2


FAULTS = """
[sweep]
steps = 100
seeds = 3
engine = "numpy"

[problem]
name = "tau-kappa"
n_blocks = 2
block_size = 3

[axes]
kappa = [10.0]

[optimizers.gd-huge]
type = "gd"
lr = 1e3
[optimizers.adam-eps0]
type = "adam"
lr = 0.01
eps = 0.0
[optimizers.signsgd]
lr = 1e-3
"""


def test_sweep_records_numerical_faults_per_run_and_counts_them(tmp_path):
    cfg = config.parse(tomllib.loads(FAULTS))
    summary = sweep.execute(cfg, tmp_path / "s", workers=1, progress=False)
    table = hetquad.load(tmp_path / "s")[0]
    assert (summary.runs, summary.diverged, summary.ok, summary.failed) == (9, 3, 6, 0)
    huge = table[table.optimizer == "gd-huge"]
    assert (huge.status == "diverged").all() and huge.reason.str.startswith("diverged at iteration").all()
    rest = table[table.optimizer != "gd-huge"]
    assert (rest.status == "ok").all() and np.isfinite(rest.final_loss).all()
    assert summary.lines()[0].count("3 diverged") == 1
