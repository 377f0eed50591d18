"""Matrix-shaped blocks: ``BlockQuadratic.shapes``, its row-major vec convention, IO, networks and partitions."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad.problems.from_spectra import from_spectra
from hetquad.problems.io import load_npz, save_npz
from hetquad.problems.quadratic import BlockQuadratic, block_quadratic, coupled
from hetquad.sims.optimizers import AdamMini, resolve_partition


def _p(shapes=((4, 5), None, (3, 2)), seed=0):
    sizes = [20, 3, 6]
    return block_quadratic([np.linspace(1.0, 3.0, n) for n in sizes], seed=seed, shapes=shapes)


def test_default_is_every_block_a_vector():
    p = _p(shapes=None)
    assert p.shapes == (None, None, None)
    assert _p().shapes == ((4, 5), None, (3, 2))


def test_the_hessian_acts_on_row_major_vec():
    """A Kronecker block A ⊗ B maps row-major vec(E) to vec(A E Bᵀ): the convention the docstring states."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3)); A = A @ A.T + 3 * np.eye(3)
    B = rng.standard_normal((4, 4)); B = B @ B.T + 3 * np.eye(4)
    p = BlockQuadratic((np.kron(A, B),), shapes=[(3, 4)])
    E = rng.standard_normal((3, 4))
    np.testing.assert_allclose(p.grad(E.ravel()), (A @ E @ B.T).ravel(), rtol=1e-13)
    # the same Hessian read column-major would be B ⊗ A: the convention is not vacuous
    assert not np.allclose(p.grad(E.ravel()), (A @ E @ B.T).ravel(order="F"))


@pytest.mark.parametrize("shapes,err,match", [
    ([(4, 4), None, (3, 2)], ValueError, r"shapes\[0\] = \(4, 4\) does not factor block 0 of size 20"),
    ([(4, 5), (1, 2), (3, 2)], ValueError, r"shapes\[1\] = \(1, 2\) does not factor block 1 of size 3"),
    ([(4, 5), None], ValueError, r"shapes must give one entry per block \(3\), got 2"),
    ([(4, 5, 1), None, None], ValueError, r"shapes\[0\] must be a \(rows, cols\) pair"),
    ([(0, 5), None, None], ValueError, r"shapes\[0\]\[0\] must be >= 1"),
    ([(4.0, 5), None, None], TypeError, r"shapes\[0\]\[0\] must be an integer"),
    ("4x5", TypeError, r"shapes must be a sequence"),
])
def test_bad_shapes_are_one_line_errors(shapes, err, match):
    with pytest.raises(err, match=match) as info:
        _p(shapes=shapes)
    assert "\n" not in str(info.value)


def test_shapes_survive_coupling_replace_and_npz(tmp_path):
    p = _p()
    assert coupled(p, strength=0.3, seed=1).shapes == p.shapes
    assert dataclasses.replace(p, name="x").shapes == p.shapes
    q = load_npz(save_npz(p, tmp_path / "p.npz"))
    assert q.shapes == p.shapes
    np.testing.assert_array_equal(q.hessian(), p.hessian())
    plain = load_npz(save_npz(_p(shapes=None), tmp_path / "v.npz"))
    assert plain.shapes == (None,) * 3
    assert "shapes" not in np.load(tmp_path / "v.npz").files  # vector-only files stay as before


def test_npz_shapes_errors_name_the_file(tmp_path):
    p = _p(shapes=None)
    arrays = {f"eigs_{i}": e for i, e in enumerate(p.block_eigvals)}
    np.savez(tmp_path / "bad.npz", shapes=np.array([[4, 4], [0, 0], [3, 2]]), **arrays)
    with pytest.raises(ValueError, match=r"bad.npz: shapes\[0\] = \(4, 4\) does not factor"):
        load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "bad2.npz", shapes=np.array([1.5, 2.0]), **arrays)
    with pytest.raises(ValueError, match=r"bad2.npz: 'shapes' must be a \(B, 2\) integer array"):
        load_npz(tmp_path / "bad2.npz")
    np.savez(tmp_path / "ok.npz", shapes=np.array([[5, 4], [0, 0], [2, 3]]), rotation="identity", **arrays)
    assert load_npz(tmp_path / "ok.npz").shapes == ((5, 4), None, (2, 3))


def test_from_spectra_keeps_the_record_shapes_and_drops_cut_blocks():
    rec = SimpleNamespace(spectra=(np.linspace(1, 2, 6), np.linspace(1, 3, 2), np.linspace(2, 5, 12)),
                          names=("w1", "b1", "w2"), sizes=(6, 2, 12), shapes=((2, 3), None, (4, 3)))
    assert from_spectra(rec).shapes == ((2, 3), None, (4, 3))
    assert from_spectra(rec, max_block_size=6).shapes == ((2, 3), None, None)  # 12 → 6 eigenvalues: a vector
    assert from_spectra(rec, shapes=[(3, 2), None, (2, 6)]).shapes == ((3, 2), None, (2, 6))
    with pytest.raises(ValueError, match=r"shapes\[0\] = \(4, 4\) does not factor block 0 of size 6"):
        from_spectra(rec, shapes=[(4, 4), None, None])
    plain = from_spectra([np.linspace(1, 2, 4), np.linspace(1, 3, 3)])
    assert plain.shapes == (None, None)


