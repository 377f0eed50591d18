"""momentum-schedules: every cell is a tuned, interior lr; schedules and methods are what they claim."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems, sims
from hetquad.figures import momentum_schedules as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_schedules_are_the_named_shapes():
    T = 100
    f = {n: np.array([fig.schedule(n, T).factor(t) for t in range(T)]) for n in fig.SCHEDULES}
    assert np.all(f["constant"] == 1.0)
    np.testing.assert_allclose(f["cosine"], 0.5 * (1 + np.cos(np.pi * np.arange(T) / T)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(f["linear"], 1 - np.arange(T) / T, rtol=0, atol=1e-15)
    warm = int(fig.WARMUP * T)
    np.testing.assert_allclose(f["warmup-cosine"][:warm], (np.arange(warm) + 1) / warm, rtol=1e-15)
    assert f["warmup-cosine"][warm] == 1.0


def test_a_cell_reruns_to_its_score(data):
    """Case 1, Signum + cosine: a fresh tune finds the stored lr (interior) and score."""
    cfg = fig.FIDELITY["tiny"]
    p = problems.get(fig.PROBLEMS[0], seed=0)
    make = fig.maker("signum", fig.schedule("cosine", cfg["steps"]))
    r = sims.tune_interior(p, make, fig.LR_GRID, cfg["steps"], metric="final_loss", batch=cfg["inits"], seed=0,
                           widen=2, max_rounds=10)
    assert not r.at_edge
    assert r.best_lr == float(data.lr.sel(problem=fig.PROBLEMS[0], optimizer="signum", schedule="cosine"))
    res = sims.run(p, make(r.best_lr), cfg["steps"], batch=cfg["inits"], seed=0)
    assert sims.score(res, "final_loss") == pytest.approx(
        float(data.score.sel(problem=fig.PROBLEMS[0], optimizer="signum", schedule="cosine")), rel=1e-12)


def test_heavy_ball_spec_is_torch_semantics():
    # momentum 0.9, first buffer = g: the second step moves by lr·(0.9·g0 + g1)
    p = problems.get(fig.PROBLEMS[1], seed=0)
    w0 = sims.initial_points(p, 1, 0)
    res = sims.run(p, fig.maker("heavy-ball", sims.Constant())(1e-3), 2, w0=w0, engine="numpy")
    g0 = p.grad(w0)
    w1 = w0 - 1e-3 * g0
    w2 = w1 - 1e-3 * (0.9 * g0 + p.grad(w1))
    np.testing.assert_allclose(res.w_final, w2, rtol=1e-13)


def test_facts_and_plot(data):
    f = fig.facts(data)
    c1 = fig.PROBLEMS[0]
    s = data.score.sel(problem=c1)
    assert f["hb_gain1"] == float(s.sel(optimizer="heavy-ball", schedule="constant") - s.sel(optimizer="gd", schedule="constant"))
    assert f["best1_v"] == float(s.min())
    assert isinstance(fig.plot(data), matplotlib.figure.Figure)
