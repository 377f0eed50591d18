"""theory.check holds on the suite's instances and reports every deliberately wrong bound."""
import dataclasses
import json

import numpy as np
import pytest

from hetquad import sims, theory
from hetquad import checks as check_cmd
from hetquad.theory.records import contraction

EPS = 1e-6


def _instance(key=97, seed=0, kappa_min=20.0):
    """A suite instance with κ ≥ kappa_min (so κ/10 still gives a contraction)."""
    for inst in theory.suite.quadratic_instances(20, seed=seed, key=key):
        if inst.problem.kappa >= kappa_min:
            return inst
    raise AssertionError("no instance with large enough kappa")


def _run(p, opt, steps, w0, **kw):
    return sims.run(p, opt, int(min(steps, 20_000)), w0=w0, tol=kw.pop("tol", EPS), **kw)


def test_gd_rate_check_holds_and_fails_on_kappa_over_10():
    inst = _instance()
    b = theory.gd_rate(inst.problem)
    res = _run(inst.problem, sims.GD(lr=b.lr), b.iterations(EPS) + 5, inst.w0)
    rec = theory.check(res, b)
    assert rec.all_hold and rec.violations == 0
    part = rec.part("loss ratio per step")
    assert part.measured.shape == part.bounded.shape == (1, res.steps.size - 1)   # every recorded step
    from hetquad.theory.check import RATIO_RTOL
    assert np.nanmin(part.slack) >= 1 - RATIO_RTOL
    wrong = dataclasses.replace(b, rate=contraction(inst.problem.kappa / 10))
    bad = theory.check(res, wrong)
    assert not bad.all_hold
    assert not bad.part("loss ratio per step").holds.all()
    assert not bad.part("gradient-norm ratio per step").holds.all()
    assert not bad.part("T(1e-06)").holds.all()


def test_check_refuses_a_bound_for_another_lr():
    inst = _instance()
    b = theory.gd_rate(inst.problem)
    res = _run(inst.problem, sims.GD(lr=0.5 * b.lr), 10, inst.w0)
    with pytest.raises(ValueError, match="lr"):
        theory.check(res, b)
    assert theory.check(res, theory.gd_rate(inst.problem, lr=0.5 * b.lr)).all_hold
    with pytest.raises(TypeError, match="bound record"):
        theory.check(res, 0.5)


def test_lower_bound_check_and_wrong_bound():
    inst = _instance()
    b = theory.gd_lower_bound(inst.problem)
    res = sims.run(inst.problem, sims.GD(lr=b.lr), 300, w0=b.w0)
    rec = theory.check(res, b)
    assert rec.all_hold
    # at η* the construction gives ℓ_t = ρ*^{2t}ℓ_0 exactly: slack 2 at every step
    np.testing.assert_allclose(np.nanmax(rec.parts[0].slack), 2.0, rtol=1e-9)
    wrong = dataclasses.replace(b, rate=contraction(inst.problem.kappa * 10))
    assert not theory.check(res, wrong).all_hold


def test_blockwise_and_mini_checks_fail_on_halved_rates():
    inst = _instance()
    p, w0 = inst.problem, inst.w0
    b = theory.blockwise_gd_rate(p)
    res = _run(p, sims.BlockwiseGD.optimal(p), b.iterations(EPS) + 5, w0, per_block=True)
    assert theory.check(res, b).all_hold
    wrong = dataclasses.replace(b, block_rates=tuple(0.5 * r for r in b.block_rates), rate=0.5 * b.rate)
    bad = theory.check(res, wrong)
    assert not bad.part("block gradient-norm ratio per step").holds.all()
    m = theory.adam_mini_variant_rate(p, w0)
    res = _run(p, sims.AdamMini.theorem_variant(m.lr), m.iterations(EPS) + 5, w0, per_block=True)
    assert theory.check(res, m).all_hold
    assert not theory.check(res, dataclasses.replace(m, rate=contraction(m.kappa / 10),
                                                     block_rates=tuple(0.5 * r for r in m.block_rates))).all_hold


def test_adam_variant_and_zhang_checks_fail_on_wrong_kappa():
    inst = _instance()
    p, w0 = inst.problem, inst.w0
    a = theory.adam_variant_rate(p, w0)
    res = _run(p, sims.Adam.theorem_variant(a.lr), a.iterations(EPS) + 5, w0)
    assert theory.check(res, a).all_hold
    assert not theory.check(res, dataclasses.replace(a, rate=contraction(a.kappa / 10))).all_hold
    z = theory.zhang_prediction(p, w0)
    assert theory.check(res, z).all_hold
    assert not theory.check(res, dataclasses.replace(z, adam_loss_factor=1 - 10 / a.kappa)).all_hold


def test_tomihari_checks_fail_on_shrunk_bounds():
    rng = np.random.default_rng(0)
    inst = _instance(kappa_min=1.0)
    rec = check_cmd._run_tomihari_gd(inst, "auto", "quick", rng)[0]
    assert rec.all_hold
    tb = check_cmd._tomihari(inst, np.random.default_rng(0))
    res = sims.run_adaptive_gd(inst.problem, inst.w0, alpha=tb.alpha, delta=tb.delta, eps=tb.eps, steps=int(tb.gd.bound) + 1)
    assert theory.check(res, tb.gd).all_hold
    assert not theory.check(res, dataclasses.replace(tb.gd, delta_loss=tb.gd.delta_loss / 1e3)).all_hold
    view = theory.suite.coordinate_view(inst.problem)
    res = sims.run(view, sims.SignSGD(lr=tb.sign.lr), int(tb.sign.bound) + 1, w0=inst.w0, per_block=True)
    assert theory.check(res, tb.sign).all_hold
    assert not theory.check(res, dataclasses.replace(tb.sign, delta_loss=tb.sign.delta_loss / 1e3)).all_hold
    with pytest.raises(ValueError, match="coordinates"):
        theory.check(sims.run(inst.problem, sims.SignSGD(lr=tb.sign.lr), 5, w0=inst.w0), tb.sign)


