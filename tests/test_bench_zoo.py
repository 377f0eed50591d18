"""Smoke test of benchmarks/bench_zoo.py: a quick run on three optimizers, as ``make bench`` runs it.

It runs the script in a subprocess (which starts its own torch process), so the numba engine,
the batched numpy engine and a torch peer are all met for real; it checks the table's rows and
that every number in them is finite and positive, not any speed (a benchmark never fails on a
slow machine).
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_zoo.py"
ONLY = ["gd", "clipped-gd", "adafactor"]  # numba, numba, batched numpy (no numba rendering)


def test_bench_zoo_quick_only(tmp_path):
    out = tmp_path / "zoo.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--only", ",".join(ONLY), "--json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = json.loads(out.read_text())
    rows = {r["optimizer"]: r for r in table["rows"]}
    assert list(rows) == ONLY
    assert rows["gd"]["engine"] == "numba" and rows["clipped-gd"]["engine"] == "numba"
    assert rows["adafactor"]["engine"] == "batched-numpy"
    assert rows["clipped-gd"]["torch_peer"] == "torch SGD + clip_grad_norm_"
    for r in rows.values():
        for key in ("ms_per_step", "gflops", "roof_fraction", "batched_numpy_ms_per_step", "torch_ms_per_step",
                    "speedup_vs_torch", "final_loss_max"):
            assert math.isfinite(r[key]) and r[key] > 0, (r["optimizer"], key, r[key])
        # GFLOP/s is the matvec flop count over our own seconds: recompute it from the row
        assert math.isclose(r["gflops"] * 1e9 * r["seconds"], 2.0 * table["d_sq_sum"] * r["batch"] * r["steps"],
                            rel_tol=1e-9)
        assert math.isclose(r["speedup_vs_torch"], r["torch_ms_per_step"] / r["ms_per_step"], rel_tol=1e-9)
    md = proc.stdout
    assert md.count("\n| ") >= len(ONLY) + 1  # header + one markdown row per optimizer
    for name in ONLY:
        assert f"| {name} | {rows[name]['engine']} |" in md


def test_bench_zoo_rejects_an_unknown_name(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--only", "gd,no-such-opt",
                           "--json", str(tmp_path / "x.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "no-such-opt" in proc.stderr