def test_blockwise_spectra_records_the_parameter_shapes(torch_one_thread):
    torch = pytest.importorskip("torch")
    from hetquad.problems.networks import blockwise_spectra

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 2), torch.nn.Flatten(), torch.nn.Linear(8, 3)).double()
    x, y = torch.randn(4, 1, 3, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 0])
    rec = blockwise_spectra(model, torch.nn.functional.cross_entropy, (x, y))
    # conv weight (2, 1, 2, 2) → (out, in·kh·kw); biases are vectors; vec = reshape(-1), row-major
    assert rec.shapes == ((2, 4), None, (3, 8), None)
    assert from_spectra(rec).shapes == rec.shapes
    split = blockwise_spectra(model, torch.nn.functional.cross_entropy, (x, y),
                              partition={"w": ["0.weight", "2.weight"], "b": ["0.bias", "2.bias"]})
    assert split.shapes == (None, None)  # blocks made of several tensors are vectors


def test_real_transformer_head_ranges_name_q_and_k_rows():
    pytest.importorskip("torch")
    from hetquad.problems.catalog import _qkv_heads

    rec = SimpleNamespace(names=("wte.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias"),
                          shapes=((16, 12), (36, 12), None))
    assert _qkv_heads(rec, seed=0) == [[1, 0, 12, 2], [1, 12, 24, 2]]  # d_model 12, 2 heads: Q rows, K rows


# -- Adam-mini's partitions that need a shape --------------------------------------------------------
def test_rows_partition_is_one_block_per_row_and_vectors_whole():
    p = _p()
    part = resolve_partition("rows", p)
    expected = np.concatenate([np.repeat(np.arange(4), 5), np.full(3, 4), 5 + np.repeat(np.arange(3), 2)])
    np.testing.assert_array_equal(part.ids, expected)
    np.testing.assert_array_equal(part.counts, [5, 5, 5, 5, 3, 2, 2, 2])
    assert resolve_partition("rows", _p(shapes=None)).counts.tolist() == [20, 3, 6]  # no shapes: 'blocks'


def test_heads_partition_groups_head_rows_and_keeps_other_rows():
    p = block_quadratic([np.linspace(1, 2, 24), np.linspace(1, 2, 3)], seed=0, shapes=[(6, 4), None])
    p.info["heads"] = [[0, 0, 4, 2]]  # rows 0-1 head 0, rows 2-3 head 1, rows 4, 5 one block each
    part = resolve_partition("heads", p)
    np.testing.assert_array_equal(part.ids, np.concatenate([np.repeat([0, 0, 1, 1, 2, 3], 4), np.full(3, 4)]))
    np.testing.assert_array_equal(part.counts, [8, 8, 4, 4, 3])


@pytest.mark.parametrize("heads,match", [
    (None, r"partition='heads' needs problem.info\['heads'\]"),
    ([[1, 0, 2, 1]], r"block 1 is not a matrix block"),
    ([[0, 0, 5, 2]], r"rows \[0, 5\) of block 0 \(6 rows\) must split into 2 equal heads"),
    ([[0, 0, 4, 2], [0, 2, 6, 2]], r"overlapping row ranges in block 0"),
    ([[0, 0, 4]], r"must be \[block, row_start, row_stop, n_heads\]"),
])
def test_heads_partition_errors(heads, match):
    p = block_quadratic([np.linspace(1, 2, 24), np.linspace(1, 2, 3)], seed=0, shapes=[(6, 4), None])
    if heads is not None:
        p.info["heads"] = heads
    with pytest.raises(ValueError, match=match):
        resolve_partition("heads", p)


def test_adam_mini_rows_equals_an_explicit_id_array():
    """'rows' is a name for an id array: the same run, bit for bit (numpy engine)."""
    from hetquad import sims

    p = _p()
    ids = resolve_partition("rows", p).ids
    a = sims.run(p, AdamMini(lr=1e-2, partition="rows"), 30, batch=2, engine="numpy")
    b = sims.run(p, AdamMini(lr=1e-2, partition=ids), 30, batch=2, engine="numpy")
    np.testing.assert_array_equal(a.loss, b.loss)
    c = sims.run(p, AdamMini(lr=1e-2, partition="blocks"), 30, batch=2, engine="numpy")
    assert not np.array_equal(a.loss, c.loss)


@settings(max_examples=25, deadline=None)
@given(dims=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)) | st.integers(1, 5), min_size=1, max_size=4))
def test_rows_partition_invariants(dims):
    """Any mix of matrix and vector blocks: every id block lies in one problem block, a matrix
    block of r rows gives r blocks of c contiguous coordinates, and the ids are consecutive."""
    shapes = [d if isinstance(d, tuple) else None for d in dims]
    sizes = [d[0] * d[1] if isinstance(d, tuple) else d for d in dims]
    p = block_quadratic([np.linspace(1, 2, n) for n in sizes], rotation="identity", shapes=shapes)
    part = resolve_partition("rows", p)
    assert part.ids[0] == 0 and np.all(np.diff(part.ids) >= 0)  # row-major: ids rise along w
    expected = sum(s[0] if s else 1 for s in shapes)
    assert part.counts.size == expected
    start = 0
    for n, s in zip(sizes, shapes):
        blk = part.ids[start:start + n]
        if s is None:
            assert np.unique(blk).size == 1
        else:
            np.testing.assert_array_equal(np.unique(blk, return_counts=True)[1], [s[1]] * s[0])
        start += n
