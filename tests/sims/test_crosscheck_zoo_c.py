"""Step-by-step float64 cross-checks of LAMB, SM3, Sophia and ClippedGD against published code.

Every check feeds the same numpy gradient (``problem.grad`` at the current iterate) to hetquad's
spec and to the reference, one torch parameter per problem block (shaped like the block for SM3),
and compares the iterates after every step to 1e-12 relative. Where pytorch-optimizer's semantics
differ from the paper, the paper's algorithm box is written out here as a slow, obvious loop and
the difference is stated next to it:

- LAMB: pytorch-optimizer's ``Lamb`` never corrects v, and by default divides the whole step —
  after the trust ratio — by 1 − β1^t (so the correction does not cancel in the ratio as the
  paper's m̂ does); with ``adam_debias=True`` it is the uncorrected rule, which hetquad's
  ``bias_correction=False`` is checked against. ``bias_correction=True`` (the paper's m̂, v̂) is
  checked against the loop of You et al. 2020, Algorithm 2.
- Sophia: pytorch-optimizer's ``SophiaH`` has no γ and clips at ``p`` instead of 1; it is the
  paper's rule with η = lr·p, γ = p, ε = p·eps, λ = wd/p, which is checked; the paper's rule itself
  (Liu et al. 2023, Algorithm 3) against the loop below, with exact and Hutchinson curvature.
- SM3: pytorch-optimizer's ``SM3`` is the authors' algorithm (SM3-II for β = 0, covers = rows and
  columns of a matrix, coordinates of a vector); checked directly.
- ClippedGD: torch.nn.utils.clip_grad_norm_ (over all blocks, or called per block) then SGD.
"""
from __future__ import annotations

import numpy as np
import pytest

from hetquad.problems.quadratic import block_quadratic
from hetquad.sims import LAMB, SM3, ClippedGD, Sophia
from hetquad.sims.optimizers.sophia import hutchinson_keys, rademacher

torch = pytest.importorskip("torch")
popt = pytest.importorskip("pytorch_optimizer")

RTOL = 1e-12
SHAPES = ((2, 3), None, (4, 1), None)  # a 2×3 matrix, a vector, a 4×1 matrix, a vector


@pytest.fixture(scope="module")
def problem():
    eigs = [np.geomspace(0.5, 20.0, 6), np.linspace(1.0, 4.0, 3), np.geomspace(0.2, 8.0, 4), np.array([3.0])]
    return block_quadratic(eigs, seed=11, w_star=np.linspace(-2.0, 1.5, 14))


@pytest.fixture(scope="module")
def w0(problem):
    return np.asarray(problem.w_star) + np.random.default_rng(5).standard_normal(problem.d)


def _slices(problem):
    stops = np.cumsum(problem.sizes)
    return [slice(int(b - s), int(b)) for b, s in zip(stops, problem.sizes)]


def _ours(problem, spec, w0, steps: int) -> np.ndarray:
    """hetquad's iterates after each step (the spec's own init/update on numpy arrays)."""
    state = spec.init(problem, w0[None, :])
    out = []
    for _ in range(steps):
        state = spec.update(state, problem.grad(state.w))
        out.append(state.w[0].copy())
    return np.array(out)


def _params(problem, w0, shapes=None):
    shapes = shapes or (None,) * len(problem.sizes)
    return [torch.tensor(w0[s].reshape(shape if shape else -1), dtype=torch.float64)
            for s, shape in zip(_slices(problem), shapes)]


def _flat(params) -> np.ndarray:
    return np.concatenate([p.detach().reshape(-1).numpy() for p in params])


def _torch(problem, params, opt, steps: int, before=None) -> np.ndarray:
    """The reference's iterates: the numpy gradient at its own iterate, one block per parameter.

    ``before(t, params)`` runs after the gradients are set (clipping); it may return the
    keyword arguments of ``opt.step`` (SophiaH's external Hessian)."""
    out = []
    for t in range(steps):
        g = problem.grad(_flat(params))
        for p, s in zip(params, _slices(problem)):
            p.grad = torch.tensor(g[s].reshape(p.shape), dtype=torch.float64)
        kw = (before(t, params) if before else None) or {}
        opt.step(**kw)
        out.append(_flat(params))
    return np.array(out)


