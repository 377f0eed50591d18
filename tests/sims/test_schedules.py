"""Learning-rate schedules: known values, torch.optim.lr_scheduler step by step, per-run parameters
in every engine (a run's bits do not depend on its batch mates)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad import sims
from hetquad.problems.quadratic import block_quadratic
from hetquad.sims.schedules import Constant, Cosine, Linear, Step, Warmup

RTOL = 1e-12
BASE_LR = 0.3


@pytest.fixture(scope="module")
def problem():
    return block_quadratic([np.linspace(1.0, 10.0, 4), np.geomspace(0.1, 50.0, 5)], seed=4)


# -- known values -----------------------------------------------------------------------------
def test_linear_and_warmup_compositions_by_hand():
    np.testing.assert_allclose(Linear(total=4, final=0.2).factors(6), [1.0, 0.8, 0.6, 0.4, 0.2, 0.2],
                               rtol=1e-15)
    w = Warmup(steps=2, then=Linear(total=2, final=0.0))
    np.testing.assert_allclose(w.factors(6), [0.5, 1.0, 1.0, 0.5, 0.0, 0.0], rtol=0, atol=1e-16)
    c = Warmup(steps=2, then=Cosine(total=2, final=0.0))
    np.testing.assert_allclose(c.factors(5), [0.5, 1.0, 1.0, 0.5, 0.0], rtol=0, atol=1e-16)


@settings(max_examples=40, deadline=None)
@given(total=st.integers(1, 60), final=st.floats(0.0, 1.0), kind=st.sampled_from([Cosine, Linear]))
def test_decays_are_monotone_from_one_to_final(total, final, kind):
    f = kind(total=total, final=final).factors(total + 5)
    assert f[0] == 1.0
    assert np.all(np.diff(f) <= 1e-15)
    np.testing.assert_array_equal(f[total:], final)
    assert np.all((f >= final - 1e-15) & (f <= 1.0))


# -- torch.optim.lr_scheduler, step by step in float64 ------------------------------------------
def _torch_lrs(make, steps):
    """The lr torch's scheduler gives to step t = 0..steps−1 (lr in effect before scheduler.step())."""
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=BASE_LR)
    sched = make(opt)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR passes an epoch to step() (a deprecation warning)
        for _ in range(steps):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
    return np.array(out)


L = torch.optim.lr_scheduler
CASES = [
    ("step", Step(every=7, gamma=0.3), lambda o: L.StepLR(o, step_size=7, gamma=0.3), 60),
    ("cosine", Cosine(total=50, final=0.0), lambda o: L.CosineAnnealingLR(o, T_max=50, eta_min=0.0), 51),
    ("cosine-final", Cosine(total=40, final=0.1),
     lambda o: L.CosineAnnealingLR(o, T_max=40, eta_min=0.1 * BASE_LR), 41),
    ("linear", Linear(total=30, final=0.05),
     lambda o: L.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=30), 50),
    ("warmup-cosine", Warmup(steps=8, then=Cosine(total=40, final=0.1)),
     lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=1 / 8, end_factor=1.0, total_iters=7),
                                  L.CosineAnnealingLR(o, T_max=40, eta_min=0.1 * BASE_LR)], milestones=[8]), 49),
    ("warmup-linear", Warmup(steps=5, then=Linear(total=30, final=0.0)),
     lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=1 / 5, end_factor=1.0, total_iters=4),
                                  L.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=30)],
                              milestones=[5]), 50),
]


@pytest.mark.parametrize("name,sched,make,steps", CASES, ids=[c[0] for c in CASES])
def test_factors_match_torch_schedulers(name, sched, make, steps):
    """CosineAnnealingLR is compared over t ≤ T_max (after it, torch's cosine rises again; ours
    stays at ``final``). Torch's recursive forms round differently: relative 1e-12 of the base lr."""
    ours = BASE_LR * sched.factors(steps)
    theirs = _torch_lrs(make, steps)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=RTOL * BASE_LR)
    big = np.abs(theirs) > 1e-3 * BASE_LR  # away from 0 the agreement is also relative to the value
    np.testing.assert_allclose(ours[big], theirs[big], rtol=RTOL)


