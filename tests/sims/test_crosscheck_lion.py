"""hetquad's Lion against the published ``lion-pytorch`` package, step by step, in float64.

``lion_pytorch.Lion`` (pinned in the test extra) is the reference implementation the Lion paper
points to: w ← w·(1 − lr·λ); w ← w − lr·sign(β1·m + (1−β1)·g); m ← β2·m + (1−β2)·g. hetquad's
``Lion`` uses the same order of operations, so only the first moment's rounding can differ
(torch's ``add(alpha=…)`` vs ``β·m + (1−β)·g``); the iterates agree to a relative 1e-12 per step.
Also here: Signum is Lion with β1 = β2 = μ and λ = 0, bit for bit in every engine, and the closed
form of a sign step (every coordinate moves by exactly lr).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from lion_pytorch import Lion as TorchLion

from hetquad import sims
from hetquad.problems.quadratic import block_quadratic
from hetquad.sims import engines
from hetquad.sims.optimizers import Lion, Signum

# the problem, the torch loss and the tolerances of the torch.optim cross-checks, shared
from tests.sims.test_crosscheck_torch import RTOL, STEPS, _torch_loss, problem  # noqa: F401,E402


@pytest.mark.parametrize("beta1,beta2,weight_decay", [(0.9, 0.99, 0.0), (0.95, 0.98, 0.1), (0.0, 0.5, 1.0),
                                                      (0.5, 0.5, 0.0)])
def test_lion_equals_lion_pytorch(problem, beta1, beta2, weight_decay):
    w0 = np.asarray(problem.w_star) + np.random.default_rng(0).standard_normal(problem.d)
    loss = _torch_loss(problem)
    w_t = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt_t = TorchLion([w_t], lr=3e-2, betas=(beta1, beta2), weight_decay=weight_decay)
    spec = Lion(lr=3e-2, beta1=beta1, beta2=beta2, weight_decay=weight_decay)
    state = spec.init(problem, w0)
    for t in range(STEPS):
        opt_t.zero_grad()
        loss(w_t).backward()
        g = w_t.grad.detach().numpy().copy()
        opt_t.step()
        state = spec.update(state, g[None, :])
        np.testing.assert_allclose(state.w[0], w_t.detach().numpy(), rtol=RTOL, atol=0, err_msg=f"step {t + 1}")
        np.testing.assert_allclose(state.buf[0], opt_t.state[w_t]["exp_avg"].numpy(), rtol=1e-13,
                                   atol=1e-15, err_msg=f"momentum, step {t + 1}")
    assert np.abs(state.w[0] - w0).max() > 0.5  # 40 steps of 3e-2: it moved


def test_a_wrong_beta2_is_caught(problem):
    """The comparison can fail: Lion with β2 swapped for β1 leaves lion-pytorch within the horizon."""
    w0 = np.asarray(problem.w_star) + np.random.default_rng(0).standard_normal(problem.d)
    loss = _torch_loss(problem)
    w_t = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt_t = TorchLion([w_t], lr=3e-2, betas=(0.9, 0.99))
    spec, worst = Lion(lr=3e-2, beta1=0.9, beta2=0.9), 0.0
    state = spec.init(problem, w0)
    for _ in range(STEPS):
        opt_t.zero_grad()
        loss(w_t).backward()
        g = w_t.grad.detach().numpy().copy()
        opt_t.step()
        state = spec.update(state, g[None, :])
        worst = max(worst, np.abs(state.w[0] - w_t.detach().numpy()).max())
    assert worst > 1e-3


def test_sign_step_closed_form():
    """From a point where every g_i ≠ 0, Lion's first step (m = 0: c = (1−β1)·g) moves every
    coordinate by exactly lr against the sign of g; with λ it first scales w by (1 − lr·λ)."""
    lam = np.array([0.5, 2.0, 3.0])
    p = block_quadratic([lam], rotation="identity")  # w* = 0, g = λ ⊙ w
    w0 = np.array([1.0, -2.0, 0.25])
    lr, wd = 0.125, 0.5
    res = sims.run(p, Lion(lr=lr, weight_decay=wd), 1, w0=w0, engine="numpy")
    np.testing.assert_array_equal(res.w_final[0], w0 * (1 - lr * wd) - lr * np.sign(w0))
    res = sims.run(p, Lion(lr=lr), 3, w0=w0, engine="numpy")  # β1 = 0.9, β2 = 0.99 by hand
    w, m = w0.copy(), np.zeros(3)
    for _ in range(3):
        g = lam * w
        w = w - lr * np.sign(0.9 * m + 0.1 * g)
        m = 0.99 * m + 0.01 * g
    np.testing.assert_array_equal(res.w_final[0], w)


@pytest.mark.parametrize("engine", [n for n in engines.available() if n != "cupy"] + ["batched-numpy"])
def test_signum_is_lion_with_equal_betas_bit_for_bit(problem, engine):
    kw = dict(batch=3, seed=2, record_every=5, per_block=True)
    mus = np.array([0.0, 0.5, 0.9])
    a_spec, b_spec = Signum(lr=1e-2, momentum=mus), Lion(lr=1e-2, beta1=mus, beta2=mus, weight_decay=0.0)
    if engine == "batched-numpy":
        from hetquad.sims.engines import batched
        from hetquad.sims.run import build_task
        a = batched.simulate(build_task(problem, a_spec, 60, **kw))
        b = batched.simulate(build_task(problem, b_spec, 60, **kw))
    else:
        a = sims.run(problem, a_spec, 60, engine=engine, **kw)
        b = sims.run(problem, b_spec, 60, engine=engine, **kw)
    for key in ("loss", "grad_norm", "block_grad_norm", "w_final"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    assert np.all(np.isfinite(a.loss)) and (a.loss[:, -1] < a.loss[:, 0]).all()
