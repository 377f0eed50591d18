"""Sympy derivations (theory.derivations) lambdified = the numeric functions, on random inputs."""
import numpy as np
import pytest
import sympy as sp

from hetquad import problems, theory
from hetquad.theory import derivations


def test_optimal_gd_matches_numeric():
    d = derivations.optimal_gd()
    L, mu, kappa, eps = d.symbols
    lr = sp.lambdify((L, mu), d.lr)
    rate = sp.lambdify((L, mu), d.rate)
    rate_k = sp.lambdify(kappa, d.rate_kappa)
    its = sp.lambdify((kappa, eps), d.iterations)
    rng = np.random.default_rng(0)
    for _ in range(20):
        lo, k = 10 ** rng.uniform(-2, 2), 10 ** rng.uniform(0.01, 4)
        p = problems.block_quadratic([[lo, lo * k]], rotation="identity", seed=0)
        b = theory.gd_rate(p)
        assert lr(p.L, p.mu) == pytest.approx(b.lr, rel=1e-12)
        assert rate(p.L, p.mu) == pytest.approx(b.rate, rel=1e-10)
        assert rate_k(p.kappa) == pytest.approx(b.rate, rel=1e-10)
        assert np.ceil(its(p.kappa, 1e-6)) == b.iterations(1e-6)


def test_construction_loss_ratio_matches_gd_iterates():
    expr, (L, mu, eta, t) = derivations.construction_loss_ratio()
    f = sp.lambdify((L, mu, eta, t), expr)
    p = problems.block_quadratic([[2.0, 3.0], [50.0]], seed=5)
    b = theory.gd_lower_bound(p)
    for lr in (0.3 / p.L, 1.0 / p.L, b.lr, 1.9 / p.L):
        w = b.w0.copy()
        for step in range(1, 40):
            w = w - lr * p.grad(w)
            assert p.loss(w) / b.loss0 == pytest.approx(f(p.L, p.mu, lr, step), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("n", [2, 3])
def test_adam_variant_is_preconditioned_gd(n):
    eq = derivations.preconditioned_equivalence(n)
    assert eq.residual == sp.zeros(n, n)
    P = sp.lambdify((*eq.h_symbols, *eq.d_symbols), eq.P)
    rng = np.random.default_rng(n)
    for seed in range(5):
        H = problems.block_quadratic([rng.uniform(1, 20, size=n)], seed=seed).blocks[0]
        w0 = rng.standard_normal(n)
        b = theory.adam_variant_rate(problems.BlockQuadratic((H,)), w0)
        hvals = [H[i, j] for i in range(n) for j in range(i, n)]
        lam = np.linalg.eigvalsh(np.array(P(*hvals, *np.abs(H @ w0)), dtype=float))
        assert lam[-1] / lam[0] == pytest.approx(b.kappa, rel=1e-10)
        assert 2 / (lam[0] + lam[-1]) == pytest.approx(b.lr, rel=1e-10)


def test_sign_plateau_matches_numeric():
    d = derivations.sign_plateau(3)
    eta, e0, h, delta = d.symbols
    start = sp.lambdify((eta, *e0), d.start)
    level = sp.lambdify((eta, *h), d.level)
    assert d.two_cycle == 0
    assert sp.lambdify((eta, delta), d.attained_ratio)(0.1, 0.02) == pytest.approx(0.64)
    rng = np.random.default_rng(1)
    for _ in range(20):
        hv, ev, lr = rng.uniform(0.1, 10, 3), rng.standard_normal(3), rng.uniform(0.01, 0.5)
        p = problems.block_quadratic([hv[:2], hv[2:]], rotation="identity", seed=0)
        b = theory.sign_descent_plateau(p, lr, ev)
        assert start(lr, *ev) == b.start
        assert level(lr, *hv) == pytest.approx(b.level, rel=1e-14)
