"""adam-beta2: tuned β2 curves and the β1 × β2 phase diagram, checked against separate runs."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems, sims
from hetquad.figures import adam_beta2 as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_tail_score_is_sims_score():
    # the batched tail score of one run equals sims.score's THEORY §6 'tail_grad' of that run
    p = problems.get("zhang2024-case3", seed=0)
    for b2 in (0.9, 1.0):
        res = sims.run(p, fig._adam(0.05, 0.9, b2), 120, seed=2)
        assert fig.tail_scores(res, 120)[0] == pytest.approx(sims.score(res, "tail_grad"), abs=1e-12)


def test_phase_cell_equals_separate_runs(data):
    # a (β1, β2) cell's median iterations at its stored lr, recomputed one scalar-spec run per init
    case, b1, b2 = "zhang2024-case1", 0.9, float(data.beta2.values[1])
    p = problems.get(case, seed=0)
    w0 = sims.initial_points(p, int(data.attrs["inits"]), 0)
    lr = float(data.best_lr.sel(case=case, beta1=b1, beta2=b2))
    its = []
    for w in w0:
        r = sims.run(p, sims.Adam(lr, beta1=b1, beta2=b2), int(data.attrs["cap"]), w0=w[None], tol=fig.TOL)
        its.append(r.iterations[0] if r.stop_reason[0] == "tol" else np.inf)
    assert float(data.iterations.sel(case=case, beta1=b1, beta2=b2)) == np.median(its)


def test_frozen_v_is_the_theorem_convention():
    # β2 = 1 runs keep v = g0² and skip the bias correction (torch's would divide by 1 − 1^t = 0)
    spec = fig._adam(0.1, 0.9, 1.0)
    assert (spec.beta2, spec.bias_correction, spec.v0) == (1.0, False, "g0sq")
    assert fig._adam(0.1, 0.9, 0.999).bias_correction


def test_tuned_lrs_are_grid_points_and_curves_start_at_zero(data):
    lrs = fig.LRS[::fig.FIDELITY["tiny"]["lr_step"]]
    assert np.all(np.isin(data.lr.values, lrs))
    np.testing.assert_allclose(data.log_grad_ratio.isel(iteration=0).values, 0.0, atol=1e-12)


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert sum(ax.has_data() for ax in f.axes) >= 2 * data.sizes["case"]