# -- per-run parameters ------------------------------------------------------------------------
FINALS = np.array([0.0, 0.1, 0.5, 0.1])
PER_RUN = [
    ("gd-warmup-cosine", lambda s: sims.GD(lr=0.03, schedule=s),
     Warmup(steps=np.array([3, 5, 3, 5]), then=Cosine(total=50, final=FINALS))),
    ("adam-warmup-linear", lambda s: sims.Adam(lr=0.05, schedule=s),
     Warmup(steps=4, then=Linear(total=np.array([40, 60, 40, 60]), final=FINALS))),
    ("signum-step", lambda s: sims.Signum(lr=0.01, schedule=s), Step(every=np.array([5, 7, 5, 7]), gamma=0.5)),
    ("adam-mini-cosine", lambda s: sims.AdamMini(lr=0.05, beta2=np.array([0.99, 0.999, 0.99, 0.9]), schedule=s),
     Cosine(total=30, final=FINALS)),
]


def test_per_run_factor_table_is_the_scalar_schedules_side_by_side():
    s = Warmup(steps=np.array([3, 5, 3]), then=Cosine(total=20, final=np.array([0.0, 0.2, 0.3])))
    assert s.runs() == 3
    table = s.factors(30)
    assert table.shape == (30, 3)
    for i in range(3):
        np.testing.assert_array_equal(table[:, i], s.at(i).factors(30))
    for t in (0, 4, 29):
        np.testing.assert_array_equal(s.column(t)[:, 0], table[t])
    assert Cosine(total=20, final=0.1).factors(30).shape == (30,)


@pytest.mark.parametrize("name,make,sched", PER_RUN, ids=[c[0] for c in PER_RUN])
def test_per_run_schedule_engines_agree_and_runs_ignore_batch_mates(problem, name, make, sched):
    steps = 70
    opt = make(sched)
    w0 = sims.initial_points(problem, 4, 2)
    res = {e: sims.run(problem, opt, steps, w0=w0, engine=e) for e in ("numpy", "numba")}
    np.testing.assert_allclose(res["numba"].w_final, res["numpy"].w_final, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res["numba"].loss, res["numpy"].loss, rtol=1e-10, atol=1e-14)
    assert "schedule.steps" in res["numpy"].hyper or "schedule.total" in res["numpy"].hyper \
        or "schedule.every" in res["numpy"].hyper
    for i in (1, 2):
        hyper = {k: (v[i] if isinstance(v, tuple) else v) for k, v in vars(opt).items()
                 if k in type(opt).HYPER}
        alone = type(opt)(**{**{f: getattr(opt, f) for f in type(opt).__dataclass_fields__}, **hyper,
                             "schedule": sched.at(i)})
        for e in ("numpy", "numba"):
            one = sims.run(problem, alone, steps, w0=w0[i], engine=e)
            np.testing.assert_array_equal(one.w_final[0], res[e].w_final[i])  # bit for bit


def test_per_run_schedule_length_must_match_the_batch(problem):
    with pytest.raises(ValueError, match="per-run schedule parameters must all have one value per run"):
        Warmup(steps=np.array([2, 3]), then=Cosine(final=np.array([0.1, 0.2, 0.3])))
    opt = sims.GD(lr=np.array([0.01, 0.02]), schedule=Cosine(total=10, final=np.array([0.1, 0.2, 0.3])))
    with pytest.raises(ValueError, match="lr with 2 per-run values does not match schedule.final with 3"):
        sims.run(problem, opt, 5)
    with pytest.raises(ValueError, match=r"total\[1\] must be >= 1"):
        Linear(total=np.array([3, 0]))


def test_schedule_round_trips_through_to_dict():
    s = Warmup(steps=np.array([3, 5]), then=Linear(total=10, final=np.array([0.1, 0.2])))
    assert sims.from_dict(sims.to_dict(s)) == s
    assert sims.from_dict(sims.to_dict(sims.GD(lr=0.1, schedule=s))).schedule == s


def test_constant_table_has_no_python_loop_and_stays_one_dimensional():
    assert Constant().runs() is None
    np.testing.assert_array_equal(Constant().factors(4), np.ones(4))
    assert Constant().column(3) == 1.0 and isinstance(Cosine(total=5).column(2), float)
    assert Cosine(total=5, final=(0.0, 0.5)).column(2).shape == (2, 1)


def test_factor_of_a_per_run_schedule_says_to_use_column():
    with pytest.raises(ValueError, match=r"Cosine has per-run parameters: .*schedule.column\(t, xp\)"):
        Cosine(total=5, final=(0.0, 0.5)).factor(2)
    assert Cosine(total=5, final=(0.0, 0.5)).at(1).factor(5) == 0.5
