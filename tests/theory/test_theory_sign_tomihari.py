"""Sign-descent plateau (THEORY §9.1), Tomihari & Sato bounds and Prop. 4.10 (THEORY §8)."""
import math

import numpy as np
import pytest

from hetquad import problems, sims, theory


def diag_problem(*blocks):
    return problems.block_quadratic([np.asarray(b, float) for b in blocks], rotation="identity", seed=0)


def test_plateau_by_hand():
    p = diag_problem([2.0], [4.0])
    b = theory.sign_descent_plateau(p, 0.3, np.array([1.0, -0.35]))
    assert b.start == 4                         # max(⌈1/0.3⌉, ⌈0.35/0.3⌉) = max(4, 2)
    assert b.level == pytest.approx(0.09 * 6 / 2, rel=1e-15)


def test_plateau_is_tight_as_a_supremum():
    """e0 = (T−1)η + δ gives ℓ_T/level = (1 − δ/η)² (THEORY §9.1)."""
    eta, T, delta = 0.1, 7, 1e-4
    p = diag_problem([3.0])
    w0 = np.array([(T - 1) * eta + delta])
    b = theory.sign_descent_plateau(p, eta, w0)
    assert b.start == T
    res = sims.run(p, sims.SignSGD(lr=eta), T, w0=w0, engine="numpy")
    assert res.loss[0, T] / b.level == pytest.approx((1 - delta / eta) ** 2, rel=1e-9)


def test_plateau_needs_diagonal_h():
    p = problems.block_quadratic([[1.0, 2.0]], rotation="haar", seed=0)
    with pytest.raises(ValueError, match="diagonal H"):
        theory.sign_descent_plateau(p, 0.1, np.ones(2))


def test_tomihari_numbers_by_hand():
    p = diag_problem([1.0, 2.0], [10.0])
    w0 = np.array([1.0, 1.0, 1.0])              # g0 = (1, 2, 10)
    b = theory.tomihari_bounds(p, w0, eps=0.5, sigma=0.3, alpha=1.0)
    delta_loss = 0.5 * (1 + 2 + 10)
    assert b.delta_loss == pytest.approx(delta_loss)
    assert b.l_p == pytest.approx((2 * 2 + 1 * 10) / 3)                        # Σ d_l/d ‖H_l‖
    assert b.l_g0 == pytest.approx((5 * 2 + 100 * 10) / 105)                   # Σ ‖g_l‖²/‖g‖² ‖H_l‖
    assert b.l_p == pytest.approx(problems.l_p(p)) and b.l_g0 == pytest.approx(problems.l_g(p, w0))
    assert b.gd.bound == pytest.approx(2 * delta_loss * 10 / 0.25)            # a-priori L̄ = max ‖H_l‖
    assert b.sign.bound == pytest.approx(2 * delta_loss * b.l_p / 0.25)
    assert b.sign.lr == pytest.approx(0.5 / (math.sqrt(3) * b.l_p))
    assert b.gd.gd_lr(w0, p) == pytest.approx(1 / b.l_g0)
    # stochastic: SGD η = min(1/L, ε²/(2Lσ²)) = min(0.1, 0.25/(20·0.09))
    assert b.sgd.lr == pytest.approx(min(0.1, 0.25 / (2 * 10 * 0.09)))
    assert b.sgd.average_bound(10) == pytest.approx(2 * delta_loss / (b.sgd.lr * 10) + b.sgd.lr * 10 * 0.09)
    assert b.sgd.noise_std == pytest.approx(0.3 / math.sqrt(3))
    assert b.signsgd.floor == pytest.approx(b.signsgd.lr * math.sqrt(3) * b.l_p / 2 + 2 * 0.3 * math.sqrt(2 / math.pi))
    with pytest.raises(ValueError, match="alpha"):
        theory.tomihari_bounds(p, w0, 0.5, alpha=2.0)


def test_gradient_quadratic_forms_give_the_descent_lemma():
    """gᵀH_bd g ≤ L_G‖g‖² and sᵀH_bd s ≤ d L_P for s = sign(g) (THEORY §8.2)."""
    rng = np.random.default_rng(0)
    for inst in theory.suite.quadratic_instances(10, seed=1, key=98):
        p = inst.problem
        for w in (inst.w0, inst.w0 + rng.standard_normal(p.d)):
            g = p.grad(w)
            H = p.hessian()
            assert g @ H @ g <= problems.l_g(p, w) * (g @ g) * (1 + 1e-12)
            s = np.sign(g)
            assert s @ H @ s <= p.d * problems.l_p(p) * (1 + 1e-12)


def test_prop_4_10_sample_wise_epochs_and_full_batch():
    head = problems.linear_head(n_samples=30, n_classes=5, n_features=4, balanced=False, seed=2)
    w0 = 0.05 * np.random.default_rng(0).standard_normal(head.d)
    lr = 0.01
    for epochs in (1, 2):
        b = theory.linear_head_sign_update(head, lr, w0, epochs=epochs)
        res = sims.run(head, sims.SignSGD(lr=lr), b.steps, w0=w0, noise=sims.MiniBatch(size=1, order="cyclic"),
                       engine="numpy")
        np.testing.assert_allclose(res.w_final[0], b.w_pred, rtol=0, atol=1e-12)
    # Δb_c = η(2N_c − N) by hand from the labels
    N_c = np.bincount(head.labels, minlength=5)
    np.testing.assert_allclose(b.delta_b, lr * (2 * N_c - 30), atol=1e-15)
    assert b.bias_norm == pytest.approx(np.linalg.norm(w0[-5:] + 2 * lr * (2 * N_c - 30)) / math.sqrt(5))
    # full batch: one step is −η sign(Σ_i e_i z_i) — magnitude η on every coordinate
    step = theory.full_batch_sign_step(head, lr, w0)
    res = sims.run(head, sims.SignSGD(lr=lr), 1, w0=w0, engine="numpy")
    np.testing.assert_allclose(res.w_final[0] - w0, step, atol=1e-15)
    assert np.all(np.isin(np.abs(step), [0.0, lr]))


def test_plateau_fails_for_rotated_h():
    """The diagonal assumption matters: with a Haar rotation, ℓ_t ≤ η²tr(H)/2 for t ∈ [T, T+100]
    fails on most instances (THEORY §9.1: 43/50 at T), while the diagonal one never does."""
    fails = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        p = problems.block_quadratic([np.geomspace(1.0, 100.0, 10)], rotation="haar", seed=seed)
        w0 = rng.standard_normal(p.d)
        lr = 0.1 * np.max(np.abs(w0))
        T = int(np.max(np.ceil(np.abs(w0) / lr)))
        level = lr ** 2 * np.trace(p.hessian()) / 2
        res = sims.run(p, sims.SignSGD(lr=lr), T + 100, w0=w0, engine="numpy")
        fails += bool(np.any(res.loss[0, T:] > level))
    assert fails >= 15          # observed 20/20 (45/50 at T itself)
