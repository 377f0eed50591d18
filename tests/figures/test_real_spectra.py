"""real-spectra: records have the right blocks, the ablation has ≥ 5 seeds per model, the Q/K/V cut
equals blockwise_spectra on that partition. No direction of Transformer vs CNN is asserted: at this
scale it depends on the choices the figure ablates (docs/findings/real-networks.md)."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad.figures import real_spectra as fig
from hetquad.problems import SpectralNodes
from hetquad.problems.networks import blockwise as bw
from hetquad.problems.networks import models


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_table_has_every_choice_model_and_five_seeds(data):
    assert data.sizes["seed"] >= 5
    assert list(data.model.values) == ["transformer", "cnn"]
    assert list(data.variant.values) == fig.variants("tiny")
    assert np.all(np.isfinite(data.js0.values)) and np.all((data.js0.values >= 0) & (data.js0.values <= 1))
    assert np.all((data.gini.values >= 0) & (data.gini.values < 1))
    text = data.attrs["table"]
    assert all(v in text for v in data.variant.values)


def test_records_have_one_block_per_parameter_tensor(data):
    for k, name in enumerate(data.model.values):
        ref = models.reference_model(str(name), seed=0, **fig.SIZES["tiny"][str(name)])
        expected = [n for n, _ in ref.model.named_parameters()]
        got = [str(x) for x in data.block_name.isel(model=k).values if str(x)]
        assert got == expected
        nb = len(got)
        m = data.js.isel(model=k).values[:nb, :nb]
        np.testing.assert_allclose(m, m.T, atol=0)
        # the seed-0 baseline JS⁰ is the mean of the heatmap's off-diagonal pairs
        assert float(data.js0.isel(variant=0, seed=0).sel(model=name)) == pytest.approx(
            m[np.triu_indices(nb, 1)].mean(), abs=1e-12)


def test_qkv_cut_equals_blockwise_spectra_on_that_partition():
    ref = models.reference_model("transformer", seed=1, **fig.SIZES["tiny"]["transformer"])
    spec = bw.blockwise_spectra(ref.model, ref.loss_fn, ref.batch, method="exact")
    cut, names = fig.qkv_spectra(ref, spec, heads=True)
    part = models.qkv_partition(ref.model, heads=True)
    direct = bw.blockwise_spectra(ref.model, ref.loss_fn, ref.batch, partition=part, method="exact")
    assert names == direct.names
    for a, b in zip(cut, direct.spectra):
        np.testing.assert_allclose(a.nodes, b.nodes, atol=1e-12 * max(1.0, np.abs(b.nodes).max()))


def test_norm_and_null_selection():
    assert fig._is_norm("blocks.0.ln1.weight", "transformer") and fig._is_norm("ln_f.bias", "transformer")
    assert not fig._is_norm("blocks.0.fc.weight", "transformer")
    assert fig._is_norm("features.4.bias", "cnn") and not fig._is_norm("features.3.bias", "cnn")
    # a block whose Hessian is exactly zero (e.g. a conv bias before BatchNorm) is dropped by the
    # null filter and by positive_part; an indefinite block keeps only its positive eigenvalues
    zero = SpectralNodes(np.zeros(3), np.full(3, 1 / 3), "exact")
    mixed = SpectralNodes(np.array([-2.0, 0.0, 1.0, 4.0]), np.full(4, 0.25), "exact")
    kept = fig._keep([zero, mixed], ["features.0.bias", "fc.weight"], "cnn", drop_null=True)
    assert kept == [mixed]
    (nodes, weights), = fig.positive_part([zero, mixed])
    np.testing.assert_array_equal(nodes, [1.0, 4.0])
    np.testing.assert_allclose(weights, [0.5, 0.5])


def test_trained_model_learns_the_rule():
    ref = models.reference_model("transformer", seed=0, **fig.SIZES["tiny"]["transformer"])
    with fig.one_thread():
        tr = fig.trained(ref, steps=60, seed=0)
    before = ref.loss_fn(ref.model(tr.batch[0]), tr.batch[1]).item()
    assert tr.loss() < 0.5 * before


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert sum(ax.has_data() for ax in f.axes) >= 6
