"""Grouped chunks (issue 15 item 3): a chunk's variants × seeds are one engine call, its lr searches
one more, and every row is bit for bit the row of that grid point run alone; a failing point stays
its own failed rows; run ids do not depend on the grouping; results stream and load lazily."""
from __future__ import annotations

import dataclasses
import json
import tomllib
import warnings

import numpy as np
import pandas as pd
import pytest

import hetquad
from hetquad import budget, config, problems, sims, sweep
from hetquad.sims.grid import stack

GROUPED = """
[sweep]
steps = 120
tol = 1e-8
seeds = [0, 3, 5]
engine = "{engine}"
record_every = 7
per_block = true

[problem]
name = "tau-kappa"
n_blocks = 2
block_size = 3

[axes]
kappa = [20.0]

[optimizers.adam]
lr = [0.01, 0.05, 0.3]
beta1 = [0.0, 0.9]
[optimizers.signum]
lr = [0.01, 0.03]
momentum = [0.5, 0.9]
"""

TUNED = """
[sweep]
steps = 80
seeds = 2
engine = "numpy"
record_every = 10

[problem]
name = "tau-kappa"
n_blocks = 2
block_size = 3

[optimizers.adam]
lr = "tune"
beta1 = [0.0, 0.9]
bias_correction = [true, false]

[tune]
lrs = {low = 1e-3, high = 1.0, num = 5}
seed = 99
steps = 60
"""


def _cfg(text: str, **fmt) -> config.SweepConfig:
    return config.parse(tomllib.loads(text.format(**fmt) if fmt else text))


def _count_runs(monkeypatch) -> list:
    """Record the batch size of every ``sims.run`` call the sweep makes."""
    calls = []
    real = sims.run

    def counted(problem, optimizer, steps, **kw):
        res = real(problem, optimizer, steps, **kw)
        calls.append(res.loss.shape[0])
        return res

    monkeypatch.setattr(sims, "run", counted)
    return calls


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_grouped_rows_equal_per_point_runs_bit_for_bit(engine, monkeypatch):
    """Known answer: each row is what one ``sims.run`` of its grid point alone gives, to the bit."""
    cfg = _cfg(GROUPED, engine=engine)
    chunks = sweep.plan(cfg)
    assert [c.n_runs for c in chunks] == [3 * 2 * 3, 2 * 2 * 3]  # one chunk per optimizer entry
    calls = _count_runs(monkeypatch)
    rows = [r for c in chunks for r in sweep.chunk_rows(c.payload())]
    assert calls == [18, 12]  # one engine call per chunk
    monkeypatch.undo()
    p = problems.get("tau-kappa", seed=0, kappa=20.0, n_blocks=2, block_size=3)
    ids = [r for c in chunks for r in c.run_ids()]
    assert [r["run_id"] for r in rows] == ids and len(set(ids)) == len(ids) == cfg.n_runs()
    for row in rows:
        hyper = json.loads(row["hyper"])
        alone = sims.run(p, sims.make(row["optimizer_type"], lr=row["lr"], **hyper), 120, seed=row["seed"],
                         engine=engine, tol=1e-8, record_every=7, per_block=True)
        assert row["status"] == "ok" and row["engine"] == engine
        assert row["final_loss"] == alone.final_loss[0] and row["iterations"] == alone.iterations[0]
        np.testing.assert_array_equal(row["loss"], alone.loss[0])
        np.testing.assert_array_equal(row["grad_norm"], alone.grad_norm[0])
        np.testing.assert_array_equal(row["block_grad_norm"], alone.block_grad_norm[0])


