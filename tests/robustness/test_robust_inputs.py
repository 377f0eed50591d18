"""Bad input to the library: every documented way in ends in a ``ValueError`` (``TypeError`` for a
wrong type) whose message names the argument, the value and what is allowed — never a traceback
from deep inside numpy, a silent NaN or a silently truncated value (DESIGN "Errors").

The table below is the list of promises; the hypothesis tests fuzz the same constructors with
arbitrary floats and shapes and accept only those two exception types.
"""
from __future__ import annotations

import importlib
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hetquad import problems, sims
from hetquad.problems import heterogeneity, spectra
from hetquad.problems.quadratic import BlockQuadratic, block_quadratic, coupled

tau_mod = importlib.import_module("hetquad.problems.tau")  # `problems.tau` is the function

P = block_quadratic([[1.0, 2.0], [3.0, 4.0, 5.0]], rotation="identity", seed=0)  # d = 5, 2 blocks
GD = sims.GD(lr=0.1)


def _run(**kw):
    args = {"problem": P, "optimizer": GD, "steps": 3, **kw}
    return sims.run(args.pop("problem"), args.pop("optimizer"), args.pop("steps"), **args)


# (id, call, exception, regex the message must match: argument, value and allowed range)
CASES = [
    # -- Hessian blocks ------------------------------------------------------------------------
    ("non-symmetric", lambda: BlockQuadratic([np.array([[1.0, 2.0], [0.0, 1.0]])]), ValueError,
     r"block 0 must be symmetric \(max \|H - H\^T\| = 2"),
    ("indefinite", lambda: BlockQuadratic([np.diag([1.0, -1.0])]), ValueError,
     r"block 0 must be positive definite, got smallest eigenvalue -1"),
    ("singular", lambda: BlockQuadratic([np.zeros((2, 2))]), ValueError, r"block 0 must be positive definite.* 0"),
    ("nan block", lambda: BlockQuadratic([np.eye(2), np.array([[np.nan]])]), ValueError,
     r"block 1 must contain only finite values"),
    ("inf block", lambda: BlockQuadratic([np.array([[np.inf]])]), ValueError, r"block 0 must contain only finite"),
    ("empty block", lambda: BlockQuadratic([np.zeros((0, 0))]), ValueError, r"block 0 must not be empty"),
    ("no blocks", lambda: BlockQuadratic([]), ValueError, r"blocks must contain at least one block, got 0"),
    ("1-D block", lambda: BlockQuadratic([np.ones(3)]), ValueError, r"block 0 must have 2 dimension\(s\), got shape \(3,\)"),
    ("rectangular", lambda: BlockQuadratic([np.ones((2, 3))]), ValueError, r"block 0 must be square, got shape \(2, 3\)"),
    ("one 2-D array", lambda: BlockQuadratic(np.eye(3)), TypeError, r"blocks must be a sequence"),
    ("blocks None", lambda: BlockQuadratic(None), TypeError, r"blocks must be a sequence of square arrays, got NoneType"),
    ("blocks int", lambda: BlockQuadratic(3), TypeError, r"blocks must be a sequence of square arrays, got int 3"),
    ("text block", lambda: BlockQuadratic(["ab"]), TypeError, r"block 0 must be an array of numbers"),
    ("w_star shape", lambda: BlockQuadratic([np.eye(2)], w_star=np.ones(3)), ValueError,
     r"w_star must have shape \(2,\), got \(3,\)"),
    ("w_star nan", lambda: BlockQuadratic([np.eye(2)], w_star=[0.0, np.nan]), ValueError, r"w_star must contain only finite"),
    ("coupling breaks SPD", lambda: coupled(P, strength=100.0, seed=0), ValueError,
     r"blockdiag \+ coupling must be positive definite.*reduce the coupling strength"),
    ("negative coupling", lambda: coupled(P, strength=-1.0), ValueError, r"strength must be >= 0, got -1.0"),
    # -- spectra, κ, τ, Gini ---------------------------------------------------------------------
    ("negative eigenvalue", lambda: block_quadratic([[1.0, -1.0]]), ValueError,
     r"block_eigs\[0\]: eigenvalues must all be > 0, got min -1.0"),
    ("nan eigenvalue", lambda: block_quadratic([[1.0], [np.nan]]), ValueError, r"block_eigs\[1\].*finite"),
    ("empty spectrum", lambda: block_quadratic([[]]), ValueError, r"block_eigs\[0\].*must not be empty"),
    ("unknown rotation", lambda: block_quadratic([[1.0]], rotation="har"), ValueError,
     r"rotation must be one of \['givens', 'haar', 'identity'\], got 'har'"),
    ("negative seed", lambda: block_quadratic([[1.0]], seed=-1), ValueError, r"seed must be >= 0, got -1"),
    ("float seed", lambda: block_quadratic([[1.0]], seed=1.5), TypeError, r"seed must be an integer, got float 1.5"),
    ("R > 1", lambda: block_quadratic([[1.0, 2.0]], rotation="givens", R=2.0), ValueError, r"R must be in \[0.0, 1.0\], got 2.0"),
    ("kappa < 1", lambda: spectra.rescale([1.0, 2.0], kappa=0.5), ValueError, r"kappa must be >= 1, got 0.5"),
    ("kappa nan", lambda: spectra.rescale([1.0, 2.0], kappa=math.nan), ValueError, r"kappa must be finite, got nan"),
    ("spectrum n = 0", lambda: spectra.linear(0, low=1.0, high=2.0), ValueError, r"n must be >= 1, got 0"),
    ("spectrum low = 0", lambda: spectra.logspace(3, low=0.0, high=2.0), ValueError, r"low must be > 0, got 0.0"),
    ("tau out of reach", lambda: tau_mod.target_tau_block(4, kappa=10.0, tau=5.0), ValueError,
     r"tau must be in \[0.325, 1\] for d = 4, kappa = 10, got 5.0"),
    ("tau below reach", lambda: problems.get("tau-kappa", tau=0.01, kappa=10.0, n_blocks=1, block_size=10), ValueError,
     r"tau must be in \["),
    ("tau nan", lambda: tau_mod.target_tau_block(4, kappa=10.0, tau=math.nan), ValueError, r"tau must be finite, got nan"),
    ("tau kappa < 1", lambda: tau_mod.target_tau_block(4, kappa=0.5, tau=0.5), ValueError, r"kappa must be >= 1, got 0.5"),
    ("tau of empty H", lambda: tau_mod.tau(np.zeros((0, 0))), ValueError, r"H must not be empty"),
    ("gini = 1", lambda: heterogeneity.geometric_ratio_for_gini(4, 1.0), ValueError, r"gini must be in \[0.0, 0.75\), got 1.0"),
    ("gini < 0", lambda: heterogeneity.geometric_ratio_for_gini(4, -0.1), ValueError, r"gini must be in \[0.0, 0.75\), got -0.1"),
    ("gini nan", lambda: heterogeneity.geometric_ratio_for_gini(4, math.nan), ValueError, r"gini must be finite, got nan"),
    ("gini of nan", lambda: heterogeneity.gini([np.nan, 1.0]), ValueError, r"x must contain only finite"),
    ("initial point gini", lambda: heterogeneity.initial_point(P, gini=1.0), ValueError, r"gini must be in \[0.0, 0.5\), got 1.0"),
    ("unknown problem", lambda: problems.get("tau-kapa"), ValueError, r"unknown problem 'tau-kapa'; did you mean 'tau-kappa'"),
    # -- optimizer specs ---------------------------------------------------------------------------
    ("lr = 0", lambda: sims.GD(lr=0.0), ValueError, r"lr must be > 0, got 0.0"),
    ("lr < 0", lambda: sims.Adam(lr=-1.0), ValueError, r"lr must be > 0, got -1.0"),
    ("lr nan", lambda: sims.SignSGD(lr=math.nan), ValueError, r"lr must be finite, got nan"),
    ("lr inf", lambda: sims.RMSProp(lr=math.inf), ValueError, r"lr must be finite, got inf"),
    ("lr text", lambda: sims.GD(lr="0.1"), TypeError, r"lr must be a real number, got str '0.1'"),
    ("lr bool", lambda: sims.GD(lr=True), TypeError, r"lr must be a real number, got bool True"),
    ("beta1 = 1", lambda: sims.Adam(lr=1.0, beta1=1.0), ValueError, r"beta1 must be in \[0.0, 1.0\), got 1.0"),
    ("beta1 < 0", lambda: sims.Adam(lr=1.0, beta1=-0.1), ValueError, r"beta1 must be in \[0.0, 1.0\), got -0.1"),
    ("beta2 > 1", lambda: sims.Adam(lr=1.0, beta2=1.5), ValueError, r"beta2 must be in \[0.0, 1.0\], got 1.5"),
    ("beta2 nan", lambda: sims.AdamMini(lr=1.0, beta2=math.nan), ValueError, r"beta2 must be finite, got nan"),
    ("beta2 = 1 with bias correction", lambda: sims.Adam(lr=1.0, beta2=1.0), ValueError, r"beta2 = 1 needs bias_correction=False"),
    ("eps < 0", lambda: sims.Adam(lr=1.0, eps=-1e-8), ValueError, r"eps must be >= 0, got -1e-08"),
    ("momentum = 1", lambda: sims.Signum(lr=1.0, momentum=1.0), ValueError, r"momentum must be in \[0.0, 1.0\), got 1.0"),
    ("bias_correction text", lambda: sims.Adam(lr=1.0, bias_correction="yes"), TypeError,
     r"bias_correction must be True or False, got str 'yes'"),
    ("v0 unknown", lambda: sims.Adam(lr=1.0, v0="ones"), ValueError, r"v0 must be one of \['g0sq', 'zero'\], got 'ones'"),
    ("v0 not a string", lambda: sims.Adam(lr=1.0, v0=0), TypeError, r"v0 must be a string.*got int 0"),
    ("blockwise lrs empty", lambda: sims.BlockwiseGD(lrs=()), ValueError, r"lrs must give one learning rate per block"),
    ("blockwise lrs < 0", lambda: sims.BlockwiseGD(lrs=(1.0, -1.0)), ValueError, r"lrs\[1\] must be > 0, got -1.0"),
    ("blockwise lrs 3-D", lambda: sims.BlockwiseGD(lrs=[[[1.0]]]), TypeError, r"lrs must be a flat sequence"),
    ("blockwise lrs text", lambda: sims.BlockwiseGD(lrs="ab"), TypeError, r"lrs must be a flat sequence.*'ab'"),
    ("blockwise lrs vs blocks", lambda: _run(optimizer=sims.BlockwiseGD(lrs=(1.0,))), ValueError,
     r"lrs has 1 entries but the problem has 2 blocks"),
    ("unknown optimizer", lambda: sims.make("adamm", lr=1.0), ValueError, r"optimizer must be one of \[.*'adam'.*\], got 'adamm'"),
    ("schedule not a spec", lambda: sims.GD(lr=1.0, schedule="cosine"), TypeError, r"schedule must be a hetquad.sims.schedules spec"),
    # -- partitions (Adam-mini) ------------------------------------------------------------------
    ("partition misses a coordinate", lambda: _run(optimizer=sims.AdamMini(lr=0.1, partition=[0, 0, 1, 1])), ValueError,
     r"partition must be 'blocks' or an integer array of shape \(5,\).*shape \(4,\)"),
    ("partition duplicates a coordinate", lambda: _run(optimizer=sims.AdamMini(lr=0.1, partition=[0, 0, 1, 1, 1, 1])),
     ValueError, r"integer array of shape \(5,\).*got dtype int64 shape \(6,\)"),
    ("partition skips a block id", lambda: _run(optimizer=sims.AdamMini(lr=0.1, partition=[0, 0, 2, 2, 2])), ValueError,
     r"partition ids must be consecutive 0..B-1; block ids \[1\] have no coordinate"),
    ("partition negative id", lambda: sims.AdamMini(lr=0.1, partition=[0, -1, 1, 1, 1]), ValueError,
     r"partition ids must be >= 0, got -1"),
    ("partition of floats", lambda: sims.AdamMini(lr=0.1, partition=[0.0, 0.5, 1.0, 1.0, 1.0]), TypeError,
     r"partition must be .* integer array.*got dtype float64"),
    ("partition empty", lambda: sims.AdamMini(lr=0.1, partition=[]), ValueError, r"partition must give one block id per coordinate"),
    ("partition unknown name", lambda: sims.AdamMini(lr=0.1, partition="blok"), ValueError,
     r"partition must be one of \['blocks', 'coordinates', 'heads', 'rows', 'single'\], got 'blok'"),
    # -- run arguments ---------------------------------------------------------------------------
    ("steps < 0", lambda: _run(steps=-1), ValueError, r"steps must be >= 0, got -1"),
    ("steps float", lambda: _run(steps=2.5), TypeError, r"steps must be an integer, got float 2.5"),
    ("tol = 0", lambda: _run(tol=0.0), ValueError, r"tol must be > 0, got 0.0"),
    ("batch = 0", lambda: _run(batch=0), ValueError, r"batch must be >= 1, got 0"),
    ("initial points batch = 0", lambda: sims.initial_points(P, 0, 0), ValueError, r"batch must be >= 1, got 0"),
    ("w0 nan", lambda: _run(w0=np.full(5, np.nan)), ValueError, r"w0 must contain only finite values"),
    ("w0 shape", lambda: _run(w0=np.ones(4)), ValueError, r"w0 must have shape \(5,\) or \(n, 5\), got \(1, 4\)"),
    ("unknown engine", lambda: _run(engine="nump"), ValueError, r"engine must be one of \['auto', 'numpy', 'numba', 'cupy'\], got 'nump'"),
    ("not a problem", lambda: _run(problem=None), TypeError, r"problem must be a hetquad.problems problem.*got NoneType"),
    ("not an optimizer", lambda: _run(optimizer="adam"), TypeError, r"optimizer must be a hetquad.sims optimizer spec, got str"),
]


