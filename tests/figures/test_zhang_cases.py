"""zhang-cases: at N = 300 heterogeneous cases separate on every seed, homogeneous ones do not (THEORY §6)."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems, sims
from hetquad.figures import zhang_cases as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_heterogeneous_cases_separate_on_every_seed(data):
    gap = fig.gaps(data).sel(horizon=300)
    for case in ("zhang2024-case1", "zhang2024-case3"):
        assert float(gap.sel(case=case).min()) >= 2.0, case


def test_homogeneous_cases_do_not_separate(data):
    gap = fig.gaps(data).sel(horizon=300)
    for case in ("zhang2024-case2", "zhang2024-case4"):
        assert float(gap.sel(case=case).median()) <= 1.0, case


def test_adam_variant_prediction_splits_the_cases(data):
    # κ(P) < κ/10 on heterogeneous, > κ/5 on homogeneous cases, medians (THEORY §6 test)
    ratio = (data.kappa_p / data.kappa).median("seed")
    assert float(ratio.sel(case="zhang2024-case1")) < 0.1 and float(ratio.sel(case="zhang2024-case3")) < 0.1
    assert float(ratio.sel(case="zhang2024-case2")) > 0.2 and float(ratio.sel(case="zhang2024-case4")) > 0.2
    np.testing.assert_allclose(data.kappa.values, 5000.0, rtol=1e-9)


@pytest.mark.parametrize("case", fig.CASES)
def test_theory_lines_match_an_independent_computation(data, case):
    # κ(P) from eigvalsh of D^{-1/2} H D^{-1/2}, D = |H (w0 − w*)| (THEORY §4); ρ = (κ−1)/(κ+1) (§2)
    s = 2
    p = problems.get(case, seed=s)
    w0 = sims.initial_points(p, 1, s)[0]
    H = p.hessian()
    d = 1.0 / np.sqrt(np.abs(H @ (w0 - p.w_star)))
    ev = np.linalg.eigvalsh(d[:, None] * H * d[None, :])
    row = data.sel(case=case).isel(seed=s)
    assert float(row.kappa_p) == pytest.approx(ev[-1] / ev[0], rel=1e-8)
    assert float(row.rho_p) == pytest.approx((ev[-1] - ev[0]) / (ev[-1] + ev[0]), rel=1e-10)
    assert float(row.rho_gd) == pytest.approx(4999.0 / 5001.0, rel=1e-12)


def test_scores_match_an_independent_recomputation(data):
    # the stored score is the worst log10 ratio over [0.9N, N] of the stored curve
    curve = data.grad_ratio.sel(horizon=300, case="zhang2024-case3", optimizer="adam").isel(seed=0).values
    assert data.score.sel(horizon=300, case="zhang2024-case3", optimizer="adam").isel(seed=0) == \
        pytest.approx(np.max(np.log10(curve[270:301])), abs=1e-12)
    # and the tuned lr is one of the protocol's grid points
    lr = float(data.lr.sel(horizon=300, case="zhang2024-case3", optimizer="adam").isel(seed=0))
    assert np.min(np.abs(np.log10(fig.ADAM_LRS) - np.log10(lr))) < 1e-12


def test_prefix_of_a_long_run_is_the_short_run():
    p = problems.get("zhang2024-case4", seed=1)
    # GD at 2.08/L diverges between steps 120 and 400, at 2.5/L before 120
    for opt in (sims.Adam(0.3), sims.GD(1.5 / p.L), sims.GD(2.08 / p.L), sims.GD(2.5 / p.L)):
        long, short = sims.run(p, opt, 400, seed=1), sims.run(p, opt, 120, seed=1)
        if opt.lr == 2.08 / p.L:
            assert long.stop_reason == ("diverged",) and short.stop_reason == ("steps",)
        cut = fig.prefix(long, 120)
        np.testing.assert_array_equal(cut.steps, short.steps)
        np.testing.assert_allclose(cut.grad_norm, short.grad_norm, rtol=1e-12, equal_nan=True)
        assert cut.stop_reason == short.stop_reason
        assert sims.score(cut, "tail_grad") == sims.score(short, "tail_grad")


def test_tuned_lr_is_sims_tune_argmin():
    # run_case's prefix scoring picks the lr sims.tune picks on a separate N-step search
    p = problems.get("zhang2024-case4", seed=1)
    _, lrs, scores = fig.run_case(p, seed=1, horizons=(60, 120), optimizers=("adam",))
    for h, n in enumerate((60, 120)):
        best = sims.tune(p, lambda lr: sims.Adam(lr), fig.ADAM_LRS, n, metric="tail_grad", seed=1)
        assert lrs[h, 0] == best.best_lr
        assert scores[h, 0] == pytest.approx(best.best_score, abs=1e-12)


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert sum(ax.has_data() for ax in f.axes) == 4


def test_caption_gaps_are_the_score_differences(data):
    # the caption's "median (min–max)" gaps, recomputed from the stored scores without fig.gaps
    measured = fig.facts(data)["measured"]
    for case in data.case.values:
        s = data.score.sel(horizon=300, case=case)
        gap = s.sel(optimizer="gd").values - s.sel(optimizer="adam").values
        assert f"Case {case[-1]} {np.median(gap):.1f} ({gap.min():.1f}–{gap.max():.1f})" in measured
