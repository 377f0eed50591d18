"""The matrix optimizers (Shampoo, SOAP, Muon, Adafactor, CAME) and Adam-mini's row/head partitions.

A second table beside ``test_optimizers.OPTIMIZERS`` (whose problem has vector blocks only, where
these specs' vector rules have rows): the same engine × single/batch agreement on a problem with
matrix-shaped blocks. Also: per-run hyper-parameters bit for bit, closed forms on 1×1 and diagonal
problems, the numba engine's refusal and 'auto''s fallback, and one-line errors.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad import sims
from hetquad.problems.quadratic import block_quadratic
from hetquad.sims import engines
from hetquad.sims.optimizers import CAME, SOAP, Adafactor, Adam, AdamMini, Muon, Shampoo
from hetquad.sims.run import build_task
from tests.sims.test_optimizers import BATCHES, ENGINES, _assert_agree, _outcome, _require

STEPS = 80
TOL = 0.02
SHAPES = [(4, 5), None, (3, 3), (5, 2)]


@pytest.fixture(scope="module")
def problem():
    eigs = [np.geomspace(0.5, 20.0, 20), np.linspace(0.3, 3.0, 5), np.linspace(1.0, 4.0, 9), np.geomspace(1.0, 8.0, 10)]
    p = block_quadratic(eigs, seed=5, w_star=np.linspace(-1.0, 2.0, 44), shapes=SHAPES)
    p.info["heads"] = [[0, 0, 4, 2]]  # two heads of 2 rows in the first matrix (Adam-mini 'heads')
    return p


MATRIX = [
    ("shampoo", lambda: Shampoo(lr=0.05, eps=0.1, vector="diagonal")),
    ("shampoo-update-freq-3", lambda: Shampoo(lr=0.05, eps=0.5, update_freq=3, vector="diagonal")),
    ("soap", lambda: SOAP(lr=0.02, eps=1e-3, precondition_frequency=4)),
    ("soap-weight-decay", lambda: SOAP(lr=0.02, beta1=0.9, beta2=0.99, shampoo_beta=0.9, eps=1e-3, weight_decay=1e-3,
                                       precondition_frequency=1, bias_correction=False)),
    ("muon", lambda: Muon(lr=0.02, adam_lr=0.01, adam_eps=1e-6)),
    ("muon-heavy-ball", lambda: Muon(lr=0.02, nesterov=False, momentum=0.8, weight_decay=1e-3, adam_lr=0.01,
                                     adam_eps=1e-6)),
    ("adafactor", lambda: Adafactor(lr=0.05)),
    ("adafactor-weight-decay", lambda: Adafactor(lr=0.2, beta2_decay=-0.5, eps2=1e-2, d=2.0, weight_decay=1e-3)),
    ("came", lambda: CAME(lr=0.01, eps1=1e-12)),
    ("adam-mini-rows", lambda: AdamMini(lr=1e-2, eps=1e-6, partition="rows")),
    ("adam-mini-heads", lambda: AdamMini(lr=1e-2, eps=1e-6, partition="heads")),
]


def _runs_or_skip(engine, task):
    why = (engines.get(engine).unsupported(task) if engine != "batched-numpy" else None)
    if why:
        assert "no numba rendering" in why  # the only refusal expected here
        pytest.skip(f"engine {engine!r} cannot run this row: {why}")


@pytest.mark.parametrize("size", BATCHES)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name,make", MATRIX, ids=[m[0] for m in MATRIX])
def test_engine_agrees_with_numpy_on_matrix_blocks(problem, name, make, engine, size):
    _require(engine)
    opt = make()
    kw = dict(batch=BATCHES[size], seed=4, record_every=7, per_block=True, tol=TOL)
    _runs_or_skip(engine, build_task(problem, opt, STEPS, **kw))
    ref = _outcome("numpy", problem, opt, STEPS, **kw)
    assert np.all(ref["final_loss"] < ref["loss"][:, 0])  # every row makes progress on this problem
    _assert_agree(_outcome(engine, problem, opt, STEPS, **kw), ref)


def test_adam_mini_row_partitions_run_on_numba(problem):
    """'rows' and 'heads' are id arrays: the numba engine runs them (not only the xp engines)."""
    if not engines.get("numba").is_available():
        pytest.skip("numba unavailable")
    for part in ("rows", "heads"):
        task = build_task(problem, AdamMini(lr=1e-2, partition=part), 5)
        assert engines.get("numba").unsupported(task) is None


def test_numba_refuses_the_matrix_specs_and_auto_falls_back(problem):
    for _, make in MATRIX[:9]:
        task = build_task(problem, make(), 5, batch=2)
        assert "has no numba rendering" in engines.get("numba").unsupported(task)
        res = sims.run(problem, make(), 5, batch=2)
        assert res.engine in ("numpy", "cupy")


# -- per-run hyper-parameters ------------------------------------------------------------------
PER_RUN = {
    "shampoo": (lambda a, b: Shampoo(lr=a, eps=0.05 + b, vector="diagonal"), (0.01, 0.08)),
    "soap": (lambda a, b: SOAP(lr=a, beta1=b, beta2=0.9 + 0.05 * b, shampoo_beta=0.5 + 0.4 * b, eps=1e-3,
                               weight_decay=b * 1e-3, precondition_frequency=3), (0.005, 0.03)),
    "muon": (lambda a, b: Muon(lr=a, momentum=b, ns_eps=1e-7 * (1 + b), weight_decay=1e-3 * b, adam_lr=a / 2,
                               adam_beta1=b, adam_beta2=0.9 + 0.09 * b, adam_eps=1e-6 * (1 + b)), (0.005, 0.03)),
    "adafactor": (lambda a, b: Adafactor(lr=a, beta2_decay=-0.5 - 0.4 * b, eps1=1e-30 + 1e-20 * b, eps2=1e-3 * (1 + b),
                                         d=1.0 + b, weight_decay=1e-3 * b), (0.01, 0.1)),
    "came": (lambda a, b: CAME(lr=a, eps1=1e-12 * (1 + b), eps2=1e-12, clip_threshold=1.0 + b, beta1=b,
                               beta2=0.99 + 0.009 * b, beta3=0.999, weight_decay=1e-3 * b), (0.005, 0.03)),
}


@pytest.mark.parametrize("engine", ["numpy", "batched-numpy"])
@pytest.mark.parametrize("name", sorted(PER_RUN))
def test_a_run_is_the_same_bits_alone_or_in_a_batch_of_per_run_values(problem, name, engine):
    make, (lo, hi) = PER_RUN[name]
    rng = np.random.default_rng(2)
    lrs, hs = rng.uniform(lo, hi, 4), rng.uniform(0.0, 0.9, 4)
    w0 = np.asarray(problem.w_star) + rng.standard_normal((4, problem.d))
    opt = make(lrs, hs)
    assert opt.runs() == 4 and set(opt.hyper(4)) == set(opt.HYPER)
    batch = _outcome(engine, problem, opt, 30, w0=w0, record_every=3, per_block=True)
    for pos in (0, 3):
        alone = _outcome(engine, problem, make(float(lrs[pos]), float(hs[pos])), 30, w0=w0[pos:pos + 1],
                         record_every=3, per_block=True)
        for key in ("loss", "grad_norm", "block_grad_norm", "w_final", "final_loss"):
            np.testing.assert_array_equal(alone[key][0], batch[key][pos], err_msg=key)
    assert not np.array_equal(batch["loss"][0], batch["loss"][3])


@pytest.mark.parametrize("name", sorted(PER_RUN))
def test_per_run_schedules_are_each_runs_own_schedule(problem, name):
    """A schedule with a per-run parameter (``sims.schedules``) scales each run's lr alone."""
    make = PER_RUN[name][0]
    w0 = sims.initial_points(problem, 2, 3)
    mk = lambda final: dataclasses.replace(make(0.01, 0.5), schedule=sims.Cosine(total=15, final=final))  # noqa: E731
    both = sims.run(problem, mk(np.array([0.0, 0.5])), 20, w0=w0, engine="numpy")
    alone = sims.run(problem, mk(0.5), 20, w0=w0[1], engine="numpy")
    np.testing.assert_array_equal(both.loss[1], alone.loss[0])
    assert not np.array_equal(both.loss[0], both.loss[1])