@pytest.mark.parametrize("call, exc, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_naming_argument_value_and_range(call, exc, message):
    with pytest.raises(exc, match=message) as info:
        call()
    assert type(info.value) is exc  # not a subclass raised from deep inside numpy/scipy
    assert "\n" not in str(info.value)  # one line: the CLI prints it as is


# -- fuzzing: only the documented exceptions ------------------------------------------------------
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3),
                   st.sampled_from([0.0, 1.0, -0.0, 1e-320, 1e308, 0.999999999]))
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_documented(call):
    """Run ``call``; a ValueError/TypeError is fine, anything else (or a warning turned error) fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # an overflow on the way in is a bug too
            return call()
    except (ValueError, TypeError) as exc:
        assert str(exc).strip(), "an exception without a message"
        return None


@SETTINGS
@given(arr=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                      elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_fuzz_block_quadratic_from_arbitrary_arrays(arr):
    p = _only_documented(lambda: BlockQuadratic([arr]))
    if p is not None:  # accepted: then it is a genuine SPD problem
        assert np.all(np.isfinite(p.blocks[0])) and p.mu > 0 and np.array_equal(p.blocks[0], p.blocks[0].T)


@SETTINGS
@given(eigs=st.lists(st.lists(FLOATS, max_size=4), max_size=3), rotation=st.sampled_from(["haar", "givens", "identity", "x"]),
       R=FLOATS)
def test_fuzz_block_quadratic_from_arbitrary_spectra(eigs, rotation, R):
    p = _only_documented(lambda: block_quadratic(eigs, rotation=rotation, R=R, seed=0))
    if p is not None:
        got = np.sort(np.concatenate(p.block_eigvals))
        want = np.sort(np.concatenate([np.asarray(e, dtype=float) for e in eigs]))
        np.testing.assert_allclose(got, want, rtol=1e-6)


@SETTINGS
@given(name=st.sampled_from(sorted(sims.OPTIMIZERS)), lr=FLOATS, b1=FLOATS, b2=FLOATS, eps=FLOATS,
       momentum=FLOATS, bc=st.sampled_from([True, False, 0, "no", None]))
def test_fuzz_optimizer_specs(name, lr, b1, b2, eps, momentum, bc):
    kw = {"lr": lr}
    if name in ("adam", "adam-mini", "rmsprop"):
        kw.update(beta1=b1, beta2=b2, eps=eps) if name != "rmsprop" else kw.update(beta2=b2, eps=eps)
        if name != "rmsprop":
            kw["bias_correction"] = bc
    elif name == "signum":
        kw["momentum"] = momentum
    elif name == "blockwise-gd":
        kw = {"lrs": (lr, b1), "lr": 1.0}
    opt = _only_documented(lambda: sims.make(name, **kw))
    if opt is not None:  # accepted: every hyper-parameter is in its documented range
        assert opt.lr > 0 and math.isfinite(opt.lr)
        for f in ("beta1", "momentum"):
            if hasattr(opt, f):
                assert 0 <= getattr(opt, f) < 1
        if hasattr(opt, "beta2"):  # CAME has eps1/eps2 and Sophia no bias correction: check what a spec has
            assert 0 <= opt.beta2 <= 1
            assert getattr(opt, "eps", 0.0) >= 0 and isinstance(getattr(opt, "bias_correction", True), bool)


@SETTINGS
@given(n=st.integers(-2, 6), kappa=FLOATS, tau=FLOATS)
def test_fuzz_tau_targets(n, kappa, tau):
    h = _only_documented(lambda: tau_mod.target_tau_block(n, kappa=kappa, tau=tau))
    if h is not None:
        assert math.isclose(tau_mod.tau(h), tau, rel_tol=1e-6, abs_tol=1e-9)


@SETTINGS
@given(n=st.integers(-1, 6), g=FLOATS)
def test_fuzz_gini_targets(n, g):
    q = _only_documented(lambda: heterogeneity.geometric_ratio_for_gini(n, g))
    if q is not None:
        assert 0 < q <= 1 and math.isclose(heterogeneity.gini(q ** np.arange(n)), g, abs_tol=1e-9)


@SETTINGS
@given(steps=st.one_of(st.integers(-3, 5), FLOATS), tol=st.one_of(st.none(), FLOATS),
       batch=st.one_of(st.none(), st.integers(-1, 3)), every=st.integers(-1, 3))
def test_fuzz_run_arguments(steps, tol, batch, every):
    res = _only_documented(lambda: sims.run(P, GD, steps, tol=tol, batch=batch, record_every=every, engine="numpy"))
    if res is not None:
        assert res.loss.shape[0] == (batch or 1) and res.steps[-1] == steps
        assert set(res.stop_reason) <= {"steps", "tol"}
