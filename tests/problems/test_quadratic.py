"""BlockQuadratic: spectra as requested, validation, batch semantics, THEORY §1 facts."""
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad.problems import BlockQuadratic, block_quadratic, coupled, spectra


@st.composite
def block_specs(draw, max_blocks=4, max_size=8):
    B = draw(st.integers(1, max_blocks))
    spec = []
    for _ in range(B):
        n = draw(st.integers(1, max_size))
        low = draw(st.floats(1e-3, 10.0))
        ratio = draw(st.floats(1.0, 1e4))
        spec.append(spectra.logspace(n, low=low, high=low * ratio))
    return spec


rotation_kinds = st.sampled_from(["haar", "givens", "identity"])
seeds = st.integers(0, 2**31)


@settings(max_examples=40, deadline=None)
@given(spec=block_specs(), rotation=rotation_kinds, seed=seeds)
def test_block_eigenvalues_and_kappa_exact(spec, rotation, seed):
    p = block_quadratic(spec, rotation=rotation, seed=seed)
    for got, want in zip(p.block_eigvals, spec):
        np.testing.assert_allclose(got, np.sort(want), rtol=1e-9)
    union = np.concatenate(spec)
    want_kappa = union.max() / union.min()
    assert abs(p.kappa / want_kappa - 1) <= 1e-10
    np.testing.assert_allclose(p.eigvalsh(), np.sort(union), rtol=1e-9)
    # SPD preserved: dense H symmetric with positive spectrum, independently of the cached values
    h = p.hessian()
    np.testing.assert_array_equal(h, h.T)
    assert scipy.linalg.eigvalsh(h)[0] > 0


def test_requested_kappa_5000():
    eigs = [spectra.logspace(10, low=1, high=50), spectra.uniform(10, low=2, high=5000, seed=0)]
    p = block_quadratic(eigs, seed=3)
    assert abs(p.kappa - 5000) / 5000 <= 1e-10
    np.testing.assert_allclose(p.block_kappas, [50, 2500], rtol=1e-10)


def test_identity_rotation_gives_diagonal_blocks():
    p = block_quadratic([[3.0, 1.0, 2.0], [5.0]], rotation="identity")
    np.testing.assert_array_equal(p.blocks[0], np.diag([1.0, 2.0, 3.0]))


def test_block_seed_streams_do_not_depend_on_other_blocks():
    a = block_quadratic([[1, 2, 3], [4, 5]], seed=7)
    b = block_quadratic([[1, 2, 3], [4, 5, 6, 7]], seed=7)
    np.testing.assert_array_equal(a.blocks[0], b.blocks[0])


def _rand_problem(seed, w_star=True):
    rng = np.random.default_rng(seed)
    spec = [spectra.uniform(int(n), low=0.1, high=100, seed=rng) for n in rng.integers(1, 6, size=3)]
    p = block_quadratic(spec, seed=seed)
    if w_star:
        p = BlockQuadratic(p.blocks, w_star=rng.standard_normal(p.d))
    return p, rng