@pytest.mark.parametrize("make,name", [
    (lambda: Shampoo(lr=0.1, update_freq=[1, 2]), r"update_freq must be a single integer for the whole batch"),
    (lambda: SOAP(precondition_frequency=np.array([1, 2])), r"precondition_frequency must be a single integer"),
    (lambda: Muon(ns_steps=[5, 5]), r"ns_steps must be a single integer"),
])
def test_batch_wide_knobs_refuse_arrays(make, name):
    with pytest.raises(ValueError, match=name):
        make()


# -- closed forms ----------------------------------------------------------------------------------
def _diag(lams, shapes, w_star=None):
    return block_quadratic([np.array([x]) for x in lams], rotation="identity", shapes=shapes, w_star=w_star)


def _steps(p, opt, w0, n):
    state = opt.init(p, w0)
    out = []
    for _ in range(n):
        state = opt.update(state, p.grad(state.w))
        out.append(np.array(state.w[0]))
    return np.array(out)


def test_shampoo_on_1x1_blocks_is_adagrad():
    """1×1 blocks: L = R = Σg², so L^{-1/4} g R^{-1/4} = g/√(Σg² + ε): AdaGrad, by a scalar recursion."""
    lam, lr, eps = np.array([0.5, 2.0, 7.0]), 0.3, 0.1
    p = _diag(lam, [(1, 1)] * 3)
    w0 = np.array([1.0, -2.0, 0.5])
    w, s, ref = w0.copy(), np.zeros(3), []
    for _ in range(20):
        g = lam * w
        s = s + g * g
        w = w - lr * g / np.sqrt(s + eps)
        ref.append(w.copy())
    np.testing.assert_allclose(_steps(p, Shampoo(lr=lr, eps=eps), w0, 20), ref, rtol=1e-13, atol=1e-15)
    # the diagonal rule on vector blocks is the same AdaGrad
    q = _diag(lam, None)
    np.testing.assert_allclose(_steps(q, Shampoo(lr=lr, eps=eps, vector="diagonal"), w0, 20), ref, rtol=1e-13,
                               atol=1e-15)


