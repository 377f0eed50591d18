"""Sweeps end to end: the table and the Dataset, rows equal to independent ``sims.run`` calls,
resume, corrupt chunks, changed configs, failures as rows, the lock, and the dask path."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib

import numpy as np
import pandas as pd
import pytest

import hetquad
from hetquad import config, problems, results, sims, sweep

TIMING = ["wall_time", "time_to_tol"]  # measured, so they differ between two identical sweeps


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=TIMING).sort_values("run_id").reset_index(drop=True)


def test_table_and_dataset(tiny_sweep):
    cfg, out, summary = tiny_sweep
    table, ds = hetquad.load(out)
    assert summary.runs == len(table) == cfg.n_runs() == 48
    assert summary.ok + summary.diverged + summary.failed == 48
    assert table["run_id"].is_unique
    # every grid cell × optimizer × lr × seed appears once
    cells = table.groupby(["tau", "kappa", "optimizer", "lr"]).size()
    assert set(cells) == {3} and len(cells) == 4 * 4
    assert set(table["seed"]) == {0, 1, 2}
    assert (table.loc[table.optimizer == "gd", "lr_source"] == "tuned").all()
    assert (table.loc[table.optimizer != "gd", "lr_source"] == "fixed").all()
    # the files alone are enough
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), table)
    assert dict(ds.sizes) == {"run": 48, "step": 61, "block": 2}
    np.testing.assert_array_equal(ds["step"], np.arange(0, 301, 5))
    np.testing.assert_array_equal(ds["run"].values.astype(str), table["run_id"].to_numpy(dtype=str))
    np.testing.assert_array_equal(ds["tau"], table["tau"])
    np.testing.assert_array_equal(ds["kappa"], table["kappa"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["hetquad_version"] == hetquad.__version__
    assert set(manifest["versions"]) >= {"hetquad", "numpy"} and manifest["n_runs"] == 48


def test_rows_equal_independent_runs(tiny_sweep):
    """Known answer: a row is what ``sims.run`` gives for that problem, optimizer and seed alone."""
    cfg, out, _ = tiny_sweep
    table, ds = hetquad.load(out)
    for _, row in table[table.optimizer.isin(["adam", "adam-mini"])].iloc[::7].iterrows():
        p = problems.get("tau-kappa", seed=0, tau=row.tau, kappa=row.kappa, n_blocks=2, block_size=4)
        opt = sims.make(row.optimizer_type, lr=row.lr)
        res = sims.run(p, opt, 300, seed=int(row.seed), engine="numpy", tol=1e-6, record_every=5)
        np.testing.assert_allclose(row.final_loss, res.final_loss[0], rtol=1e-12)
        assert row.stop_reason == res.stop_reason[0] and row.iterations == res.iterations[0]
        expected_t = res.iterations[0] if res.stop_reason[0] == "tol" else np.inf
        assert row.iterations_to_tol == expected_t
        traj = ds["loss"].sel(run=row.run_id).values
        np.testing.assert_allclose(traj, res.loss[0], rtol=1e-12, equal_nan=True)


def test_tuned_lr_is_the_held_out_seed_optimum(tiny_sweep):
    """The gd rows use the lr that ``sims.tune`` picks on seed 1000 (not on a run seed)."""
    _, out, _ = tiny_sweep
    table, _ = hetquad.load(out)
    row = table[(table.optimizer == "gd") & (table.tau == 0.5) & (table.kappa == 40.0)].iloc[0]
    p = problems.get("tau-kappa", seed=0, tau=0.5, kappa=40.0, n_blocks=2, block_size=4)
    res = sims.tune(p, lambda lr: sims.GD(lr=lr), np.geomspace(1e-3, 1.0, 7), 200, seed=1000, engine="numpy",
                    record_every=5)
    assert row.lr == res.best_lr
    assert [r["lr"] for r in json.loads(row.tune_table)] == [r[0] for r in res.table]
    assert row.lr_edge == (res.edge or "interior")
    assert table.loc[table.lr_source == "fixed", "lr_edge"].isna().all()


def test_a_tuned_lr_at_the_grid_edge_is_a_column_not_a_worker_warning(tiny_sweep, recwarn):
    """Issue 21: the sweep records ``TuneResult.at_edge`` per row ('low'/'high'), both sides tested."""
    cfg, _, _ = tiny_sweep
    spec = next(c.spec for c in sweep.plan(cfg) if c.spec["tune"] is not None)
    for lrs, edge in (([1e-4, 2e-4], "high"), ([1e-4, 1e-2, 1.9], "interior")):
        spec = {**spec, "tune": {**spec["tune"], "lrs": lrs}}
        rows = sweep.chunk_rows(spec)
        assert {r["lr_edge"] for r in rows} == {edge} and {r["status"] for r in rows} == {"ok"}
    assert not [w for w in recwarn if issubclass(w.category, sims.TuneAtEdgeWarning)]


def test_rerun_skips_and_corrupt_chunk_is_recomputed(tiny_sweep, tmp_path):
    cfg, out, _ = tiny_sweep
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    before, _ = hetquad.load(copy)
    again = sweep.execute(cfg, copy, workers=1, progress=False)
    assert again.chunks_computed == 0 and again.chunks_skipped == 24
    chunk = sorted((copy / "chunks").glob("*.parquet"))[3]
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: same size, different content
    chunk.write_bytes(bytes(data))
    (copy / "chunks" / sorted(p.name for p in (copy / "chunks").glob("*.parquet"))[5]).unlink()
    fixed = sweep.execute(cfg, copy, workers=1, progress=False)
    assert fixed.chunks_computed == 2 and fixed.chunks_corrupt == 1
    after, _ = hetquad.load(copy)
    pd.testing.assert_frame_equal(comparable(after), comparable(before))


def test_changed_config_is_refused_unless_forced(tiny_sweep, tiny_text, tmp_path):
    _, out, _ = tiny_sweep
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    changed = config.parse(tomllib.loads(tiny_text.replace("seeds = 3", "seeds = 4")))
    with pytest.raises(ValueError, match="different config.*--force"):
        sweep.execute(changed, copy, workers=1, progress=False)
    forced = sweep.execute(changed, copy, workers=1, progress=False, force=True)
    # seed batches [0, 1] are reused (same key); [2] became [2, 3]
    assert forced.runs == 64 and forced.chunks_skipped == 12 and forced.chunks_computed == 12


def test_resume_needs_an_existing_sweep(tiny_text, tmp_path):
    with pytest.raises(ValueError, match="holds no sweep"):
        sweep.execute(config.parse(tomllib.loads(tiny_text)), tmp_path / "new", resume=True, progress=False)


FAILING = """
[sweep]
steps = 50
seeds = 2
engine = "numpy"

