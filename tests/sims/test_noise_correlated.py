"""sims.noise.GradientCorrelatedNoise: ξ_i = σ·√d·|g_i|/‖g‖·z_i (Tomihari Assm. 4.8 eq. 21, our reading).

Tested: the covariance over many draws matches σ²·d·diag(g∘g)/‖g‖² within a tolerance from the
sample size, the counter-based stream (same seed same bits, batch mates do not matter), the run
through ``sims.run`` equals a plain loop, the array engines refuse it, bad arguments raise, and the
noise-models figure draws exactly this model.
"""
import numpy as np
import pytest

from hetquad import problems, sims
from hetquad.sims import engines
from hetquad.sims.engines import batched as batched_engine
from hetquad.sims.engines import numba as numba_engine
from hetquad.sims.noise import GradientCorrelatedNoise, GradientCorrelatedStream
from hetquad.sims.run import build_task

SIGMA = 0.7


def _gradients(p, n, seed=3):
    g = p.grad(sims.initial_points(p, n, seed))
    g[0, 1] = 0.0  # a coordinate with zero gradient gets no noise
    return g


def test_covariance_matches_the_formula_within_the_sampling_error():
    p = problems.get("nqm", d=6)
    n, T = 3, 20000
    g = _gradients(p, n)
    stream = GradientCorrelatedNoise(SIGMA, seed=5).stream(p, n)
    xi = np.stack([stream.at(t, g) for t in range(T)])  # (T, n, d)
    for i in range(n):
        sigma = SIGMA ** 2 * p.d * np.diag(g[i] ** 2) / np.sum(g[i] ** 2)
        emp = xi[:, i].T @ xi[:, i] / T  # mean known (0): no Bessel correction
        # Var of the (j, k) entry of a Gaussian sample second moment: (Σ_jj Σ_kk + Σ_jk²) / T
        se = np.sqrt((np.outer(np.diag(sigma), np.diag(sigma)) + sigma ** 2) / T)
        assert np.all(np.abs(emp - sigma) <= 5 * se + 1e-15), (i, np.max(np.abs(emp - sigma) / (se + 1e-300)))
        assert np.all(np.abs(xi[:, i].mean(axis=0)) <= 5 * np.sqrt(np.diag(sigma) / T) + 1e-15)
    assert np.all(xi[:, 0, 1] == 0.0)


def test_second_moment_is_sigma2_d_and_zero_at_zero_gradient():
    p = problems.get("nqm", d=8)
    g = _gradients(p, 2)
    g[1] = 0.0
    stream = GradientCorrelatedNoise(SIGMA, seed=0).stream(p, 2)
    xi = np.stack([stream.at(t, g) for t in range(20000)])
    sq = np.sum(xi[:, 0] ** 2, axis=1)
    # ‖ξ‖² is a weighted χ²: its standard error from the sample itself
    assert abs(sq.mean() - SIGMA ** 2 * p.d) <= 5 * sq.std() / np.sqrt(sq.size)
    assert np.all(xi[:, 1] == 0.0)


def test_same_seed_same_bits_and_batch_mates_do_not_matter():
    p = problems.get("nqm", d=9)
    g = _gradients(p, 4)
    a = GradientCorrelatedNoise(SIGMA, seed=11).stream(p, 4)
    b = GradientCorrelatedNoise(SIGMA, seed=11).stream(p, 4)
    for t in (0, 1, 977):
        np.testing.assert_array_equal(a.at(t, g), b.at(t, g))
        # run 0's noise is the same whatever the batch size
        np.testing.assert_array_equal(GradientCorrelatedNoise(SIGMA, seed=11).stream(p, 1).at(t, g[:1]), a.at(t, g)[:1])
    assert not np.array_equal(GradientCorrelatedNoise(SIGMA, seed=12).stream(p, 4).at(0, g), a.at(0, g))
    # the normals are GaussianNoise's stream with the same seed, scaled coordinate by coordinate
    iso = sims.GaussianNoise(SIGMA, seed=11).stream(p, 4)
    norm = np.linalg.norm(g, axis=1, keepdims=True)
    np.testing.assert_array_equal(a.at(3, g), iso.at(3) * np.sqrt(p.d) * np.abs(g) / norm)


