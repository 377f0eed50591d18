"""Step-by-step float64 cross-checks of the matrix optimizers against published code (≤ 1e-12 relative).

torch.optim.Adafactor, ``came-pytorch``'s CAME and ``pytorch-optimizer`` (4.x) Shampoo, SOAP and
Muon run on torch parameters shaped like the problem's blocks (row-major vec, as
``BlockQuadratic.shapes`` says); each step both sides get the same gradient, computed by the
problem from the reference's own weights, and the weights must agree after every step. Where the
package's semantics differ from ours (named in each test's docstring), that part is compared with
a slow reference written here from the paper's algorithm box instead.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hetquad import sims  # noqa: E402
from hetquad.problems.quadratic import block_quadratic  # noqa: E402

RTOL = 1e-12
STEPS = 25


def _problem(shapes, seed=3):
    sizes = [5 if s is None else s[0] * s[1] for s in shapes]  # a vector block has 5 entries
    eigs = [np.geomspace(0.5, 8.0, n) for n in sizes]
    d = sum(sizes)
    return block_quadratic(eigs, seed=seed, w_star=np.linspace(-1.0, 2.0, d), shapes=shapes)


MIXED = [(4, 5), None, (3, 3), (2, 3)]   # matrix, vector, square, wide (no multi-dim null spaces: SOAP)
MATRICES = [(4, 5), (3, 3), (5, 2)]       # no vector block (pytorch-optimizer's Shampoo on a vector differs)


def _w0(p, seed=1):
    return sims.initial_points(p, 1, seed)[0]


def _ours(p, opt, w0, steps=STEPS):
    state = opt.init(p, w0)
    out = []
    for _ in range(steps):
        state = opt.update(state, p.grad(state.w))
        out.append(np.array(state.w[0]))
    return np.array(out)


def _params(p, w0):
    shapes = p.shapes
    out, start = [], 0
    for n, s in zip(p.sizes, shapes):
        x = torch.tensor(w0[start:start + n], dtype=torch.float64)
        out.append(torch.nn.Parameter(x.reshape(s) if s is not None else x.clone()))
        start += n
    return out


def _flat(params):
    return np.concatenate([q.detach().reshape(-1).numpy() for q in params])


def _theirs(p, params, make_opt, steps=STEPS):
    opt = make_opt(params)
    out = []
    for _ in range(steps):
        g = p.grad(_flat(params))
        start = 0
        for q in params:
            q.grad = torch.tensor(g[start:start + q.numel()], dtype=torch.float64).reshape(q.shape).clone()
            start += q.numel()
        opt.step()
        out.append(_flat(params))
    return np.array(out)


def _agree(ours, theirs, rtol=RTOL):
    assert np.all(np.isfinite(theirs))
    assert not np.allclose(theirs[-1], theirs[0])  # the runs do move
    err = np.max(np.abs(ours - theirs) / np.max(np.abs(theirs), axis=1, keepdims=True))
    assert err <= rtol, f"max relative difference {err:.3g} > {rtol}"


# -- Adafactor vs torch.optim.Adafactor --------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(lr=0.05), dict(lr=0.3, beta2_decay=-0.5, eps2=1e-2, d=1.5, weight_decay=0.1),
                                dict(lr=0.05, eps1=1e-10, maximize=False)])
def test_adafactor_matches_torch(kw):
    p = _problem(MIXED)
    w0 = _w0(p)
    torch_kw = dict(lr=kw["lr"], beta2_decay=kw.get("beta2_decay", -0.8), eps=(kw.get("eps1"), kw.get("eps2", 1e-3)),
                    d=kw.get("d", 1.0), weight_decay=kw.get("weight_decay", 0.0), foreach=False)
    theirs = _theirs(p, _params(p, w0), lambda ps: torch.optim.Adafactor(ps, **torch_kw))
    _agree(_ours(p, sims.Adafactor(**kw), w0), theirs)


# -- CAME vs came-pytorch ------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(lr=2e-2), dict(lr=5e-2, beta1=0.8, beta2=0.99, beta3=0.999, clip_threshold=0.5,
                                                     weight_decay=0.05, eps1=1e-20, eps2=1e-12)])
def test_came_matches_came_pytorch(kw):
    came = pytest.importorskip("came_pytorch")
    p = _problem(MIXED)
    w0 = _w0(p)
    ck = dict(lr=kw["lr"], eps=(kw.get("eps1", 1e-30), kw.get("eps2", 1e-16)),
              clip_threshold=kw.get("clip_threshold", 1.0),
              betas=(kw.get("beta1", 0.9), kw.get("beta2", 0.999), kw.get("beta3", 0.9999)),
              weight_decay=kw.get("weight_decay", 0.0))
    theirs = _theirs(p, _params(p, w0), lambda ps: came.CAME(ps, **ck))
    _agree(_ours(p, sims.CAME(**kw), w0), theirs)


# -- Shampoo -------------------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.1, 1.0])
def test_shampoo_matches_pytorch_optimizer_on_matrix_blocks(eps):
    """pytorch-optimizer's Shampoo (L_0 = eps·I, roots by SVD) with roots every step; matrix blocks
    only: on a vector it runs full-matrix AdaGrad, where ours is 'error' or the diagonal rule."""
    po = pytest.importorskip("pytorch_optimizer")
    p = _problem(MATRICES)
    w0 = _w0(p)
    theirs = _theirs(p, _params(p, w0), lambda ps: po.Shampoo(ps, lr=0.05, momentum=0.0, matrix_eps=eps,
                                                               preconditioning_compute_steps=1))
    _agree(_ours(p, sims.Shampoo(lr=0.05, eps=eps), w0), theirs)


def _root(m, eps):
    """(M + eps I)^{-1/4} by an SVD (gesdd, as pytorch-optimizer's ``compute_power_svd``; not eigh)."""
    u, s, vh = np.linalg.svd(m + eps * np.eye(m.shape[0]))
    return (u * s ** -0.25) @ vh


@pytest.mark.parametrize("freq", [1, 3])
def test_shampoo_matches_the_paper_with_update_freq_and_the_diagonal_rule(freq):
    """Gupta et al. 2018 Alg. 1 written out: L_0 = εI, L ← L + GGᵀ, R ← R + GᵀG, W ← W − η L^{-1/4} G R^{-1/4}.

    Differences from pytorch-optimizer, checked here instead: our roots are recomputed at steps
    1, 1+k, … (the package leaves them 0, i.e. no step, until step k), and a vector block gets
    the diagonal rule g/√(ε + Σg²) (the package: full-matrix AdaGrad).
    """
    p = _problem(MIXED)
    w0, lr, eps = _w0(p), 0.05, 0.2
    w = w0.copy()
    offs = np.cumsum([0, *p.sizes])
    stats = [None] * len(p.sizes)
    roots = [None] * len(p.sizes)
    ref = []
    for t in range(STEPS):
        g = p.grad(w)
        new = w.copy()
        for l, s in enumerate(p.shapes):
            gb = g[offs[l]:offs[l + 1]]
            if s is None:
                stats[l] = (0 if stats[l] is None else stats[l]) + gb * gb
                new[offs[l]:offs[l + 1]] -= lr * gb / np.sqrt(stats[l] + eps)
                continue
            G = gb.reshape(s)
            Lm, Rm = stats[l] or (np.zeros((s[0], s[0])), np.zeros((s[1], s[1])))
            Lm, Rm = Lm + G @ G.T, Rm + G.T @ G
            stats[l] = (Lm, Rm)
            if t % freq == 0:
                roots[l] = (_root(Lm, eps), _root(Rm, eps))
            new[offs[l]:offs[l + 1]] -= lr * (roots[l][0] @ G @ roots[l][1]).ravel()
        w = new
        ref.append(w.copy())
    _agree(_ours(p, sims.Shampoo(lr=lr, eps=eps, update_freq=freq, vector="diagonal"), w0), np.array(ref), rtol=1e-11)


# -- SOAP ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(lr=0.02, eps=1e-2), dict(lr=0.05, beta1=0.9, beta2=0.99, shampoo_beta=0.8,
                                                                eps=3e-2, weight_decay=0.1)])
