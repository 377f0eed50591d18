"""Loading and saving block quadratics as .npz (round trip, both layouts, validation)."""
import numpy as np
import pytest

from hetquad.problems import block_quadratic, coupled
from hetquad.problems.io import load_npz, save_npz


def test_round_trip_blocks(tmp_path):
    p = block_quadratic([[1, 2, 3], [10, 20]], seed=0, w_star=np.arange(5.0), name="mine")
    path = save_npz(p, tmp_path / "p.npz")
    q = load_npz(path)
    assert q.name == "mine" and q.sizes == p.sizes
    for a, b in zip(q.blocks, p.blocks):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(q.w_star, p.w_star)
    assert q.coupling is None and q.info["source"] == str(path)
    assert load_npz(path, name="other").name == "other"


def test_round_trip_coupled_and_suffix(tmp_path):
    p = coupled(block_quadratic([[1, 2], [3, 4]], seed=1), strength=0.5, seed=2)
    path = save_npz(p, tmp_path / "c")  # numpy appends .npz; the returned path says so
    assert path.name == "c.npz" and path.exists()
    q = load_npz(path)
    np.testing.assert_array_equal(q.hessian(), p.hessian())
    assert q.delta == pytest.approx(p.delta, rel=1e-14)


def test_eigs_layout(tmp_path):
    np.savez(tmp_path / "e.npz", eigs_0=[3.0, 1.0, 2.0], eigs_1=[5.0, 4.0], seed=7, rotation="givens", R=0.3)
    q = load_npz(tmp_path / "e.npz")
    ref = block_quadratic([[1, 2, 3], [4, 5]], rotation="givens", seed=7, R=0.3)
    np.testing.assert_array_equal(q.hessian(), ref.hessian())
    np.testing.assert_allclose(q.eigvalsh(), [1, 2, 3, 4, 5], rtol=1e-12)
    assert q.name == "e"
    np.savez(tmp_path / "f.npz", eigs_0=[1.0, 2.0])  # defaults: Haar rotation
    np.testing.assert_allclose(load_npz(tmp_path / "f.npz").eigvalsh(), [1, 2], rtol=1e-12)


@pytest.mark.parametrize("arrays, match", [
    (dict(blocks_0=[[1.0, 2.0], [2.0, 1.0]]), "block 0 must be positive definite"),
    (dict(blocks_0=np.eye(2), blocks_1=[[1.0, 1.0], [0.0, 1.0]]), "block 1 must be symmetric"),
    (dict(blocks_0=[[np.nan]]), "block 0 must contain only finite values"),
    (dict(blocks_0=np.eye(2), w_star=np.zeros(3)), r"w_star must have shape \(2,\)"),
    (dict(blocks_0=np.eye(2), blocks_2=np.eye(2)), "without gaps"),
    (dict(blocks_0=np.eye(2), eigs_0=[1.0]), "exactly one kind"),
    (dict(w_star=np.zeros(2)), "exactly one kind"),
    (dict(blocks_0=np.eye(2), extra=1), r"unknown key\(s\) \['extra'\]"),
    (dict(blocks_0=np.eye(2), seed=1), "apply only to eigs"),
    (dict(eigs_0=[1.0, 2.0], coupling=np.zeros((2, 2))), "'coupling' applies only to blocks"),
    (dict(eigs_0=[1.0, -2.0]), r"block_eigs\[0\]: eigenvalues must all be > 0"),
    (dict(eigs_0=[1.0], rotation="qr"), "rotation must be one of"),
    (dict(eigs_0=[1.0], seed=[1, 2]), "'seed' must be a scalar"),
])
def test_invalid_files_name_the_file_and_key(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match) as info:
        load_npz(path)
    assert str(path) in str(info.value)


def test_missing_file_and_wrong_type(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "nope.npz")
    with pytest.raises(TypeError, match="must be a BlockQuadratic"):
        save_npz(np.eye(2), tmp_path / "x.npz")
