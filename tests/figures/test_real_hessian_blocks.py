"""real-hessian-blocks: the full Hessian of tiny networks with their tensor blocks.

The caption says whether the blocks dominate; no test asserts it. Tested: the full Hessian's
diagonal blocks are the per-tensor block Hessians (so the outlines sit where the tensors are),
the off-block mass on matrices with known answers, and the plot.
"""
import matplotlib.figure
import numpy as np
import pytest

from hetquad.figures import real_hessian_blocks as fig
from hetquad.problems.networks import blockwise as bw
from hetquad.problems.networks import models


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


@pytest.mark.parametrize("name", fig.MODELS)
def test_diagonal_blocks_are_the_tensor_hessians(name):
    ref = models.reference_model(name, seed=1, **fig.SIZES["tiny"][name])
    H, names, sizes = fig.full_hessian(ref)
    assert H.shape == (sum(sizes),) * 2 and np.allclose(H, H.T)
    start = 0
    for n, s in zip(names, sizes):
        own = bw.block_hessian(ref.model, ref.loss_fn, ref.batch, block=n, num_threads=1)
        np.testing.assert_allclose(H[start:start + s, start:start + s], own, rtol=1e-9, atol=1e-12)
        start += s


def test_off_block_mass_on_known_matrices():
    assert fig.off_block(np.diag([1.0, 2.0, 3.0]), [1, 2]) == (0.0, 0.0)
    off, fro = fig.off_block(np.ones((4, 4)), [1, 3])
    assert off == pytest.approx(1 - (1 + 9) / 16) and fro == pytest.approx(off)


def test_stored_mass_matches_the_stored_hessian(data):
    for name in data.model.values:
        bs = data.block_size.sel(model=name).values
        bs = bs[bs > 0]
        n = int(bs.sum())
        H = data.hessian.sel(model=name).values[:n, :n]
        off, fro = fig.off_block(H, bs)
        assert off == pytest.approx(float(data.off_block.sel(model=name, seed=0)), rel=1e-12)
        assert fro == pytest.approx(float(data.off_block_fro.sel(model=name, seed=0)), rel=1e-12)


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert sum(ax.has_data() for ax in f.axes) >= 2
