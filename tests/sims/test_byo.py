"""Bring your own optimizer: ``sims.custom`` around plain functions, and ``type = "module:callable"``
in sweeps and ``hetquad run``."""
from __future__ import annotations

import textwrap
import tomllib

import numpy as np
import pytest

import hetquad
from hetquad import config, sims, sweep
from hetquad.problems.quadratic import block_quadratic

PLUGIN = textwrap.dedent('''
    import numpy as np
    from hetquad import sims

    def heavy_ball(lr, beta=0.5):
        """torch-style heavy ball as two plain functions (the buffer starts at the first gradient)."""
        def init(w):
            return w * 0.0

        def update(g, m, w):
            m = beta * m + g
            return w - lr * m, m
        return init, update

    def adam_spec(lr, beta1=0.9):
        return sims.Adam(lr=lr, beta1=beta1)

    def no_lr(beta=0.5):
        return None
''')


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    """Plugins resolved here register in a copy of sims.OPTIMIZERS (other tests list the built-ins)."""
    copy = dict(sims.OPTIMIZERS)
    monkeypatch.setattr(sims.optimizers, "OPTIMIZERS", copy)
    monkeypatch.setattr(sims, "OPTIMIZERS", copy)


@pytest.fixture(scope="module")
def problem():
    return block_quadratic([np.linspace(1.0, 10.0, 4), np.geomspace(0.5, 20.0, 3)], rotation="haar", seed=2)


def _heavy_ball(lr, beta):
    def init(w):
        return np.zeros_like(w)

    def update(g, m, w):
        m = beta * m + g
        return w - lr * m, m
    return sims.custom(init, update, name="my-hb", hyper={"lr": lr, "beta": beta})


def test_custom_heavy_ball_equals_sgd_momentum(problem):
    """Known answer: torch's SGD(momentum=μ, dampening=0) is m ← μm + g, w ← w − lr·m."""
    w0 = sims.initial_points(problem, 3, 0)
    mine = sims.run(problem, _heavy_ball(0.05, 0.7), 200, w0=w0)
    ref = sims.run(problem, sims.SGD(lr=0.05, momentum=0.7), 200, w0=w0, engine="numpy")
    assert mine.engine == "numpy" and mine.config["optimizer"]["name"] == "my-hb"
    np.testing.assert_allclose(mine.w_final, ref.w_final, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(mine.loss, ref.loss, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(mine.hyper["beta"], [0.7, 0.7, 0.7])
    alone = sims.run(problem, _heavy_ball(0.05, 0.7), 200, w0=w0[1])
    np.testing.assert_array_equal(alone.w_final[0], mine.w_final[1])  # rows do not see their batch mates


def test_custom_contract_errors(problem):
    with pytest.raises(TypeError, match="init must be a callable, got int"):
        sims.custom(3, lambda g, s, w: (w, s))
    with pytest.raises(ValueError, match=r"hyper\['lr'\] must be a finite number"):
        sims.custom(lambda w: None, lambda g, s, w: (w, s), hyper={"lr": float("nan")})
    bad = sims.custom(lambda w: None, lambda g, s, w: (w[:, :2], s), name="bad")
    with pytest.raises(ValueError, match=r"update of optimizer 'bad' must return new_w of shape \(1, 7\)"):
        sims.run(problem, bad, 3)
    single = sims.custom(lambda w: None, lambda g, s, w: w - g, name="single")
    with pytest.raises(TypeError, match=r"must return \(new_w, state\)"):
        sims.run(problem, single, 3)
    with pytest.raises(ValueError, match="engine 'numba' cannot run this task: .*no numba rendering"):
        sims.run(problem, _heavy_ball(0.1, 0.5), 3, engine="numba")


@pytest.fixture
def plugin_file(tmp_path):
    path = tmp_path / "my_plugin.py"
    path.write_text(PLUGIN)
    return path


def test_sweep_runs_a_module_callable_from_a_file(tmp_path, plugin_file):
    text = f'''
[sweep]
steps = 150
tol = 1e-6
seeds = 2
engine = "numpy"
record_every = 10

[problem]
name = "tau-kappa"
n_blocks = 2
block_size = 3

[axes]
kappa = [10.0, 30.0]

[optimizers.mine]
type = "{plugin_file}:heavy_ball"
lr = [0.01, 0.02]
beta = 0.6

[optimizers.wrapped]
type = "{plugin_file}:adam_spec"
lr = 0.05
'''
    cfg = config.parse(tomllib.loads(text))
    sweep.execute(cfg, tmp_path / "out", workers=1, progress=False)
    table, _ = hetquad.load(tmp_path / "out")
    assert len(table) == 2 * (2 + 1) * 2 and (table.status == "ok").all()
    assert set(table.optimizer_type) == {f"{plugin_file}:heavy_ball", f"{plugin_file}:adam_spec"}
    from hetquad import problems
    for _, row in table.iloc[::3].iterrows():
        p = problems.get("tau-kappa", seed=0, kappa=row.kappa, n_blocks=2, block_size=3)
        opt = (sims.SGD(lr=row.lr, momentum=0.6) if row.optimizer == "mine" else sims.Adam(lr=row.lr))
        res = sims.run(p, opt, 150, seed=int(row.seed), engine="numpy", tol=1e-6, record_every=10)
        np.testing.assert_allclose(row.final_loss, res.final_loss[0], rtol=1e-11)
        assert row.bound.startswith("n/a")


def test_module_reference_on_sys_path_and_one_line_errors(tmp_path, monkeypatch, plugin_file):
    monkeypatch.syspath_prepend(str(tmp_path))
    kind = config.optimizer_type("my_plugin:heavy_ball")
    spec = config.build_optimizer(kind, {"beta": 0.3}, 0.1)
    assert spec.name == "my_plugin:heavy_ball" and spec.hyper(2)["beta"].tolist() == [0.3, 0.3]
    with pytest.raises(ValueError, match="cannot import 'no_such_module_zz'"):
        config.optimizer_type("no_such_module_zz:f")
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        config.optimizer_type("my_plugin:nope")
    with pytest.raises(TypeError, match="must take an lr argument"):
        config.optimizer_type(f"{plugin_file}:no_lr")
    with pytest.raises(ValueError, match="no file"):
        config.optimizer_type(str(tmp_path / "missing.py") + ":f")
    with pytest.raises(ValueError, match="hyper-parameters of"):
        config.build_optimizer(kind, {"gamma": 0.3}, 0.1)


@pytest.mark.filterwarnings("ignore::hetquad.sims.TuneAtEdgeWarning")
def test_tune_runs_a_plugin_pair_in_one_call_equal_to_one_call_per_lr(problem, plugin_file):
    """sims.tune passes a per-run lr tuple: the pair is built once per distinct lr, each on its rows."""
    kind = config.optimizer_type(f"{plugin_file}:heavy_ball")
    make = lambda lr: config.build_optimizer(kind, {"beta": 0.6}, lr)  # noqa: E731
    lrs = np.array([0.005, 0.01, 0.02, 0.05])
    from hetquad.sims.tune import _one_call
    joint = _one_call(problem, make, lrs, 120, {"seed": 0, "batch": 2, "engine": "numpy"})
    assert joint is not None  # one engine call
    per_lr = [sims.run(problem, make(float(lr)), 120, seed=0, batch=2, engine="numpy") for lr in lrs]
    for one, alone in zip(joint, per_lr):
        np.testing.assert_array_equal(one.w_final, alone.w_final)
    assert sims.tune(problem, make, lrs, 120, seed=0, batch=2, engine="numpy").best_lr in lrs
