"""LAMB, SM3, Sophia, NormalizedGD and ClippedGD: closed forms, their theory, validation and
per-run bit-identity (the engine-agreement rows are in test_optimizers.OPTIMIZERS, the
cross-checks against published code in test_crosscheck_zoo_c.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad import sims
from hetquad.problems.quadratic import block_quadratic
from hetquad.sims import GD, LAMB, SM3, ClippedGD, NormalizedGD, SignSGD, Sophia, stopping
from hetquad.sims.engines import batched
from hetquad.sims.optimizers.sophia import hessian_diagonal, hutchinson_keys, rademacher
from hetquad.sims.run import build_task
from hetquad.theory.normalized import clipped_gd_clip_steps, normalized_gd_cycle_1d, normalized_gd_plateau

DIAG = block_quadratic([np.array([0.5, 2.0, 9.0]), np.array([1.0, 4.0])], rotation="identity",
                       w_star=np.array([1.0, -2.0, 0.5, 3.0, -1.0]))
ROT = block_quadratic([np.geomspace(0.5, 20.0, 4), np.linspace(1.0, 3.0, 3), np.array([2.0, 6.0])], seed=4,
                      w_star=np.linspace(-1.0, 1.0, 9))


def _trajectory(problem, spec, w0, steps: int) -> np.ndarray:
    """(steps + 1, n, d) iterates of the spec's own init/update (numpy), w0 first."""
    state = spec.init(problem, np.atleast_2d(w0))
    out = [state.w.copy()]
    for _ in range(steps):
        state = spec.update(state, problem.grad(state.w))
        out.append(state.w.copy())
    return np.array(out)


def _one(lam: float, w_star: float = 0.0):
    return block_quadratic([np.array([lam])], rotation="identity", w_star=np.array([w_star]))


# -- normalized GD ---------------------------------------------------------------------------
@pytest.mark.parametrize("e0,lr", [(1.0, 0.3), (-2.05, 0.5), (0.95, 0.3)])
def test_normalized_gd_on_1x1_moves_lr_per_step_into_the_exact_cycle(e0, lr):
    p = _one(3.0, w_star=0.7)
    w = _trajectory(p, NormalizedGD(lr=lr), 0.7 + e0, 30)[:, 0, 0]
    np.testing.assert_allclose(np.abs(np.diff(w)), lr, rtol=1e-12)  # exactly lr per step
    cyc = normalized_gd_cycle_1d(3.0, lr, e0)
    dist = np.abs(w - 0.7)
    k = cyc.start
    np.testing.assert_allclose(dist[:k + 1], abs(e0) - lr * np.arange(k + 1), atol=1e-13)  # the approach
    np.testing.assert_allclose(dist[k::2], cyc.distances[0], atol=1e-13)                  # the 2-cycle
    np.testing.assert_allclose(dist[k + 1::2], cyc.distances[1], atol=1e-13)
    assert sum(cyc.distances) == pytest.approx(lr)  # straddles w*: mean distance lr/2


def test_normalized_gd_steps_have_length_lr_globally_and_per_block():
    w0 = np.asarray(ROT.w_star) + np.random.default_rng(1).standard_normal((3, ROT.d))
    lr = 0.05
    w = _trajectory(ROT, NormalizedGD(lr=lr), w0, 40)
    np.testing.assert_allclose(np.linalg.norm(np.diff(w, axis=0), axis=2), lr, rtol=1e-12)
    w = _trajectory(ROT, NormalizedGD(lr=lr, per_block=True), w0, 40)
    for a, b in ((0, 4), (4, 7), (7, 9)):
        np.testing.assert_allclose(np.linalg.norm(np.diff(w[:, :, a:b], axis=0), axis=2), lr, rtol=1e-12)