[problem]
name = "tau-kappa"
n_blocks = 1
block_size = 10

[axes]
tau = [0.1, 0.9]          # 0.1 is below tau_range(10, kappa=10) = 0.19: the catalog raises
kappa = [10.0]

[optimizers.gd]
lr = [0.01, 10.0]         # 10 diverges
"""


def test_failed_and_diverged_runs_are_rows(tmp_path):
    cfg = config.parse(tomllib.loads(FAILING))
    summary = sweep.execute(cfg, tmp_path / "f", workers=1, progress=False)
    table, ds = hetquad.load(tmp_path / "f")
    assert len(table) == 8 and summary.failed == 4 and summary.diverged == 2 and summary.ok == 2
    failed = table[table.status == "failed"]
    assert (failed.tau == 0.1).all() and failed.reason.str.contains("tau").all()
    assert failed.final_loss.isna().all() and failed.iterations_to_tol.isna().all()
    assert np.isnan(ds["loss"].sel(run=failed.run_id.to_numpy()).values).all()
    diverged = table[table.status == "diverged"]
    assert (diverged.lr == 10.0).all() and (diverged.stop_reason == "diverged").all()
    assert diverged.iterations_to_tol.isna().all()
    assert any("failed" in line and "tau" in line for line in summary.lines())
    # failures are stored once: a re-run does not retry them
    assert sweep.execute(cfg, tmp_path / "f", workers=1, progress=False).chunks_computed == 0


HOLD_LOCK = """
import sys, time
from hetquad.lock import directory_lock
with directory_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_lock_refuses_a_live_owner_and_takes_over_a_dead_one(tiny_text, tmp_path):
    """The lock is an flock held by a live process: refused while it lives, free once it is killed
    (SIGKILL: no clean-up ran, the file stays). An empty or pid-only file nobody holds is free."""
    cfg = config.parse(tomllib.loads(FAILING))
    out = tmp_path / "locked"
    out.mkdir()
    live = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert live.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match=f"in use by another sweep \\(pid {live.pid}\\)"):
            sweep.execute(cfg, out, workers=1, progress=False)
    finally:
        live.kill()
        live.wait()
    assert (out / ".lock").read_text() == str(live.pid)  # left behind by the killed holder
    assert sweep.execute(cfg, out, workers=1, progress=False).runs == 8
    assert not (out / ".lock").exists()
    (out / ".lock").write_text("")  # an empty lock file (a crash between create and write) is not held
    assert sweep.execute(cfg, out, workers=1, progress=False).chunks_computed == 0
    assert not (out / ".lock").exists()


def test_local_cluster_matches_process_pool(tiny_sweep, tmp_path):
    """Same chunks through an in-process dask LocalCluster and through the spawn process pool."""
    from distributed import Client, LocalCluster

    cfg, out, _ = tiny_sweep
    serial, _ = hetquad.load(out)
    pooled = sweep.execute(cfg, tmp_path / "pool", workers=2, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dasked = sweep.execute(cfg, tmp_path / "dask", scheduler=client, workers=2, progress=False)
    assert pooled.chunks_computed == dasked.chunks_computed == 24
    a, b = hetquad.load(tmp_path / "pool")[0], hetquad.load(tmp_path / "dask")[0]
    pd.testing.assert_frame_equal(comparable(a), comparable(b))
    pd.testing.assert_frame_equal(comparable(a), comparable(serial))


def test_atomic_write_leaves_no_temp_files(tiny_sweep):
    _, out, _ = tiny_sweep
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    for key in json.loads((out / "manifest.json").read_text())["chunks"]:
        assert results.chunk_is_valid(out, key)