def _agree(ours: np.ndarray, ref: np.ndarray) -> None:
    assert ours.shape == ref.shape and np.all(np.isfinite(ref))
    assert np.abs(np.diff(ref, axis=0)).max() > 1e-3  # the runs really move
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=RTOL * np.abs(ref).max())


# -- LAMB ------------------------------------------------------------------------------------
@pytest.mark.parametrize("weight_decay,clamp", [(0.0, 10.0), (0.05, 10.0), (0.0, 1.5)])
def test_lamb_v3_equals_pytorch_optimizer_lamb(problem, w0, weight_decay, clamp):
    spec = LAMB(lr=0.02, beta1=0.8, beta2=0.95, eps=1e-6, weight_decay=weight_decay, clamp=clamp,
                bias_correction=False)
    params = _params(problem, w0)
    opt = popt.Lamb(params, lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=weight_decay,
                    weight_decouple=False, adam_debias=True, foreach=False)
    opt.clamp = clamp  # pytorch-optimizer's φ clamp is a class attribute (10)
    if clamp < 10.0:  # the clamp really binds on some block
        assert max(np.linalg.norm(w0[s]) for s in _slices(problem)) > clamp
    _agree(_ours(problem, spec, w0, 40), _torch(problem, params, opt, 40))


def _lamb_paper(problem, w0, steps, *, lr, b1, b2, eps, lam, clamp):
    """You et al. 2020, Algorithm 2, one layer (= problem block) at a time, in plain Python floats
    per block norm; φ(z) = min(z, clamp), the trust ratio φ/(‖u‖ + ε) and 1 for a zero norm as in
    the spec's docstring."""
    w = w0.copy()
    m, v = np.zeros_like(w), np.zeros_like(w)
    out = []
    for t in range(1, steps + 1):
        g = problem.grad(w)
        new = w.copy()
        for s in _slices(problem):
            m[s] = b1 * m[s] + (1 - b1) * g[s]
            v[s] = b2 * v[s] + (1 - b2) * g[s] ** 2
            mhat, vhat = m[s] / (1 - b1 ** t), v[s] / (1 - b2 ** t)
            u = mhat / (np.sqrt(vhat) + eps) + lam * w[s]
            phi = min(float(np.linalg.norm(w[s])), clamp)
            un = float(np.linalg.norm(u))
            ratio = 1.0 if phi == 0 or un == 0 else phi / (un + eps)
            new[s] = w[s] - lr * ratio * u
        w = new
        out.append(w.copy())
    return np.array(out)


def test_lamb_with_bias_correction_equals_the_paper_loop(problem, w0):
    kw = dict(lr=0.02, b1=0.9, b2=0.99, eps=1e-6, lam=0.01, clamp=10.0)
    spec = LAMB(lr=0.02, beta1=0.9, beta2=0.99, eps=1e-6, weight_decay=0.01)
    _agree(_ours(problem, spec, w0, 40), _lamb_paper(problem, w0, 40, **kw))


# -- SM3 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("momentum,beta", [(0.0, 0.0), (0.9, 0.0), (0.5, 0.7)])
def test_sm3_equals_pytorch_optimizer_sm3_on_matrix_and_vector_blocks(problem, w0, momentum, beta):
    spec = SM3(lr=0.05, momentum=momentum, beta=beta, shapes=SHAPES)
    params = _params(problem, w0, SHAPES)
    opt = popt.SM3(params, lr=0.05, momentum=momentum, beta=beta, foreach=False)
    _agree(_ours(problem, spec, w0, 40), _torch(problem, params, opt, 40))


def test_sm3_matrix_covers_differ_from_adagrad(problem, w0):
    """The row/column covers are really used: on the 2×3 block SM3 is not AdaGrad (all vectors)."""
    a = _ours(problem, SM3(lr=0.05, shapes=SHAPES), w0, 10)
    b = _ours(problem, SM3(lr=0.05), w0, 10)
    assert np.abs(a[:, :6] - b[:, :6]).max() > 1e-6
    np.testing.assert_array_equal(a[:, 6:9], b[:, 6:9])  # the vector block: one cover per coordinate both ways


