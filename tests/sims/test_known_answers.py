"""Optimizer trajectories against answers computed independently of the optimizer code.

Closed forms (GD on a diagonal problem, THEORY §2), preconditioned GD written out by hand with a
dense Hessian (the Adam / Adam-mini theorem variants, THEORY §4), and hand-written sign loops
(THEORY §9.2). Each answer is checked on every available engine, including the batched array
code with ``xp=numpy`` (these variants have ε = 0 and are outside the agreement table).
"""
from __future__ import annotations

import numpy as np
import pytest

from hetquad import sims
from hetquad.problems.quadratic import block_quadratic
from hetquad.sims import engines
from hetquad.sims.engines import batched
from hetquad.sims.optimizers import GD, Adam, AdamMini, SignSGD, Signum
from hetquad.sims.run import build_task

ENGINES = ["numpy", "batched-numpy"] + [pytest.param(n, marks=pytest.mark.gpu if n == "cupy" else ())
                                        for n in engines.NAMES if n != "numpy"]


def _run(engine: str, p, opt, steps: int, w0):
    """(loss (n, steps+1), w_final (n, d)) from ``engine``; skips an unavailable engine."""
    if engine == "batched-numpy":
        traj = batched.simulate(build_task(p, opt, steps, w0=w0), xp=np)
        return traj.loss, traj.w_final
    mod = engines.get(engine)
    if not mod.is_available():
        pytest.skip(f"engine {engine!r} unavailable: {mod.why_unavailable()}")
    res = sims.run(p, opt, steps, w0=w0, engine=engine)
    return res.loss, res.w_final


@pytest.fixture(scope="module")
def rotated():
    eigs = [np.geomspace(0.5, 40.0, 5), np.linspace(1.0, 3.0, 4), np.geomspace(0.05, 2.0, 6)]
    return block_quadratic(eigs, seed=5, w_star=np.linspace(-1.0, 1.0, 15))


# -- GD, THEORY §2 ---------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_gd_optimal_step_is_the_closed_form(engine):
    lam = [np.array([0.2, 1.0, 7.0]), np.array([0.5, 3.0]), np.array([10.0, 2.5, 4.0, 0.7])]
    p = block_quadratic(lam, rotation="identity")  # H = diag(λ) (each block's λ sorted), w* = 0
    H = p.hessian()
    lam = np.diag(H).copy()
    np.testing.assert_array_equal(H, np.diag(lam))
    np.testing.assert_array_equal(np.sort(lam), np.sort(np.concatenate(p.block_eigvals)))
    lr = 2.0 / (lam.max() + lam.min())
    e0 = np.random.default_rng(0).standard_normal((2, lam.size))
    steps = 60
    loss, w = _run(engine, p, GD(lr=lr), steps, e0)
    t = np.arange(steps + 1)[:, None]
    e_t = (1.0 - lr * lam) ** t  # (steps+1, d) factors
    expected_loss = 0.5 * np.einsum("i,ti,ni->nt", lam, e_t ** 2, e0 ** 2)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-11)
    np.testing.assert_allclose(w, e0 * e_t[-1], rtol=1e-11, atol=1e-300)
    # and the contraction is the classical (κ−1)/(κ+1) per step on the extreme coordinates
    rho = (lam.max() / lam.min() - 1) / (lam.max() / lam.min() + 1)
    np.testing.assert_allclose(np.abs(1 - lr * lam).max(), rho, rtol=1e-14)


# -- theorem variants, THEORY §4 -------------------------------------------------------------
def _preconditioned_gd(H, w_star, w0, d_diag, lr, steps):
    """w ← w − lr·D⁻¹ H (w − w*) with a dense H: the iteration the variants must equal."""
    ws = [w0]
    for _ in range(steps):
        w = ws[-1]
        ws.append(w - lr * (H @ (w - w_star)) / d_diag)
    ws = np.array(ws)
    e = ws - w_star
    return 0.5 * np.einsum("ti,ij,tj->t", e, H, e), ws[-1]


