"""A real dask cluster (issue 15 item 10): a scheduler and two workers as separate processes on
loopback, a sweep through ``hetquad sweep --scheduler tcp://127.0.0.1:PORT``, one worker killed
with SIGKILL mid-sweep; the result equals the process-pool sweep's. Everything started here is
stopped by the fixture's finalizer, pass or fail."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib

import pandas as pd
import pytest

import hetquad
from hetquad import config, sweep

pytest.importorskip("distributed")

SLOW = """
[sweep]
steps = 2000
tol = 1e-12
seeds = 2
engine = "numpy"
record_every = 50

[problem]
name = "tau-kappa"
n_blocks = 2
block_size = 4

[axes]
kappa = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]

[optimizers.adam]
lr = 0.02
[optimizers.gd]
lr = 0.01
"""
TIMING = ["wall_time", "time_to_tol"]


def _stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture
def cluster(tmp_path):
    """(address, [worker processes]) of a scheduler and two single-threaded workers without nannies
    (the worker pid is the process doing the work, so killing it kills a worker)."""
    info = tmp_path / "scheduler.json"
    log = open(tmp_path / "cluster.log", "w")
    procs = []
    try:
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                       "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
                                      stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 120
        while not info.exists() and time.monotonic() < deadline:
            assert procs[0].poll() is None, (tmp_path / "cluster.log").read_text()
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written whole, but give the json a moment
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                     "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                                     "--name", f"w{i}"], stdout=log, stderr=subprocess.STDOUT) for i in range(2)]
        procs += workers
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address, workers
    finally:
        _stop(procs[::-1])
        log.close()


def test_a_real_cluster_survives_a_killed_worker_and_equals_the_pool(cluster, tmp_path):
    address, workers = cluster
    cfg_path = tmp_path / "slow.toml"
    cfg_path.write_text(SLOW)
    out = tmp_path / "dask"
    cmd = [sys.executable, "-m", "hetquad.cli", "sweep", str(cfg_path), "--out", str(out), "--scheduler", address,
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while (not list((out / "chunks").glob("*.sha256")) if (out / "chunks").exists() else True) \
                and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        n_chunks = len(sweep.plan(config.parse(tomllib.loads(SLOW))))
        landed = len(list((out / "chunks").glob("*.sha256")))
        os.kill(workers[0].pid, signal.SIGKILL)  # mid-sweep: its running and queued chunks move
        workers[0].wait(timeout=30)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert 1 <= landed < n_chunks, f"the kill must land mid-sweep ({landed} of {n_chunks} chunks)"
    assert f"{n_chunks} chunks computed" in stdout
    cfg = config.parse(tomllib.loads(SLOW))
    sweep.execute(cfg, tmp_path / "pool", workers=2, progress=False)
    a, b = hetquad.load(out), hetquad.load(tmp_path / "pool")
    assert len(a[0]) == cfg.n_runs() == 24 and a[0]["run_id"].is_unique
    pd.testing.assert_frame_equal(a[0].drop(columns=TIMING), b[0].drop(columns=TIMING))
    assert a[1].identical(b[1])