def test_soap_matches_pytorch_optimizer_between_basis_refreshes(kw):
    """pytorch-optimizer's SOAP (the authors' code) with a refresh period past the horizon, so both
    sides keep the step-1 eigh basis; the refresh (ours: exact eigh, theirs: power iteration + QR
    in float32) is checked against the paper in the next test.

    ε ≥ 1e-2 in both SOAP tests: step 1 does not move w, so step 2's G equals step 1's and G' =
    Q_Lᵀ G Q_R is diagonal up to round-off; those 1e-16 entries divided by √v + ε make the
    difference of two correct implementations ∝ 1/ε (measured: 2e-9 at ε = 1e-8, 5e-13 at 1e-4,
    1e-15 at 1e-2), the ε-chaos of Adam that ``test_optimizers`` notes too."""
    po = pytest.importorskip("pytorch_optimizer")
    p = _problem(MIXED)
    w0 = _w0(p)
    theirs = _theirs(p, _params(p, w0), lambda ps: po.SOAP(
        ps, lr=kw["lr"], betas=(kw.get("beta1", 0.95), kw.get("beta2", 0.95)), shampoo_beta=kw.get("shampoo_beta"),
        eps=kw.get("eps", 1e-8), weight_decay=kw.get("weight_decay", 0.0), precondition_frequency=10 * STEPS))
    _agree(_ours(p, sims.SOAP(precondition_frequency=10 * STEPS, **kw), w0), theirs)


