"""Process faults: a sweep killed with SIGKILL at random moments resumes to exactly the
uninterrupted result; truncated, empty, swapped or unsigned chunks are detected and recomputed; a
full disk (a write that fails) leaves no chunk that looks finished; a run that raises becomes a
'failed' row and the sweep completes; a second sweep on a live sweep's directory is refused.

The sweep runs in a forked child (everything already imported, so a trial costs about one small
sweep) and is killed after a random delay drawn from a fixed generator; the uninterrupted reference
is computed once. ``tests/sweep/test_sweep_kill.py`` covers the CLI subprocess path once.
"""
from __future__ import annotations

import errno
import multiprocessing
import os
import shutil
import signal
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hetquad
from hetquad import cli, config, sweep
from hetquad import results as _results

SMALL = (Path(__file__).with_name("small_sweep.toml")).read_text()  # shared with the other robustness files
N_CHUNKS, N_RUNS = 4, 8  # 2 points × 2 optimizers, both seeds in one chunk
TIMING = ["wall_time", "time_to_tol"]
FORK = multiprocessing.get_context("fork")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(config, directory, table, dataset, seconds) of the uninterrupted sweep; run twice (the second,
    warm run times a sweep for the kill delays and must give the same results)."""
    cfg = config.parse(tomllib.loads(SMALL))
    root = tmp_path_factory.mktemp("ref")
    sweep.execute(cfg, root / "sweep", workers=1, progress=False)
    table, ds = hetquad.load(root / "sweep")
    assert len(table) == cfg.n_runs() == N_RUNS
    t0 = time.perf_counter()
    sweep.execute(cfg, root / "again", workers=1, progress=False)
    seconds = time.perf_counter() - t0
    ref = cfg, root / "sweep", table, ds, seconds
    assert_same_results(root / "again", ref)
    return ref


def assert_same_results(directory, reference) -> None:
    _, _, table, ds, _ = reference
    got, got_ds = hetquad.load(directory)
    assert got["run_id"].is_unique and len(got) == len(table)
    pd.testing.assert_frame_equal(got.drop(columns=TIMING), table.drop(columns=TIMING))
    assert got_ds.identical(ds)


def _without_estimate(err: str) -> str:
    """stderr less the size-estimate line a sweep prints before any work."""
    return "".join(ln for ln in err.splitlines(keepends=True) if not ln.startswith("estimate: "))


def finished_chunks_are_whole(directory) -> int:
    """Every chunk that has a checksum is valid (a kill or a failed write never leaves a chunk that
    looks finished but is not); no temp file survives a completed run. Returns the finished count."""
    chunks = directory / "chunks"
    keys = [p.stem for p in chunks.glob("*.sha256")] if chunks.exists() else []
    for key in keys:
        assert _results.chunk_is_valid(directory, key), f"chunk {key} has a checksum but is not whole"
    return len(keys)


def _sweep_child(cfg, out):
    sweep.execute(cfg, out, workers=1, progress=False)
    os._exit(0)


def test_sigkill_at_random_moments_then_resume_equals_uninterrupted(reference, tmp_path):
    cfg, _, _, _, seconds = reference
    rng = np.random.default_rng(20240611)
    # 8 random moments over a whole sweep, and 2 right after the first chunk lands: the timing of the
    # random ones depends on the machine's load, these two are mid-sweep by construction
    delays = [*rng.uniform(0.0, 1.2 * seconds, size=8), "first chunk", "first chunk"]
    landed = []
    for trial, delay in enumerate(delays):
        out = tmp_path / f"trial{trial}"
        child = FORK.Process(target=_sweep_child, args=(cfg, out))
        child.start()
        if delay == "first chunk":
            deadline = time.monotonic() + 60
            while (child.is_alive() and time.monotonic() < deadline
                   and not any((out / "chunks").glob("*.sha256"))):
                time.sleep(0.0005)
        else:
            time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        landed.append(finished_chunks_are_whole(out))
        if not out.exists():  # killed before it made the directory: nothing to resume
            continue
        summary = sweep.execute(cfg, out, resume=False, workers=1, progress=False)
        assert summary.chunks_skipped == min(landed[-1], N_CHUNKS) and summary.runs == N_RUNS
        assert not list(out.rglob(".*.tmp")) and not (out / sweep.LOCK).exists()
        assert_same_results(out, reference)
    assert len(delays) >= 10
    assert sum(0 < n < N_CHUNKS for n in landed) >= 2, f"too few kills landed mid-sweep: {landed}"


def test_a_second_sweep_on_a_live_sweeps_directory_is_refused(reference, tmp_path, capsys):
    cfg, _, _, _, _ = reference
    out = tmp_path / "shared"
    cfg_path = tmp_path / "small.toml"
    cfg_path.write_text(SMALL)
    child = FORK.Process(target=_sweep_child, args=(cfg, out))
    child.start()
    try:
        deadline = time.monotonic() + 30
        while not (out / sweep.LOCK).exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        assert cli.main(["sweep", str(cfg_path), "--out", str(out), "--workers", "1", "--no-progress"]) == 2
        err = _without_estimate(capsys.readouterr().err)
        assert err.startswith("error: ") and f"in use by another sweep (pid {child.pid})" in err
        assert len(err.strip().splitlines()) == 1
    finally:
        child.join(timeout=60)
    assert child.exitcode == 0  # the owner was not disturbed
    assert_same_results(out, reference)


# -- damaged chunks --------------------------------------------------------------------------------
def _damage_truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _damage_empty(path):
    path.write_bytes(b"")


def _damage_unsigned(path):
    path.with_suffix(".sha256").unlink()


def _damage_swapped(path):
    """Another chunk's bytes with a matching checksum: only the key in its metadata tells."""
    other = sorted(p for p in path.parent.glob("*.parquet") if p != path)[0]
    data = other.read_bytes()
    path.write_bytes(data)
    path.with_suffix(".sha256").write_text(_results.sha256(data))