def test_per_block_normalized_gd_with_1x1_blocks_is_sign_descent():
    """One coordinate per block: g_b/|g_b| = sign(g_b) — two independent specs, the same bits."""
    p = block_quadratic([np.array([x]) for x in (0.5, 2.0, 9.0, 1.0)], rotation="identity",
                        w_star=np.array([1.0, -2.0, 0.5, 3.0]))
    w0 = np.random.default_rng(2).standard_normal((2, 4))
    a = sims.run(p, NormalizedGD(lr=0.1, per_block=True), 60, w0=w0, engine="numpy")
    b = sims.run(p, SignSGD(lr=0.1), 60, w0=w0, engine="numpy")
    np.testing.assert_array_equal(a.w_final, b.w_final)
    np.testing.assert_array_equal(a.loss, b.loss)


@pytest.mark.parametrize("problem,per_block", [(DIAG, False), (DIAG, True), (ROT, False), (ROT, True)],
                         ids=["diag", "diag-per-block", "rotated", "rotated-per-block"])
def test_normalized_gd_stalls_on_its_plateau(problem, per_block):
    lr = 0.1
    w0 = np.asarray(problem.w_star) + 1.5 * np.random.default_rng(3).standard_normal(problem.d)
    bound = normalized_gd_plateau(problem, lr, w0, per_block=per_block)
    steps = bound.start + 200
    res = sims.run(problem, NormalizedGD(lr=lr, per_block=per_block), steps, w0=w0, engine="numpy")
    f = res.loss[0]
    assert f.size == steps + 1 and np.all(np.isfinite(f))
    assert np.all(f[bound.start:] <= bound.level)
    assert np.all(f[:-1] + f[1:] >= bound.floor)  # never converges: the floor at every step
    assert f[-200:].max() < f[0] / 10  # the plateau is reached, and it is not trivially loose:
    assert f[-200:].max() >= bound.floor / 2


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3), lr=st.floats(0.05, 0.3),
       per_block=st.booleans(), seed=st.integers(0, 2**16))
def test_the_normalized_and_clipped_bounds_hold_on_random_quadratics(sizes, lr, per_block, seed):
    rng = np.random.default_rng(seed)
    p = block_quadratic([rng.uniform(0.5, 5.0, s) for s in sizes], seed=seed, w_star=rng.standard_normal(sum(sizes)))
    w0 = np.asarray(p.w_star) + rng.standard_normal(p.d)
    b = normalized_gd_plateau(p, lr, w0, per_block=per_block)
    f = p.loss(_trajectory(p, NormalizedGD(lr=lr, per_block=per_block), w0, b.start + 40)[:, 0])
    assert np.all(f[b.start:] <= b.level) and np.all(f[:-1] + f[1:] >= b.floor)
    lr_c, c = 1.5 / p.L, float(rng.uniform(0.2, 2.0))
    bound = clipped_gd_clip_steps(p, lr_c, c, w0, per_block=per_block)
    w = _trajectory(p, ClippedGD(lr=lr_c, max_norm=c, per_block=per_block), w0, bound.max_clipped + 5)[:-1, 0]
    g = p.grad(w)
    parts = [g[:, a - s:a] for a, s in zip(np.cumsum(p.sizes), p.sizes)] if per_block else [g]
    clipped = np.any(np.stack([np.linalg.norm(x, axis=1) for x in parts], axis=1) + 1e-6 > c, axis=1)
    n = int(clipped.sum())
    assert n <= bound.max_clipped and clipped[:n].all() and not clipped[n:].any()


def test_normalized_plateau_per_block_refuses_a_coupled_problem():
    from hetquad.problems.quadratic import coupled
    with pytest.raises(ValueError, match="block-diagonal"):
        normalized_gd_plateau(coupled(ROT, strength=0.3, seed=1), 0.1, np.zeros(ROT.d), per_block=True)