def test_soap_matches_the_paper_with_basis_refreshes():
    """Vyas et al. 2024, Alg. 3 with exact Eigenvectors(L), plus the authors' step-1 skip, bias
    correction and v re-ordering on refresh (sorted Rayleigh quotients of the old basis)."""
    p = _problem(MIXED)
    w0, lr, b1, b2, eps, freq = _w0(p), 0.03, 0.9, 0.95, 1e-2, 4  # ε: see the test above
    offs = np.cumsum([0, *p.sizes])
    w, m, v = w0.copy(), np.zeros(p.d), np.zeros(p.d)
    F = {l: [np.zeros((s[0], s[0])), np.zeros((s[1], s[1]))] for l, s in enumerate(p.shapes) if s is not None}
    Q = {}

    def basis(a):
        lam, q = np.linalg.eigh(a)
        return q[:, np.argsort(-lam)]

    ref = []
    for t in range(1, STEPS + 1):
        g = p.grad(w)
        if t > 1:
            s_ = t - 1
            m = b1 * m + (1 - b1) * g
            step = np.zeros(p.d)
            for l, s in enumerate(p.shapes):
                sl = slice(offs[l], offs[l + 1])
                if s is None:
                    gp, mp = g[sl], m[sl]
                else:
                    QL, QR = Q[l]
                    gp = (QL.T @ g[sl].reshape(s) @ QR).ravel()
                    mp = (QL.T @ m[sl].reshape(s) @ QR).ravel()
                v[sl] = b2 * v[sl] + (1 - b2) * gp * gp
                n_ = mp / (np.sqrt(v[sl]) + eps)
                step[sl] = n_ if s is None else (Q[l][0] @ n_.reshape(s) @ Q[l][1].T).ravel()
            w = w - lr * np.sqrt(1 - b2 ** s_) / (1 - b1 ** s_) * step
        for l, s in enumerate(p.shapes):
            if s is None:
                continue
            G = g[offs[l]:offs[l + 1]].reshape(s)
            F[l] = [b2 * F[l][0] + (1 - b2) * G @ G.T, b2 * F[l][1] + (1 - b2) * G.T @ G]
            if t == 1:
                Q[l] = (basis(F[l][0]), basis(F[l][1]))
            elif (t - 1) % freq == 0:
                V = v[offs[l]:offs[l + 1]].reshape(s)
                for ax in (0, 1):
                    est = np.diag(Q[l][ax].T @ F[l][ax] @ Q[l][ax])
                    order = np.argsort(-est)
                    V = V[order, :] if ax == 0 else V[:, order]
                v[offs[l]:offs[l + 1]] = V.ravel()
                Q[l] = (basis(F[l][0]), basis(F[l][1]))
        ref.append(w.copy())
    _agree(_ours(p, sims.SOAP(lr=lr, beta1=b1, beta2=b2, eps=eps, precondition_frequency=freq), w0), np.array(ref))


