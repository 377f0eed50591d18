"""hetquad's Adam and RMSProp against torch.optim, step by step, in float64 on the CPU.

The loss is a ``BlockQuadratic`` written in torch (½ Σ_l e_lᵀ H_l e_l, e = w − w*) and its
gradient comes from autograd; hetquad's spec is stepped with the same gradients (converted to
numpy), and the iterates are compared after every step. The two sides round differently in a few
places (torch's ``lerp_`` for the first moment is m + (1−β1)(g − m), ours β1·m + (1−β1)·g;
autograd's gradient of ½eᵀHe is ½(H + Hᵀ)e), so the agreement is to a relative 1e-12 per step,
not bit for bit.

Conventions (torch 2.x): ``torch.optim.Adam`` divides m by 1 − β1^t and √v by √(1 − β2^t) and
adds ε outside the square root — ``Adam(bias_correction=True)`` has the same order of operations
(THEORY §4 pitfall: this is *not* the theorem variant). ``torch.optim.RMSprop`` with
``centered=False, momentum=0, weight_decay=0`` is v ← α·v + (1−α)·g², w ← w − lr·g/(√v + ε),
with no bias correction: hetquad's ``RMSProp`` with ``beta2 = alpha``. No convention differs.

The same pattern checks ``SGD`` (heavy ball, Nesterov, dampening, weight decay) against
``torch.optim.SGD``, ``AdamW`` against ``torch.optim.AdamW``, ``NAdam`` (μ products,
momentum decay, both weight decays) against ``torch.optim.NAdam`` and ``RAdam`` (the
rectification and the un-adapted steps of ρ_t ≤ 5) against ``torch.optim.RAdam``. torch keeps
NAdam's μ product and the step count as scalar tensors of the *default* dtype, so those checks
run with ``torch.set_default_dtype(torch.float64)`` (in float32 the μ product alone differs at
1e-8). Each test also asserts it exercised what it names (momentum moved the iterates away from
plain GD, RAdam took both kinds of step).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hetquad import sims
from hetquad.problems.quadratic import block_quadratic
from hetquad.sims.optimizers import GD, SGD, Adam, AdamW, NAdam, RAdam, RMSProp

STEPS = 40
RTOL = 1e-12


@pytest.fixture(scope="module")
def problem():
    eigs = [np.linspace(1.0, 10.0, 4), np.geomspace(0.1, 50.0, 6), np.linspace(0.5, 2.0, 3)]
    return block_quadratic(eigs, seed=11, w_star=np.linspace(1.0, 3.0, 13))


def _torch_loss(problem):
    blocks = [torch.tensor(np.asarray(h), dtype=torch.float64) for h in problem.blocks]
    w_star = torch.tensor(np.asarray(problem.w_star), dtype=torch.float64)
    offsets = problem.offsets

    def loss(w):
        e = w - w_star
        return sum(0.5 * e[a:b] @ (h @ e[a:b]) for (a, b), h in zip(offsets, blocks))

    return loss


def _compare(problem, spec, make_torch, w0):
    """Step both optimizers ``STEPS`` times from ``w0``; assert the iterates agree every step."""
    loss = _torch_loss(problem)
    w_t = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt_t = make_torch([w_t])
    state = spec.init(problem, w0)
    worst = 0.0
    for t in range(STEPS):
        opt_t.zero_grad()
        loss(w_t).backward()
        g = w_t.grad.detach().numpy().copy()
        np.testing.assert_allclose(g, problem.grad(state.w[0]), rtol=1e-13, atol=1e-13 * np.abs(g).max())
        opt_t.step()
        state = spec.update(state, g[None, :])
        got, ref = state.w[0], w_t.detach().numpy()
        np.testing.assert_allclose(got, ref, rtol=RTOL, atol=0, err_msg=f"step {t + 1}")
        worst = max(worst, float(np.max(np.abs(got - ref) / np.abs(ref))))
    moved = np.abs(state.w[0] - w0).max()
    assert moved > 1e-2  # the runs went somewhere: agreement is not the trivial w = w0
    return worst


ADAM_CASES = [  # (β1, β2, ε)
    (0.9, 0.999, 1e-8),
    (0.0, 0.99, 1e-6),
    (0.5, 0.9, 1e-3),
    (0.95, 0.9999, 1e-10),
]


@pytest.mark.parametrize("beta1,beta2,eps", ADAM_CASES)
def test_adam_equals_torch_adam(problem, beta1, beta2, eps):
    w0 = np.asarray(problem.w_star) + np.random.default_rng(0).standard_normal(problem.d)
    spec = Adam(lr=5e-2, beta1=beta1, beta2=beta2, eps=eps)
    _compare(problem, spec, lambda ps: torch.optim.Adam(ps, lr=5e-2, betas=(beta1, beta2), eps=eps,
                                                          amsgrad=False, foreach=False), w0)


def test_adam_with_torch_foreach_implementation(problem):
    """torch's multi-tensor path rounds like its single-tensor one here (one parameter tensor)."""
    w0 = np.asarray(problem.w_star) + np.random.default_rng(1).standard_normal(problem.d)
    _compare(problem, Adam(lr=1e-2), lambda ps: torch.optim.Adam(ps, lr=1e-2, foreach=True), w0)


