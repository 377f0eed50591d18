"""Heavy ball, Nesterov and the first-order lower bound (THEORY §12) against known answers, small
hand-written loops of the papers' recursions, and ``sims.SGD`` runs (torch.optim.SGD's rule)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad import sims, theory
from hetquad.problems.quadratic import block_quadratic


@pytest.fixture(scope="module")
def problem():
    # κ = 100 exactly: μ = 1 and L = 100 are in the spectrum
    return block_quadratic([np.geomspace(1.0, 100.0, 6), np.linspace(2.0, 50.0, 4)], rotation="haar", seed=3)


def test_known_values_at_kappa_100(problem):
    hb = theory.heavy_ball_rate(problem)
    assert hb.rate == pytest.approx(9 / 11, rel=1e-14)
    assert hb.lr == pytest.approx(4 / 121, rel=1e-14)       # 4/(√100 + √1)²
    assert hb.momentum == pytest.approx(81 / 121, rel=1e-14)
    ne = theory.nesterov_rate(problem)
    assert ne.lr == pytest.approx(0.01) and ne.momentum == pytest.approx(9 / 11)
    assert ne.rate == pytest.approx(math.sqrt(0.9), rel=1e-14)
    lb = theory.first_order_lower_bound(100.0)
    assert lb.rate == pytest.approx(hb.rate, rel=1e-15)      # heavy ball attains the lower bound's rate
    assert lb.iterations(1e-3) == math.ceil(math.log(1e3) / math.log(11 / 9))
    assert theory.first_order_lower_bound(1.0).rate == 0.0
    with pytest.raises(ValueError, match="kappa"):
        theory.first_order_lower_bound(0.5)


@settings(max_examples=40, deadline=None)
@given(kappa=st.floats(1.5, 1e4), u=st.floats(0.0, 1.0))
def test_heavy_ball_iteration_matrix_has_spectral_radius_rho(kappa, u):
    """At (α*, β*) every eigen-direction's 2×2 companion matrix has eigenvalues of modulus √β* = ρ."""
    p = block_quadratic([np.array([1.0, kappa ** u, kappa])], rotation="identity")
    b = theory.heavy_ball_rate(p)
    for lam in (1.0, kappa ** u, kappa):
        m = np.array([[1 + b.momentum - b.lr * lam, -b.momentum], [1.0, 0.0]])
        assert np.max(np.abs(np.linalg.eigvals(m))) <= b.rate * (1 + 1e-6) + 1e-12


def _heavy_ball_loop(H, e0, alpha, beta, steps):
    """Polyak's recursion, written out: e_{t+1} = e_t − αHe_t + β(e_t − e_{t−1}), e_{−1} = e_0."""
    out, prev, e = [e0.copy()], e0.copy(), e0.copy()
    for _ in range(steps):
        e, prev = e - alpha * (H @ e) + beta * (e - prev), e
        out.append(e.copy())
    return np.array(out)


def _nesterov_loop(H, e0, eta, beta, steps):
    """Nesterov 2004 scheme (2.2.19): x_{t+1} = y_t − η∇f(y_t), y_{t+1} = x_{t+1} + β(x_{t+1} − x_t)."""
    xs, ys, x, y = [e0.copy()], [e0.copy()], e0.copy(), e0.copy()
    for _ in range(steps):
        xn = y - eta * (H @ y)
        y, x = xn + beta * (xn - x), xn
        xs.append(x.copy())
        ys.append(y.copy())
    return np.array(xs), np.array(ys)


def test_heavy_ball_envelope_holds_on_the_loop_and_sgd_is_the_loop(problem):
    b = theory.heavy_ball_rate(problem)
    H = problem.hessian()
    e0 = np.random.default_rng(0).standard_normal(problem.d)
    steps = 300
    es = _heavy_ball_loop(H, e0, b.lr, b.momentum, steps)
    loss = 0.5 * np.einsum("ti,ij,tj->t", es, H, es)
    assert np.all(loss / loss[0] <= b.loss_bound(np.arange(steps + 1)) * (1 + 1e-9))
    res = sims.run(problem, sims.SGD(lr=b.lr, momentum=b.momentum), steps, w0=problem.w_star + e0, engine="numpy")
    np.testing.assert_allclose(res.w_final[0] - problem.w_star, es[-1], rtol=0, atol=1e-12 * np.abs(e0).max())
    rec = theory.check(res, b)
    assert rec.all_hold and rec.bound == "heavy_ball_rate"


def test_nesterov_bound_on_x_and_on_torch_form_points(problem):
    b = theory.nesterov_rate(problem)
    H = problem.hessian()
    e0 = np.random.default_rng(1).standard_normal(problem.d)
    steps = 400
    xs, ys = _nesterov_loop(H, e0, b.lr, b.momentum, steps)
    f = lambda e: 0.5 * np.einsum("ti,ij,tj->t", e, H, e)  # noqa: E731
    q = 1 - 1 / math.sqrt(b.kappa)
    phi0 = f(xs[:1])[0] + 0.5 * b.mu * e0 @ e0
    t = np.arange(steps + 1)
    assert np.all(f(xs) <= q ** t * phi0 * (1 + 1e-9))          # Nesterov 2004 Thm. 2.2.3 on x_t
    assert np.all(f(ys) / f(ys[:1]) <= b.loss_bound(t) * (1 + 1e-9))  # the form reported for y_t
    res = sims.run(problem, sims.SGD(lr=b.lr, momentum=b.momentum, nesterov=True), steps,
                   w0=problem.w_star + e0, engine="numpy")
    np.testing.assert_allclose(res.w_final[0] - problem.w_star, ys[-1], rtol=0, atol=1e-12 * np.abs(e0).max())
    assert theory.check(res, b).all_hold


def test_a_too_large_momentum_violates_the_heavy_ball_envelope(problem):
    """The check can fail: β = 0.95 > β* slows the run below the optimal envelope."""
    b = theory.heavy_ball_rate(problem)
    res = sims.run(problem, sims.SGD(lr=b.lr, momentum=0.95), 400, seed=0, engine="numpy")
    assert not theory.check(res, b).all_hold


def test_iterations_is_the_first_step_under_eps(problem):
    for b in (theory.heavy_ball_rate(problem), theory.nesterov_rate(problem)):
        T = int(b.iterations(1e-6))
        assert b.loss_bound(T) <= 1e-6 < b.loss_bound(T - 1)
        assert b.iterations(1.0) == 0.0


def test_a_wrong_bound_is_reported_violated(problem):
    """Every check can fail: the envelope of a rate 10 % too small is violated by the same runs."""
    import dataclasses
    for make, kw in ((theory.heavy_ball_rate, {}), (theory.nesterov_rate, {"nesterov": True})):
        b = make(problem)
        res = sims.run(problem, sims.SGD(lr=b.lr, momentum=b.momentum, **kw), 600, seed=1, engine="numpy", tol=1e-8)
        assert theory.check(res, b).all_hold
        wrong = dataclasses.replace(b, rate=0.9 * b.rate)
        assert not theory.check(res, wrong).all_hold
