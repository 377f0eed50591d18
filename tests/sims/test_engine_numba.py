"""Kernel-specific behaviour of the numba engine, against the numpy engine (the truth).

The cross-engine optimizer table lives in test_optimizers.py; here: chunking and rollback, stop
rules, divergence isolation, both formulations, groups of tiles for Adam-mini partitions,
determinism across thread counts.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest

from hetquad import sims
from hetquad.problems.quadratic import block_quadratic, coupled
from hetquad.sims.engines import numba as nb_engine
from hetquad.sims.optimizers import (GD, LAMB, SGD, SM3, Adam, AdamMini, AdamW, BlockwiseGD, ClippedGD, Lion, NAdam,
                                     NormalizedGD, RAdam, RMSProp, SignSGD, Signum, Sophia)
from hetquad.sims.engines import numba_kernels as K

RTOL = 1e-10


@pytest.fixture(scope="module")
def problem():
    eigs = [np.linspace(1.0, 10.0, 5), np.geomspace(0.5, 80.0, 7), np.linspace(0.3, 3.0, 4)]
    return block_quadratic(eigs, seed=3)


def _close(a, b, rtol=RTOL):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=0, equal_nan=True)


def _agree(a, b):
    """Two Results agree to RTOL with identical stop decisions."""
    assert a.engine == "numba" and b.engine == "numpy"
    assert a.stop_reason == b.stop_reason
    np.testing.assert_array_equal(a.iterations, b.iterations)
    np.testing.assert_array_equal(np.isnan(a.loss), np.isnan(b.loss))
    _close(a.loss, b.loss)
    _close(a.grad_norm, b.grad_norm)
    _close(a.final_loss, b.final_loss)
    scale = np.abs(b.w_final).max()
    np.testing.assert_allclose(a.w_final, b.w_final, rtol=0, atol=RTOL * scale)
    if b.block_grad_norm is not None:
        _close(a.block_grad_norm, b.block_grad_norm)


def _both(problem, opt, steps, **kw):
    return (sims.run(problem, opt, steps, engine="numba", **kw),
            sims.run(problem, opt, steps, engine="numpy", **kw))


def _identical(a, b):
    for name in ("loss", "grad_norm", "iterations", "final_loss", "w_final"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.stop_reason == b.stop_reason
    if a.block_grad_norm is not None:
        np.testing.assert_array_equal(a.block_grad_norm, b.block_grad_norm)


@pytest.fixture
def formulation(monkeypatch):
    def force(which):
        monkeypatch.setattr(nb_engine, "_FORCE", which)
    return force


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(nb_engine, "MAX_CHUNK", 7)  # many chunk boundaries and rollbacks


OPTIMIZERS = [
    GD(lr=0.02), BlockwiseGD(lrs=(0.15, 0.02, 0.5)), SignSGD(lr=1e-3), Signum(lr=1e-3, momentum=0.8),
    Adam(lr=1e-2), AdamMini(lr=1e-2), RMSProp(lr=1e-3, eps=1e-6), Adam.theorem_variant(1e-3),
    AdamMini.theorem_variant(1e-3),
    SGD(lr=0.02, momentum=0.9, weight_decay=0.01), SGD(lr=0.02, momentum=0.8, nesterov=True),
    AdamW(lr=1e-2), NAdam(lr=1e-2, weight_decay=0.01), RAdam(lr=1e-2, beta2=0.99), Lion(lr=1e-3, weight_decay=0.1),
    AdamMini(lr=1e-2, reducer="max"), AdamMini(lr=1e-2, reducer="norm", partition=np.arange(16) % 3),
    LAMB(lr=1e-2, weight_decay=0.01), SM3(lr=0.05, momentum=0.5, beta=0.9, shapes=(None, (7, 1), (2, 2))),
    Sophia(lr=0.05, k=3, gamma=0.5), Sophia(lr=0.02, hessian="hutchinson", k=2, gamma=0.5, seed=3),
    NormalizedGD(lr=0.01, eps=0.1), ClippedGD(lr=0.02, max_norm=0.5, per_block=True),
]


def _id(o):
    if getattr(o, "eps", None) == 0:
        return o.name + "-thm"
    if getattr(o, "hessian", "exact") != "exact":
        return o.name + "-" + o.hessian
    return o.name + (f"-{o.reducer}" if getattr(o, "reducer", "mean") != "mean" else "")


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=_id)
def test_every_family_matches_numpy_per_block(problem, opt, small_chunks):
    _agree(*_both(problem, opt, 40, batch=6, seed=2, per_block=True))


def test_tol_stop_mid_chunk_rolls_back_to_the_stop_state(problem, small_chunks):
    a, b = _both(problem, GD(lr=0.02), 400, batch=5, tol=1e-3, per_block=True)
    assert set(b.stop_reason) == {"tol"}  # the test means something only if runs stop
    assert np.all(b.iterations < 400) and len(set(b.iterations.tolist())) > 1
    assert np.any(b.iterations % 7 != 0)  # at least one stop strictly inside a chunk
    _agree(a, b)
    # the frozen state is the state at the stop step: its loss is the final loss
    _close(problem.loss(a.w_final), a.final_loss, rtol=1e-12)


def test_record_every_grid(problem):
    a, b = _both(problem, Adam(lr=1e-2), 50, batch=3, record_every=7)
    np.testing.assert_array_equal(a.steps, [0, 7, 14, 21, 28, 35, 42, 49, 50])
    _agree(a, b)


def test_coupled_problem_one_dense_tile(problem):
    p = coupled(problem, strength=0.5, seed=1)
    assert len(p.operator_blocks) == 1 and len(p.sizes) == 3
    _agree(*_both(p, Adam(lr=1e-2), 30, batch=4, per_block=True))
    _agree(*_both(p, AdamMini(lr=1e-2), 30, batch=4, per_block=True))


def test_adam_mini_partition_across_tiles(problem, small_chunks):
    d = problem.d
    ids = np.arange(d) % 3  # every partition block spans all three tiles
    assert nb_engine._groups(np.array([0, 5, 12, 16]), ids).tolist() == [0, 3]
    _agree(*_both(problem, AdamMini(lr=1e-2, partition=ids), 30, batch=4, per_block=True))


def test_groups_merge_only_the_tiles_a_partition_block_joins():
    toff = np.array([0, 2, 4, 6, 8])
    ids = np.array([0, 0, 1, 2, 1, 3, 4, 4])  # block 1 joins tiles 1 and 2; tiles 0 and 3 alone
    assert nb_engine._groups(toff, ids).tolist() == [0, 1, 3, 4]
    assert nb_engine._groups(toff, None).tolist() == [0, 1, 2, 3, 4]


def _diagonal_problem():
    return block_quadratic([np.array([1.0, 2.0, 4.0]), np.array([0.5, 3.0, 10.0])], rotation="identity")


def test_divergence_is_isolated(formulation):
    p = _diagonal_problem()
    opt = GD(lr=0.35)  # 0.35·10 = 3.5 > 2: only the λ = 10 coordinate diverges
    w0 = np.random.default_rng(0).standard_normal((6, p.d))
    w0[:, -1] = 0.0
    w0[2, -1] = 1.0  # run 2 has mass on the unstable direction
    for which in ("a", "b"):
        formulation(which)
        full = sims.run(p, opt, 60, w0=w0, engine="numba")
        rest = sims.run(p, opt, 60, w0=np.delete(w0, 2, axis=0), engine="numba")
        assert full.stop_reason[2] == "diverged"
        assert full.stop_reason[:2] + full.stop_reason[3:] == ("steps",) * 5
        keep = [0, 1, 3, 4, 5]
        for name in ("loss", "grad_norm", "final_loss", "w_final", "iterations"):
            np.testing.assert_array_equal(getattr(full, name)[keep], getattr(rest, name), err_msg=name)
        ref = sims.run(p, opt, 60, w0=w0, engine="numpy")
        assert ref.iterations[2] == full.iterations[2] < 60
        assert full.final_loss[2] > 1e12 * full.loss[2, 0]
        assert np.all(np.isnan(full.loss[2, full.iterations[2] + 1:]))


@pytest.mark.parametrize("opt", [AdamMini(lr=1e-2), LAMB(lr=1e-2), SM3(lr=0.05, shapes=(None, (7, 1), (2, 2))),
                                 Sophia(lr=0.05, hessian="hutchinson", k=2, gamma=0.5),
                                 NormalizedGD(lr=0.02, per_block=True), ClippedGD(lr=0.05, max_norm=0.5)],
                         ids=lambda o: o.name)
def test_formulations_are_bit_identical(problem, formulation, opt):
    """(a) and (b), and the block reductions of the per-block families, give the same bits."""
    out = {}
    for which in ("a", "b"):
        formulation(which)
        out[which] = sims.run(problem, opt, 60, batch=9, tol=1e-2, per_block=True)
    assert out["a"].engine == "numba"
    _identical(out["a"], out["b"])


def test_deterministic_across_calls_and_thread_counts(problem):
    run = lambda: sims.run(problem, Adam(lr=1e-2), 80, batch=16, per_block=True, engine="numba")
    first, second = run(), run()
    _identical(first, second)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        _identical(first, run())
    finally:
        numba.set_num_threads(threads)


def test_auto_picks_numba_for_gaussian_noise_and_leaves_minibatch_to_numpy(problem):
    assert sims.run(problem, GD(lr=0.01), 5, engine="auto").engine == "numba"
    noisy = sims.run(problem, GD(lr=0.01), 5, engine="auto", noise=sims.GaussianNoise(sigma=0.1))
    assert noisy.engine == "numba"
    with pytest.raises(ValueError, match="MiniBatch runs on the numpy engine only"):
        sims.run(problem, GD(lr=0.01), 5, engine="numba", noise=sims.MiniBatch(size=1))


def test_stochastic_runs_roll_back_exactly(problem, small_chunks):
    """A run stopped mid-chunk is re-run from the chunk start with the same counter-based noise,
    so it ends exactly where the same run stops alone (and equal to numpy within tolerance)."""
    noise = sims.GaussianNoise(sigma=0.2, covariance="hessian", seed=1)
    a, b = _both(problem, GD(lr=1.0 / problem.L), 200, batch=6, seed=3, tol=0.01, noise=noise)
    assert "tol" in a.stop_reason
    _agree(a, b)


# -- the elementwise optimizers of issue 16 in the kernel ---------------------------------------
def test_heavy_ball_on_a_scalar_quadratic_is_its_2x2_recurrence(formulation):
    """SGD(μ) on f = ½λ(w − w*)²: e_{t+1} = (1 + μ − ηλ) e_t − μ e_{t−1}, with torch's first step
    e_1 = (1 − ηλ) e_0 (the buffer starts at g_0) — the closed form by the matrix power."""
    lam, lr, mu = 2.0, 0.3, 0.7
    p = block_quadratic([np.array([lam])], rotation="identity", w_star=np.array([0.5]))
    e0 = np.array([1.0, -2.0, 0.25, 3.0])
    A = np.array([[1 + mu - lr * lam, -mu], [1.0, 0.0]])
    steps = 25
    e1 = (1 - lr * lam) * e0
    expected = (np.linalg.matrix_power(A, steps - 1) @ np.stack([e1, e0]))[0]
    for which in ("a", "b"):
        formulation(which)
        res = sims.run(p, SGD(lr=lr, momentum=mu), steps, w0=(0.5 + e0)[:, None], engine="numba")
        np.testing.assert_allclose(res.w_final[:, 0] - 0.5, expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(res.loss[:, -1], 0.5 * lam * expected ** 2, rtol=1e-11)


def test_nesterov_on_a_scalar_quadratic_by_hand():
    """Nesterov (torch form): b = μb + g; w ← w − η(g + μb), b_0 = g_0; by hand for 6 steps."""
    lam, lr, mu = 1.5, 0.2, 0.6
    p = block_quadratic([np.array([lam])], rotation="identity")
    w0 = np.array([[1.0], [-0.5]])
    res = sims.run(p, SGD(lr=lr, momentum=mu, nesterov=True), 6, w0=w0, engine="numba")
    w, b = w0[:, 0].copy(), None
    for _ in range(6):
        g = lam * w
        b = g if b is None else mu * b + g
        w = w - lr * (g + mu * b)
    np.testing.assert_allclose(res.w_final[:, 0], w, rtol=1e-14)


def test_lion_and_sign_steps_move_every_coordinate_by_exactly_lr():
    """On a diagonal problem far from w*, the first sign step is exactly ±lr per coordinate."""
    p = _diagonal_problem()
    w0 = np.array([[3.0, -2.0, 5.0, -4.0, 6.0, 1.0]])
    for opt in (Lion(lr=0.125), Signum(lr=0.125), SignSGD(lr=0.125)):
        res = sims.run(p, opt, 1, w0=w0, engine="numba")
        np.testing.assert_array_equal(res.w_final - w0, -0.125 * np.sign(w0))


def test_radam_first_steps_are_momentum_sgd_with_bias_corrected_momentum():
    """ρ_t ≤ 5 for the first steps of β2 = 0.999: w ← w − lr·m/(1 − β1^t), no √v (torch)."""
    p = _diagonal_problem()
    w0 = np.random.default_rng(3).standard_normal((2, p.d))
    lam = np.diag(p.hessian())
    res = sims.run(p, RAdam(lr=0.01), 4, w0=w0, engine="numba")
    w, m = w0.copy(), np.zeros_like(w0)
    for t in range(1, 5):
        m = 0.9 * m + 0.1 * (lam * w)
        w = w - (m / (1 - 0.9 ** t)) * 0.01
    np.testing.assert_allclose(res.w_final, w, rtol=1e-13)


def test_adam_mini_reducers_by_hand():
    """max / min / 2-norm of Adam's v over each block, one step from v = 0 with bias correction:
    v̂ = g², so the step is lr·g/(√R_b(g²) + ε) per block (R = max, min, ‖·‖₂)."""
    p = _diagonal_problem()  # blocks of 3 and 3
    w0 = np.array([[1.0, -2.0, 0.5, 3.0, 1.0, -0.2]])
    g = np.diag(p.hessian()) * w0[0]
    for reducer, R in (("max", np.max), ("min", np.min), ("norm", np.linalg.norm)):
        r = np.concatenate([np.full(3, R(g[:3] ** 2)), np.full(3, R(g[3:] ** 2))])
        expected = w0[0] - 0.1 * g / (np.sqrt(r) + 1e-8)
        for engine in ("numba", "numpy"):
            res = sims.run(p, AdamMini(lr=0.1, reducer=reducer), 1, w0=w0, engine=engine)
            np.testing.assert_allclose(res.w_final[0], expected, rtol=1e-14, err_msg=f"{reducer} {engine}")


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_adamw_and_nadam_first_step_closed_forms(engine):
    """Step 1 from v = 0 (bias-corrected m̂ = g, v̂ = g²) on a diagonal problem:
    AdamW  w₁ = w₀(1 − lr·λ) − lr·g/(|g| + ε);
    NAdam  w₁ = w₀ − lr·g/(|g| + ε)·(1 + μ₂(1 − β1)/(1 − μ₁μ₂)), μ_t = β1(1 − ½·0.96^{tψ})."""
    p = _diagonal_problem()
    w0 = np.array([[1.0, -2.0, 0.5, 3.0, 1.0, -0.2]])
    g = np.diag(p.hessian()) * w0[0]
    lr, wd, eps = 0.05, 0.3, 1e-3
    res = sims.run(p, AdamW(lr=lr, weight_decay=wd, eps=eps), 1, w0=w0, engine=engine)
    np.testing.assert_allclose(res.w_final[0], w0[0] * (1 - lr * wd) - lr * g / (np.abs(g) + eps), rtol=1e-14)
    b1, psi = 0.9, 0.2
    mu1, mu2 = b1 * (1 - 0.5 * 0.96 ** psi), b1 * (1 - 0.5 * 0.96 ** (2 * psi))
    res = sims.run(p, NAdam(lr=lr, beta1=b1, eps=eps, momentum_decay=psi), 1, w0=w0, engine=engine)
    expected = w0[0] - lr * g / (np.abs(g) + eps) * (1 + mu2 * (1 - b1) / (1 - mu1 * mu2))
    np.testing.assert_allclose(res.w_final[0], expected, rtol=1e-13)


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_equivalences_bit_for_bit(problem, engine):
    """SGD without momentum is GD; AdamW with λ = 0 is Adam (w·1 = w, g + 0·w = g)."""
    kw = dict(batch=3, seed=5, per_block=True, engine=engine)
    for a, b in ((SGD(lr=0.02), GD(lr=0.02)), (AdamW(lr=1e-2, weight_decay=0.0), Adam(lr=1e-2))):
        _identical(sims.run(problem, a, 40, **kw), sims.run(problem, b, 40, **kw))


def test_kernel_codes_match_the_records():
    """The driver's string → code maps are the kernel's constants (one place each)."""
    assert nb_engine.FAMILY_CODES == {"gd": K.GD, "sign": K.SIGN, "adam": K.ADAM, "momentum": K.MOMENTUM,
                                      "norm": K.NORM, "lamb": K.LAMB, "sophia": K.SOPHIA, "sm3": K.SM3}
    assert nb_engine.NORM_CODES == {"normalized": K.NORMALIZED, "clipped": K.CLIPPED}
    assert nb_engine.VARIANT_CODES == {"adam": K.ADAM_STEP, "nadam": K.NADAM_STEP, "radam": K.RADAM_STEP}
    assert nb_engine.DECAY_CODES == {"none": K.NO_DECAY, "coupled": K.COUPLED, "decoupled": K.DECOUPLED}
    assert nb_engine.REDUCER_CODES == {"mean": K.R_MEAN, "max": K.R_MAX, "min": K.R_MIN, "norm": K.R_NORM}

