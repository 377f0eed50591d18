"""kill -9 in the middle of a sweep (a subprocess, killed once its first chunk lands), then resume:
every run present exactly once and equal to an uninterrupted sweep."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib

import pandas as pd

import hetquad
from hetquad import config, sweep

SLOW = """
[sweep]
steps = 1000              # ~0.1 s per chunk on the numpy engine: the kill lands mid-sweep
tol = 1e-12
seeds = 2
engine = "numpy"
record_every = 50

[problem]
name = "tau-kappa"
n_blocks = 2
block_size = 4

[axes]
tau = [0.5, 0.75, 1.0]
kappa = [10.0, 30.0]

[optimizers.adam]
lr = 0.02
[optimizers.gd]
lr = 0.01
"""
N_CHUNKS = 12


def _finished(chunks_dir) -> int:
    return len(list(chunks_dir.glob("*.sha256"))) if chunks_dir.exists() else 0


def test_kill_9_then_resume_equals_uninterrupted(tmp_path):
    cfg_path = tmp_path / "slow.toml"
    cfg_path.write_text(SLOW)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "hetquad.cli", "sweep", str(cfg_path), "--out", str(out), "--workers", "1",
           "--no-progress"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _finished(out / "chunks") == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    landed = _finished(out / "chunks")
    assert 1 <= landed < N_CHUNKS, f"the kill must land mid-sweep ({landed} chunks; stderr {proc.stderr.read()!r})"
    assert (out / ".lock").exists() and not (out / "results.parquet").exists()

    # resume through the CLI (the stale lock of the killed pid is taken over)
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{N_CHUNKS - landed} chunks computed, {landed} reused" in resumed.stdout

    cfg = config.parse(tomllib.loads(SLOW))
    sweep.execute(cfg, tmp_path / "clean", workers=1, progress=False)
    a, b = hetquad.load(out)[0], hetquad.load(tmp_path / "clean")[0]
    assert len(a) == cfg.n_runs() == 24 and a["run_id"].is_unique
    timing = ["wall_time", "time_to_tol"]
    pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing))
    da, db = hetquad.load(out)[1], hetquad.load(tmp_path / "clean")[1]
    assert da.identical(db)