# -- clipped GD ------------------------------------------------------------------------------
def test_clipping_below_the_threshold_is_plain_gd_bit_for_bit():
    w0 = np.asarray(ROT.w_star) + np.random.default_rng(4).standard_normal((3, ROT.d))
    for per_block in (False, True):
        a = sims.run(ROT, ClippedGD(lr=1.0 / ROT.L, max_norm=1e6, per_block=per_block), 50, w0=w0, engine="numpy")
        b = sims.run(ROT, GD(lr=1.0 / ROT.L), 50, w0=w0, engine="numpy")
        np.testing.assert_array_equal(a.loss, b.loss)
        np.testing.assert_array_equal(a.w_final, b.w_final)


def test_clipping_above_the_threshold_takes_steps_of_length_lr_times_max_norm():
    w0 = np.asarray(ROT.w_star) + 50.0 * np.random.default_rng(5).standard_normal(ROT.d)
    lr, c = 0.01, 0.5
    w = _trajectory(ROT, ClippedGD(lr=lr, max_norm=c), w0, 5)[:, 0]
    g = ROT.grad(w[:-1])
    np.testing.assert_allclose(np.linalg.norm(np.diff(w, axis=0), axis=1),
                               lr * c * np.linalg.norm(g, axis=1) / (np.linalg.norm(g, axis=1) + 1e-6),
                               rtol=0, atol=1e-13)  # |w| ~ 50: the difference of iterates carries ~1e-14


@pytest.mark.parametrize("per_block", [False, True])
def test_clipped_steps_are_a_prefix_within_the_bound(per_block):
    lr, c = 0.9 / ROT.L, 1.0
    w0 = np.asarray(ROT.w_star) + 3.0 * np.random.default_rng(6).standard_normal(ROT.d)
    bound = clipped_gd_clip_steps(ROT, lr, c, w0, per_block=per_block)
    res = sims.run(ROT, ClippedGD(lr=lr, max_norm=c, per_block=per_block), 200, w0=w0, per_block=True,
                   engine="numpy")
    norms = res.block_grad_norm[0] if per_block else res.grad_norm[0][:, None]  # (steps + 1, blocks)
    clipped = np.any(norms[:-1] + 1e-6 > c, axis=1)  # the update at step t is clipped somewhere
    n = int(clipped.sum())
    assert 0 < n <= bound.max_clipped
    assert clipped[:n].all() and not clipped[n:].any()  # a prefix
    with pytest.raises(ValueError, match=r"lr must be < 2/L"):
        clipped_gd_clip_steps(ROT, 2.0 / ROT.L, c, w0)


# -- LAMB ------------------------------------------------------------------------------------
def test_lamb_on_one_block_moves_lr_times_the_weight_norm():
    """ε = λ = 0: ‖Δw‖ = lr·min(‖w‖, clamp) exactly, whatever Adam's direction."""
    p = block_quadratic([np.geomspace(0.5, 10.0, 4)], seed=2)
    w0 = np.random.default_rng(7).standard_normal((2, 4))
    w0[1] *= 10.0  # ‖w‖ > clamp: the clamp binds for run 1
    for clamp in (10.0, 0.5):
        w = _trajectory(p, LAMB(lr=0.05, eps=0.0, clamp=clamp), w0, 20)
        step = np.linalg.norm(np.diff(w, axis=0), axis=2)
        np.testing.assert_allclose(step, 0.05 * np.minimum(np.linalg.norm(w[:-1], axis=2), clamp), rtol=1e-12)


def test_lamb_on_a_1x1_problem_decays_geometrically():
    """w* = 0, ε = 0: u has the sign of w, the trust ratio |w|/|u|, so w_t = w0 (1 − lr)^t."""
    w = _trajectory(_one(4.0), LAMB(lr=0.1, eps=0.0, beta1=0.5), np.array([[2.0], [-0.3]]), 30)[:, :, 0]
    np.testing.assert_allclose(w, np.array([2.0, -0.3]) * 0.9 ** np.arange(31)[:, None], rtol=1e-12)


