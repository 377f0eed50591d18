"""Issue 19: what an independent red team broke, one test per item (each failed before its fix).

1 owned output folders · 2 Ctrl-C is exit 130 and resumes · 3 ``load`` refuses inconsistent sweeps ·
4 an atomic lock · 6 size estimates before any work · 7 seeds beyond int64 · 8 reports of ordinary
sweeps · 9 a manifest that is not ours · 10 pool workers die with their parent · 11 the smaller ones.
Item 5 (batch-independent numbers) belongs to the engine (``test_robust_determinism.py``).

The SIGINT and SIGKILL tests send real signals to real ``hetquad`` processes.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import hetquad
from hetquad import cli, config, sweep
from hetquad import results as _results

SMALL = (Path(__file__).with_name("small_sweep.toml")).read_text()  # shared with the other robustness files
TIMING = ["wall_time", "time_to_tol"]


def _cfg(text: str = SMALL):
    return config.parse(tomllib.loads(text))


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """A finished SMALL sweep: (config, directory)."""
    out = tmp_path_factory.mktemp("done") / "sweep"
    sweep.execute(_cfg(), out, workers=1, progress=False)
    return _cfg(), out


def _one_line(capsys, *, contains=()) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("estimate:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for text in contains:
        assert text in lines[0], lines[0]
    return lines[0]


def _cli(args, cwd=None, **kw):
    return subprocess.run([sys.executable, "-m", "hetquad.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=kw.pop("timeout", 120), **kw)


# -- 1: a sweep writes only into a folder it owns ----------------------------------------------------
def _user_folder(root: Path) -> dict:
    root.mkdir()
    files = {"notes.txt": "mine", "results.parquet": "my own table", "manifest.json.bak": "x",
             ".hidden.tmp": "a user's hidden temp file", "deep/.cache.tmp": "another"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return files


def test_a_folder_the_sweep_does_not_own_is_refused_and_untouched(tmp_path, capsys):
    files = _user_folder(tmp_path / "mine")
    cfg_path = tmp_path / "s.toml"
    cfg_path.write_text(SMALL)
    assert cli.main(["sweep", str(cfg_path), "--out", str(tmp_path / "mine"), "--workers", "1", "--no-progress"]) == 2
    _one_line(capsys, contains=["non-empty directory that holds no hetquad sweep", "manifest.json.bak"])
    assert {str(p.relative_to(tmp_path / "mine")) for p in (tmp_path / "mine").rglob("*") if p.is_file()} == set(files)
    for name, text in files.items():
        assert (tmp_path / "mine" / name).read_text() == text


def test_out_empty_string_is_the_current_folder_and_is_refused_there(tmp_path):
    (tmp_path / "s.toml").write_text(SMALL)
    r = _cli(["sweep", "s.toml", "--out", "", "--workers", "1", "--no-progress"], cwd=tmp_path)
    assert r.returncode == 2 and "--out . is a non-empty directory" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_rerun_removes_only_its_own_temp_files(done, tmp_path):
    cfg, ref = done
    out = tmp_path / "copy"
    shutil.copytree(ref, out)
    user = [out / ".notes.tmp", out / "chunks" / ".mine.tmp", out / "sub" / ".x.parquet.1.tmp"]
    ours = [out / ".results.parquet.abc123.tmp", out / "chunks" / f".{sweep.plan(cfg)[0].key}.parquet.zz.tmp"]
    for p in user + ours:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    sweep.execute(cfg, out, workers=1, progress=False)
    assert all(p.exists() for p in user) and not any(p.exists() for p in ours)


def test_a_killed_sweeps_leftovers_alone_do_not_make_the_folder_foreign(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / ".lock").write_text("12345")  # killed between taking the lock and writing the manifest
    (out / ".manifest.json.q1w2.tmp").write_text("{")
    assert sweep.execute(_cfg(), out, workers=1, progress=False).runs == 8


# -- 2: Ctrl-C ---------------------------------------------------------------------------------------
SLOW = SMALL.replace("steps = 60", "steps = 3000").replace("kappa = [10.0, 20.0]",
                                                           "kappa = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]")


def _wait_for(predicate, proc, timeout=90.0):
    deadline = time.monotonic() + timeout
    while not predicate() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)


def _chunks(out: Path) -> int:
    return len(list((out / "chunks").glob("*.sha256"))) if (out / "chunks").exists() else 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigint_exits_130_with_one_line_and_the_sweep_resumes(tmp_path, workers):
    cfg_path = tmp_path / "slow.toml"
    cfg_path.write_text(SLOW)
    out = tmp_path / "o"
    args = [sys.executable, "-m", "hetquad.cli", "sweep", str(cfg_path), "--out", str(out), "--workers", workers,
            "--no-progress"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(lambda: _chunks(out) >= 1, proc)
        os.kill(proc.pid, signal.SIGINT)  # the parent only, as `kill -INT`; a terminal sends it to the group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    n_chunks = len(sweep.plan(_cfg(SLOW)))
    assert proc.returncode == 130, err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("estimate:")]
    assert len(lines) == 1 and lines[0].startswith("interrupted: ") and "resume" in lines[0], err
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    landed = _chunks(out)
    assert 1 <= landed < n_chunks
    with pytest.raises(ValueError, match="unfinished sweep"):
        hetquad.load(out)
    summary = sweep.execute(_cfg(SLOW), out, workers=1, progress=False)
    assert summary.chunks_skipped == landed and summary.runs == _cfg(SLOW).n_runs()
    sweep.execute(_cfg(SLOW), tmp_path / "clean", workers=1, progress=False)
    a, b = hetquad.load(out), hetquad.load(tmp_path / "clean")
    pd.testing.assert_frame_equal(a[0].drop(columns=TIMING), b[0].drop(columns=TIMING))
    assert a[1].identical(b[1])


def test_sigint_during_check_is_130_not_a_pass(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "hetquad.cli", "check", "--quick", "--engine", "numpy"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)  # importing and starting the first bound
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "interrupted", err


def test_check_with_a_violation_exits_1(monkeypatch, capsys):
    """``typer.Exit(1)`` inside a command used to be returned by typer and dropped: exit 0."""
    from hetquad import checks

    row = {"bound": "gd_rate", "quantity": "T", "instances": 1, "runs": 1, "violations": 1, "min_slack": 0.5,
           "median_slack": 0.5, "expected": "", "slacks": [0.5], "compared": 1}
    monkeypatch.setattr(checks, "run_checks", lambda **kw: [row])
    assert cli.main(["check", "--quick"]) == 1
    assert "1 violation(s)" in capsys.readouterr().err


# -- 3: load serves one complete, consistent sweep or says why not ------------------------------------
def test_load_refuses_a_forced_edit_that_was_killed_before_it_finished(done, tmp_path, monkeypatch):
    cfg, ref = done
    out = tmp_path / "copy"
    shutil.copytree(ref, out)
    edited = _cfg(SMALL.replace("kappa = [10.0, 20.0]", "kappa = [10.0, 30.0]"))

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(_results, "assemble", killed)
    with pytest.raises(KeyboardInterrupt):
        sweep.execute(edited, out, workers=1, progress=False, force=True)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="unfinished sweep"):
        hetquad.load(out)  # the old config's table is still on disk: it must not be served
    table, ds = hetquad.load(out, partial=True)
    assert set(table.kappa) == {10.0, 30.0} and len(table) == 8 and table.attrs["partial"]["missing_runs"] == 0
    assert ds.sizes["run"] == 8


def test_load_refuses_a_table_and_trajectories_that_disagree(done, tmp_path, monkeypatch):
    cfg, ref = done
    out = tmp_path / "copy"
    shutil.copytree(ref, out)
    other = tmp_path / "other"
    sweep.execute(_cfg(SMALL.replace("seeds = [0, 1]", "seeds = [0, 5]")), other, workers=1, progress=False)
    shutil.copy(other / "results.parquet", out / "results.parquet")  # e.g. a disk that filled mid-assembly
    with pytest.raises(ValueError, match="does not match the checksum"):
        hetquad.load(out)
    # disk full between the table and the trajectories: the manifest never says complete
    real = _results.write_atomic

    def full(path, data):
        if Path(path).name == _results.TRAJECTORIES:
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(_results, "write_atomic", full)
    with pytest.raises(OSError):
        sweep.execute(cfg, out, workers=1, progress=False)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="unfinished sweep"):
        hetquad.load(out)


def test_report_refuses_an_unfinished_sweep_with_one_line(done, tmp_path, capsys):
    _, ref = done
    out = tmp_path / "copy"
    shutil.copytree(ref, out)
    m = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**m, "status": "running"}))
    assert cli.main(["report", str(out)]) == 2
    _one_line(capsys, contains=["unfinished sweep"])


# -- 4: the lock is atomic ------------------------------------------------------------------------------
def _contend(directory, barrier, log):
    barrier.wait()
    try:
        with sweep.directory_lock(directory):
            fd = os.open(log, os.O_WRONLY | os.O_APPEND)
            os.write(fd, f"in {os.getpid()}\n".encode())
            time.sleep(0.002)
            os.write(fd, f"out {os.getpid()}\n".encode())
            os.close(fd)
    except ValueError:
        pass
    os._exit(0)


def test_the_lock_is_never_held_by_two_processes(tmp_path):
    """8 processes race for one lock, 30 rounds, each round starting from a stale lock file (empty,
    or a dead pid): the holders' enter/leave records never interleave, and someone got it."""
    ctx = multiprocessing.get_context("fork")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for trial in range(30):
        d = tmp_path / f"t{trial}"
        d.mkdir()
        (d / ".lock").write_text("" if trial % 2 else str(dead.pid))  # stale: its holder is gone
        log = tmp_path / f"log{trial}"
        log.write_text("")
        barrier = ctx.Barrier(8)
        procs = [ctx.Process(target=_contend, args=(d, barrier, log)) for _ in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        events = log.read_text().split()
        assert events, "nobody got the lock"
        pairs = list(zip(events[0::2], events[1::2]))
        assert all(a == "in" and b.isdigit() for a, b in pairs[0::2]), events
        recs = log.read_text().splitlines()
        for i in range(0, len(recs), 2):
            assert recs[i].startswith("in ") and recs[i + 1] == "out " + recs[i][3:], recs


# -- 6: sizes are estimated before any work ------------------------------------------------------------
GRID_1000 = ("kappa = [" + ", ".join(f"{1 + i}.0" for i in range(1000)) + "]\n"
             "tau = [" + ", ".join(f"{0.5 + i * 1e-4:.4f}" for i in range(1000)) + "]")


@pytest.mark.parametrize("text, message", [
    (SMALL.replace("steps = 60", "steps = 1000000000000"), "would need"),                 # a 1.46 TiB run
    (SMALL.replace("steps = 60", "steps = 1000000000000").replace("record_every = 10",
                                                                  "record_every = 1000000000000"), "would need"),
    (SMALL.replace("seeds = [0, 1]", "seeds = 100000000"), "seeds must be <= 1000000"),
    (SMALL.replace("kappa = [10.0, 20.0]", GRID_1000), "2000000 chunks"),
], ids=["steps-1e12", "steps-and-record-every-1e12", "seeds-1e8", "grid-1000x1000"])
def test_oversized_sweeps_are_refused_in_seconds_with_the_numbers(tmp_path, capsys, text, message):
    path = tmp_path / "big.toml"
    path.write_text(text)
    t0 = time.perf_counter()
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"]) == 2
    assert time.perf_counter() - t0 < 10
    line = _one_line(capsys, contains=[message])
    assert not (tmp_path / "o").exists(), line


def test_the_estimate_is_printed_before_work_and_a_budget_refuses(tmp_path, capsys):
    from hetquad import budget

    big = SMALL.replace("block_size = 3", "block_size = 8000")
    (tmp_path / "big.toml").write_text(big)
    t0 = time.perf_counter()
    assert cli.main(["sweep", str(tmp_path / "big.toml"), "--out", str(tmp_path / "o"), "--memory-budget", "0.5",
                     "--no-progress"]) == 2
    assert time.perf_counter() - t0 < 10
    _one_line(capsys, contains=["would need", "GiB", "budget 512 MiB", "per chunk"])
    est = budget.sweep_estimate(_cfg(big))
    assert est.chunk_memory > 2**29 and est.runs == 8 and est.seconds > 600  # 8000³ eigendecompositions
    (tmp_path / "small.toml").write_text(SMALL)
    assert cli.main(["sweep", str(tmp_path / "small.toml"), "--out", str(tmp_path / "ok"), "--workers", "1",
                     "--no-progress"]) == 0
    assert capsys.readouterr().err.startswith("estimate: 8 runs in 4 chunks, peak memory ~")


def test_tune_refuses_an_absurd_grid_before_allocating_it(capsys):
    t0 = time.perf_counter()
    assert cli.main(["tune", "--problem", "tau-kappa", "--optimizer", "gd", "--lrs", "1e-4:1:100000000",
                     "--steps", "5"]) == 2
    assert time.perf_counter() - t0 < 5
    _one_line(capsys, contains=["--lrs num must be <= 100000"])


# -- 7: seeds beyond int64 ------------------------------------------------------------------------------
@pytest.mark.parametrize("seeds", ["[18446744073709551616]", "[9223372036854775808]"])
def test_a_seed_beyond_int64_is_refused_at_parse_time(tmp_path, capsys, seeds):
    path = tmp_path / "s.toml"
    path.write_text(SMALL.replace("seeds = [0, 1]", f"seeds = {seeds}"))
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    _one_line(capsys, contains=["seeds[i] must be <= 2**63 - 1"])


def test_the_failure_path_never_raises(done):
    cfg, _ = done
    chunk = sweep.plan(cfg)[0]
    huge = sweep.Chunk(chunk.key, {**chunk.spec, "seeds": [2**64, 3]})
    data = sweep.failed_chunk(huge, RuntimeError("boom"))
    import io

    rows = pd.read_parquet(io.BytesIO(data))
    assert list(rows.status) == ["failed", "failed"] and "18446744073709551616" in rows.reason.iloc[0]


# -- 8: reports of ordinary sweeps -----------------------------------------------------------------------
MINI_AXIS = SMALL.replace("[optimizers.gd]\nlr = 0.05",
                          '[optimizers.mini]\ntype = "adam-mini"\nlr = 0.05\npartition = ["blocks", "single"]')


@pytest.mark.parametrize("text, note, figure", [
    (SMALL, "none reached tol", "vs_kappa"),                                           # tol 1e-12: nobody
    (SMALL.replace("lr = 0.05", "lr = 50.0"), "diverged", "vs_kappa"),                  # all diverge
    (SMALL.replace("name = \"tau-kappa\"", "name = \"tau-kappa\"\ntau = 0.01"), "failed", "vs_kappa"),  # all fail
    (MINI_AXIS.replace("tol = 1e-12", "tol = 1e-2"), None, "vs_partition"),              # a string axis
    (SMALL.replace("[axes]\nkappa = [10.0, 20.0]", ""), "no swept axis", "by_optimizer"),
], ids=["none-at-tol", "all-diverged", "all-failed", "string-axis", "no-axes"])
def test_report_draws_what_there_is_and_says_what_it_cannot(tmp_path, capsys, text, note, figure):
    path = tmp_path / "s.toml"
    path.write_text(text)
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"]) == 0
    capsys.readouterr()
    assert cli.main(["report", str(tmp_path / "o"), "--out", str(tmp_path / "fig")]) == 0
    cap = capsys.readouterr()
    pngs = [ln for ln in cap.out.splitlines() if ln.endswith(".png")]
    assert any(Path(p).stem == figure for p in pngs) and all(Path(p).stat().st_size > 0 for p in pngs), cap
    assert "Traceback" not in cap.err
    if note:
        assert note in cap.err, cap.err


# -- 9: a manifest that is not ours -----------------------------------------------------------------------
@pytest.mark.parametrize("content", ["[]", '{"config": ', "null", '{"a": 1}', "\u00ff\u00fe"])
@pytest.mark.parametrize("force", [False, True])
def test_a_foreign_or_broken_manifest_is_one_line_and_force_does_not_pretend(tmp_path, capsys, content, force):
    out = tmp_path / "o"
    out.mkdir()
    (out / "manifest.json").write_text(content)
    path = tmp_path / "s.toml"
    path.write_text(SMALL)
    args = ["sweep", str(path), "--out", str(out), "--workers", "1", "--no-progress"] + (["--force"] if force else [])
    assert cli.main(args) == 2
    line = _one_line(capsys, contains=["is not a hetquad sweep manifest"])
    assert "--force" not in line
    assert (out / "manifest.json").read_text() == content and sorted(p.name for p in out.iterdir()) == ["manifest.json"]


# -- 10: pool workers die with their parent ---------------------------------------------------------------
def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_sigkill_of_a_sweep_takes_its_pool_workers_and_resource_tracker_with_it(tmp_path):
    import psutil

    cfg_path = tmp_path / "slow.toml"
    cfg_path.write_text(SLOW)
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "hetquad.cli", "sweep", str(cfg_path), "--out", str(out),
                             "--workers", "2", "--no-progress"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for(lambda: _chunks(out) >= 1, proc)
        kids = _descendants(proc.pid)
        assert len(kids) >= 3, kids  # two workers and the resource tracker
        os.kill(proc.pid, signal.SIGKILL)  # the parent alone: no chance to clean up
        proc.wait()
        deadline = time.monotonic() + 15
        alive = kids
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [k for k in kids if psutil.pid_exists(k) and psutil.Process(k).status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"still running after their parent was killed: {alive}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# -- 11: the smaller ones -----------------------------------------------------------------------------------
BAD_CONFIGS = [
    (("kappa = [10.0, 20.0]", 'kappa = ["10", "20"]'), "kappa of problem 'tau-kappa' in [axes] must be a number"),
    (("kappa = [10.0, 20.0]", "kappa = [-10.0, 20.0]"), "kappa of problem 'tau-kappa' in [axes] must be >= 1.0"),
    (("block_size = 3", "block_size = 3.5"), "block_size of problem 'tau-kappa' in [problem] must be an integer"),
    (("kappa = [10.0, 20.0]", "kappa = [10.0, nan]"), "must be finite"),
    (("[optimizers.gd]", "[optimizers.\"../x\"]"), "optimizer label '../x'"),
    (("[optimizers.gd]", "[optimizers.\"a\\u0000b\"]"), "must be 1-64 printable characters"),
    (("lr = 0.05\n[optimizers.gd]", 'lr = 0.05\n[optimizers.m]\ntype = "adam-mini"\nlr = 0.1\n'
      "partition = [0, 1000000000000]\n[optimizers.gd]"), "partition ids must be consecutive"),
]


@pytest.mark.parametrize("edit, message", BAD_CONFIGS, ids=[m[:30] for _, m in BAD_CONFIGS])
def test_bad_values_are_refused_at_parse_time_not_as_failed_runs(tmp_path, capsys, edit, message):
    path = tmp_path / "s.toml"
    path.write_text(SMALL.replace(*edit, 1))
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"]) == 2
    _one_line(capsys, contains=[message])
    assert not (tmp_path / "o").exists()


def test_cupy_without_a_gpu_is_refused_at_parse_time():
    from hetquad.sims.engines import cupy as cupy_engine

    if cupy_engine.is_available():
        pytest.skip("a GPU is here: the cupy engine is available")
    with pytest.raises(ValueError, match="engine 'cupy' is not available here"):
        _cfg(SMALL.replace('engine = "numpy"', 'engine = "cupy"'))


def test_a_utf8_bom_is_not_part_of_the_toml(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SMALL.encode())
    assert config.load(path) == _cfg()


def test_an_explicit_adam_mini_partition_is_one_value_and_a_list_of_them_an_axis():
    one = _cfg(SMALL.replace("[optimizers.gd]", '[optimizers.m]\ntype = "adam-mini"\npartition = [0, 0, 0, 1, 1, 1]\n'
                                                 "[optimizers.gd]").replace("lr = 0.05\n[optimizers.m]",
                                                                             "lr = 0.05\n[optimizers.m]\nlr = 0.1", 1))
    m = next(o for o in one.optimizers if o.label == "m")
    assert m.axes == () and dict(m.fixed)["partition"] == (0, 0, 0, 1, 1, 1) and len(m.variants()) == 1
    axis = _cfg(SMALL.replace("[optimizers.gd]", '[optimizers.m]\ntype = "adam-mini"\nlr = 0.1\n'
                                                  "partition = [[0, 0, 0, 1, 1, 1], [0, 1, 2, 3, 4, 5]]\n[optimizers.gd]"))
    m = next(o for o in axis.optimizers if o.label == "m")
    assert dict(m.axes)["partition"] == ((0, 0, 0, 1, 1, 1), (0, 1, 2, 3, 4, 5)) and len(m.variants()) == 2


TAU = ["--problem", "tau-kappa", "--set", "n_blocks=2", "--set", "block_size=3"]


@pytest.mark.parametrize("args, message", [
    (["run", *TAU, "--optimizer", "gd", "--lr", "0.1", "--steps", "5", "--tol", "-1"], "--tol must be in (0.0, 1.0]"),
    (["tune", *TAU, "--optimizer", "gd", "--steps", "5", "--tol", "2"], "--tol must be in (0.0, 1.0]"),
    (["run", *TAU, "--optimizer", "gd", "--lr", "0.1", "--steps", "5", "--plot", "{tmp}"], "is a directory"),
    (["check", "--quick", "--only", "gd_rate", "--json", "{tmp}"], "--json"),
    (["check", "--quick", "--only", "gd_rate", "--json", "{tmp}/no/such/dir/x.json"], "does not exist"),
])
def test_cli_options_are_checked_before_any_work(tmp_path, capsys, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    t0 = time.perf_counter()
    assert cli.main(args) == 2
    assert time.perf_counter() - t0 < 5
    _one_line(capsys, contains=[message])
    assert sorted(tmp_path.iterdir()) == []  # no DIR.png beside the folder, nothing written


def test_output_files_have_ordinary_permissions(done):
    _, out = done
    mask = os.umask(0)
    os.umask(mask)
    for p in [out / "manifest.json", out / "results.parquet", out / "trajectories.nc",
              *list((out / "chunks").iterdir())[:2]]:
        assert p.stat().st_mode & 0o777 == 0o666 & ~mask, p


@pytest.mark.parametrize("kind", ["resume-new", "dangling", "loop"])
def test_unusable_out_paths_say_why_and_leave_nothing(tmp_path, capsys, kind):
    path = tmp_path / "s.toml"
    path.write_text(SMALL)
    out = tmp_path / "o"
    extra, message = [], "symbolic link to nothing"
    if kind == "resume-new":
        extra, message = ["--resume"], "holds no sweep yet"
    elif kind == "dangling":
        out.symlink_to(tmp_path / "nowhere")
    else:
        out.symlink_to(tmp_path / "o2")
        (tmp_path / "o2").symlink_to(out)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(["sweep", str(path), "--out", str(out), "--workers", "1", "--no-progress", *extra]) == 2
    line = _one_line(capsys, contains=[message])
    assert "File exists" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# -- 11, through the Python API: refused where the value enters, not cast or allocated ---------------------
def _npz(tmp_path, kind):
    import numpy as np

    from hetquad import problems

    path = tmp_path / f"{kind}.npz"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        problems.save_npz(problems.get("zhang2024-case3", seed=0), path)
        path.write_bytes(path.read_bytes()[:200])
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.ones(3))
    elif kind == "complex blocks":
        np.savez(path, blocks_0=np.eye(2) * (1 + 1j))
    return path


@pytest.mark.parametrize("kind,error,message", [
    ("empty", ValueError, r"empty\.npz: not a readable \.npz archive \(EOFError"),
    ("truncated", ValueError, r"truncated\.npz: not a readable \.npz archive \(BadZipFile"),
    ("npy", ValueError, r"is a single \.npy array, not a \.npz archive"),
    ("complex blocks", TypeError, r"block 0 must be real, got complex values"),
])
def test_a_file_that_is_not_a_problem_archive_is_one_named_error(tmp_path, kind, error, message):
    from hetquad import problems

    with pytest.raises(error, match=message):
        problems.load_npz(_npz(tmp_path, kind))


def test_api_values_that_used_to_be_cast_or_allocated_are_refused():
    import numpy as np

    from hetquad import problems, sims

    p = problems.get("zhang2024-case3", seed=0)
    with pytest.raises(TypeError, match="w0 must be real, got complex values"):
        sims.run(p, sims.GD(lr=1e-3), 2, w0=np.ones(p.d) * (1 + 1j), engine="numpy")
    with pytest.raises(TypeError, match="per_block must be True or False, got str 'no'"):
        sims.run(p, sims.GD(lr=1e-3), 2, per_block="no", engine="numpy")
    with pytest.raises(ValueError, match=r"partition ids must be in \[0, 9\).*got 1000000000000"):
        sims.AdamMini(lr=1e-3, partition=[0] * (p.d - 1) + [10**12])
