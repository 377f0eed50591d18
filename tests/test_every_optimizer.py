"""Every optimizer of ``sims.OPTIMIZERS`` through the doors a user meets it by — ``hetquad run``, a
sweep, and the figures' one-call lr sweep — each compared with ``sims.run`` called directly.

The table of engine agreement lives in tests/sims/test_optimizers.py; here the question is only
whether each spec reaches every front end with its hyper-parameters intact (a front end that
dropped one, or ran another spec, would print or store other numbers).
"""
from __future__ import annotations

import tomllib

import numpy as np
import pytest

import hetquad
from hetquad import cli, problems, sims
from hetquad.config import parse
from hetquad.sweep import execute

from figures._runs import lr_sweep

PARAMS = dict(tau=0.5, kappa=20.0, n_blocks=2, block_size=4)
TAU = ["--problem", "tau-kappa"] + [a for k, v in PARAMS.items() for a in ("--set", f"{k}={v}")]
STEPS, LR = 30, 0.01
# what a vector-block problem needs beyond lr: Shampoo refuses vector blocks unless told how to
# precondition them; BlockwiseGD's lr multiplies its per-block lrs
EXTRA = {"shampoo": {"vector": "diagonal"}, "blockwise-gd": {"lrs": [0.02, 0.05]}}
NAMES = sorted(sims.OPTIMIZERS)


def _problem(seed=0):
    return problems.get("tau-kappa", seed=seed, **PARAMS)


def _spec(name, lr=LR):
    return sims.make(name, lr=lr, **EXTRA.get(name, {}))


def test_the_table_covers_every_optimizer():
    assert set(NAMES) == set(sims.OPTIMIZERS) and len(NAMES) >= 22


@pytest.mark.parametrize("name", NAMES)
def test_hetquad_run_runs_it_with_its_hyper_parameters(name, capsys):
    hyper = [a for k, v in EXTRA.get(name, {}).items() for a in ("--hyper", f"{k}={v}".replace(" ", ""))]
    code = cli.main(["run", *TAU, "--optimizer", name, "--lr", str(LR), *hyper, "--steps", str(STEPS),
                     "--batch", "2", "--engine", "numpy"])
    out = capsys.readouterr().out
    assert code == 0
    res = sims.run(_problem(), _spec(name), STEPS, batch=2, seed=0, engine="numpy")
    assert f"× {name} lr={LR:g}" in out
    assert f"final loss: median {np.median(res.final_loss):.4g}" in out


def test_one_sweep_runs_every_optimizer(tmp_path):
    lines = ["[sweep]", f"steps = {STEPS}", "tol = 1e-3", "seeds = [0, 1]", 'engine = "numpy"', "record_every = 10",
             "", "[problem]", 'name = "tau-kappa"'] + [f"{k} = {v}" for k, v in PARAMS.items()] + [""]
    for name in NAMES:
        lines += [f'[optimizers."{name}"]', f"lr = {LR}"]
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in EXTRA.get(name, {}).items()]
    cfg = parse(tomllib.loads("\n".join(lines)))
    execute(cfg, tmp_path / "s", workers=1, progress=False)
    table, _ = hetquad.load(tmp_path / "s")
    assert sorted(table["optimizer"].unique()) == NAMES
    for name in NAMES:
        rows = table[table["optimizer"] == name].sort_values("seed")
        got = rows["final_loss"].to_numpy()
        want = [sims.run(_problem(), _spec(name), STEPS, seed=s, engine="numpy").final_loss[0] for s in (0, 1)]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=name)


@pytest.mark.parametrize("name", NAMES)
def test_the_figures_lr_sweep_is_every_lr_run_alone(name):
    p = _problem()
    w0 = sims.initial_points(p, 2, seed=3)
    lrs = np.array([0.003, 0.01])
    got = lr_sweep(p, lambda lr: _spec(name, lr=lr), lrs, 20, w0=w0, engine="numpy")
    for lr, res in zip(lrs, got):
        alone = sims.run(p, _spec(name, lr=float(lr)), 20, w0=w0, engine="numpy")
        np.testing.assert_array_equal(res.loss, alone.loss, err_msg=f"{name} lr={lr}")
