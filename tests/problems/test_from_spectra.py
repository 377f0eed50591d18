"""from_spectra: quadratics with measured block spectra (problems.from_spectra; THEORY §1, §6, §7)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad.problems.from_spectra import from_spectra, quantile_eigenvalues
from hetquad.problems.spectral_density import SpectralNodes, js0, js0_from_nodes


def block_eigs(p):
    return [np.asarray(e) for e in p.block_eigvals]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=12), min_size=1, max_size=4),
       st.integers(0, 2**31))
def test_positive_spectra_are_reproduced(spectra, seed):
    spectra = [np.array(s) for s in spectra]
    p = from_spectra(spectra, seed=seed)
    top = max(s.max() for s in spectra)
    for got, want in zip(block_eigs(p), spectra):
        np.testing.assert_allclose(got, np.sort(want), rtol=0, atol=1e-9 * top)


def test_quantiles_known_answers():
    nodes = np.array([3.0, -1.0, 2.0])
    np.testing.assert_array_equal(quantile_eigenvalues(nodes, np.ones(3) / 3, 3), [-1.0, 2.0, 3.0])
    # weights 1/4, 3/4 on {a, b}: quantiles at 1/8, 3/8, 5/8, 7/8 -> a, b, b, b
    np.testing.assert_array_equal(quantile_eigenvalues([5.0, 1.0], [0.75, 0.25], 4), [1.0, 5.0, 5.0, 5.0])
    np.testing.assert_array_equal(quantile_eigenvalues([5.0, 1.0], [0.75, 0.25], 2), [1.0, 5.0])


def test_kappa_is_the_common_shift_of_theory_section_6():
    rng = np.random.default_rng(0)
    spectra = [rng.normal(0, s, size=n) for s, n in ((1.0, 7), (5.0, 4), (0.1, 9))]  # indefinite
    kappa = 5000.0
    p = from_spectra(spectra, kappa=kappa, seed=1)  # default mode 'signed' with kappa
    assert p.kappa == pytest.approx(kappa, rel=1e-10) and p.mu == pytest.approx(1.0, rel=1e-10)
    union = np.concatenate(spectra)
    a, b = union.min(), union.max()
    for got, raw in zip(block_eigs(p), spectra):  # λ ← 1 + (κ − 1)(λ − min)/(max − min), written out
        np.testing.assert_allclose(got, 1 + (kappa - 1) * (np.sort(raw) - a) / (b - a), rtol=1e-9)
    assert p.info["mode"] == "signed" and p.info["kappa"] == kappa
    p2 = from_spectra(spectra, kappa=10.0, lam_max=3.0, mode="abs")
    assert p2.L == pytest.approx(3.0, rel=1e-12) and p2.kappa == pytest.approx(10.0, rel=1e-10)


def test_indefinite_without_kappa_modes():
    spectra = [np.array([-2.0, 0.0, 1.0, 4.0]), np.array([-1e-3, 0.5, 8.0])]
    p = from_spectra(spectra)  # default 'abs' without kappa
    floor = 1e-12 * 8.0
    want = [np.sort(np.maximum(np.abs(s), floor)) for s in spectra]
    for got, w in zip(block_eigs(p), want):
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-9 * 8.0)
    q = from_spectra(spectra, mode="positive", floor=1e-3)
    for got, s in zip(block_eigs(q), spectra):
        np.testing.assert_allclose(got, np.sort(np.maximum(s, 8e-3)), rtol=0, atol=1e-9 * 8.0)
    # the abs map keeps the log-mode JS⁰ (which folds θ ≤ 0 to |θ| and floors at 1e-12)
    assert js0(p) == pytest.approx(js0_from_nodes([(s, np.ones(s.size)) for s in spectra]), abs=1e-6)


def test_errors():
    neg = [np.array([-1.0, 2.0]), np.array([1.0, 3.0])]
    with pytest.raises(ValueError, match="mode='signed' without kappa"):
        from_spectra(neg, mode="signed")
    with pytest.raises(ValueError, match="mode must be one of"):
        from_spectra(neg, mode="fold")
    with pytest.raises(ValueError, match="kappa must be > 1"):
        from_spectra(neg, kappa=1.0)
    with pytest.raises(ValueError, match="lam_max applies only"):
        from_spectra(neg, lam_max=2.0)
    with pytest.raises(ValueError, match="floor must be < 1"):
        from_spectra(neg, floor=1.0)
    with pytest.raises(ValueError, match="every eigenvalue <= 0"):
        from_spectra([np.array([-1.0, -2.0])], mode="positive")
    with pytest.raises(TypeError, match="record must be"):
        from_spectra(np.array([1.0, 2.0]))


def test_slq_nodes_become_quantiles_and_max_block_size():
    s = SpectralNodes(np.array([1.0, 10.0]), np.array([0.5, 0.5]), "slq", n_v=1, m=2)
    p = from_spectra([s])
    np.testing.assert_allclose(block_eigs(p)[0], [1.0, 10.0], rtol=1e-12)

    class Record:  # a duck-typed record: SLQ nodes of a 6-entry block
        names, sizes, spectra = ("w",), (6,), (s,)
    p6 = from_spectra(Record())
    np.testing.assert_allclose(block_eigs(p6)[0], [1, 1, 1, 10, 10, 10], rtol=1e-12)
    assert p6.info["block_names"] == ["w"]
    np.testing.assert_allclose(block_eigs(from_spectra(Record(), max_block_size=4))[0], [1, 1, 10, 10], rtol=1e-12)


def test_round_trip_from_a_network():
    torch = pytest.importorskip("torch")
    from hetquad.problems.networks import blockwise_spectra, models

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rm = models.mlp(seed=0, sizes=(5, 6, 3), batch_size=8)
        rec = blockwise_spectra(rm.model, rm.loss_fn, rm.batch)
    finally:
        torch.set_num_threads(old)
    p = from_spectra(rec, seed=2)
    assert p.sizes == rec.sizes and p.info["block_names"] == list(rec.names)
    top = max(np.abs(s.nodes).max() for s in rec.spectra)
    for got, s in zip(block_eigs(p), rec.spectra):
        np.testing.assert_allclose(got, np.sort(np.maximum(np.abs(s.nodes), 1e-12 * top)), rtol=0, atol=1e-9 * top)
    assert js0(p) == pytest.approx(rec.js0(), abs=1e-6)
    pk = from_spectra(rec, kappa=100.0)
    assert pk.kappa == pytest.approx(100.0, rel=1e-10)