def test_run_on_numpy_engine_equals_a_plain_loop():
    p = problems.get("nqm", d=12)
    n, steps = 3, 40
    noise = GradientCorrelatedNoise(0.2, seed=4)
    opt = sims.Adam(np.array([0.01, 0.03, 0.1]))
    res = sims.run(p, opt, steps, seed=1, noise=noise, engine="numpy")
    stream = noise.stream(p, n)
    state = opt.init(p, sims.initial_points(p, n, 1))
    for t in range(steps):
        g = p.grad(state.w)
        state = opt.update(state, g + stream.at(t, g))
    np.testing.assert_array_equal(res.w_final, state.w)
    assert res.config["noise"] == {"type": "GradientCorrelatedNoise", "sigma": 0.2, "seed": 4}


def test_auto_picks_numpy_and_the_array_engines_refuse_with_one_line():
    p = problems.get("nqm", d=12)
    task = build_task(p, sims.GD(0.1), 5, noise=GradientCorrelatedNoise(0.2))
    for mod in (numba_engine, batched_engine):
        why = mod.unsupported(task)
        assert why and "GradientCorrelatedNoise" in why and "\n" not in why
    assert engines.resolve("auto", task).NAME == "numpy"
    with pytest.raises(ValueError, match="engine 'numba' cannot run this task: GradientCorrelatedNoise"):
        sims.run(p, sims.GD(0.1), 5, noise=GradientCorrelatedNoise(0.2), engine="numba")


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(sigma=-0.1), ValueError, "sigma must be >= 0"),
    (dict(sigma=float("nan")), ValueError, "sigma must be finite"),
    (dict(sigma=float("inf")), ValueError, "sigma must be finite"),
    (dict(sigma=1.0, seed=-1), ValueError, "seed must be >= 0"),
    (dict(sigma=1.0, seed=1.5), TypeError, "seed must be an integer"),
    (dict(sigma="1"), TypeError, "sigma must be a real number"),
])
def test_bad_arguments_raise_naming_the_argument(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        GradientCorrelatedNoise(**kwargs)


def test_seed_is_keyword_only_and_bad_gradients_raise():
    with pytest.raises(TypeError):
        GradientCorrelatedNoise(1.0, 3)  # the seed must be named
    p = problems.get("nqm", d=5)
    stream = GradientCorrelatedNoise(1.0).stream(p, 2)
    with pytest.raises(ValueError, match=r"g must have shape \(2, 5\)"):
        stream.at(0, np.ones((3, 5)))
    with pytest.raises(ValueError, match="n must be >= 1"):
        GradientCorrelatedNoise(1.0).stream(p, 0)


def test_noise_models_figure_draws_this_model():
    from hetquad.figures import noise_models as fig

    p = problems.get("nqm", d=10)
    n = 3
    g = _gradients(p, n)
    scale = np.array([1.0, 0.5, 0.25])
    iso = sims.GaussianNoise(fig.SIGMA, seed=0).stream(p, n)
    lib = GradientCorrelatedNoise(fig.SIGMA, seed=0).stream(p, n)
    assert isinstance(lib, GradientCorrelatedStream)
    for t in (0, 7):
        np.testing.assert_array_equal(fig.noise_rows("gradient", iso, None, t, g, scale), lib.at(t, g) * scale[:, None])


def test_round_trips_through_the_config_and_is_exported():
    spec = sims.GradientCorrelatedNoise(sigma=0.3, seed=2)
    again = sims.from_dict(sims.to_dict(spec))
    assert again == spec and type(again) is GradientCorrelatedNoise
    assert sims.config_hash(sims.to_dict(again)) == sims.config_hash(sims.to_dict(spec))