@settings(max_examples=25, deadline=None)
@given(seed=seeds, n=st.integers(1, 6))
def test_batch_equals_rows(seed, n):
    p, rng = _rand_problem(seed)
    w = rng.standard_normal((n, p.d))
    loss, grad, bl = p.loss(w), p.grad(w), p.block_losses(w)
    assert loss.shape == (n,) and grad.shape == (n, p.d) and bl.shape == (n, 3)
    for i in range(n):
        np.testing.assert_allclose(loss[i], p.loss(w[i]), rtol=1e-13)
        np.testing.assert_allclose(grad[i], p.grad(w[i]), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(bl[i], p.block_losses(w[i]), rtol=1e-13)
    # independent dense computation
    e = w - p.w_star
    h = p.hessian()
    np.testing.assert_allclose(grad, e @ h.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(loss, 0.5 * np.einsum("ni,ij,nj->n", e, h, e), rtol=1e-12)
    np.testing.assert_allclose(bl.sum(axis=1), loss, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_theory_section1_inequalities_and_identity(seed):
    p, rng = _rand_problem(seed)
    w = p.w_star + rng.standard_normal(p.d)
    g, loss = p.grad(w), p.loss(w)
    gg = g @ g
    assert loss / (gg / (2 * p.L)) >= 1 - 1e-9
    assert (gg / (2 * p.mu)) / loss >= 1 - 1e-9
    # gᵀH⁻¹g = 2(ℓ − ℓ*), with H⁻¹ from an independent dense solve
    np.testing.assert_allclose(g @ np.linalg.solve(p.hessian(), g), 2 * loss, rtol=1e-8)
    bl = p.block_losses(w)
    for l, ((a, b), h) in enumerate(zip(p.offsets, p.blocks)):
        gl = g[a:b] @ g[a:b]
        Ll, ml = p.block_eigvals[l][-1], p.block_eigvals[l][0]
        assert bl[l] / (gl / (2 * Ll)) >= 1 - 1e-9
        assert (gl / (2 * ml)) / bl[l] >= 1 - 1e-9
    # spec(H) = ∪ spec(H_l) ⇒ κ >= max κ_l
    assert p.kappa >= p.block_kappas.max() * (1 - 1e-12)


def test_structure_attributes():
    p = block_quadratic([[1, 2], [3, 4, 5], [6]], seed=0)
    assert p.sizes == (2, 3, 1) and p.d == 6 and p.n_blocks == 3
    assert p.offsets == ((0, 2), (2, 5), (5, 6))
    np.testing.assert_array_equal(p.block_ids, [0, 0, 1, 1, 1, 2])
    assert p.delta == 0.0 and p.is_block_diagonal
    assert p.L == pytest.approx(6) and p.mu == pytest.approx(1)
    with pytest.raises(ValueError):
        p.blocks[0][0, 0] = 3.0  # read-only


GOOD = np.eye(2)


@pytest.mark.parametrize("blocks, match", [
    ([GOOD, np.array([[1.0, 0.0], [0.0, -1.0]])], r"block 1 must be positive definite"),
    ([np.array([[1.0, 0.5], [0.0, 1.0]])], r"block 0 must be symmetric"),
    ([GOOD, np.array([[np.nan, 0.0], [0.0, 1.0]])], r"block 1 must contain only finite values"),
    ([np.ones((2, 3))], r"block 0 must be square"),
    ([GOOD, np.ones(3)], r"block 1 must have 2 dimension"),
    ([np.zeros((0, 0))], r"block 0 must not be empty"),
    ([], r"blocks must contain at least one block"),
    ([np.zeros((2, 2))], r"block 0 must be positive definite"),
])
def test_validation_names_block_and_property(blocks, match):
    with pytest.raises(ValueError, match=match):
        BlockQuadratic(blocks)


def test_validation_other_fields():
    with pytest.raises(ValueError, match=r"w_star must have shape \(2,\)"):
        BlockQuadratic([GOOD], w_star=np.zeros(3))
    with pytest.raises(TypeError, match="blocks must be a sequence"):
        BlockQuadratic(np.eye(2))
    p = BlockQuadratic([GOOD])
    with pytest.raises(ValueError, match=r"w must have shape"):
        p.loss(np.zeros(3))
    with pytest.raises(ValueError, match=r"block_eigs\[1\]: eigenvalues must all be > 0"):
        block_quadratic([[1.0], [0.0]])
    with pytest.raises(ValueError, match="rotation must be one of"):
        block_quadratic([[1.0]], rotation="qr")


def test_coupled_problem():
    p = block_quadratic([[1, 2, 3], [10, 20]], seed=0)
    c = coupled(p, strength=0.5, seed=1)
    h = c.hessian()
    off = h - scipy.linalg.block_diag(*p.blocks)
    np.testing.assert_allclose(c.delta, np.max(np.abs(np.linalg.eigvalsh(off))), rtol=1e-12)
    np.testing.assert_allclose(c.delta, 0.5 * p.mu, rtol=1e-12)  # ‖C‖₂ = μ by construction
    w = np.random.default_rng(0).standard_normal(p.d)
    np.testing.assert_allclose(c.grad(w), h @ w, rtol=1e-12)
    np.testing.assert_allclose(c.eigvalsh(), np.linalg.eigvalsh(h), rtol=1e-10)
    assert np.linalg.eigvalsh(h)[0] > 0
    with pytest.raises(ValueError, match="positive definite"):
        coupled(p, strength=50.0, seed=1)
    with pytest.raises(ValueError, match="already coupled"):
        coupled(c, strength=0.1)
    with pytest.raises(ValueError, match="strength must be >= 0"):
        coupled(p, strength=-1.0)


def test_fixed_edge_cases():
    with pytest.raises(ValueError, match="needs at least 2 blocks"):
        coupled(block_quadratic([[1.0, 2.0]], seed=0), strength=0.5)
    with pytest.raises(ValueError, match=r"R must be in \[0.0, 1.0\]"):
        block_quadratic([[1.0, 2.0]], rotation="haar", R=7.0)