def test_a_wrong_beta_is_caught(problem):
    """The comparison can fail: β2 off by 1e-3 is detected within the horizon."""
    w0 = np.asarray(problem.w_star) + np.random.default_rng(0).standard_normal(problem.d)
    with pytest.raises(AssertionError):
        _compare(problem, Adam(lr=5e-2, beta2=0.998),
                 lambda ps: torch.optim.Adam(ps, lr=5e-2, betas=(0.9, 0.999), foreach=False), w0)


@pytest.mark.parametrize("alpha,eps", [(0.99, 1e-8), (0.9, 1e-6), (0.5, 1e-3)])
def test_rmsprop_equals_torch_rmsprop(problem, alpha, eps):
    w0 = np.asarray(problem.w_star) + np.random.default_rng(2).standard_normal(problem.d)
    spec = RMSProp(lr=1e-2, beta2=alpha, eps=eps)
    _compare(problem, spec, lambda ps: torch.optim.RMSprop(ps, lr=1e-2, alpha=alpha, eps=eps, centered=False,
                                                             momentum=0.0, foreach=False), w0)


def test_engine_run_ends_at_the_torch_iterate(problem):
    """``sims.run`` (numpy engine) ends where the step-by-step torch run ends."""
    w0 = np.asarray(problem.w_star) + np.random.default_rng(3).standard_normal(problem.d)
    loss = _torch_loss(problem)
    w_t = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt_t = torch.optim.Adam([w_t], lr=2e-2, eps=1e-6, foreach=False)
    for _ in range(STEPS):
        opt_t.zero_grad()
        loss(w_t).backward()
        opt_t.step()
    res = sims.run(problem, Adam(lr=2e-2, eps=1e-6), STEPS, w0=w0, engine="numpy")
    np.testing.assert_allclose(res.w_final[0], w_t.detach().numpy(), rtol=RTOL)
    np.testing.assert_allclose(res.final_loss[0], float(loss(w_t).detach()), rtol=1e-10)