# -- SM3 -------------------------------------------------------------------------------------
def test_sm3_on_vector_blocks_is_adagrad():
    w0 = np.asarray(ROT.w_star) + np.random.default_rng(8).standard_normal((2, ROT.d))
    w = _trajectory(ROT, SM3(lr=0.2, eps=0.0), w0, 30)
    ref, acc = [w0.copy()], np.zeros_like(w0)
    x = w0.copy()
    for _ in range(30):  # AdaGrad: x ← x − lr g / √(Σ g²)
        g = ROT.grad(x)
        acc = acc + g * g
        x = x - 0.2 * g / np.sqrt(acc)
        ref.append(x.copy())
    np.testing.assert_allclose(w, np.array(ref), rtol=1e-13, atol=1e-13)


def test_sm3_on_a_rank_one_matrix_block_keeps_adagrad_coordinates_when_the_covers_are_tight():
    """A 1×c (one row) block: the column covers are single coordinates, so min(row, col) = col and
    SM3 is AdaGrad there; a c×1 block likewise through its row covers."""
    p = block_quadratic([np.linspace(1.0, 3.0, 3), np.linspace(0.5, 2.0, 3)], rotation="identity",
                        w_star=np.arange(6.0))
    w0 = np.random.default_rng(9).standard_normal((1, 6))
    a = _trajectory(p, SM3(lr=0.1, shapes=((1, 3), (3, 1))), w0, 25)
    b = _trajectory(p, SM3(lr=0.1), w0, 25)
    np.testing.assert_array_equal(a, b)


def test_sm3_uses_the_problems_matrix_shapes():
    p = ROT
    if not hasattr(p, "shapes"):
        pytest.skip("this tree's BlockQuadratic has no shapes")
    import dataclasses
    shaped = dataclasses.replace(p, shapes=((2, 2), None, (1, 2)))
    w0 = np.asarray(p.w_star) + np.random.default_rng(10).standard_normal((1, p.d))
    a = _trajectory(shaped, SM3(lr=0.1), w0, 10)
    b = _trajectory(p, SM3(lr=0.1, shapes=((2, 2), None, (1, 2))), w0, 10)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _trajectory(p, SM3(lr=0.1), w0, 10))


# -- Sophia ----------------------------------------------------------------------------------
def test_sophia_with_exact_curvature_is_clipped_newton_on_a_diagonal_problem():
    """β1 = β2 = 0, γ = 1, k = 1, lr = 1: the step is clip(e, 1), so e_t = sign(e0)·max(|e0| − t, 0)."""
    e0 = np.array([0.4, -2.5, 3.2, 0.0, -0.9])
    w = _trajectory(DIAG, Sophia(lr=1.0, beta1=0.0, beta2=0.0, gamma=1.0, k=1), np.asarray(DIAG.w_star) + e0, 5)
    e = w[:, 0] - np.asarray(DIAG.w_star)
    t = np.arange(6)[:, None]
    np.testing.assert_allclose(e, np.sign(e0) * np.maximum(np.abs(e0) - t, 0.0), atol=1e-14)


def test_hutchinson_on_a_diagonal_problem_is_exact_bit_for_bit():
    """u ⊙ (H u) = u² ⊙ diag(H) = diag(H) when H is diagonal and u = ±1."""
    w0 = np.asarray(DIAG.w_star) + np.random.default_rng(11).standard_normal((3, DIAG.d))
    a = sims.run(DIAG, Sophia(lr=0.05, k=2, hessian="hutchinson", seed=5), 40, w0=w0, engine="numpy")
    b = sims.run(DIAG, Sophia(lr=0.05, k=2), 40, w0=w0, engine="numpy")
    np.testing.assert_array_equal(a.w_final, b.w_final)
    c = sims.run(ROT, Sophia(lr=0.05, k=2, hessian="hutchinson", seed=5), 40, w0=w0[:, :1].repeat(9, 1),
                 engine="numpy")
    d = sims.run(ROT, Sophia(lr=0.05, k=2), 40, w0=w0[:, :1].repeat(9, 1), engine="numpy")
    assert not np.array_equal(c.w_final, d.w_final)  # a rotated H: the estimate is noisy