@pytest.mark.parametrize("method", ["sgd", "signsgd"])
def test_stochastic_checks_hold_and_fail(method):
    inst = theory.suite.quadratic_instances(1, seed=3, key=96)[0]
    rng = np.random.default_rng(1)
    rec = check_cmd._run_stochastic(method)(inst, "auto", "quick", rng)[0]
    assert rec.all_hold and rec.parts[0].holds.shape == (1,)
    tb = check_cmd._tomihari(inst, np.random.default_rng(1), sigma_frac=0.5)
    b = getattr(tb, method)
    view = inst.problem if method == "sgd" else theory.suite.coordinate_view(inst.problem)
    opt = sims.GD(lr=b.lr) if method == "sgd" else sims.SignSGD(lr=b.lr)
    res = sims.run(view, opt, 100, w0=np.tile(inst.w0, (200, 1)), noise=sims.GaussianNoise(b.noise_std, seed=2),
                   per_block=method == "signsgd", engine="numpy")
    assert theory.check(res, b).all_hold
    wrong = dataclasses.replace(b, sigma=0.0, delta_loss=b.delta_loss / 100)
    assert not theory.check(res, wrong).all_hold


def test_plateau_and_linear_head_checks_fail_when_wrong():
    inst = theory.suite.plateau_instances(1, seed=0, key=95)[0]
    b = theory.sign_descent_plateau(inst.problem, inst.info["lr"], inst.w0)
    res = sims.run(inst.problem, sims.SignSGD(lr=b.lr), b.start + 100, w0=inst.w0)
    assert theory.check(res, b).all_hold
    assert not theory.check(res, dataclasses.replace(b, level=b.level / 10)).all_hold
    h = theory.suite.linear_head_instances(1, seed=0, key=94)[0]
    u = theory.linear_head_sign_update(h.problem, h.info["lr"], h.w0, epochs=h.info["epochs"])
    res = sims.run(h.problem, sims.SignSGD(lr=u.lr), u.steps, w0=h.w0, noise=sims.MiniBatch(size=1), engine="numpy")
    assert theory.check(res, u).all_hold
    assert not theory.check(res, dataclasses.replace(u, w_pred=u.w_pred + 1e-6)).all_hold


def test_every_case_holds_on_a_few_suite_instances():
    for case in check_cmd._cases():
        n = 1 if case.stochastic else 3
        rows = check_cmd.run_case(case, n=n, seed=5, engine="auto", mode="quick")
        assert rows, case.name
        for row in rows:
            assert row["violations"] == 0, row
            assert row["runs"] >= n


THEORY_10_ROWS = {  # THEORY §10 table row -> the bound(s) hetquad check runs for it
    "GD, eta*": "gd_rate", "GD, any eta (construction init)": "gd_lower_bound",
    "blockwise GD": "blockwise_gd_rate", "Adam variant": "adam_variant_rate",
    "Adam-mini variant": "adam_mini_variant_rate", "GD, eta_t = alpha/L_G": "tomihari_bounds.gd",
    "SignSGD, eta = alpha eps/(sqrt d L_P)": "tomihari_bounds.sign",
    "SGD with noise": "tomihari_bounds.sgd", "signSGD with noise": "tomihari_bounds.signsgd",
    "SignSGD, constant eta, diagonal H": "sign_descent_plateau", "SignSGD on a linear head": "linear_head_sign_update",
}


def test_theory_section_10_is_covered():
    names = set(check_cmd.case_names())
    assert set(THEORY_10_ROWS.values()) <= names
    assert "zhang_prediction" in names


def test_cli_quick_subset_json_and_failing_exit(tmp_path, monkeypatch):
    from hetquad.cli import main

    out = tmp_path / "check.json"
    rc = main(["check", "--only", "gd_rate", "--only", "sign_descent_plateau", "--instances", "2",
               "--json", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert {r["bound"] for r in data["rows"]} == {"gd_rate", "sign_descent_plateau"}
    assert all(r["violations"] == 0 and r["instances"] == 2 for r in data["rows"])
    # a wrong bound (κ → κ/10) must turn into a non-zero exit status
    real = theory.gd_rate

    def wrong(p, *, lr=None):
        b = real(p, lr=lr)
        return dataclasses.replace(b, rate=contraction(max(p.kappa / 10, 1.0)) * 0.5)

    monkeypatch.setattr(theory, "gd_rate", wrong)
    # through click's standalone mode (what the console script does once cli.main forwards the code)
    from typer.testing import CliRunner
    from hetquad.cli import app
    result = CliRunner().invoke(app, ["check", "--only", "gd_rate", "--instances", "2"])
    assert result.exit_code == 1 and "violation" in result.output
    assert main(["check", "--only", "nope"]) == 2
    assert main(["check", "--seed", "-1"]) == 2
