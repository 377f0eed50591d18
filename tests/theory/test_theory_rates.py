"""Closed-form rates against hand-computed values (THEORY §2–§4)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hetquad import problems, sims, theory


def diag_problem(*blocks):
    return problems.block_quadratic([np.asarray(b, float) for b in blocks], rotation="identity", seed=0)


def test_gd_rate_2x2_by_hand():
    p = diag_problem([1.0, 9.0])
    b = theory.gd_rate(p)
    assert b.lr == pytest.approx(0.2, rel=1e-15)          # 2/(9+1)
    assert b.rate == pytest.approx(0.8, rel=1e-15)        # (9−1)/(9+1)
    # ⌈ln(1e6)/(2 ln 1.25)⌉ = ⌈13.8155/0.446287⌉ = ⌈30.956⌉
    assert b.iterations(1e-6) == 31
    assert b.provenance.source.startswith("THEORY §2")
    fixed = theory.gd_rate(p, lr=0.1)                     # max(|1 − 0.1|, |1 − 0.9|)
    assert fixed.lr == 0.1 and fixed.rate == pytest.approx(0.9, rel=1e-15)
    assert theory.gd_rate(p, lr=0.25).rate == pytest.approx(1.25, rel=1e-15)   # |1 − 2.25|
    assert math.isinf(theory.gd_rate(p, lr=0.25).iterations(1e-6))


def test_gd_rate_reference_kappa_5000():
    """THEORY §2 reference: η*L = 1.99960, ρ* = 0.999600080, iters = 17270, lower bound 16403."""
    p = diag_problem([1.0, 5000.0])
    b = theory.gd_rate(p)
    assert b.lr * p.L == pytest.approx(1.99960, abs=1e-5)
    assert b.rate == pytest.approx(0.999600080, abs=1e-9)
    assert b.rate ** 2 == pytest.approx(0.999200320, abs=1e-9)
    assert b.iterations(1e-6) == 17270
    assert theory.gd_lower_bound(p).iterations(1e-6) == 16403


@given(st.floats(1.0, 1e4), st.floats(1e-3, 1e3))
@settings(max_examples=30, deadline=None)
def test_no_constant_step_beats_optimal(kappa, mu):
    """THEORY §2 test (a): a grid over η never beats ρ*, and its argmin is η* (rel 1e-3)."""
    p = diag_problem([mu, mu * kappa])
    b = theory.gd_rate(p)
    grid = np.geomspace(1e-3, 3.0, 4001) / p.L
    rates = np.maximum(np.abs(1 - grid * p.L), np.abs(1 - grid * p.mu))
    assert rates.min() >= b.rate - 1e-12
    if kappa > 1.01:
        assert grid[np.argmin(rates)] == pytest.approx(b.lr, rel=2e-3)


def test_blockwise_by_hand():
    p = diag_problem([1.0, 3.0], [10.0, 10.5])
    b = theory.blockwise_gd_rate(p)
    assert b.block_lrs == pytest.approx((0.5, 2 / 20.5), rel=1e-15)
    assert b.block_rates == pytest.approx((0.5, 0.5 / 20.5), rel=1e-14)
    assert b.rate == pytest.approx(0.5) and b.lr is None
    assert b.iterations(1e-6) == math.ceil(math.log(1e6) / (2 * math.log(2)))
    # the optimizer spec uses the very same steps
    assert sims.BlockwiseGD.optimal(p).lrs == pytest.approx(b.block_lrs, rel=1e-15)


def test_adam_variant_diagonal_by_hand():
    """H = diag(1, 100), e0 = (1, 1): g0 = (1, 100), P = I, κ(P) = 1, one step to the optimum."""
    p = diag_problem([1.0], [100.0])
    w0 = np.array([1.0, 1.0])
    b = theory.adam_variant_rate(p, w0)
    assert b.kappa == pytest.approx(1.0) and b.rate == pytest.approx(0.0, abs=1e-15)
    assert b.lr == pytest.approx(1.0) and b.r == pytest.approx(1.0)   # max block κ = 1 (1×1 blocks)
    res = sims.run(p, sims.Adam.theorem_variant(b.lr), 1, w0=w0, engine="numpy")
    assert res.loss[0, 1] == pytest.approx(0.0, abs=1e-28)


def test_adam_variant_dense_2x2_independent():
    """κ(P) from an explicit D^{-1/2} H D^{-1/2} (and problems.kappa_preconditioned on D⁻¹)."""
    H = np.array([[4.0, 1.0], [1.0, 2.0]])
    p = problems.BlockQuadratic((H,))
    w0 = np.array([0.3, -1.1])
    g0 = H @ w0
    Dm = np.diag(1 / np.sqrt(np.abs(g0)))
    lam = np.linalg.eigvalsh(Dm @ H @ Dm)
    b = theory.adam_variant_rate(p, w0)
    assert b.kappa == pytest.approx(lam[1] / lam[0], rel=1e-12)
    assert b.kappa == pytest.approx(problems.kappa_preconditioned(H, 1 / np.abs(g0)), rel=1e-12)
    assert b.lr == pytest.approx(2 / (lam[0] + lam[1]), rel=1e-12)
    assert b.rate == pytest.approx((lam[1] - lam[0]) / (lam[1] + lam[0]), rel=1e-12)
    kH = np.linalg.cond(H)
    assert b.r == pytest.approx(b.kappa / kH, rel=1e-12)


def test_adam_mini_block_constant_scaling():
    p = problems.block_quadratic([[1.0, 2.0], [10.0, 30.0]], seed=3)
    w0 = np.array([1.0, -2.0, 0.5, 0.1])
    g0 = p.grad(w0)
    D = np.array([np.sqrt(np.mean(g0[:2] ** 2))] * 2 + [np.sqrt(np.mean(g0[2:] ** 2))] * 2)
    b = theory.adam_mini_variant_rate(p, w0)
    np.testing.assert_allclose(b.scaling, D, rtol=1e-14)
    lam = np.concatenate([np.array([1.0, 2.0]) / D[0], np.array([10.0, 30.0]) / D[2]])
    assert b.kappa == pytest.approx(lam.max() / lam.min(), rel=1e-12)
    assert b.kappa >= max(p.block_kappas) * (1 - 1e-12)


@given(st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_mini_kappa_at_least_block_kappa_and_zhang_consistency(seed):
    inst = theory.suite.quadratic_instances(1, seed=seed, key=99)[0]
    mini = theory.adam_mini_variant_rate(inst.problem, inst.w0)
    assert mini.kappa >= float(np.max(inst.problem.block_kappas)) * (1 - 1e-12)
    z = theory.zhang_prediction(inst.problem, inst.w0)
    assert z.adam_loss_factor == pytest.approx(1 - 1 / z.adam.kappa, rel=1e-12)
    assert z.adam.rate ** 2 <= z.adam_loss_factor + 1e-15       # THEORY §4 chain of inequalities
    assert z.gd_loss_factor == pytest.approx((1 - 2 / (z.kappa + 1)) ** 2, rel=1e-12)
    assert z.adam_beats_gd == (z.adam.kappa < z.kappa)
    its = z.iterations(1e-6)
    assert its["adam"] <= its["adam_zhang"]


def test_errors_name_the_argument():
    p = diag_problem([1.0, 2.0], [3.0])
    with pytest.raises(ValueError, match="g0_i != 0"):
        theory.adam_variant_rate(p, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="lr must be > 0"):
        theory.gd_rate(p, lr=-1.0)
    with pytest.raises(ValueError, match="w0 must have shape"):
        theory.adam_variant_rate(p, np.ones(2))
    with pytest.raises(TypeError, match="BlockQuadratic"):
        theory.gd_rate(np.eye(2))
    with pytest.raises(ValueError, match="block-diagonal"):
        theory.blockwise_gd_rate(problems.coupled(problems.block_quadratic([[1.0, 2.0], [3.0, 4.0]], seed=0),
                                                  strength=0.5, seed=0))
    with pytest.raises(ValueError, match="eps"):
        theory.gd_rate(p).iterations(0.0)