def test_hutchinson_draws_are_rademacher_and_unbiased():
    keys = hutchinson_keys(3, 4)
    u = np.stack([rademacher(keys, t, ROT.d) for t in range(2000)])  # (T, runs, d)
    assert set(np.unique(u)) == {-1.0, 1.0}
    N = u.shape[0] * u.shape[1]
    assert abs(u.mean()) < 5 / np.sqrt(u.size)
    H = ROT.hessian()
    est = (u * np.einsum("ij,trj->tri", H, u)).reshape(N, -1)
    sd = np.sqrt((H * H).sum(axis=1) - np.diag(H) ** 2)  # Var of u_i (Hu)_i = Σ_{j≠i} H_ij²
    assert np.all(np.abs(est.mean(axis=0) - np.diag(H)) < 5 * sd / np.sqrt(N))
    np.testing.assert_array_equal(hessian_diagonal(ROT), np.diag(H))
    np.testing.assert_array_equal(rademacher(keys, 7, ROT.d), rademacher(keys, 7, ROT.d))
    assert not np.array_equal(rademacher(keys, 7, ROT.d), rademacher(keys, 8, ROT.d))


def test_hutchinson_runs_depend_on_seed_and_index_not_on_batch_size():
    opt = Sophia(lr=0.05, k=1, hessian="hutchinson", seed=2)
    a = sims.run(ROT, opt, 30, batch=3, seed=1, engine="numpy")
    b = sims.run(ROT, opt, 30, batch=5, seed=1, engine="numpy")
    np.testing.assert_array_equal(a.loss, b.loss[:3])
    c = sims.run(ROT, Sophia(lr=0.05, k=1, hessian="hutchinson", seed=3), 30, batch=3, seed=1, engine="numpy")
    assert not np.array_equal(a.loss, c.loss)


# -- per-run hyper-parameters: a run is the same bits alone and at any position of any batch ----
MAKERS = {
    "lamb": lambda lr, h: LAMB(lr=lr, beta1=h, weight_decay=0.01 * h),
    "lamb-v3": lambda lr, h: LAMB(lr=lr, beta2=0.9 + 0.09 * h, bias_correction=False),
    "sm3": lambda lr, h: SM3(lr=lr, momentum=h, shapes=((2, 2), None, (2, 1))),
    "sm3-beta": lambda lr, h: SM3(lr=lr, beta=h, shapes=((4, 1), (1, 3), None)),
    "sophia": lambda lr, h: Sophia(lr=lr, beta1=h, gamma=0.01 + h, k=3),
    "normalized-gd": lambda lr, h: NormalizedGD(lr=lr, eps=h),
    "normalized-gd-per-block": lambda lr, h: NormalizedGD(lr=lr, per_block=True),
    "clipped-gd": lambda lr, h: ClippedGD(lr=lr, max_norm=0.1 + 3 * h),
    "clipped-gd-per-block": lambda lr, h: ClippedGD(lr=lr, max_norm=0.1 + 3 * h, per_block=True),
}


def _outcome(engine, p, opt, steps, **kw):
    if engine == "batched-numpy":
        tr = batched.simulate(build_task(p, opt, steps, **kw), xp=np)
        return dict(loss=tr.loss, grad_norm=tr.grad_norm, bgn=tr.block_grad_norm, w_final=tr.w_final,
                    iterations=tr.iterations, stop=stopping.labels(tr.stop))
    r = sims.run(p, opt, steps, engine=engine, **kw)
    return dict(loss=r.loss, grad_norm=r.grad_norm, bgn=r.block_grad_norm, w_final=r.w_final,
                iterations=r.iterations, stop=r.stop_reason)


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(sorted(MAKERS)), engine=st.sampled_from(["numpy", "batched-numpy"]),
       n=st.integers(1, 6), data=st.data(), seed=st.integers(0, 2**16))
