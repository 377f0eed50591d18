"""theory.check refuses a run made at another step size than its bound's, reading the registry rows
(``Row.run_lr``, ``Row.optimizers``) instead of a list of optimizer types."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hetquad import sims, theory
from hetquad.problems.quadratic import block_quadratic
from hetquad.theory import registry
from hetquad.theory.check import _is_spec


@pytest.fixture(scope="module")
def problem():
    return block_quadratic([np.geomspace(1.0, 30.0, 4), np.linspace(2.0, 20.0, 3)], rotation="haar", seed=7)


def test_every_sims_spec_name_matches_its_type_and_no_other():
    """The naming rule ``theory.check`` relies on (it does not import sims) holds for every spec."""
    for name, cls in sims.OPTIMIZERS.items():
        others = [n for n in sims.OPTIMIZERS if n != name]
        assert _is_spec(cls.__name__, (name,)), name
        assert not _is_spec(cls.__name__, others), name


def test_every_row_with_a_step_size_names_specs_that_take_one(problem):
    for row in registry.ROWS:
        if row.run_lr is None:
            continue
        for name in row.optimizers:
            assert "lr" in {f.name for f in dataclasses.fields(sims.OPTIMIZERS[name])}, (row.name, name)


def test_heavy_ball_refuses_a_run_at_another_lr(problem):
    b = theory.heavy_ball_rate(problem)
    res = sims.run(problem, sims.SGD(lr=0.5 * b.lr, momentum=b.momentum), 50, seed=0, engine="numpy")
    with pytest.raises(ValueError, match=r"heavy_ball_rate holds at lr = .*, the run used lr = .*; run at lr = "):
        theory.check(res, b)
    ok = sims.run(problem, sims.SGD(lr=b.lr, momentum=b.momentum), 50, seed=0, engine="numpy")
    assert theory.check(ok, b).bound == "heavy_ball_rate"
    # another momentum at the bound's lr is not refused: the envelope check reports it
    # (test_theory_momentum.py::test_a_too_large_momentum_violates_the_heavy_ball_envelope)
    theory.check(sims.run(problem, sims.SGD(lr=b.lr, momentum=0.95), 5, seed=0, engine="numpy"), b)


def test_nesterov_refuses_a_run_at_another_lr_and_per_run_lrs_are_compared_one_by_one(problem):
    b = theory.nesterov_rate(problem)
    res = sims.run(problem, sims.SGD(lr=(b.lr, 2 * b.lr), momentum=b.momentum, nesterov=True), 20, engine="numpy")
    with pytest.raises(ValueError, match=r"nesterov_rate holds at lr = .*the run used lr = \["):
        theory.check(res, b)
    both = sims.run(problem, sims.SGD(lr=(b.lr, b.lr), momentum=b.momentum, nesterov=True), 20, engine="numpy")
    theory.check(both, b)


def test_gd_refuses_another_lr_with_the_same_message(problem):
    b = theory.gd_rate(problem)
    res = sims.run(problem, sims.GD(lr=0.5 * b.lr), 20, engine="numpy")
    with pytest.raises(ValueError, match=rf"gd_rate holds at lr = {b.lr:.6g}, the run used lr = "
                                         rf"{0.5 * b.lr:.6g}; build the bound with lr="):
        theory.check(res, b)
    assert theory.check(res, theory.gd_rate(problem, lr=0.5 * b.lr)).all_hold


def test_a_run_of_another_optimizer_is_not_compared(problem):
    """gd_rate's row names 'gd' only: a Signum run at another lr reaches the checker (which reports)."""
    b = theory.gd_rate(problem)
    res = sims.run(problem, sims.Signum(lr=0.5 * b.lr), 20, engine="numpy")
    assert theory.check(res, b).bound == "gd_rate"


def test_blockwise_gd_refuses_other_per_block_lrs(problem):
    b = theory.blockwise_gd_rate(problem)
    opt = sims.BlockwiseGD.optimal(problem)
    assert theory.check(sims.run(problem, opt, 30, engine="numpy"), b).bound == "blockwise_gd_rate"
    # the same step sizes split differently between lr and lrs are the bound's own
    rescaled = sims.BlockwiseGD(lr=2.0 * opt.lr, lrs=tuple(x / 2.0 for x in opt.lrs))
    theory.check(sims.run(problem, rescaled, 30, engine="numpy"), b)
    wrong = sims.BlockwiseGD(lr=opt.lr, lrs=(opt.lrs[0], 0.5 * opt.lrs[1]))
    with pytest.raises(ValueError, match=r"blockwise_gd_rate holds at the per-block optimal lrs .*, the run used \["):
        theory.check(sims.run(problem, wrong, 30, engine="numpy"), b)


def test_adam_variant_and_zhang_refuse_another_lr(problem):
    w0 = np.asarray(problem.w_star) + np.linspace(-1.0, 1.0, problem.d)
    a = theory.adam_variant_rate(problem, w0)
    res = sims.run(problem, sims.Adam.theorem_variant(0.5 * a.lr), 10, w0=w0, engine="numpy")
    with pytest.raises(ValueError, match="adam_variant_rate holds at lr = .*; build the bound with lr="):
        theory.check(res, a)
    with pytest.raises(ValueError, match="zhang_prediction holds at lr = .*; run at lr = "):
        theory.check(res, theory.zhang_prediction(problem, w0))


def test_rows_without_a_step_size_are_not_compared(problem):
    """gd_lower_bound holds for every constant lr: its row has no run_lr and any GD run is checked."""
    lb = theory.gd_lower_bound(problem)
    assert registry.get("gd_lower_bound").run_lr is None
    res = sims.run(problem, sims.GD(lr=0.5 * lb.lr), 20, engine="numpy")
    assert theory.check(res, lb).bound == "gd_lower_bound"
