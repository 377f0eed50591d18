"""ln-placement: the two placements really differ where LayerNorm sits, and the data are what they claim."""
import matplotlib.figure
import numpy as np
import pytest
import torch

from hetquad.figures import ln_placement as fig
from hetquad.problems.networks import blockwise as bw
from hetquad.problems.networks import models


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_post_ln_block_normalises_its_output():
    # an independent check of the architecture switch: a Post-LN block's output rows have zero mean and
    # unit variance (LayerNorm at init: weight 1, bias 0); a Pre-LN block's output is a residual sum
    r = models.transformer(seed=0, ln="post", n_layers=1)
    x = torch.randn(2, 8, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = r.model.blocks[0](x)
    np.testing.assert_allclose(y.mean(-1).detach().numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1, unbiased=False).detach().numpy(), 1.0, rtol=1e-4)
    pre = models.transformer(seed=0, ln="pre", n_layers=1).model.blocks[0](x)
    assert np.abs(pre.mean(-1).detach().numpy()).max() > 1e-3
    with pytest.raises(ValueError, match="ln must be one of"):
        models.transformer(seed=0, ln="middle")


def test_layer_ratio_is_eq_218_of_the_block_gradients(data):
    cfg = fig.MODEL["tiny"]
    L = cfg["n_layers"]
    np.testing.assert_allclose(data.layer_ratio.sum("layer").values, 1.0, rtol=1e-12)
    r = models.transformer(seed=1, ln="post", **cfg)
    g = bw.blockwise_gradients(r.model, r.loss_fn, r.batch)
    norms = {n: float(v) for n, v in zip(g.names, g.norms)}
    # recompute from names and sizes by hand: G_l = Σ_{tensors of block l} ‖g_b‖/√d_b
    G = np.zeros(L)
    for n, p in r.model.named_parameters():
        if n.startswith("blocks."):
            G[int(n.split(".")[1])] += norms[n] / np.sqrt(p.numel())
    np.testing.assert_allclose(data.layer_ratio.sel(ln="post", seed=1).values, G / G.sum(), rtol=1e-12)
    # the figure measures with one torch thread, this test with the default: equal to rounding
    assert data.gini.sel(ln="post", seed=1).item() == pytest.approx(g.gini, rel=1e-12)


def test_js0_in_range_and_facts_from_data(data):
    assert np.all((data.js0.values > 0) & (data.js0.values < 1))
    f = fig.facts(data)
    assert f["gini_post"] == float(np.median(data.gini.sel(ln="post")))
    med = data.layer_ratio.sel(ln="pre").median("seed").values
    assert f["ratio_pre"] == pytest.approx(med[-1] / med[0], rel=1e-12)
    assert isinstance(fig.plot(data), matplotlib.figure.Figure)
