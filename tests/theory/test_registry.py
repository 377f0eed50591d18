"""The one bounds registry: every consumer (theory.check, sweeps / hetquad run, hetquad check) reads its rows."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from hetquad import checks, sims, theory
from hetquad.problems.quadratic import block_quadratic
from hetquad.sweep import bound_check
from hetquad.theory import registry


@pytest.fixture(scope="module")
def problem():
    return block_quadratic([np.geomspace(1.0, 30.0, 4), np.linspace(2.0, 20.0, 3)], rotation="haar", seed=5)


def test_rows_are_unique_and_name_real_specs_and_functions():
    names = registry.names()
    assert len(set(names)) == len(names)
    assert len({r.key for r in registry.ROWS}) == len(registry.ROWS)
    for r in registry.ROWS:
        assert callable(r.function) and getattr(theory, r.function.__name__) is r.function
        assert r.section.startswith("THEORY §")
        for name in r.optimizers:
            assert name in sims.OPTIMIZERS or name == "adaptive-gd", (r.name, name)
        assert (r.applies is None) == (r.make is None), r.name


def test_hetquad_check_has_one_case_per_row_in_table_order():
    cases = checks._cases()
    assert [c.name for c in cases] == registry.names()
    assert [c.key for c in cases] == [r.key for r in registry.ROWS]
    assert checks.case_names() == registry.names()


CASES = [
    ("gd", lambda p: sims.GD(lr=0.01), "theory.gd_rate"),
    ("blockwise optimal", lambda p: sims.BlockwiseGD.optimal(p), "theory.blockwise_gd_rate"),
    ("blockwise other", lambda p: sims.BlockwiseGD(lrs=(0.01, 0.02)), "n/a: theory.blockwise_gd_rate holds"),
    ("adam variant", lambda p: sims.Adam.theorem_variant(0.05), "theory.adam_variant_rate"),
    ("adam-mini variant", lambda p: sims.AdamMini.theorem_variant(0.05), "theory.adam_mini_variant_rate"),
    ("adam torch", lambda p: sims.Adam(lr=0.05), "n/a: no iteration bound for adam"),
    ("heavy ball", lambda p: sims.SGD(lr=theory.heavy_ball_rate(p).lr, momentum=theory.heavy_ball_rate(p).momentum),
     "theory.heavy_ball_rate"),
    ("heavy ball other", lambda p: sims.SGD(lr=0.01, momentum=0.5), "n/a: theory.heavy_ball_rate holds at"),
    ("nesterov", lambda p: sims.SGD(lr=theory.nesterov_rate(p).lr, momentum=theory.nesterov_rate(p).momentum,
                                    nesterov=True), "theory.nesterov_rate"),
    ("signum", lambda p: sims.Signum(lr=0.01), "n/a: no iteration bound for signum"),
]


@pytest.mark.parametrize("label,make,expect", CASES, ids=[c[0] for c in CASES])
def test_sweep_bound_check_is_a_registry_lookup(problem, label, make, expect):
    opt = make(problem)
    w0 = sims.initial_points(problem, 1, 0)[0]
    name, its, slack = bound_check(problem, opt, 100.0, tol=1e-6, steps=1000, w0=w0)
    assert name.startswith(expect)
    row, b = registry.match(problem, opt, w0)
    if expect.startswith("theory."):
        assert row.name == name[len("theory."):]
        assert its == float(b.iterations(1e-6)) and slack == its / 100.0
    else:
        assert row is None and math.isnan(its) and math.isnan(slack)


def test_a_new_bound_is_one_row(problem, monkeypatch):
    """Adding a row (a toy bound for Signum: T(ε) ≤ 7) reaches bound_check and theory.check with no other edit."""
    @dataclasses.dataclass(frozen=True)
    class Toy:
        name: str = "toy_bound"

        def iterations(self, eps):
            return 7.0

    def toy_check(result, b, eps):
        from hetquad.theory.check import CheckRecord, compare
        return CheckRecord(b.name, (compare("iterations", "upper", np.array([0]), result.iterations[:, None] * 1.0,
                                            7.0, 0.0),))

    row = registry.Row("toy_bound", lambda p: Toy(), Toy, toy_check, "THEORY §9", ("signum",), 99, "quadratic",
                       applies=lambda p, o, w0: o.name == "signum", make=lambda p, o, w0: Toy())
    monkeypatch.setattr(registry, "ROWS", registry.ROWS + (row,))
    assert bound_check(problem, sims.Signum(lr=0.01), 14.0, tol=1e-6)[0] == "theory.toy_bound"
    res = sims.run(problem, sims.Signum(lr=0.01), 5, engine="numpy")
    rec = theory.check(res, Toy())
    assert rec.bound == "toy_bound" and rec.all_hold
    assert not theory.check(sims.run(problem, sims.Signum(lr=0.01), 9, engine="numpy"), Toy()).all_hold


def test_check_refuses_a_record_with_no_row():
    with pytest.raises(TypeError, match="bound must be a hetquad.theory bound record, got int"):
        theory.check(None, 3)
    with pytest.raises(ValueError, match="bound must be one of"):
        registry.get("nope")


def test_normalized_plateau_row_checks_both_sides_and_can_fail():
    """The THEORY §13 row: a run passes its own bound, and fails a level or floor moved past the data."""
    import dataclasses

    from hetquad import sims, theory
    from hetquad.problems.quadratic import block_quadratic

    p = block_quadratic([np.array([1.0, 3.0]), np.array([0.5, 8.0])], rotation="identity", seed=0)
    w0 = p.w_star + np.array([1.0, -2.0, 0.7, 1.5])
    b = theory.normalized_gd_plateau(p, 0.05, w0)
    assert theory.registry.row_for(b).name == "normalized_gd_plateau"
    res = sims.run(p, sims.NormalizedGD(lr=b.lr), b.start + 50, w0=w0, engine="numpy")
    assert theory.check(res, b).violations == 0
    tail = res.loss[0, b.start:]
    assert theory.check(res, dataclasses.replace(b, level=0.5 * tail.max())).violations == 1
    pairs = res.loss[0, :-1] + res.loss[0, 1:]
    assert theory.check(res, dataclasses.replace(b, floor=2.0 * pairs.min())).violations == 1
