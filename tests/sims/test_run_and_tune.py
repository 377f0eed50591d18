"""``sims.run`` and ``sims.tune``: the Result record, the recording grid, hitting times, per-block
norms, the lr search on a problem whose best lr is known, and w0 handling."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from hetquad import sims
from hetquad.problems.quadratic import block_quadratic
from hetquad.sims.optimizers import GD, Adam
from hetquad.sims.result import Result
from hetquad.sims.run import record_steps


@pytest.fixture(scope="module")
def problem():
    eigs = [np.linspace(1.0, 4.0, 3), np.geomspace(0.2, 20.0, 5), np.array([0.5, 2.0])]
    return block_quadratic(eigs, seed=7, w_star=np.arange(10.0) / 10)


# -- the Result record -----------------------------------------------------------------------
def test_result_fields_and_shapes(problem):
    res = sims.run(problem, Adam(lr=1e-2), 30, batch=4, seed=3, record_every=4, per_block=True,
                   engine="numpy")
    R = 9  # 0, 4, ..., 28 and the last step 30
    assert res.loss.shape == res.grad_norm.shape == (4, R) and res.batch == 4
    assert res.block_grad_norm.shape == (4, R, 3)
    assert res.steps.dtype.kind == "i" and res.steps.shape == (R,)
    assert res.stop_reason == ("steps",) * 4
    assert res.iterations.shape == (4,) and np.all(res.iterations == 30)
    assert res.final_loss.shape == (4,) and res.w_final.shape == (4, problem.d)
    np.testing.assert_array_equal(res.final_loss, res.loss[:, -1])
    np.testing.assert_allclose(problem.loss(res.w_final), res.final_loss, rtol=1e-14)
    assert res.engine == "numpy" and res.wall_time >= 0.0
    cfg = res.config
    assert cfg["steps"] == 30 and cfg["seed"] == 3 and cfg["batch"] == 4 and cfg["record_every"] == 4
    assert cfg["engine"] == "numpy" and cfg["per_block"] is True and cfg["tol"] is None
    assert cfg["problem"]["sizes"] == [3, 5, 2] and cfg["optimizer"]
    assert set(cfg["versions"]) >= {"hetquad", "numpy"}
    summary = res.summary()
    assert summary["runs"] == 4 and summary["steps"] == 4 and summary["diverged"] == 0
    assert sims.run(problem, Adam(lr=1e-2), 3, engine="numpy").block_grad_norm is None


def test_initial_records_are_the_initial_point(problem):
    w0 = np.asarray(problem.w_star) + np.linspace(-1.0, 1.0, problem.d)
    res = sims.run(problem, GD(lr=0.01), 5, w0=w0, engine="numpy")
    np.testing.assert_allclose(res.loss[0, 0], problem.loss(w0), rtol=1e-15)
    np.testing.assert_allclose(res.grad_norm[0, 0], np.linalg.norm(problem.grad(w0)), rtol=1e-14)


@pytest.mark.parametrize("steps,every,expected", [
    (50, 7, [0, 7, 14, 21, 28, 35, 42, 49, 50]),
    (49, 7, [0, 7, 14, 21, 28, 35, 42, 49]),
    (3, 1, [0, 1, 2, 3]),
    (0, 5, [0]),
    (4, 10, [0, 4]),
])
def test_record_every_grid(steps, every, expected):
    np.testing.assert_array_equal(record_steps(steps, every), expected)


def test_recorded_values_are_those_of_the_full_trajectory(problem):
    full = sims.run(problem, GD(lr=0.05), 50, batch=2, seed=1, engine="numpy")
    sparse = sims.run(problem, GD(lr=0.05), 50, batch=2, seed=1, record_every=7, engine="numpy")
    np.testing.assert_array_equal(sparse.loss, full.loss[:, sparse.steps])
    np.testing.assert_array_equal(sparse.grad_norm, full.grad_norm[:, sparse.steps])


# -- hitting times ---------------------------------------------------------------------------
def _result(loss, steps, grad_norm=None):
    loss = np.asarray(loss, dtype=float)
    return Result(loss=loss, grad_norm=loss if grad_norm is None else np.asarray(grad_norm, dtype=float),
                  steps=np.asarray(steps), stop_reason=("steps",) * loss.shape[0],
                  iterations=np.full(loss.shape[0], steps[-1]), final_loss=loss[:, -1],
                  w_final=np.zeros((loss.shape[0], 1)), engine="numpy", wall_time=0.0)


def test_iterations_to_on_a_hand_made_record():
    res = _result([[8.0, 4.0, 1.0, 0.5], [8.0, 8.0, 8.0, 8.0], [2.0, 0.1, np.nan, np.nan]],
                  steps=[0, 5, 10, 15], grad_norm=[[1.0, 1.0, 0.01, 0.01], [1, 1, 1, 1], [1, 1, 1, 1]])
    np.testing.assert_array_equal(res.iterations_to(0.5), [5.0, np.inf, 5.0])
    np.testing.assert_array_equal(res.iterations_to(0.125), [10.0, np.inf, 5.0])
    np.testing.assert_array_equal(res.iterations_to(0.01, metric="grad_norm"), [10.0, np.inf, np.inf])
    with pytest.raises(ValueError, match="metric must be 'loss' or 'grad_norm'"):
        res.iterations_to(0.5, metric="steps")


def test_iterations_to_matches_the_closed_form_on_the_recording_grid():
    lam = np.array([0.1, 1.0, 2.0])
    p = block_quadratic([lam], rotation="identity")
    lr, tol, e0 = 0.5, 1e-3, np.ones(3)
    t = np.arange(201)
    loss = 0.5 * np.sum(lam * e0 ** 2 * (1 - lr * lam)[None, :] ** (2 * t[:, None]), axis=1)
    first = int(np.argmax(loss <= tol * loss[0]))  # independent of the code under test
    res = sims.run(p, GD(lr=lr), 200, w0=e0, engine="numpy")
    assert res.iterations_to(tol)[0] == first
    coarse = sims.run(p, GD(lr=lr), 200, w0=e0, record_every=10, engine="numpy")
    assert coarse.iterations_to(tol)[0] == 10 * int(np.ceil(first / 10))


# -- per-block norms -------------------------------------------------------------------------
def test_per_block_norms_sum_of_squares_is_the_total(problem):
    res = sims.run(problem, Adam(lr=1e-2), 40, batch=3, per_block=True, engine="numpy")
    np.testing.assert_allclose((res.block_grad_norm ** 2).sum(axis=2), res.grad_norm ** 2, rtol=1e-12)
    g0 = problem.grad(sims.initial_points(problem, 3, 0))
    by_hand = np.stack([np.linalg.norm(g0[:, a:b], axis=1) for a, b in problem.offsets], axis=1)
    np.testing.assert_allclose(res.block_grad_norm[:, 0], by_hand, rtol=1e-13)


# -- tune ------------------------------------------------------------------------------------
LAM = 4.0


@pytest.fixture(scope="module")
def line():
    """ℓ(w) = ½·λ·w²: GD with lr = 1/λ lands on w* in one step."""
    return block_quadratic([np.array([LAM])], rotation="identity")


def test_tune_picks_one_over_lambda(line):
    lrs = np.array([0.05, 0.1, 0.2, 0.25, 0.3, 0.45, 0.6])  # 0.25 = 1/λ
    out = sims.tune(line, lambda lr: GD(lr=lr), lrs, 5, w0=np.array([1.0]), engine="numpy")
    assert out.best_lr == 1.0 / LAM and out.metric == "final_loss"
    assert [row[0] for row in out.table] == lrs.tolist()
    rows = out.as_rows()
    assert len(rows) == lrs.size and all(r["stop"] == {"steps": 1} for r in rows)


def test_tune_best_lr_is_the_smallest_contraction_on_a_log_grid(line):
    lrs = np.logspace(-2, np.log10(0.45), 13)  # 1/λ is not on the grid
    out = sims.tune(line, lambda lr: GD(lr=lr), lrs, 20, w0=np.array([1.0]), engine="numpy")
    expected = lrs[np.argmin(np.abs(1 - lrs * LAM))]  # ℓ_N/ℓ_0 = (1 − lr·λ)^{2N}
    assert out.best_lr == expected
    np.testing.assert_allclose(out.best_score, 2 * 20 * np.log10(abs(1 - expected * LAM)), rtol=1e-12)


def test_tune_iterations_metric_and_divergence(line):
    lrs = np.array([0.05, 0.2, 0.25, 0.7])  # 0.7 > 2/λ diverges
    out = sims.tune(line, lambda lr: GD(lr=lr), lrs, 60, metric="iterations", tol=1e-6,
                    w0=np.array([1.0]), engine="numpy")
    assert out.best_lr == 0.25 and out.best_score == 1.0
    scores = dict((lr, s) for lr, s, _ in out.table)
    assert scores[0.7] == np.inf and scores[0.05] > scores[0.2] > 1.0


def test_tune_rejects_a_grid_that_only_diverges_and_bad_lrs(line):
    with pytest.raises(ValueError, match="every lr in the grid diverged"):
        sims.tune(line, lambda lr: GD(lr=lr), [5.0, 10.0], 20, w0=np.array([1.0]), engine="numpy")
    # metric='iterations': a grid that converges too slowly is not "diverged"
    with pytest.raises(ValueError, match="no lr in the grid reached loss <= tol"):
        sims.tune(line, lambda lr: GD(lr=lr), [1e-4, 5.0], 20, metric="iterations", w0=np.array([1.0]),
                  engine="numpy")
    with pytest.raises(ValueError, match="lrs must all be > 0"):
        sims.tune(line, lambda lr: GD(lr=lr), [0.1, -0.1], 5, engine="numpy")
    with pytest.raises(ValueError, match="metric must be one of"):
        sims.tune(line, lambda lr: GD(lr=lr), [0.1], 5, metric="speed")


def test_tune_interior_best_is_not_at_edge_and_does_not_warn(line):
    lrs = np.array([0.05, 0.1, 0.25, 0.3, 0.45])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning (TuneAtEdgeWarning included) fails the test
        out = sims.tune(line, lambda lr: GD(lr=lr), lrs, 5, w0=np.array([1.0]), engine="numpy")
    assert out.best_lr == 0.25 and out.at_edge is False and out.edge is None


@pytest.mark.parametrize("lrs,edge,best", [
    ([0.01, 0.02, 0.05], "high", 0.05),  # all below 1/λ = 0.25: the largest lr contracts most
    ([0.3, 0.4, 0.45], "low", 0.3),      # all above 1/λ: the smallest is best
    ([0.45, 0.4, 0.3], "low", 0.3),      # a descending grid: the edge is by value, not by position
    ([0.1], "both", 0.1),
])
def test_tune_best_at_an_edge_warns_and_names_the_edge(line, lrs, edge, best):
    with pytest.warns(sims.TuneAtEdgeWarning, match=f"at the {edge} edge") as rec:
        out = sims.tune(line, lambda lr: GD(lr=lr), lrs, 5, w0=np.array([1.0]), engine="numpy")
    assert out.best_lr == best and out.at_edge is True and out.edge == edge
    assert rec[0].filename == __file__  # stacklevel points at the caller of tune


def test_tune_interior_widens_the_grid_on_the_edge_side_until_the_best_lr_is_interior(line):
    make = lambda lr: GD(lr=lr)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the edge warnings of the rounds are handled inside
        out = sims.tune_interior(line, make, [0.01, 0.02], 5, widen=4, w0=np.array([1.0]), engine="numpy")
    grid = [lr for lr, _, _ in out.table]
    # round 1 adds 0.04 … 0.32 (ratio 2); 0.32 (|1 − 4·0.32| = 0.28) beats 0.16 (0.36) and is the edge,
    # so round 2 adds 0.64 … 5.12, which grow: 0.32 is interior
    np.testing.assert_allclose(grid, 0.01 * 2.0 ** np.arange(10))
    assert out.best_lr == pytest.approx(0.32) and out.at_edge is False
    assert out.best_score == sims.tune(line, make, grid, 5, w0=np.array([1.0]), engine="numpy").best_score
    low = sims.tune_interior(line, make, [0.4, 0.45], 5, w0=np.array([1.0]), engine="numpy")
    assert low.at_edge is False and low.best_lr < 0.4 and min(lr for lr, _, _ in low.table) < low.best_lr


def test_tune_interior_gives_up_with_the_grid_it_reached_and_rejects_bad_grids(line):
    # round 2 searches 0.01 … 0.16 (3 points added), whose best, 0.16, is still the high edge
    with pytest.raises(ValueError, match=r"still at the high edge after 2 searches, on the grid \[0.01, 0.16\]"):
        sims.tune_interior(line, lambda lr: GD(lr=lr), [0.01, 0.02], 5, max_rounds=2, widen=3,
                           w0=np.array([1.0]), engine="numpy")
    for lrs in ([0.1], [0.2, 0.1]):
        with pytest.raises(ValueError, match="ascending grid of at least 2 points"):
            sims.tune_interior(line, lambda lr: GD(lr=lr), lrs, 5, w0=np.array([1.0]), engine="numpy")
    with pytest.raises(ValueError, match="widen"):
        sims.tune_interior(line, lambda lr: GD(lr=lr), [0.1, 0.2], 5, widen=0, engine="numpy")


# -- w0 --------------------------------------------------------------------------------------
def test_w0_single_point_is_broadcast_to_the_batch(problem):
    w0 = np.asarray(problem.w_star) + 1.0
    res = sims.run(problem, Adam(lr=1e-2), 10, w0=w0, batch=3, engine="numpy")
    assert res.batch == 3
    for i in (1, 2):
        np.testing.assert_array_equal(res.loss[i], res.loss[0])
    alone = sims.run(problem, Adam(lr=1e-2), 10, w0=w0, engine="numpy")
    assert alone.batch == 1
    # not bit for bit: BLAS takes a matrix-vector path for one row and a matrix-matrix path for 3
    np.testing.assert_allclose(alone.w_final[0], res.w_final[0], rtol=1e-14)


def test_default_w0_is_w_star_plus_a_gaussian_per_run(problem):
    res = sims.run(problem, GD(lr=0.01), 0, batch=3, seed=11, engine="numpy")
    streams = np.random.SeedSequence(11).spawn(3)
    w0 = np.stack([np.asarray(problem.w_star) + np.random.default_rng(s).standard_normal(problem.d)
                   for s in streams])
    np.testing.assert_array_equal(res.w_final, w0)
    bigger = sims.run(problem, GD(lr=0.01), 0, batch=5, seed=11, engine="numpy")
    np.testing.assert_array_equal(bigger.w_final[:3], w0)  # run i does not depend on the batch size


@pytest.mark.parametrize("kw,match", [
    (dict(w0=np.zeros(3)), r"w0 must have shape \(10,\) or \(n, 10\), got \(1, 3\)"),
    (dict(w0=np.zeros((2, 10)), batch=3), r"batch = 3 does not match w0 with 2 rows"),
    (dict(w0=np.full(10, np.nan)), r"w0 must contain only finite values"),
    (dict(w0=np.zeros((2, 2, 10))), r"w0 must have shape"),
    (dict(seed=-1), r"seed must be >= 0"),
])
def test_w0_and_seed_validation(problem, kw, match):
    with pytest.raises(ValueError, match=match):
        sims.run(problem, GD(lr=0.01), 3, engine="numpy", **kw)


def test_non_spec_optimizer_is_a_type_error(problem):
    with pytest.raises(TypeError, match="optimizer must be a hetquad.sims optimizer spec"):
        sims.run(problem, "adam", 3)