@pytest.mark.parametrize("engine", ENGINES)
def test_adam_theorem_variant_is_preconditioned_gd(rotated, engine):
    H, w_star = rotated.hessian(), np.asarray(rotated.w_star)
    w0 = w_star + np.random.default_rng(1).standard_normal(rotated.d)
    D = np.abs(H @ (w0 - w_star))  # |g0|, computed without the optimizer
    lr, steps = 0.05, 80
    exp_loss, exp_w = _preconditioned_gd(H, w_star, w0, D, lr, steps)
    loss, w = _run(engine, rotated, Adam.theorem_variant(lr), steps, w0)
    assert exp_loss[-1] < 0.5 * exp_loss[0]  # a real trajectory, not a fixed point
    np.testing.assert_allclose(loss[0], exp_loss, rtol=1e-12)
    np.testing.assert_allclose(w[0], exp_w, rtol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_adam_mini_theorem_variant_is_block_constant_preconditioned_gd(rotated, engine):
    H, w_star = rotated.hessian(), np.asarray(rotated.w_star)
    w0 = w_star + np.random.default_rng(2).standard_normal(rotated.d)
    g0 = H @ (w0 - w_star)
    D = np.concatenate([np.full(b - a, np.sqrt(np.mean(g0[a:b] ** 2))) for a, b in rotated.offsets])
    lr, steps = 0.05, 80
    exp_loss, exp_w = _preconditioned_gd(H, w_star, w0, D, lr, steps)
    loss, w = _run(engine, rotated, AdamMini.theorem_variant(lr), steps, w0)
    np.testing.assert_allclose(loss[0], exp_loss, rtol=1e-12)
    np.testing.assert_allclose(w[0], exp_w, rtol=1e-12)
    # a per-coordinate D is a different iteration: the check can tell them apart
    other_loss, _ = _preconditioned_gd(H, w_star, w0, np.abs(g0), lr, steps)
    assert np.max(np.abs(other_loss - exp_loss) / exp_loss) > 1e-3


def test_bias_corrected_adam_is_not_the_theorem_variant(rotated):
    """THEORY §4 pitfall: β2 → 1 with bias correction is a running mean, not v ≡ g0²."""
    w0 = np.asarray(rotated.w_star) + np.random.default_rng(3).standard_normal(rotated.d)
    variant = sims.run(rotated, Adam.theorem_variant(0.05), 60, w0=w0, engine="numpy")
    near = sims.run(rotated, Adam(lr=0.05, beta1=0.0, beta2=1 - 1e-9, eps=0.0), 60, w0=w0, engine="numpy")
    assert np.max(np.abs(near.loss - variant.loss) / variant.loss) > 1e-2


# -- sign methods, THEORY §9 -----------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_signsgd_is_signum_without_momentum(rotated, engine):
    w0 = np.asarray(rotated.w_star) + np.random.default_rng(4).standard_normal((3, rotated.d))
    a = _run(engine, rotated, SignSGD(lr=1e-2), 100, w0)
    b = _run(engine, rotated, Signum(lr=1e-2, momentum=0.0), 100, w0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    # and both are the hand loop w ← w − lr·sign(g)
    w = w0.copy()
    for _ in range(100):
        w = w - 1e-2 * np.sign(rotated.grad(w))
    np.testing.assert_allclose(a[1], w, rtol=0, atol=1e-12)


def test_signum_buffer_conventions_give_the_same_iterates(rotated):
    """buf ← μ·buf + (1−μ)·g (hetquad, [T]) and buf ← μ·buf + g differ by the factor 1−μ > 0,
    so sign(buf) and hence the iterates are the same (THEORY §9.2)."""
    mu, lr, steps = 0.9, 1e-2, 300
    w0 = np.asarray(rotated.w_star) + np.random.default_rng(5).standard_normal((4, rotated.d))
    spec = Signum(lr=lr, momentum=mu)
    state = spec.init(rotated, w0)
    w, buf = w0.copy(), np.zeros_like(w0)
    for t in range(steps):
        g = rotated.grad(w)
        np.testing.assert_array_equal(rotated.grad(state.w), g, err_msg=f"step {t}")
        state = spec.update(state, g)
        buf = mu * buf + g
        w = w - lr * np.sign(buf)
    np.testing.assert_array_equal(state.w, w)
    res = sims.run(rotated, spec, steps, w0=w0, engine="numpy")
    np.testing.assert_array_equal(res.w_final, w)
    # momentum matters: SignSGD's iterates differ
    assert not np.array_equal(sims.run(rotated, SignSGD(lr=lr), steps, w0=w0, engine="numpy").w_final, w)
