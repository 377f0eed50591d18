"""Gini, gradient heterogeneity, L_G / L_P and the target-Gini initial point (THEORY §8.1, §8.2)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad.problems import block_quadratic, coupled, spectra
from hetquad.problems.heterogeneity import (GradientHeterogeneity, geometric_ratio_for_gini, gini,
                                            gradient_heterogeneity, initial_point, l_g, l_p)


def pairwise_gini(x):
    x = np.asarray(x, dtype=float)
    n = x.size
    return np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean())


values = st.lists(st.floats(0, 1e6), min_size=1, max_size=50).filter(lambda v: sum(v) > 0)


@settings(max_examples=100, deadline=None)
@given(x=values)
def test_gini_sorted_equals_pairwise(x):
    g = gini(x)
    assert abs(g - pairwise_gini(x)) <= 1e-12
    assert -1e-15 <= g <= (len(x) - 1) / len(x) + 1e-15


@pytest.mark.parametrize("n", [1, 2, 5, 100])
def test_gini_extremes(n):
    assert abs(gini(np.full(n, 3.7))) <= 1e-15
    x = np.zeros(n)
    x[n // 2] = 2.0
    assert gini(x) == pytest.approx((n - 1) / n, abs=1e-15)


def test_gini_batch_and_scale_invariance():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 7))
    g = gini(x)
    assert g.shape == (4,)
    np.testing.assert_allclose(g, [pairwise_gini(r) for r in x], atol=1e-12)
    np.testing.assert_allclose(gini(5.0 * x), g, atol=1e-15)


@pytest.mark.parametrize("x, match", [
    ([1.0, -0.5], ">= 0"), ([], "empty"), ([0.0, 0.0], "all zero"), ([1.0, np.nan], "finite"),
    ([[1.0, 1.0], [0.0, 0.0]], "all zero"),
])
def test_gini_invalid(x, match):
    with pytest.raises(ValueError, match=match):
        gini(x)


def _problem(seed=0):
    spec = [spectra.uniform(4, low=1, high=3, seed=seed), spectra.uniform(6, low=50, high=200, seed=seed + 1),
            spectra.uniform(3, low=1000, high=5000, seed=seed + 2), spectra.uniform(5, low=5, high=8, seed=seed + 3)]
    return block_quadratic(spec, seed=seed)


def test_gradient_heterogeneity_known_values():
    p = _problem()
    w = np.random.default_rng(1).standard_normal(p.d)
    r = gradient_heterogeneity(p, w)
    assert isinstance(r, GradientHeterogeneity)
    g = p.grad(w)
    norms = [np.linalg.norm(g[a:b]) for a, b in p.offsets]
    np.testing.assert_allclose(r.block_norms, norms, rtol=1e-14)
    np.testing.assert_allclose(r.x, np.array(norms) / np.sqrt(p.sizes), rtol=1e-14)
    assert abs(r.gini - pairwise_gini(r.x)) <= 1e-12
    # batch
    W = np.random.default_rng(2).standard_normal((3, p.d))
    rb = gradient_heterogeneity(p, W)
    assert rb.gini.shape == (3,)
    for i in range(3):
        assert rb.gini[i] == pytest.approx(gradient_heterogeneity(p, W[i]).gini, abs=1e-15)
    with pytest.raises(ValueError, match="gradient is zero"):
        gradient_heterogeneity(p, p.w_star)


def test_l_g_and_l_p_closed_forms():
    p = block_quadratic([[1.0, 2.0], [10.0, 10.0, 30.0]], rotation="identity")
    assert l_p(p) == pytest.approx((2 * 2 + 3 * 30) / 5, rel=1e-14)
    w = np.array([0.0, 1.0, 0.0, 0.0, 0.1])  # g = (0, 2, 0, 0, 3): weights 4/13 and 9/13
    assert l_g(p, w) == pytest.approx((4 * 2 + 9 * 30) / 13, rel=1e-14)
    np.testing.assert_allclose(l_g(p, np.stack([w, 2 * w])), 2 * [l_g(p, w)], rtol=1e-14)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_quadratic_form_inequalities(seed):
    """gᵀH_bd g ≤ L_G‖g‖² and sign(g)ᵀH_bd sign(g) ≤ d·L_P (THEORY §8.2)."""
    p = _problem(seed % 1000)
    g = p.grad(np.random.default_rng(seed).standard_normal(p.d))
    H = p.hessian()
    gg = g @ g
    assert (l_g(p, p.w_star + np.linalg.solve(H, g)) * gg) / (g @ H @ g) >= 1 - 1e-12
    s = np.sign(g)
    assert p.d * l_p(p) / (s @ H @ s) >= 1 - 1e-12
    # [T] eq. 13 on an exact quadratic: ‖g_l‖ ≤ ‖H_l‖₂ ‖e_l‖
    e = np.linalg.solve(H, g)
    for (a, b), eig in zip(p.offsets, p.block_eigvals):
        assert eig[-1] * np.linalg.norm(e[a:b]) / np.linalg.norm(g[a:b]) >= 1 - 1e-12


@pytest.mark.parametrize("n", [2, 3, 4, 10, 50])
def test_geometric_ratio_hits_target(n):
    for target in np.linspace(0, (n - 1) / n, 9)[:-1]:
        q = geometric_ratio_for_gini(n, target)
        assert 0 < q <= 1
        assert abs(pairwise_gini(q ** np.arange(n)) - target) <= 1e-12


def test_geometric_ratio_invalid():
    assert geometric_ratio_for_gini(1, 0.0) == 1.0
    for n, g in [(3, 2 / 3), (3, 0.9), (3, -0.1), (1, 0.1)]:
        with pytest.raises(ValueError, match="gini must be in"):
            geometric_ratio_for_gini(n, g)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), frac=st.floats(0.0, 0.99), placement=st.sampled_from(["random", "sharpest"]),
       scale=st.floats(1e-3, 1e3))
def test_initial_point_hits_target_gini(seed, frac, placement, scale):
    p = _problem(seed % 50)
    target = frac * (p.n_blocks - 1) / p.n_blocks
    w0 = initial_point(p, gini=target, placement=placement, scale=scale, seed=seed)
    r = gradient_heterogeneity(p, w0)
    assert abs(r.gini - target) <= 1e-9
    q = geometric_ratio_for_gini(p.n_blocks, target)
    # ‖g0_l‖ = a_l = scale·x_l·√d_l with x a permutation of q^l
    np.testing.assert_allclose(np.sort(r.x), np.sort(scale * q ** np.arange(p.n_blocks)), rtol=1e-9)


def test_initial_point_placement_and_profiles():
    p = _problem(3)
    w0 = initial_point(p, gini=0.5, placement="sharpest", seed=0)
    x = gradient_heterogeneity(p, w0).x
    sharp = [e[-1] for e in p.block_eigvals]
    assert np.argsort(x).tolist() == np.argsort(sharp).tolist()  # largest gradient on sharpest block
    prof = np.array([1.0, 2.0, 3.0, 4.0])
    w1 = initial_point(p, profile=prof, seed=1)
    np.testing.assert_allclose(gradient_heterogeneity(p, w1).x, prof, rtol=1e-9)
    w2 = initial_point(p, seed=2)  # uniform: Gini 0
    assert gradient_heterogeneity(p, w2).gini <= 1e-12
    w3 = initial_point(p, ratio=0.5, placement="given", seed=2)
    np.testing.assert_allclose(gradient_heterogeneity(p, w3).x, 0.5 ** np.arange(4), rtol=1e-9)


def test_initial_point_on_coupled_problem():
    c = coupled(_problem(1), strength=0.5, seed=0)
    w0 = initial_point(c, gini=0.4, seed=0)
    assert abs(gradient_heterogeneity(c, w0).gini - 0.4) <= 1e-9


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(gini=0.5, ratio=0.5), ValueError, "exactly one of ratio or gini"),
    (dict(profile="uniform", gini=0.5), ValueError, "need profile='geometric'"),
    (dict(profile="geometric"), ValueError, "exactly one of ratio or gini"),
    (dict(profile="zipf"), ValueError, "profile must be one of"),
    (dict(profile=[1.0, 2.0]), ValueError, "one value per block"),
    (dict(profile=[1.0, 0.0, 1.0, 1.0]), ValueError, "> 0"),
    (dict(gini=0.8), ValueError, "gini must be in"),
    (dict(placement="left"), ValueError, "placement must be one of"),
    (dict(scale=0.0), ValueError, "scale must be > 0"),
    (dict(ratio=1.5), ValueError, "ratio must be in"),
])
def test_initial_point_invalid(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        initial_point(_problem(), **kwargs)


def test_linear_head_heterogeneity_and_type_errors():
    from hetquad.problems.linear_head import linear_head
    p = linear_head(n_samples=10, n_classes=3, n_features=2)
    w = np.random.default_rng(0).standard_normal(p.d)
    r = gradient_heterogeneity(p, w)  # any problem with sizes and grad
    g = p.grad(w)
    np.testing.assert_allclose(r.block_norms, [np.linalg.norm(g[:6]), np.linalg.norm(g[6:])], rtol=1e-14)
    with pytest.raises(TypeError, match="must be a BlockQuadratic"):
        l_p(p)
    with pytest.raises(TypeError, match="must be a BlockQuadratic"):
        initial_point(p, gini=0.2)