# -- SGD, AdamW, NAdam, RAdam ----------------------------------------------------------------
@pytest.fixture
def float64_default():
    """torch's scalar state (NAdam's μ product, step counts) in float64, restored afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


SGD_CASES = [  # (momentum, dampening, nesterov, weight_decay)
    (0.9, 0.0, False, 0.0),
    (0.5, 0.3, False, 0.0),
    (0.9, 0.0, True, 0.0),
    (0.8, 0.0, True, 0.05),
    (0.7, 0.5, False, 0.1),
    (0.0, 0.0, False, 0.02),
]


@pytest.mark.parametrize("momentum,dampening,nesterov,weight_decay", SGD_CASES)
def test_sgd_equals_torch_sgd(problem, momentum, dampening, nesterov, weight_decay):
    w0 = np.asarray(problem.w_star) + np.random.default_rng(4).standard_normal(problem.d)
    lr = 0.5 / problem.L
    spec = SGD(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay)
    _compare(problem, spec, lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum, dampening=dampening,
                                                         nesterov=nesterov, weight_decay=weight_decay,
                                                         foreach=False), w0)
    if momentum:  # the momentum did something: not the GD iterate
        gd = GD(lr=lr)
        s_gd, s = gd.init(problem, w0), spec.init(problem, w0)
        for _ in range(5):
            s_gd = gd.update(s_gd, problem.grad(s_gd.w))
            s = spec.update(s, problem.grad(s.w))
        assert np.abs(s.w - s_gd.w).max() > 1e-3


@pytest.mark.parametrize("weight_decay,eps", [(1e-2, 1e-8), (0.1, 1e-6), (0.0, 1e-8)])
def test_adamw_equals_torch_adamw(problem, weight_decay, eps):
    w0 = np.asarray(problem.w_star) + np.random.default_rng(5).standard_normal(problem.d)
    spec = AdamW(lr=5e-2, weight_decay=weight_decay, eps=eps)
    _compare(problem, spec, lambda ps: torch.optim.AdamW(ps, lr=5e-2, weight_decay=weight_decay, eps=eps,
                                                           foreach=False), w0)


def test_adamw_default_weight_decay_is_torchs(problem):
    w0 = np.asarray(problem.w_star) + np.random.default_rng(6).standard_normal(problem.d)
    _compare(problem, AdamW(lr=2e-2), lambda ps: torch.optim.AdamW(ps, lr=2e-2, foreach=False), w0)
    with pytest.raises(AssertionError):  # and the decay is really applied: plain Adam differs
        _compare(problem, Adam(lr=2e-2), lambda ps: torch.optim.AdamW(ps, lr=2e-2, weight_decay=0.5,
                                                                      foreach=False), w0)


NADAM_CASES = [  # (β1, β2, ε, momentum_decay, weight_decay, decoupled)
    (0.9, 0.999, 1e-8, 4e-3, 0.0, False),
    (0.8, 0.99, 1e-6, 0.1, 0.0, False),
    (0.9, 0.999, 1e-8, 4e-3, 0.05, False),
    (0.95, 0.9, 1e-4, 4e-3, 0.05, True),
]


@pytest.mark.parametrize("beta1,beta2,eps,momentum_decay,weight_decay,decoupled", NADAM_CASES)
def test_nadam_equals_torch_nadam(problem, float64_default, beta1, beta2, eps, momentum_decay, weight_decay,
                                  decoupled):
    w0 = np.asarray(problem.w_star) + np.random.default_rng(7).standard_normal(problem.d)
    spec = NAdam(lr=2e-2, beta1=beta1, beta2=beta2, eps=eps, momentum_decay=momentum_decay,
                 weight_decay=weight_decay, decoupled_weight_decay=decoupled)
    _compare(problem, spec, lambda ps: torch.optim.NAdam(ps, lr=2e-2, betas=(beta1, beta2), eps=eps,
                                                           momentum_decay=momentum_decay, weight_decay=weight_decay,
                                                           decoupled_weight_decay=decoupled, foreach=False), w0)


RADAM_CASES = [  # (β1, β2, ε, weight_decay, decoupled)
    (0.9, 0.999, 1e-8, 0.0, False),   # ρ_t > 5 from t = 6: both kinds of step
    (0.9, 0.9, 1e-6, 0.0, False),     # ρ∞ = 19
    (0.5, 0.55, 1e-8, 0.0, False),    # ρ∞ < 5: every step un-adapted
    (0.9, 0.99, 1e-8, 0.05, False),
    (0.9, 0.99, 1e-8, 0.05, True),
]


@pytest.mark.parametrize("beta1,beta2,eps,weight_decay,decoupled", RADAM_CASES)
def test_radam_equals_torch_radam(problem, float64_default, beta1, beta2, eps, weight_decay, decoupled):
    w0 = np.asarray(problem.w_star) + np.random.default_rng(8).standard_normal(problem.d)
    spec = RAdam(lr=2e-2, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 decoupled_weight_decay=decoupled)
    _compare(problem, spec, lambda ps: torch.optim.RAdam(ps, lr=2e-2, betas=(beta1, beta2), eps=eps,
                                                           weight_decay=weight_decay,
                                                           decoupled_weight_decay=decoupled, foreach=False), w0)
    rect = spec.lower(problem, 1, STEPS).extra[:, 0, 2]
    rho_inf = 2 / (1 - beta2) - 1
    assert (rect > 0).any() == (rho_inf > 5) and (rect < 0).any()  # the case means what it says


def test_the_comparison_catches_a_wrong_momentum_decay(problem, float64_default):
    w0 = np.asarray(problem.w_star) + np.random.default_rng(7).standard_normal(problem.d)
    with pytest.raises(AssertionError):
        _compare(problem, NAdam(lr=2e-2, momentum_decay=5e-3),
                 lambda ps: torch.optim.NAdam(ps, lr=2e-2, foreach=False), w0)