# -- Sophia ----------------------------------------------------------------------------------
def _estimate(problem, hessian: str, seed: int, t: int) -> np.ndarray:
    """ĥ at step t: diag(H), or u ⊙ (H u) with H the dense Hessian (not the spec's stacked tiles)."""
    H = problem.hessian()
    if hessian == "exact":
        return np.diag(H).copy()
    u = rademacher(hutchinson_keys(seed, 1), t, problem.d)[0]
    return u * (H @ u)


@pytest.mark.parametrize("hessian", ["exact", "hutchinson"])
def test_sophia_equals_pytorch_optimizer_sophiah_reparametrized(problem, w0, hessian):
    lr_t, p, eps_t, wd_t, k, seed = 0.03, 0.5, 1e-8, 0.02, 3, 7
    spec = Sophia(lr=lr_t * p, beta1=0.9, beta2=0.95, gamma=p, eps=p * eps_t, weight_decay=wd_t / p, k=k,
                  hessian=hessian, seed=seed)
    params = _params(problem, w0)
    opt = popt.SophiaH(params, lr=lr_t, betas=(0.9, 0.95), weight_decay=wd_t, p=p, update_period=k, eps=eps_t,
                       foreach=False)

    def hess(t, ps):
        if t % k:
            return None
        h = _estimate(problem, hessian, seed, t)
        return {"hessian": [torch.tensor(h[s].reshape(q.shape), dtype=torch.float64)
                            for q, s in zip(ps, _slices(problem))]}

    ours = _ours(problem, spec, w0, 40)
    ref = _torch(problem, params, opt, 40, before=hess)
    _agree(ours, ref)
    step = np.abs(np.diff(np.vstack([w0, ref]), axis=0))
    assert step.max() > 0.99 * lr_t * p and np.any(step < 0.5 * lr_t * p)  # clipped and unclipped steps


def _sophia_paper(problem, w0, steps, *, lr, b1, b2, gamma, eps, lam, k, hessian, seed):
    """Liu et al. 2023, Algorithm 3 with coordinates in a Python loop (t from 1)."""
    d = problem.d
    w, m, h = w0.copy(), np.zeros(d), np.zeros(d)
    out = []
    for t in range(1, steps + 1):
        g = problem.grad(w)
        m = b1 * m + (1 - b1) * g
        if (t - 1) % k == 0:
            h = b2 * h + (1 - b2) * _estimate(problem, hessian, seed, t - 1)
        w = w - lr * lam * w
        for i in range(d):
            z = m[i] / max(gamma * h[i], eps)
            w[i] -= lr * max(min(z, 1.0), -1.0)
        out.append(w.copy())
    return np.array(out)


@pytest.mark.parametrize("hessian", ["exact", "hutchinson"])
def test_sophia_equals_the_paper_loop(problem, w0, hessian):
    kw = dict(lr=0.02, b1=0.96, b2=0.99, gamma=0.05, eps=1e-12, lam=0.1, k=4, hessian=hessian, seed=3)
    spec = Sophia(lr=0.02, beta1=0.96, beta2=0.99, gamma=0.05, eps=1e-12, weight_decay=0.1, k=4,
                  hessian=hessian, seed=3)
    _agree(_ours(problem, spec, w0, 40), _sophia_paper(problem, w0, 40, **kw))


# -- ClippedGD -------------------------------------------------------------------------------
@pytest.mark.parametrize("per_block", [False, True])
def test_clipped_gd_equals_torch_clip_grad_norm(problem, w0, per_block):
    lr, max_norm = 0.08, 1.5  # lr < 2/L = 0.1
    params = _params(problem, w0)
    opt = torch.optim.SGD(params, lr=lr)

    def clip(t, ps):
        for group in ([[q] for q in ps] if per_block else [ps]):
            torch.nn.utils.clip_grad_norm_(group, max_norm)

    ref = _torch(problem, params, opt, 40, before=clip)
    _agree(_ours(problem, ClippedGD(lr=lr, max_norm=max_norm, per_block=per_block), w0, 40), ref)
    g0 = problem.grad(w0)
    assert np.linalg.norm(g0) > max_norm  # the clip binds at the start ...
    assert np.linalg.norm(problem.grad(ref[-1])) < max_norm  # ... and not at the end
