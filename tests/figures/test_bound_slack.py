"""bound-slack: every bound holds on tiny data (slack ≥ 1 − tol), and a wrong bound shows as slack < 1."""
import dataclasses

import matplotlib.figure
import numpy as np
import pytest

from hetquad import theory
from hetquad.figures import bound_slack as fig
from hetquad.theory import contraction


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_every_requested_bound_has_a_row_and_holds(data):
    assert set(data.bound.values) == set(fig.TINY_BOUNDS)
    s = data.slack.values
    assert np.isfinite(s).sum() >= len(fig.TINY_BOUNDS) * 2  # something was compared for every bound
    assert np.nanmin(s) >= 1.0 - fig.TOL
    assert not fig.violated(data).any()
    assert int(data.violations.sum()) == 0
    # the padded array carries exactly each row's runs
    assert np.all(np.sum(~np.isnan(s), axis=1) <= data.runs.values)


def test_a_wrong_bound_shows_as_slack_below_one(monkeypatch):
    real = theory.gd_rate

    def wrong(p, *, lr=None):  # the rate for κ/10 instead of κ (THEORY §10, last row)
        return dataclasses.replace(real(p, lr=lr), rate=contraction(max(p.kappa / 10, 1.0)))

    monkeypatch.setattr(theory, "gd_rate", wrong)
    ds = fig.collect(quick=True, only=["gd_rate"], instances=2)
    assert set(ds.bound.values) == {"gd_rate"}
    assert np.nanmin(ds.slack.values) < 0.5
    assert fig.violated(ds).any() and int(ds.violations.sum()) > 0


def test_to_dataset_pads_and_maps_none_to_nan():
    rows = [dict(bound="a", quantity="q1", instances=1, runs=2, violations=0, min_slack=1.5, median_slack=2.0,
                 expected="", slacks=[1.5, None]),
            dict(bound="b", quantity="q2", instances=1, runs=3, violations=1, min_slack=0.5, median_slack=1.0,
                 expected="x", slacks=[0.5, 1.0, 3.0])]
    ds = fig.to_dataset(rows)
    assert ds.slack.shape == (2, 3)
    assert np.isnan(ds.slack.values[0, 1]) and np.isnan(ds.slack.values[0, 2])
    assert fig.violated(ds).tolist() == [[False, False, False], [True, False, False]]
    with pytest.raises(ValueError, match="rows"):
        fig.to_dataset([])


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert f.axes[0].has_data()