def test_a_run_is_the_same_bits_alone_and_at_any_position_of_any_batch(name, engine, n, data, seed):
    pos = data.draw(st.integers(0, n - 1))
    rng = np.random.default_rng(seed)
    lrs, hs = rng.uniform(0.005, 0.08, n), rng.uniform(0.0, 0.95, n)
    w0 = np.asarray(ROT.w_star) + rng.standard_normal((n, ROT.d))
    kw = dict(record_every=3, per_block=True, tol=0.05)
    batch = _outcome(engine, ROT, MAKERS[name](lrs, hs), 30, w0=w0, **kw)
    alone = _outcome(engine, ROT, MAKERS[name](float(lrs[pos]), float(hs[pos])), 30, w0=w0[pos:pos + 1], **kw)
    for k, v in alone.items():
        if isinstance(v, tuple):
            assert v[0] == batch[k][pos], k
        else:
            np.testing.assert_array_equal(v[0], batch[k][pos], err_msg=k)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_stochastic_runs_agree_between_the_numpy_engine_and_the_batched_code(name):
    """GaussianNoise's counter-based stream reaches both array engines identically (DESIGN: 1e-10)."""
    opt = MAKERS[name](np.array([0.01, 0.03, 0.05]), np.array([0.1, 0.5, 0.9]))
    kw = dict(seed=2, record_every=5, per_block=True, noise=sims.GaussianNoise(sigma=0.05, covariance="hessian", seed=7))
    a, b = _outcome("numpy", ROT, opt, 40, **kw), _outcome("batched-numpy", ROT, opt, 40, **kw)
    assert a["stop"] == b["stop"]
    for k in ("loss", "grad_norm", "bgn", "w_final"):
        np.testing.assert_allclose(b[k], a[k], rtol=1e-10, atol=0, err_msg=k)
    clean = _outcome("numpy", ROT, opt, 40, seed=2, record_every=5, per_block=True)
    assert not np.array_equal(clean["loss"], a["loss"])  # the noise is applied


def test_per_run_values_reach_the_runs():
    res = sims.run(ROT, ClippedGD(lr=[0.01, 0.02], max_norm=[0.5, 2.0]), 5, engine="numpy")
    np.testing.assert_array_equal(res.hyper["max_norm"], [0.5, 2.0])
    assert set(res.hyper) == {"lr", "max_norm"}
    assert not np.array_equal(res.loss[0], res.loss[1])


@pytest.mark.parametrize("spec", [LAMB(lr=[0.1, 0.2], weight_decay=0.1), SM3(lr=0.1, shapes=((2, 2), None, None)),
                                  Sophia(lr=0.1, hessian="hutchinson", k=3, seed=4),
                                  NormalizedGD(lr=[0.1, 0.2], per_block=True), ClippedGD(lr=0.1, max_norm=[1.0, 2.0])],
                         ids=lambda s: s.name)
def test_specs_serialize_by_name(spec):
    back = sims.from_dict(sims.to_dict(spec))
    assert back == spec and sims.config_hash(back) == sims.config_hash(spec)
    assert sims.OPTIMIZERS[spec.name] is type(spec)