def test_muon_on_a_1x1_block_steps_by_the_newton_schulz_fixed_value():
    """A 1×1 U normalises to sign(U) (ns_eps = 0); five quintic steps map 1 to φ = f⁵(1) with
    f(x) = a x + b x³ + c x⁵, so w ← w − lr·φ·sign(u)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    phi = 1.0
    for _ in range(5):
        phi = a * phi + b * phi ** 3 + c * phi ** 5
    lam, lr, mu = 2.0, 0.01, 0.9
    p = _diag([lam], [(1, 1)], w_star=np.array([0.3]))
    w, buf, ref = 1.0, 0.0, []
    for _ in range(15):
        g = lam * (w - 0.3)
        buf = mu * buf + (1 - mu) * g
        u = (1 - mu) * g + mu * buf
        w = w - lr * phi * np.sign(u)
        ref.append([w])
    np.testing.assert_allclose(_steps(p, Muon(lr=lr, momentum=mu, ns_eps=0.0), np.array([1.0]), 15), ref, rtol=1e-13)
    assert 0.6 < phi < 1.3  # the coefficients' known band, not 1 (NS5 is not an exact polar factor)


def test_adafactor_first_step_and_1x1_matrix_equals_vector():
    """Step 1: β̂ = 1 so V̂ = g², U = sign(g), RMS(U) = 1: w1 = w0 − max(eps2, RMS(w0_block))·min(lr, 1)·sign(g).
    And a 1×1 matrix block (row·col/row = g² at every step) runs the vector rule."""
    lam, lr = np.array([0.5, 2.0, 7.0]), 0.05
    w0 = np.array([1.0, -2.0, 0.5])
    p = _diag(lam, None)
    w1 = _steps(p, Adafactor(lr=lr), w0, 1)[0]
    # every block is one coordinate here, so RMS(w_block) = |w_i|
    np.testing.assert_allclose(w1, w0 - np.maximum(1e-3, np.abs(w0)) * lr * np.sign(lam * w0), rtol=1e-15)
    m = _diag(lam, [(1, 1)] * 3)
    one = [_steps(x, Adafactor(lr=lr, weight_decay=0.01), w0, 30) for x in (p, m)]
    np.testing.assert_allclose(one[0], one[1], rtol=1e-13)


def test_came_first_step_closed_form_on_a_vector():
    """Step 1 on a vector: v = (1−β2)(g² + ε1), Û = g/√v clipped to RMS ≤ clip, m = (1−β1)Û, w1 = w0 − lr·m."""
    lam, lr, b1, b2 = np.array([0.5, 2.0, 7.0]), 0.05, 0.9, 0.999
    w0 = np.array([1.0, -2.0, 0.5])
    g = lam * w0
    up = g / np.sqrt((1 - b2) * (g * g + 1e-30))
    up = up / max(np.sqrt(np.mean(up * up)) / 1.0, 1.0)
    np.testing.assert_allclose(_steps(_diag(lam, None), CAME(lr=lr), w0, 1)[0], w0 - lr * (1 - b1) * up, rtol=1e-15)


def test_soap_on_1x1_blocks_is_adam_one_step_late():
    """1×1 blocks have the basis ±1, so SOAP is Adam after its first (statistics-only) step; with
    ε = 0 SOAP's step lr·√(1−β2^s)/(1−β1^s)·m/√v is torch-Adam's exactly."""
    lam = np.array([0.5, 2.0, 7.0])
    w0 = np.array([1.0, -2.0, 0.5])
    p = _diag(lam, [(1, 1)] * 3)
    soap = _steps(p, SOAP(lr=0.05, beta1=0.9, beta2=0.99, eps=0.0, precondition_frequency=2), w0, 21)
    np.testing.assert_array_equal(soap[0], w0)  # step 1 does not move
    adam = _steps(p, Adam(lr=0.05, beta1=0.9, beta2=0.99, eps=0.0), w0, 20)
    np.testing.assert_allclose(soap[1:], adam, rtol=1e-13)


# -- errors ----------------------------------------------------------------------------------------
def test_shampoo_on_a_vector_block_is_an_error_naming_the_block(problem):
    with pytest.raises(ValueError, match=r"Shampoo needs matrix-shaped blocks: block 1 \(size 5\) is a vector") as e:
        sims.run(problem, Shampoo(lr=0.1), 3, engine="numpy")
    assert "\n" not in str(e.value) and "vector='diagonal'" in str(e.value)
    vec = dataclasses.replace(problem, shapes=None)
    with pytest.raises(ValueError, match=r"block 0 \(size 20\) is a vector"):
        sims.run(vec, Shampoo(lr=0.1), 3, engine="numpy")


@pytest.mark.parametrize("make,err,match", [
    (lambda: Shampoo(lr=0.0), ValueError, r"lr must be > 0, got 0.0"),
    (lambda: Shampoo(lr=0.1, eps=0.0), ValueError, r"eps must be > 0"),
    (lambda: Shampoo(lr=0.1, vector="adam"), ValueError, r"vector must be one of"),
    (lambda: Shampoo(lr=0.1, update_freq=0), ValueError, r"update_freq must be >= 1"),
    (lambda: SOAP(beta1=1.0), ValueError, r"beta1 must be in \[0.0, 1.0\), got 1.0"),
    (lambda: SOAP(shampoo_beta=[0.5, 1.5]), ValueError, r"shampoo_beta\[1\] must be in \[0.0, 1.0\)"),
    (lambda: SOAP(precondition_frequency=0), ValueError, r"precondition_frequency must be >= 1"),
    (lambda: Muon(momentum=1.0), ValueError, r"momentum must be in \[0.0, 1.0\)"),
    (lambda: Muon(adam_beta2=-0.1), ValueError, r"adam_beta2 must be in"),
    (lambda: Muon(ns_eps=-1.0), ValueError, r"ns_eps must be >= 0"),
    (lambda: Adafactor(beta2_decay=0.5), ValueError, r"beta2_decay must be <= 0, got 0.5"),
    (lambda: Adafactor(d=0.5), ValueError, r"d must be >= 1, got 0.5"),
    (lambda: Adafactor(eps2=-1.0), ValueError, r"eps2 must be >= 0"),
    (lambda: CAME(beta3=1.5), ValueError, r"beta3 must be in \[0.0, 1.0\], got 1.5"),
    (lambda: CAME(clip_threshold=0.0), ValueError, r"clip_threshold must be > 0"),
    (lambda: AdamMini(lr=0.1, partition="cols"), ValueError, r"partition must be one of"),
    (lambda: Muon(nesterov="yes"), TypeError, r"nesterov must be True or False"),
])
def test_bad_hyper_parameters_are_one_line_errors(make, err, match):
    with pytest.raises(err, match=match) as e:
        make()
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("name,make", MATRIX, ids=[m[0] for m in MATRIX])
def test_specs_serialize_and_rebuild(name, make):
    opt = make()
    assert sims.from_dict(sims.to_dict(opt)) == opt
    assert sims.OPTIMIZERS[opt.name] is type(opt)


# -- the matrix helpers against closed forms ---------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(r=st.integers(1, 6), c=st.integers(1, 6), n=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_newton_schulz_is_the_scalar_quintic_on_the_singular_values(r, c, n, seed):
    """NS5 is an odd matrix polynomial, so NS5(G) = U f⁵(Σ/‖G‖_F) Vᵀ with f(x) = a x + b x³ + c x⁵:
    the singular vectors of G (SVD) and the scalar recursion give it independently."""
    from hetquad.sims.optimizers import matrix as mx

    G = np.random.default_rng(seed).standard_normal((n, r, c))
    got = mx.newton_schulz(G, eps=0.0)
    a, b, cc = mx.NS_COEFFS
    for i in range(n):
        u, s, vh = np.linalg.svd(G[i], full_matrices=False)
        x = s / np.linalg.norm(G[i])
        for _ in range(5):
            x = a * x + b * x ** 3 + cc * x ** 5
        np.testing.assert_allclose(got[i], (u * x) @ vh, rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 6), rank=st.integers(0, 6), p=st.sampled_from([2, 4]), seed=st.integers(0, 2**16))
def test_inverse_root_is_the_svd_power_of_the_shifted_matrix(k, rank, p, seed):
    """(M + εI)^{-1/p} for PSD M of any rank (rank-deficient M has round-off negative eigenvalues
    that the clip at 0 must absorb), against an SVD of M + εI."""
    from hetquad.sims.optimizers import matrix as mx

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((k, min(rank, k)))
    M = A @ A.T
    eps = 10.0 ** rng.uniform(-3, 0)
    u, s, vh = np.linalg.svd(M + eps * np.eye(k))
    expected = (u * s ** (-1.0 / p)) @ vh
    got = mx.inverse_root(M[None], p, eps)[0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11 * np.abs(expected).max())


@pytest.mark.parametrize("make", [lambda: Shampoo(lr=0.1, eps=0.1, vector="diagonal"),
                                  lambda: SOAP(lr=0.01, eps=1e-3, precondition_frequency=1)], ids=["shampoo", "soap"])
def test_an_overflowing_run_diverges_alone(problem, make):
    """Run 0 starts so far out that G Gᵀ overflows: its eigh input is not finite. It must be marked
    'diverged' while run 1 equals its run alone, bit for bit (LAPACK would refuse the whole stack)."""
    w0 = np.stack([np.full(problem.d, 1e153), sims.initial_points(problem, 1, 0)[0]])
    both = sims.run(problem, make(), 20, w0=w0, engine="numpy")
    alone = sims.run(problem, make(), 20, w0=w0[1], engine="numpy")
    assert both.stop_reason == ("diverged", "steps")
    np.testing.assert_array_equal(both.loss[1], alone.loss[0])
