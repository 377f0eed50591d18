"""The THEORY §2 lower-bound construction: no constant lr beats ½ρ*^{2t}ℓ_0 (aggregated form)."""
import numpy as np
import pytest

from hetquad import problems, theory


def _gd_losses(p, w0, lrs, steps):
    """GD on a log grid of lrs at once, iterated here independently of sims: ℓ_t for every lr."""
    w = np.tile(w0, (lrs.size, 1))
    out = np.empty((lrs.size, steps + 1))
    out[:, 0] = p.loss(w)
    for t in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):
            w = w - lrs[:, None] * p.grad(w)
            out[:, t + 1] = p.loss(w)
    return out


def test_construction_point():
    p = problems.block_quadratic([[1.0, 7.0, 30.0], [2.0, 50.0]], seed=4)
    b = theory.gd_lower_bound(p, loss0=3.0)
    assert p.loss(b.w0) == pytest.approx(3.0, rel=1e-12)
    H = p.hessian()
    lam, U = np.linalg.eigh(H)
    c = U.T @ (b.w0 - p.w_star)
    # only the extreme eigen-components, with equal loss split L a² = μ b² = ℓ_0
    np.testing.assert_allclose(c[1:-1], 0, atol=1e-12)
    assert lam[-1] * c[-1] ** 2 == pytest.approx(3.0, rel=1e-10)
    assert lam[0] * c[0] ** 2 == pytest.approx(3.0, rel=1e-10)
    assert b.lr == pytest.approx(2 / (lam[0] + lam[-1]), rel=1e-12)


def test_no_lr_on_a_log_grid_beats_the_construction():
    """THEORY §2 test (d), κ = 5000: min over 600 lrs in [1e-3/L, 3/L] and t ≤ 3000 of
    ℓ_t/(½ρ*^{2t}ℓ_0) is ≥ 1 and close to 1 (observed 1.0004)."""
    p = problems.block_quadratic([[1.0, 40.0, 900.0], [3.0, 5000.0]], seed=1)
    b = theory.gd_lower_bound(p)
    lrs = np.geomspace(1e-3, 3.0, 600) / p.L
    loss = _gd_losses(p, b.w0, lrs, 3000)
    t = np.arange(1, 3001)
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = loss[:, 1:] / (0.5 * b.rate ** (2 * t) * loss[:, :1])
    ratio = np.where(np.isfinite(ratio), ratio, np.inf)   # divergent lrs overflow: trivially above
    assert ratio.min() >= 1 - 1e-9
    assert ratio.min() <= 1.01


def test_per_step_form_is_false_for_large_kappa():
    """The pitfall: at η = 1/L the first step's loss ratio is (1 − 1/κ)²/2 < ρ*² (0.49980 at κ = 5000)."""
    p = problems.block_quadratic([[1.0, 5000.0]], rotation="identity", seed=0)
    b = theory.gd_lower_bound(p)
    loss = _gd_losses(p, b.w0, np.array([1 / p.L]), 1)
    first = loss[0, 1] / loss[0, 0]
    assert first == pytest.approx((1 - 1 / 5000) ** 2 / 2, rel=1e-12)
    assert first == pytest.approx(0.49980, abs=1e-5)
    assert first < b.rate ** 2


def test_lower_bound_needs_two_dimensions():
    with pytest.raises(ValueError, match="d >= 2"):
        theory.gd_lower_bound(problems.block_quadratic([[2.0]], seed=0))
