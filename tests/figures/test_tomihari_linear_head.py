"""tomihari-linear-head: Prop. 4.10 (THEORY §8.5) — sample-wise SignSGD bias grows linearly."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems, sims
from hetquad.figures import tomihari_linear_head as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_samplewise_signsgd_bias_grows_exactly_linearly(data):
    b = data.bias_norm.sel(optimizer="signsgd").values  # (seed, epoch), w0 = 0
    E = data.epoch.values
    N, C = data.attrs["n_samples"], data.attrs["n_classes"]
    # balanced classes with C | N: |Δb_c| = ηN(1 − 2/C) every epoch, every class (THEORY §8.5)
    assert N % C == 0
    assert np.allclose(b, E[None, :] * fig.LR * N * (1 - 2 / C), rtol=1e-9, atol=1e-12)
    assert np.allclose(b, data.predicted_bias_norm.values, rtol=1e-9, atol=1e-12)


def test_full_batch_bias_moves_at_most_lr_per_epoch(data):
    full = data.bias_norm.sel(optimizer="signsgd-full-batch").values
    sample = data.bias_norm.sel(optimizer="signsgd").values
    # one full-batch step per epoch moves each coordinate by at most η
    assert np.all(full <= fig.LR * data.epoch.values[None, :] + 1e-12)
    assert np.all(sample[:, -1] >= 10 * full[:, -1])


def test_momentum_reduces_but_does_not_remove_growth(data):
    last = data.bias_norm.isel(epoch=-1).median("seed")
    assert float(last.sel(optimizer="signum-0.9")) < float(last.sel(optimizer="signsgd"))
    assert float(last.sel(optimizer="signum-0.9")) > float(last.sel(optimizer="signsgd-full-batch"))


@pytest.mark.parametrize("opt", [sims.Signum(0.01, momentum=0.9), sims.Adam(0.01)])
def test_param_path_equals_sims_run(opt):
    p = problems.get("linear-head", seed=3, n_samples=12, n_classes=3, n_features=2)
    path = fig.param_path(p, opt, 2)
    res = sims.run(p, opt, 2 * p.n_samples, w0=np.zeros(p.d), engine="numpy",
                   noise=sims.MiniBatch(size=1, order="cyclic"))
    assert np.allclose(path[-1], res.w_final[0], rtol=1e-12, atol=1e-14)
    assert not np.allclose(path[1], path[2])


def test_param_paths_equal_one_path_per_optimizer():
    # one stacked gradient per step for several optimizers = each optimizer's own loop
    p = problems.get("linear-head", seed=2, n_samples=10, n_classes=4, n_features=3)
    opts = [sims.SignSGD(0.01), sims.Signum(0.01, momentum=0.9), sims.Adam(0.01), sims.GD(0.1)]
    together = fig.param_paths(p, opts, 3)
    for opt, path in zip(opts, together):
        alone = fig.param_path(p, opt, 3)
        assert np.allclose(path, alone, rtol=1e-12, atol=1e-15)
    assert not np.allclose(together[0], together[3])


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert all(ax.has_data() for ax in f.axes)


def test_caption_slope_is_the_closed_form(data):
    # Prop. 4.10 in closed form for balanced classes: ‖b_E‖/√C grows by η·N(1 − 2/C) per epoch
    f = fig.facts(data)
    N, C = data.attrs["n_samples"], data.attrs["n_classes"]
    assert f["slope_sample"] == pytest.approx(fig.LR * N * (1 - 2 / C), rel=1e-9)
    assert f["ratio_pred"] == pytest.approx(N * (1 - 2 / C), rel=1e-12)
    assert f["full_end"] <= fig.LR * int(data.epoch[-1]) + 1e-12
