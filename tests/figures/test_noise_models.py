"""noise-models: steps to target vs batch size under three noise models.

The caption reports which optimizer has the larger critical batch size; no test asserts it.
Tested: the early stop is exact, the noise models have the stated second moment, the
critical-batch rule on a curve with a known answer, and the plot.
"""
import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems, sims
from hetquad.figures import noise_models as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def _rows(p, name, S=3, batches=(1, 16)):
    lrs = fig.LRS[name][::2]
    B = np.asarray(batches, dtype=float)
    w = sims.initial_points(p, S, 0)
    rows = (np.repeat(lrs, B.size * S), np.tile(np.repeat(B, S), lrs.size), np.tile(w, (lrs.size * B.size, 1)))
    groups = (np.tile(np.repeat(np.arange(B.size), S), lrs.size), np.repeat(np.arange(lrs.size), B.size * S))
    return lrs, B, S, rows, groups


@pytest.mark.parametrize("kind", ["hessian", "gradient"])
def test_settled_early_stop_keeps_every_best_median(kind):
    p = problems.get("nqm", d=20)
    lrs, B, S, rows, groups = _rows(p, "sgd")
    full = fig.steps_to_target(p, "sgd", kind, *rows, steps=400)
    fast = fig.steps_to_target(p, "sgd", kind, *rows, steps=400, groups=groups)
    best = lambda h: np.min(np.median(h.reshape(lrs.size, B.size, S), axis=2), axis=0)  # noqa: E731
    np.testing.assert_array_equal(best(fast), best(full))
    assert np.isfinite(best(full)).all()


@pytest.mark.parametrize("kind", fig.MODELS)
def test_noise_has_second_moment_sigma2_d_over_b(kind):
    p = problems.get("nqm", d=40)
    n, b = 4, np.array([1.0, 1.0, 4.0, 4.0])
    iso = sims.GaussianNoise(fig.SIGMA, seed=0).stream(p, n)
    hess = sims.GaussianNoise(fig.SIGMA, covariance="hessian", seed=0).stream(p, n)
    g = p.grad(sims.initial_points(p, n, 1))
    sq = np.mean([np.sum(fig.noise_rows(kind, iso, hess, t, g, 1 / np.sqrt(b)) ** 2, axis=1) for t in range(3000)], axis=0)
    np.testing.assert_allclose(sq, fig.SIGMA ** 2 * p.d / b, rtol=0.1)  # 3000 draws: a few % error


def test_hessian_rows_are_the_library_stream():
    p = problems.get("nqm", d=10)
    hess = sims.GaussianNoise(fig.SIGMA, covariance="hessian", seed=0).stream(p, 2)
    got = fig.noise_rows("hessian", None, hess, 5, np.ones((2, p.d)), np.array([1.0, 0.5]))
    np.testing.assert_array_equal(got, hess.at(5) * np.array([[1.0], [0.5]]))


def test_critical_batch_on_a_known_curve():
    B = 2.0 ** np.arange(0, 21)
    T = 100.0 * (1 + 32.0 / B)  # S_min = 100, B_noise = 32; B_max ≫ 32 stands in for S_min
    assert fig.critical_batch(B, T) == pytest.approx(32.0, rel=0.02)
    assert np.isnan(fig.critical_batch(B, np.full(B.size, np.inf)))


def test_tuned_steps_are_finite_at_the_largest_batch(data):
    tb = fig.tuned(data).steps
    assert np.all(np.isfinite(tb.isel(batch=-1).values))


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert sum(ax.has_data() for ax in f.axes) == 3
