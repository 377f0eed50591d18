"""leave-one-out: Adam-mini Fig. 6 / Principle 1 on quadratics.

Margins come from 30 seeds per problem (both variants, all blocks; measured when this test was
written): the single-block gap score(Adam) − score(LOO) was never below −0.165 decades ('constant')
/ −0.203 ('adam-mini'), on the whole problem or on the block alone; the merged (flattest+sharpest
under one lr) gap was never above −2.44 decades. Hence "on par" = gap ≥ −0.25 and "a single lr
across two Hessian blocks loses" = gap ≤ −2, on every seed.
"""
import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems, sims
from hetquad.figures import leave_one_out as fig

ON_PAR = -0.25     # decades; worst single-block gap over 30 seeds: −0.165
MERGED_LOSS = -2.0  # decades; best merged gap over 30 seeds: −2.44


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def _single_block(data, var):
    out = []
    for name in data.problem.values:
        nb = int(data.n_blocks.sel(problem=name))
        out.append(data[var].sel(problem=name).isel(block=slice(0, nb)).values.ravel())
    return np.concatenate(out)


def test_one_lr_per_dense_block_is_on_par_with_adam(data):
    # Adam-mini Fig. 6(d): leave-one-out is on par with Adam for every block (whole problem and block alone)
    for var in ("gap", "block_gap"):
        g = _single_block(data, var)
        assert np.all(np.isfinite(g)) and g.min() >= ON_PAR, (var, g.min())


def test_one_lr_across_two_hessian_blocks_loses_decades(data):
    # Principle 1: merging the flattest and the sharpest Hessian block under one lr loses on every seed
    assert np.all(data.merged_gap.values <= MERGED_LOSS)
    assert np.all(data.merged_block_gap.values <= MERGED_LOSS)


def test_single_lr_mostly_better_on_the_dense_fig4_blocks(data):
    # "for most blocks, Adam (leave-one-out) performs better": on adam-mini-fig4 88 % of the 90
    # (seed, block) pairs of the 30-seed run had block_gap > 0 (Case 1: only 54 %, see the caption)
    g = data.block_gap.sel(problem="adam-mini-fig4").isel(block=slice(0, 3)).values
    assert np.median(g) > 0


def test_batched_grid_equals_separate_runs():
    p = fig.sub_problem(problems.get("zhang2024-case1", seed=1, block_size=6), (2,))
    w0 = sims.initial_points(p, 1, 3)[0]
    lrs = fig.LRS[::4]
    for make in (sims.Adam, lambda lr: fig.single_lr_spec("constant", lr)):
        _, norms = fig.grid_run(p, make, w0, lrs=lrs, steps=60)
        for k, lr in enumerate(lrs):
            direct = sims.run(p, make(float(lr)), 60, w0=w0).grad_norm[0]
            np.testing.assert_allclose(norms[k], direct, rtol=1e-6)


def test_composition_equals_one_adam_mini_run_with_a_custom_partition():
    # Adam-mini with singleton blocks except block b (one shared v) = Adam elsewhere + the
    # 'adam-mini' single-lr rule on block b alone, when both use the same lr (module docstring)
    p = problems.get("zhang2024-case1", seed=0, block_size=5)
    w0 = sims.initial_points(p, 1, 0)[0]
    b, lr, steps = 2, 0.05, 80
    ids = np.arange(p.d)
    ids[fig.coordinates(p, (b,))] = ids[p.offsets[b][0]]
    ids = np.unique(ids, return_inverse=True)[1]
    whole = sims.run(p, sims.AdamMini(lr, partition=ids), steps, w0=w0, per_block=True).block_grad_norm[0]
    adam = sims.run(p, sims.Adam(lr), steps, w0=w0, per_block=True).block_grad_norm[0]
    alone = sims.run(fig.sub_problem(p, (b,)), fig.single_lr_spec("adam-mini", lr), steps,
                     w0=w0[fig.coordinates(p, (b,))]).grad_norm[0]
    np.testing.assert_allclose(np.delete(whole, b, axis=1), np.delete(adam, b, axis=1), rtol=1e-10)
    np.testing.assert_allclose(whole[:, b], alone, rtol=1e-10)


def test_unknown_variant_is_rejected():
    with pytest.raises(ValueError, match="variant"):
        fig.single_lr_spec("sgd", 0.1)


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert sum(ax.has_data() for ax in f.axes) == 6
