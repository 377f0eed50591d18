"""mlp-heterogeneity: the stacked trainer is torch.optim, step by step; tuning and facts are what they claim."""
import matplotlib.figure
import numpy as np
import pytest
import torch

from hetquad.figures import mlp_heterogeneity as fig
from hetquad.problems.networks import models


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


@pytest.mark.parametrize("method", fig.METHODS)
def test_stacked_training_equals_torch_optim(method):
    """Each of the K stacked runs is torch.optim.SGD(momentum=0.9) / torch.optim.Adam on the module."""
    lrs = [2.0 ** -6, 2.0 ** -2]
    steps = 6
    r = models.mlp(seed=3, sizes=(5, 4, 4, 3), batch_size=8, scales=fig.layer_scales(4.0, 3))
    got = fig.train(r.model, r.loss_fn, r.batch, method=method, lrs=lrs, steps=steps)
    for k, lr in enumerate(lrs):
        m = models.mlp(seed=3, sizes=(5, 4, 4, 3), batch_size=8, scales=fig.layer_scales(4.0, 3)).model
        opt = (torch.optim.SGD(m.parameters(), lr=lr, momentum=fig.MOMENTUM) if method == "sgd"
               else torch.optim.Adam(m.parameters(), lr=lr, betas=fig.BETAS, eps=fig.EPS, foreach=False))
        ref = []
        for _ in range(steps):
            opt.zero_grad()
            loss = r.loss_fn(m(r.batch[0]), r.batch[1])
            ref.append(loss.item())
            loss.backward()
            opt.step()
        with torch.no_grad():
            ref.append(r.loss_fn(m(r.batch[0]), r.batch[1]).item())
        np.testing.assert_allclose(got[k], ref, rtol=1e-12, atol=0)


def test_layer_scales_and_validation():
    assert fig.layer_scales(8.0, 4) == pytest.approx((1.0, 0.5, 0.25, 0.125), rel=1e-15)
    with pytest.raises(ValueError, match="one factor per Linear layer"):
        models.mlp(sizes=(3, 3, 2), scales=(1.0,))
    with pytest.raises(ValueError, match=r"scales\[1\]"):
        models.mlp(sizes=(3, 3, 2), scales=(1.0, 0.0))


def test_best_is_interior_of_what_was_tried(data):
    best, at_edge = fig.best(data)
    for idx in np.ndindex(best.shape):
        row = data.final.values[idx]
        tried = np.flatnonzero(~np.isnan(row))
        i = int(np.nanargmin(np.where(np.isfinite(row), row, np.inf)))
        assert best.values[idx] == row[i]
        assert bool(at_edge.values[idx]) == (i in (tried[0], tried[-1]))
    f = fig.facts(data)
    g = fig.gap(data)
    assert f["gap_hi"] == float(g.isel(scale=-1).median("seed"))
    assert f["js_lo"] == float(data.js0.isel(scale=0).median("seed"))
    assert isinstance(fig.plot(data), matplotlib.figure.Figure)