def test_run_ids_are_the_per_point_hashes():
    """A run id is the hash of its grid point's own spec with its seed — recomputed here from the
    config by hand — so sweeps planned before grouping keep their ids."""
    from hetquad.sims import config_hash

    cfg = _cfg(GROUPED, engine="numpy")
    run = {"steps": 120, "tol": 1e-8, "engine": "numpy", "record_every": 7, "per_block": True}
    expected = []
    for entry in cfg.optimizers:
        for hyper, lr in entry.variants():
            for s in cfg.seeds:
                expected.append(config_hash({
                    "problem": {"name": "tau-kappa", "params": {"block_size": 3, "n_blocks": 2, "kappa": 20.0},
                                "seed": 0},
                    "axes": {"kappa": 20.0}, "optimizer": {"label": entry.label, "type": entry.type,
                                                           "hyper": hyper, "lr": lr},
                    "hyper_axes": cfg.hyper_axis_names, "tune": None, "run": run, "seeds": [s]}))
    assert sorted(r for c in sweep.plan(cfg) for r in c.run_ids()) == sorted(expected)


def test_non_numeric_settings_split_groups_and_tuning_is_one_call_per_chunk(monkeypatch):
    """bias_correction is not a per-run hyper-parameter: two groups; each chunk tunes its two β1
    variants × 5 lrs in one call and runs them in one more; the lrs are what ``sims.tune`` picks."""
    cfg = _cfg(TUNED)
    chunks = sweep.plan(cfg)
    assert [len(c.spec["variants"]) for c in chunks] == [2, 2]
    assert {c.spec["variants"][0]["hyper"]["bias_correction"] for c in chunks} == {True, False}
    calls = _count_runs(monkeypatch)
    rows = [r for c in chunks for r in sweep.chunk_rows(c.payload())]
    assert calls == [2 * 5, 2 * 2, 2 * 5, 2 * 2]
    monkeypatch.undo()
    p = problems.get("tau-kappa", seed=0, n_blocks=2, block_size=3)
    for row in rows[::2]:
        hyper = json.loads(row["hyper"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sims.TuneAtEdgeWarning)  # the sweep records it as lr_edge
            res = sims.tune(p, lambda lr: sims.Adam(lr=lr, **hyper), np.geomspace(1e-3, 1.0, 5), 60, seed=99,
                            engine="numpy", record_every=10)
        assert row["lr_edge"] == (res.edge or "interior")
        assert row["lr"] == res.best_lr and row["lr_source"] == "tuned"
        assert [t["score"] for t in json.loads(row["tune_table"])] == [s for _, s, _ in res.table]


def test_a_failing_point_in_a_grouped_chunk_fails_alone(monkeypatch):
    """The grouped call raises → every point runs alone; the one that raises again is its own
    failed rows, its chunk mates are ok and equal to the grouped rows."""
    cfg = _cfg(GROUPED, engine="numpy")
    chunk = sweep.plan(cfg)[0]
    good = sweep.chunk_rows(chunk.payload())
    real = sweep.simulate

    def group_breaks(*a, **k):
        raise MemoryError("the grouped call ran out of memory")

    def one_breaks(spec, base, problem, seeds, **kw):
        if spec["optimizer"]["lr"] == 0.05 and spec["optimizer"]["hyper"]["beta1"] == 0.9:
            raise RuntimeError("this point blew up")
        return real(spec, base, problem, seeds, **kw)

    monkeypatch.setattr(sweep, "simulate_group", group_breaks)
    monkeypatch.setattr(sweep, "simulate", one_breaks)
    rows = sweep.chunk_rows(chunk.payload())
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(rows) == len(good) == 18 and len(failed) == 3
    assert {r["reason"] for r in failed} == {"RuntimeError: this point blew up"}
    assert [r["run_id"] for r in rows] == [r["run_id"] for r in good]
    for a, b in zip(rows, good):
        if a["status"] != "failed":
            assert a["final_loss"] == b["final_loss"]
            np.testing.assert_array_equal(a["loss"], b["loss"])


def test_sweep_through_execute_equals_its_rows_and_runs_in_process(tmp_path, monkeypatch):
    """Small work runs in this process (no pool) unless a number of workers is asked for."""
    cfg = _cfg(GROUPED, engine="numpy")
    assert budget.sweep_estimate(cfg).seconds < sweep.IN_PROCESS_SECONDS and len(sweep.plan(cfg)) == 2
    monkeypatch.setattr(sweep, "_pool", lambda *a, **k: pytest.fail("a pool for a sub-second sweep"))
    summary = sweep.execute(cfg, tmp_path / "s", progress=False)  # workers: default, all cores
    table, ds = hetquad.load(tmp_path / "s")
    assert summary.ok == len(table) == 30 and summary.chunks_computed == 2
    rows = pd.DataFrame([r for c in sweep.plan(cfg) for r in sweep.chunk_rows(c.payload())])
    np.testing.assert_array_equal(table["final_loss"], rows["final_loss"])
    np.testing.assert_array_equal(ds["loss"].values, np.stack(rows["loss"]))
    np.testing.assert_array_equal(ds["block_grad_norm"].values, np.stack(rows["block_grad_norm"]))


def test_streamed_chunks_load_lazily_equal_to_eager(tmp_path, monkeypatch):
    """A few hundred runs in several chunks (a small per-chunk memory target): every chunk is its
    own Parquet part; ``load(lazy=True)`` leaves the trajectories on disk and equals the eager load."""
    monkeypatch.setattr(budget, "CHUNK_BYTES", 40 * budget.chunk_run_bytes(_cfg(GROUPED, engine="numpy"),
                                                                          {"kappa": 20.0}))
    text = GROUPED.format(engine="numpy").replace("seeds = [0, 3, 5]", "seeds = 12").replace(
        "lr = [0.01, 0.05, 0.3]", "lr = [0.01, 0.02, 0.05, 0.1, 0.3]")
    cfg = config.parse(tomllib.loads(text))
    chunks = sweep.plan(cfg)
    assert len(chunks) >= 6 and max(c.n_runs for c in chunks) <= 40 and cfg.n_runs() == 12 * (10 + 4)
    sweep.execute(cfg, tmp_path / "s", workers=1, progress=False)
    assert len(list((tmp_path / "s" / "chunks").glob("*.parquet"))) == len(chunks)
    table, eager = hetquad.load(tmp_path / "s")
    lazy_table, lazy = hetquad.load(tmp_path / "s", lazy=True)
    try:
        assert lazy["loss"].chunks is not None and lazy["block_grad_norm"].chunks is not None  # dask-backed
        pd.testing.assert_frame_equal(table, lazy_table)
        assert lazy.load().identical(eager)
    finally:
        lazy.close()


def test_stack_equals_the_constructor_for_every_optimizer():
    """``stack`` skips the constructor's checks; its spec equals the one the constructor builds."""
    for name, cls in sims.OPTIMIZERS.items():
        hyper = [h for h in cls.HYPER if h != "lrs"]
        base = {"lrs": (0.1, 0.2)} if "lrs" in cls.HYPER else {}
        try:
            specs = [cls(**base, **{h: (0.01 * (k + 1) if h == "lr" else getattr(cls(**base, lr=0.1), h))
                                    for h in hyper}) for k in range(3)]
        except (TypeError, ValueError):  # needs arguments this generic recipe does not give
            continue
        got = stack(specs, repeat=2)
        fields = {f.name: getattr(specs[0], f.name) for f in dataclasses.fields(specs[0])}
        want = cls(**{**fields, "lr": tuple(s.lr for s in specs for _ in range(2))})
        assert got == want and got.runs() == 6, name


def test_stack_refuses_what_one_call_cannot_run():
    with pytest.raises(ValueError, match="bias_correction = False differs"):
        stack([sims.Adam(lr=0.1), sims.Adam(lr=0.1, bias_correction=False)])
    with pytest.raises(ValueError, match="not a Adam"):
        stack([sims.Adam(lr=0.1), sims.GD(lr=0.1)])
    with pytest.raises(ValueError, match="lr has 3 values but the stack has 4 runs"):
        stack([sims.GD(lr=0.1)], repeat=4, lr=(0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match="already has per-run"):
        stack([sims.GD(lr=(0.1, 0.2))])