# -- Muon ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_matches_pytorch_optimizer(monkeypatch, nesterov):
    """pytorch-optimizer's Muon with its auxiliary AdamW group on the vector blocks.

    Differences: the package iterates Newton–Schulz in bfloat16 (patched here to float64, the
    rest is its code) and normalises by max(‖U‖_F, 1e-7) where the reference divides by
    ‖U‖_F + 1e-7; ours with ns_eps = 0 equals the package while ‖U‖_F > 1e-7 (the next test
    checks ns_eps = 1e-7 against the reference)."""
    po = pytest.importorskip("pytorch_optimizer")
    from pytorch_optimizer.optimizer.muon import base

    monkeypatch.setattr(base, "zero_power_via_newton_schulz_5",
                        functools.partial(base.zero_power_via_newton_schulz_5, dtype=torch.float64))
    p = _problem(MIXED)
    w0 = _w0(p)
    kw = dict(lr=0.02, momentum=0.9, nesterov=nesterov, weight_decay=0.05, adam_lr=0.01, adam_beta1=0.8,
              adam_beta2=0.95, adam_eps=1e-8)

    def make(ps):
        mats = [q for q in ps if q.ndim == 2]
        vecs = [q for q in ps if q.ndim == 1]
        return po.Muon([dict(params=mats, use_muon=True, lr=0.02, momentum=0.9, nesterov=nesterov, weight_decay=0.05),
                        dict(params=vecs, use_muon=False, lr=0.01, betas=(0.8, 0.95), eps=1e-8, weight_decay=0.05)],
                       foreach=False)

    _agree(_ours(p, sims.Muon(ns_eps=0.0, **kw), w0), _theirs(p, _params(p, w0), make))


def test_muon_matches_the_reference_code():
    """Jordan et al. 2024 (``KellerJordan/Muon``: ``zeropower_via_newtonschulz5``, ``muon_update``,
    ``adam_update``) written out in float64, with its ε = 1e-7 added to ‖U‖_F."""
    p = _problem(MIXED)
    w0, lr, mu, alr, ab, aeps, wd = _w0(p), 0.02, 0.95, 0.01, (0.9, 0.95), 1e-10, 0.0
    offs = np.cumsum([0, *p.sizes])
    w, buf, m2 = w0.copy(), np.zeros(p.d), np.zeros(p.d)

    def ns5(G):
        a, b, c = 3.4445, -4.7750, 2.0315
        X = G.T if G.shape[0] > G.shape[1] else G
        X = X / (np.linalg.norm(X) + 1e-7)
        for _ in range(5):
            A = X @ X.T
            X = a * X + (b * A + c * A @ A) @ X
        return X.T if G.shape[0] > G.shape[1] else X

    ref = []
    for t in range(1, STEPS + 1):
        g = p.grad(w)
        new = w.copy()
        for l, s in enumerate(p.shapes):
            sl = slice(offs[l], offs[l + 1])
            if s is None:
                buf[sl] = buf[sl] + (1 - ab[0]) * (g[sl] - buf[sl])
                m2[sl] = m2[sl] + (1 - ab[1]) * (g[sl] * g[sl] - m2[sl])
                upd = (buf[sl] / (1 - ab[0] ** t)) / (np.sqrt(m2[sl] / (1 - ab[1] ** t)) + aeps)
                new[sl] = w[sl] * (1 - alr * wd) - alr * upd
                continue
            buf[sl] = buf[sl] + (1 - mu) * (g[sl] - buf[sl])
            u = g[sl] + mu * (buf[sl] - g[sl])  # Nesterov: grad.lerp_(momentum, beta)
            o = ns5(u.reshape(s)) * max(1, s[0] / s[1]) ** 0.5
            new[sl] = w[sl] * (1 - lr * wd) - lr * o.ravel()
        w = new
        ref.append(w.copy())
    _agree(_ours(p, sims.Muon(lr=lr, momentum=mu, adam_lr=alr), w0), np.array(ref))