@pytest.mark.parametrize("damage", [_damage_truncate, _damage_empty, _damage_unsigned, _damage_swapped],
                         ids=["truncated", "empty", "unsigned", "swapped"])
def test_damaged_chunk_is_detected_and_recomputed(reference, tmp_path, damage):
    cfg, ref_dir, _, _, _ = reference
    out = tmp_path / "copy"
    shutil.copytree(ref_dir, out)
    victim = sorted((out / "chunks").glob("*.parquet"))[2]
    damage(victim)
    assert not _results.chunk_is_valid(out, victim.stem)
    summary = sweep.execute(cfg, out, workers=1, progress=False)
    assert summary.chunks_computed == 1 and summary.chunks_skipped == N_CHUNKS - 1
    assert_same_results(out, reference)


def test_corrupt_manifest_is_a_one_line_error(reference, tmp_path, capsys):
    _, ref_dir, _, _, _ = reference
    out = tmp_path / "copy"
    shutil.copytree(ref_dir, out)
    (out / _results.MANIFEST).write_text('{"config": ')  # a write cut short by hand
    cfg_path = tmp_path / "small.toml"
    cfg_path.write_text(SMALL)
    assert cli.main(["sweep", str(cfg_path), "--out", str(out), "--workers", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "manifest.json is not a hetquad sweep manifest: not valid JSON" in err
    assert len(err.strip().splitlines()) == 1 and "--force" not in err


# -- disk full -------------------------------------------------------------------------------------
def _disk_full_after(monkeypatch, n_ok: int):
    """Every fsync after the first ``n_ok`` fails like a full disk (the data never reached it)."""
    calls = {"n": 0}
    real = os.fsync

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] > n_ok:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(_results.os, "fsync", fsync)
    return calls


@pytest.mark.parametrize("n_ok", [0, 1, 2, 5])  # the manifest, a chunk, its checksum, ... fail in turn
def test_disk_full_leaves_no_half_written_chunk_and_resumes(reference, tmp_path, monkeypatch, n_ok):
    cfg, _, _, _, _ = reference
    out = tmp_path / "full"
    calls = _disk_full_after(monkeypatch, n_ok)
    with pytest.raises(OSError, match="No space left on device"):
        sweep.execute(cfg, out, workers=1, progress=False)
    assert calls["n"] == n_ok + 1  # stopped at the first failed write
    assert not list(out.rglob(".*.tmp")), "a temp file of the failed write was left behind"
    assert finished_chunks_are_whole(out) <= n_ok // 2
    monkeypatch.undo()  # space freed
    summary = sweep.execute(cfg, out, workers=1, progress=False)
    assert summary.runs == N_RUNS
    assert_same_results(out, reference)


def test_disk_full_through_the_cli_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    cfg_path = tmp_path / "small.toml"
    cfg_path.write_text(SMALL)
    _disk_full_after(monkeypatch, 3)
    assert cli.main(["sweep", str(cfg_path), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"]) == 2
    err = _without_estimate(capsys.readouterr().err)
    assert err.startswith("error: ") and "No space left on device" in err and len(err.strip().splitlines()) == 1


# -- a run that raises -----------------------------------------------------------------------------
def test_a_raising_run_is_a_failed_row_and_the_sweep_completes(reference, tmp_path, monkeypatch):
    cfg, _, table, _, _ = reference
    real = sweep.simulate

    def simulate(spec, base, problem, seeds, **kw):
        if spec["axes"]["kappa"] == 20.0 and spec["optimizer"]["label"] == "gd":
            raise RuntimeError("worker blew up\nsecond line")
        return real(spec, base, problem, seeds, **kw)

    monkeypatch.setattr(sweep, "simulate", simulate)
    summary = sweep.execute(cfg, tmp_path / "s", workers=1, progress=False)
    got = hetquad.load(tmp_path / "s")[0]
    bad = (got.kappa == 20.0) & (got.optimizer == "gd")
    assert (summary.failed, summary.ok, summary.runs) == (2, N_RUNS - 2, N_RUNS)
    assert (got[bad].status == "failed").all() and (got[bad].reason == "RuntimeError: worker blew up").all()
    assert got[bad].final_loss.isna().all()
    keep = ~bad.to_numpy()
    assert got[keep].reason.isna().all()
    pd.testing.assert_frame_equal(got[keep].drop(columns=TIMING + ["reason"]).reset_index(drop=True),
                                  table[keep].drop(columns=TIMING + ["reason"]).reset_index(drop=True))
    assert any("2 × failed: RuntimeError: worker blew up" in line for line in summary.lines())


def test_a_chunk_whose_worker_raises_is_recorded_and_the_sweep_completes(reference, tmp_path, monkeypatch):
    cfg, _, _, _, _ = reference
    real = sweep.run_chunk
    victim_chunk = sweep.plan(cfg)[3]
    victim = victim_chunk.key

    def run_chunk(key, spec):
        if key == victim:
            raise MemoryError("worker ran out of memory")
        return real(key, spec)

    monkeypatch.setattr(sweep, "run_chunk", run_chunk)
    summary = sweep.execute(cfg, tmp_path / "s", workers=1, progress=False)
    assert summary.runs == N_RUNS and summary.failed == len(victim_chunk.spec["seeds"])
    assert any("failed: worker: MemoryError: worker ran out of memory" in line for line in summary.lines())


class _Done:
    """A finished future (concurrent.futures / dask share ``result()``)."""

    def __init__(self, value=None, exc=None):
        self.value, self.exc = value, exc

    def result(self):
        if self.exc is not None:
            raise self.exc
        return self.value


def test_pool_and_dask_results_record_a_raising_worker_and_reraise_fatal_ones(reference):
    """The result loop both parallel backends share: a worker exception becomes failed rows of its
    chunk, other chunks pass through, and a ``fatal`` exception (the pool's dead worker) propagates."""
    import io

    cfg, _, _, _, _ = reference
    good, bad = sweep.plan(cfg)[:2]
    futures = {_Done(b"ok"): good, _Done(exc=RuntimeError("worker blew up")): bad}
    out = dict((c.key, data) for c, data in sweep._collected(futures, list(futures)))
    assert out[good.key] == b"ok"
    rows = pd.read_parquet(io.BytesIO(out[bad.key]))
    assert len(rows) == len(bad.spec["seeds"]) and (rows.status == "failed").all()
    assert rows.reason.str.fullmatch("worker: RuntimeError: worker blew up").all()
    dead = _Done(exc=KeyError("worker died"))
    with pytest.raises(KeyError, match="worker died"):
        list(sweep._collected({dead: good}, [dead], fatal=KeyError))