# -- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda: LAMB(lr=0.0), r"^lr must be > 0, got 0.0$"),
    (lambda: LAMB(lr=0.1, beta1=1.0), r"^beta1 must be in \[0.0, 1.0\), got 1.0$"),
    (lambda: LAMB(lr=0.1, beta2=[0.9, 1.0]), r"^beta2\[1\] must be in \[0.0, 1.0\), got 1.0$"),
    (lambda: LAMB(lr=0.1, weight_decay=-0.1), r"^weight_decay must be >= 0, got -0.1$"),
    (lambda: LAMB(lr=0.1, clamp=0.0), r"^clamp must be > 0, got 0.0$"),
    (lambda: SM3(lr=0.1, momentum=1.0), r"^momentum must be in \[0.0, 1.0\), got 1.0$"),
    (lambda: SM3(lr=0.1, beta=-0.5), r"^beta must be in \[0.0, 1.0\), got -0.5$"),
    (lambda: SM3(lr=0.1, shapes=((2, 2), (3,))), r"^shapes\[1\] must be None \(a vector block\) or a pair"),
    (lambda: SM3(lr=0.1, shapes=((0, 2),)), r"^shapes\[0\]\[0\] must be >= 1, got 0$"),
    (lambda: Sophia(lr=0.1, hessian="gnb"), r"^hessian must be one of \['exact', 'hutchinson'\], got 'gnb'$"),
    (lambda: Sophia(lr=0.1, k=0), r"^k must be >= 1, got 0$"),
    (lambda: Sophia(lr=0.1, gamma=0.0), r"^gamma must be > 0, got 0.0$"),
    (lambda: Sophia(lr=0.1, eps=0.0), r"^eps must be > 0, got 0.0$"),
    (lambda: Sophia(lr=0.1, beta2=1.0), r"^beta2 must be in \[0.0, 1.0\), got 1.0$"),
    (lambda: Sophia(lr=0.1, seed=-1), r"^seed must be >= 0, got -1$"),
    (lambda: NormalizedGD(lr=-1.0), r"^lr must be > 0, got -1.0$"),
    (lambda: NormalizedGD(lr=0.1, eps=-1.0), r"^eps must be >= 0, got -1.0$"),
    (lambda: ClippedGD(lr=0.1, max_norm=0.0), r"^max_norm must be > 0, got 0.0$"),
    (lambda: ClippedGD(lr=0.1, max_norm=[1.0, float("nan")]), r"^max_norm\[1\] must be finite, got nan$"),
])
def test_bad_hyper_parameters_are_one_line_errors_naming_the_argument(make, match):
    with pytest.raises(ValueError, match=match) as err:
        make()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("shapes,match", [
    (((3, 2), None, None), r"^shapes\[0\] = \(3, 2\) does not factor block 0 of size 4 \(r·c must be 4\)$"),
    (((2, 2),), r"^shapes must give one \(r, c\) or None per block \(3 blocks\), got 1$"),
])
def test_sm3_shapes_that_do_not_fit_the_problem_are_refused(shapes, match):
    with pytest.raises(ValueError, match=match):
        sims.run(ROT, SM3(lr=0.1, shapes=shapes), 3, engine="numpy")


@pytest.mark.parametrize("opt", [LAMB(lr=0.01), SM3(lr=0.1), Sophia(lr=0.1), NormalizedGD(lr=0.1),
                                 ClippedGD(lr=0.1)], ids=lambda o: o.name)
def test_auto_runs_them_on_numba(opt):
    assert sims.run(ROT, opt, 3).engine == "numba"


def test_numba_refuses_sophia_without_operator_tiles_by_name():
    from hetquad.problems import catalog
    p = catalog.get("linear-head")
    with pytest.raises(ValueError, match=r"engine 'numba' cannot run this task: LinearHead is not a block quadratic"):
        sims.run(p, Sophia(lr=0.1), 2, engine="numba")


def test_sophia_needs_a_hessian_and_says_so():
    from hetquad.problems import catalog
    p = catalog.get("linear-head")
    with pytest.raises(ValueError, match=r"^Sophia needs a block quadratic \(operator_blocks\) .*got LinearHead$"):
        sims.run(p, Sophia(lr=0.1), 2, engine="numpy")
    assert np.isfinite(sims.run(p, LAMB(lr=0.01), 2, engine="numpy").final_loss).all()  # the others need only g
