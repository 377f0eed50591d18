"""The playground's numbers, without a browser: what the page shows equals what the public API
computes on the same parameters, "copy as code" / "copy as sweep" reproduce it, bad values are
one clear ValueError, and importing the package stays cheap."""
import subprocess
import sys
import tomllib

import numpy as np
import pytest

from hetquad import config, problems, sims, sweep, theory
from hetquad.playground import PRESETS, OptChoice, State, codegen, compute
from hetquad.playground.state import build_optimizer

SMALL = State(problem="tau-kappa",
              params=(("tau", 0.5), ("kappa", 100.0), ("n_blocks", 3), ("block_size", 6), ("block_kappa", 10.0)),
              batch=3, steps=400, tol=1e-6,
              optimizers=(OptChoice("gd", 0.015), OptChoice("adam", 0.02, (("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-8))),
                          OptChoice("adam", 0.05, variant="theorem"), OptChoice("blockwise-gd", 1.0),
                          OptChoice("signsgd", 0.01, schedule=("step", 50, 0.5))))


def test_page_numbers_equal_the_public_api_on_the_same_parameters():
    snap = compute.evaluate(SMALL)
    p = problems.get("tau-kappa", seed=0, tau=0.5, kappa=100.0, n_blocks=3, block_size=6, block_kappa=10.0)
    assert snap.view.kappa == p.kappa
    assert snap.view.tau == problems.tau(p.hessian())
    assert snap.view.js0 == problems.js0(p)
    # GD's curve and bound, recomputed by hand from sims.run and theory.gd_rate
    w0 = np.concatenate([sims.initial_points(p, 1, i) for i in range(3)])
    res = sims.run(p, sims.GD(lr=0.015), 400, w0=w0)
    gd = snap.curves[0]
    np.testing.assert_array_equal(gd.loss_med, np.median(res.loss / res.loss[:, :1], axis=0))
    assert gd.iterations == np.median(res.iterations_to(1e-6))
    b = theory.gd_rate(p, lr=0.015)
    assert gd.bound_rate == b.rate and gd.bound_iterations == b.iterations(1e-6)
    assert gd.slack == b.iterations(1e-6) / gd.iterations and gd.slack >= 1  # the bound holds
    # the theorem variant's κ(P) and r are theory's, median over the batch
    kp = [theory.adam_variant_rate(p, w, lr=0.05) for w in w0]
    assert snap.curves[2].kappa_p == np.median([x.kappa for x in kp])
    assert snap.curves[2].psi == np.median([x.r for x in kp])
    # per-block contraction picture: the max over a block's eigenvalues is attained at its ends
    eta = snap.view.eta
    for l, e in enumerate(p.block_eigvals):
        np.testing.assert_allclose(snap.view.rho[l], np.maximum(np.abs(1 - eta * e[0]), np.abs(1 - eta * e[-1])),
                                   rtol=1e-12, atol=1e-12)
    k = int(np.argmin(snap.view.rho_global))  # GD's best single step, to the grid's resolution (slope ≤ L)
    assert snap.view.rho_global[k] == pytest.approx(theory.gd_rate(p).rate, abs=p.L * (eta[k + 1] - eta[k - 1]))
    for l, e in enumerate(p.block_eigvals):  # each block's valley is on the picture: (κ_l−1)/(κ_l+1)
        k = int(np.argmin(snap.view.rho[l]))
        assert snap.view.rho[l, k] == pytest.approx((e[-1] - e[0]) / (e[-1] + e[0]), abs=e[-1] * (eta[k + 1] - eta[k - 1]))


def test_copy_as_code_in_a_subprocess_prints_the_tables_iterations():
    snap = compute.evaluate(SMALL)
    out = subprocess.run([sys.executable, "-c", codegen.as_code(SMALL)], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    printed = dict(line.split(": iterations to tol = ") for line in out.strip().splitlines())
    assert list(printed) == codegen.labels(SMALL)
    assert [float(v) for v in printed.values()] == [c.iterations for c in snap.curves]
    assert any(np.isfinite(c.iterations) for c in snap.curves)  # the comparison is not inf == inf only


@pytest.mark.parametrize("moved, axis", [("param.tau", "tau"), ("param.kappa", "kappa"), ("opt.0.lr", "lr")])
def test_copy_as_sweep_varies_the_last_moved_control_and_reproduces_the_page(moved, axis):
    state = SMALL.replace(last_moved=moved)
    snap = compute.evaluate(state)
    cfg = config.parse(tomllib.loads(codegen.as_sweep(state)))
    assert cfg.seeds == tuple(range(state.batch)) and cfg.steps == state.steps and cfg.tol == state.tol
    labels = [e.label for e in cfg.optimizers]
    assert labels == ["gd", "adam", "adam-theorem", "signsgd"]  # blockwise GD's per-block lrs don't fit a table
    if axis == "lr":
        assert cfg.optimizers[0].lrs == tuple(codegen.axis_values("lr", 0.015)) and 0.015 in cfg.optimizers[0].lrs
    else:
        assert dict(cfg.axes)[axis] == tuple(codegen.axis_values(axis, state.param_dict[axis]))
    # the sweep's run at the page's values gives the page's iterations to tol, optimizer by optimizer
    page = dict(zip(codegen.labels(state), snap.curves))
    here = {"tau": 0.5, "kappa": 100.0}
    compared = set()
    for chunk in sweep.plan(cfg):
        spec = chunk.spec
        params = spec["problem"]["params"]
        if axis in here and params[axis] != here[axis]:
            continue
        its = {}  # optimizer -> iterations of its runs at the page's values (a chunk may hold several lrs)
        for r in sweep.chunk_rows(spec):
            if axis == "lr" and r["optimizer"] == "gd" and r["lr"] != 0.015:
                continue
            its.setdefault(r["optimizer"], []).append(r["iterations_to_tol"])
        for name, values in its.items():
            assert len(values) == state.batch and float(np.median(values)) == page[name].iterations, name
            compared.add(name)
    assert compared == set(labels)


@pytest.mark.parametrize("change, words", [
    (dict(params=(("tau", 0.01), ("kappa", 100.0), ("n_blocks", 3), ("block_size", 6), ("block_kappa", 10.0))),
     ("tau must be in",)),
    (dict(params=(("tau", 0.5), ("kappa", 0.5))), ("kappa", "0.5")),
    (dict(optimizers=(OptChoice("gd", 0.0),)), ("lr", "0")),
    (dict(optimizers=(OptChoice("gd", -1.0),)), ("lr", "-1")),
    (dict(gini=0.99), ("gini",)),
    (dict(batch=0), ("batch", "0")),
])
def test_bad_values_raise_one_value_error_naming_them(change, words):
    with pytest.raises(ValueError) as err:
        compute.evaluate(SMALL.replace(**change))
    assert all(w in str(err.value) for w in words), str(err.value)


def test_same_state_same_numbers_bit_for_bit():
    a = compute.evaluate(SMALL.replace(seed=3))
    compute._cached_curve.cache_clear()
    compute._problem_view.cache_clear()
    b = compute.evaluate(SMALL.replace(seed=3))
    for x, y in zip(a.curves, b.curves):
        np.testing.assert_array_equal(x.loss_med, y.loss_med)
        np.testing.assert_array_equal(x.block_grad_med, y.block_grad_med)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_evaluate_and_tell_their_story(name):
    snap = compute.evaluate(PRESETS[name].replace(steps=300))
    assert len(snap.curves) >= 3
    if name == "03":  # the initial block gradients have the Gini asked for
        assert snap.gini == pytest.approx(0.5, abs=1e-9)
    if name == "02":  # the rotation slider moves τ
        other = compute.evaluate(PRESETS[name].replace(steps=300, params=(("d", 50), ("kappa", 500.0), ("R", 0.0))))
        assert other.view.tau == 1.0 and snap.view.tau < 0.99


def test_importing_the_package_does_not_import_panel_or_bokeh():
    code = "import sys, hetquad.playground; print('panel' in sys.modules, 'bokeh' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("args, words", [(["--preset", "7"], "preset must be one of 01, 02, 03, 04, got '7'"),
                                         (["--port", "70000"], "port must be in [1, 65535], got 70000"),
                                         (["--engine", "gpu"], "engine must be one of auto, " + ", ".join(
                                             __import__("sims.engines").engines.NAMES) + ", got 'gpu'")])
def test_cli_refuses_bad_options_with_one_line(args, words, capsys):
    from hetquad.cli import main

    assert main(["playground", "--no-browser", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def _count_runs(monkeypatch):
    """Count sims.run calls (the playground's runs go through it)."""
    calls = []
    real = sims.run

    def counted(*args, **kw):
        calls.append(kw.get("per_block"))
        return real(*args, **kw)
    monkeypatch.setattr(sims, "run", counted)
    return calls


def test_a_change_reruns_only_what_it_invalidates(monkeypatch):
    state = SMALL.replace(seed=5, steps=150)
    compute.evaluate(state)
    calls = _count_runs(monkeypatch)
    views = compute._problem_view.cache_info().misses
    opts = list(state.optimizers)
    opts[1] = OptChoice("adam", 0.03, opts[1].hyper)
    compute.evaluate(state.replace(optimizers=tuple(opts)))  # one optimizer moved: it alone re-runs
    assert calls == [False]  # not the first optimizer: no per-block recording either
    compute.evaluate(state.replace(optimizers=tuple(opts), steps=160))  # steps: all re-run, same problem
    assert len(calls) == 1 + len(opts) and calls[1:].count(True) == 1
    assert compute._problem_view.cache_info().misses == views  # the problem's views were not recomputed
    compute.evaluate(state.replace(optimizers=tuple(opts), steps=160))  # nothing changed: nothing runs
    assert len(calls) == 1 + len(opts)


def test_parallel_runs_and_per_block_recording_change_no_number():
    # every curve equals sims.run called directly, whichever thread ran it and whether or not its
    # run recorded the per-block norms (only the first optimizer's does)
    state = SMALL.replace(seed=6, steps=200)
    p = problems.get("tau-kappa", seed=6, **dict(state.params))
    w0 = np.concatenate([sims.initial_points(p, 1, i) for i in range(state.batch)])
    before = compute._workers
    for workers in (1, 2):
        compute.set_workers(workers)
        compute._cached_curve.cache_clear()
        snap = compute.evaluate(state)
        for i, (c, choice) in enumerate(zip(snap.curves, state.optimizers)):
            res = sims.run(p, build_optimizer(choice, p), 200, w0=w0, engine=state.engine, per_block=True)
            np.testing.assert_array_equal(c.loss_med, np.median(res.loss / res.loss[:, :1], axis=0))
            assert c.iterations == np.median(res.iterations_to(state.tol))
            assert c.block_grad_med.shape[1] == (p.n_blocks if i == 0 else 0)
    compute.set_workers(before)


def test_warm_up_runs_once_in_the_background_and_leaves_the_curves_cached(monkeypatch):
    state = SMALL.replace(seed=7, steps=120)
    warm = compute.WarmUp(state)
    assert not warm.is_set()
    warm.start()
    warm.start()  # idempotent: one thread
    assert warm.wait(120) and warm.is_set() and warm.wall_s > 0
    calls = _count_runs(monkeypatch)
    snap = compute.evaluate(state)
    assert calls == [] and len(snap.curves) == len(state.optimizers)  # all from the warm-up
    bare = compute.evaluate(state, runs=False)  # the problem's numbers without the race
    assert bare.curves == () and bare.view is snap.view and (bare.gini, bare.l_g_over_l_p) == (snap.gini, snap.l_g_over_l_p)


def test_every_bound_is_the_registrys_momentum_sgd_included():
    """The page asks ``theory.registry.match`` (as sweeps do): momentum SGD at the heavy-ball /
    Nesterov parameters draws that row's envelope; other hyper-parameters show the registry's reason."""
    p = problems.get("tau-kappa", seed=0, **dict(SMALL.params))
    hb, nes = theory.heavy_ball_rate(p), theory.nesterov_rate(p)
    state = SMALL.replace(steps=600, optimizers=(
        OptChoice("sgd", hb.lr, (("momentum", hb.momentum), ("nesterov", False))),
        OptChoice("sgd", nes.lr, (("momentum", nes.momentum), ("nesterov", True))),
        OptChoice("sgd", 2 * hb.lr, (("momentum", hb.momentum), ("nesterov", False))),
        OptChoice("gd", 0.015, schedule=("step", 50, 0.5))))
    snap = compute.evaluate(state)
    w0 = np.concatenate([sims.initial_points(p, 1, i) for i in range(state.batch)])
    for c, choice in zip(snap.curves, state.optimizers):  # the page's bound is the sweep's, run by run
        name, its, _ = sweep.bound_check(p, build_optimizer(choice, p), c.iterations, tol=state.tol, w0=w0[0])
        assert (f"theory.{c.bound_name}" if c.bound_name else c.bound_reason) == name
        assert c.bound_iterations == (its if c.bound_name else None)
    heavy, nesterov, off, scheduled = snap.curves
    assert heavy.bound_name == "heavy_ball_rate" and nesterov.bound_name == "nesterov_rate"
    np.testing.assert_array_equal(heavy.bound_loss, hb.loss_bound(heavy.steps))
    np.testing.assert_array_equal(nesterov.bound_loss, nes.loss_bound(nesterov.steps))
    assert heavy.slack >= 1 and nesterov.slack >= 1  # the bounds hold on these runs
    assert off.bound_name is None and off.bound_loss is None and "heavy_ball_rate holds at lr" in off.bound_reason
    assert scheduled.bound_name is None and "constant step" in scheduled.bound_reason
