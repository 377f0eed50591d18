"""Engine benchmark: seconds, GFLOP/s and fraction of the machine's own GEMM roof per engine.

Three sizes (small 4 × 25, batch 256, 2000 steps; medium 16 × 64, batch 32, 500 steps; large
64 × 128, batch 4, 100 steps) × {GD, Adam, SGD with heavy-ball momentum, AdamW, Lion}. A step costs 2·Σ n_b² flops per instance (one matvec
per block). The roof is numpy's float64 GEMM measured in the same run. Baselines: a plain
``torch.optim`` loop (one tensor per block, autograd) and the best batched numpy implementation
(``hetquad.sims.engines.batched`` with xp=numpy). The torch loop is also timed one run at a time
(batch 1, a tenth of the steps, scaled), the way a script looping over seeds would run it.
Then: today's numba engine against the kernel of commit ``OLD_REF`` (before issue 15), timed
interleaved; and stochastic Adam (GaussianNoise) on zhang2024-case1, numba vs numpy engine.

Run ``python benchmarks/bench_engines.py [--quick] [--json FILE]`` or ``hetquad bench``. It is a
benchmark, not a test: nothing here fails on a slow machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hetquad import sims
from hetquad.problems.quadratic import block_quadratic
from hetquad.sims import engines as _engines
from hetquad.sims.run import initial_points, record_steps

SIZES = {  # name: (blocks, block size, batch, steps)
    "small": (4, 25, 256, 2000),
    "medium": (16, 64, 32, 500),
    "large": (64, 128, 4, 100),
}
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


# -- problems and work ------------------------------------------------------------------------
def make_problem(blocks: int, size: int):
    """Blocks with spectra 1..100 (geometric), Haar-rotated; fixed seed."""
    return block_quadratic([np.geomspace(1.0, 100.0, size)] * blocks, seed=0,
                           name=f"bench-{blocks}x{size}")


def optimizers(problem) -> dict:
    return {"gd": sims.GD(lr=1.0 / problem.L), "adam": sims.Adam(lr=1e-3),
            "sgd-momentum": sims.SGD(lr=0.5 / problem.L, momentum=0.9), "adamw": sims.AdamW(lr=1e-3),
            "lion": sims.Lion(lr=1e-4)}


def flops(problem, batch: int, steps: int) -> float:
    """2·Σ n_b² per matvec per instance per step."""
    return 2.0 * sum(s * s for s in problem.sizes) * batch * steps


def gemm_roof(n: int = 1024, repeats: int = 5) -> float:
    """numpy float64 GEMM GFLOP/s on this machine, now (best of ``repeats``)."""
    a = np.random.default_rng(0).standard_normal((n, n))
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2.0 * n ** 3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- engines ----------------------------------------------------------------------------------
def _task(problem, opt, batch: int, steps: int):
    return _engines.Task(problem, opt, steps, initial_points(problem, batch, 0),
                         opt.schedule.factors(steps), record_steps(steps, 1), None, False, None)


def run_engine(name: str):
    def run(problem, opt, batch, steps):
        return sims.run(problem, opt, steps, batch=batch, engine=name).wall_time
    return run


def batched_numpy():
    """(label, runner) of the batched array engine body on numpy (``engines.batched``, xp=numpy)."""
    from hetquad.sims.engines import batched

    def run(problem, opt, batch, steps):
        task = _task(problem, opt, batch, steps)
        return _timed(lambda: batched.simulate(task, xp=np))
    return "batched-numpy", run


# -- the kernel before issue 15 (old vs new, interleaved) -------------------------------------
OLD_REF = "54d36b6"  # the last commit with the pre-issue-15 numba kernel


def old_numba_engine(ref: str = OLD_REF):
    """The numba engine of commit ``ref``, extracted with git into a temporary package outside
    the repository and adapted to today's Task (its own lowering record is rebuilt here).
    Returns (module, tmpdir) or (None, reason)."""
    import importlib
    import types
    root = Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="hetquad-old-engine-"))
    pkg = tmp / "hq_old_engine"
    pkg.mkdir()
    try:
        for name in ("numba.py", "numba_kernels.py"):
            src = subprocess.run(["git", "-C", str(root), "show", f"{ref}:sims/engines/{name}"], check=True,
                                 capture_output=True, text=True).stdout
            src = (src.replace("from ..result import DIVERGENCE_FACTOR", "DIVERGENCE_FACTOR = 1e12")
                      .replace("from . import Task, Trajectory", "from hetquad.sims.engines import Task, Trajectory")
                      .replace("from .batched import unsupported  # noqa: F401  (the same lowering limits as the array engines)", "")
                      .replace("from . import numba_kernels as K", "from hq_old_engine import numba_kernels as K"))
            (pkg / name).write_text(src)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        return None, f"git show {ref} failed: {exc}"
    (pkg / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp))
    mod = importlib.import_module("hq_old_engine.numba")
    lowered = types.SimpleNamespace

    class Old:  # the old engine's view of a spec: its flat ``Lowered`` record
        def __init__(self, opt):
            self.opt, self.schedule = opt, opt.schedule

        def lower(self, p):
            o = self.opt
            if isinstance(o, sims.Adam):
                return lowered(family="adam", lr=np.full(p.d, o.lr), beta1=o.beta1, beta2=o.beta2, eps=o.eps,
                               bias_correction=o.bias_correction, v0_g0sq=o.v0 == "g0sq", v_block=False,
                               v_ids=np.arange(p.d), v_counts=np.ones(p.d))
            return lowered(family="gd", lr=np.full(p.d, o.lr), beta1=0.0, beta2=0.0, eps=0.0,
                           bias_correction=False, v0_g0sq=False, v_block=False, v_ids=None, v_counts=None)

    def run(problem, opt, batch, steps):
        task = _task(problem, Old(opt), batch, steps)
        return _timed(lambda: mod.simulate(task))
    return run, None


def kernel_ratios(*, quick: bool, repeats: int) -> list:
    """Old (``OLD_REF``) vs today's numba engine, interleaved, best of ``repeats`` each."""
    old, why = old_numba_engine()
    if old is None:
        return [{"skipped": why}]
    new = run_engine("numba")
    rows = []
    for size, oname, p, opt, batch, steps in cases(quick=quick):
        if oname not in ("gd", "adam"):  # the old kernel had only these families
            continue
        old(p, opt, batch, 2), new(p, opt, batch, 2)  # compile outside the timing
        t_old, t_new = [], []
        for _ in range(max(repeats, 3)):
            t_old.append(old(p, opt, batch, steps))
            t_new.append(new(p, opt, batch, steps))
        rows.append({"size": size, "optimizer": oname, "old_seconds": min(t_old), "new_seconds": min(t_new),
                     "speedup": min(t_old) / min(t_new), "load_avg": os.getloadavg()[0]})
    return rows


# -- stochastic runs (issue 15 item 4) ---------------------------------------------------------
def stochastic(*, quick: bool, repeats: int) -> list:
    """Adam with GaussianNoise on zhang2024-case1, batch 200: numba vs the numpy engine."""
    from hetquad import problems
    p = problems.get("zhang2024-case1")
    steps = 30 if quick else 300
    rows = []
    for cov in ("identity", "hessian"):
        noise = sims.GaussianNoise(0.1, covariance=cov, seed=3)
        opt = sims.Adam(lr=1e-3)
        sims.run(p, opt, 2, batch=200, noise=noise, engine="numba")
        t = {"numba": [], "numpy": []}
        for _ in range(max(repeats, 2)):
            for e in t:
                t[e].append(sims.run(p, opt, steps, batch=200, noise=noise, engine=e).wall_time)
        a = sims.run(p, opt, steps, batch=200, noise=noise, engine="numba")
        b = sims.run(p, opt, steps, batch=200, noise=noise, engine="numpy")
        rel = float(np.nanmax(np.abs(a.loss - b.loss) / np.abs(b.loss)))
        rows.append({"covariance": cov, "steps": steps, "batch": 200, "numba_seconds": min(t["numba"]),
                     "numpy_seconds": min(t["numpy"]), "speedup": min(t["numpy"]) / min(t["numba"]),
                     "max_rel_diff": rel, "load_avg": os.getloadavg()[0]})
    return rows


def torch_loop(problem, opt, batch, steps):
    """Plain ``torch.optim`` loop: one (batch, d_l) parameter per block, autograd, float64."""
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    w0 = initial_points(problem, batch, 0)
    hs = [torch.tensor(h) for h in problem.operator_blocks]
    offs = np.cumsum([0, *[h.shape[0] for h in problem.operator_blocks]])
    ws = [torch.tensor(problem.w_star[a:b]) for a, b in zip(offs[:-1], offs[1:])]
    params = [torch.tensor(w0[:, a:b].copy(), requires_grad=True) for a, b in zip(offs[:-1], offs[1:])]
    if type(opt) is sims.AdamW:
        topt = torch.optim.AdamW(params, lr=opt.lr, betas=(opt.beta1, opt.beta2), eps=opt.eps,
                                 weight_decay=opt.weight_decay)
    elif isinstance(opt, sims.Adam):
        topt = torch.optim.Adam(params, lr=opt.lr, betas=(opt.beta1, opt.beta2), eps=opt.eps)
    elif type(opt) is sims.Lion:
        from lion_pytorch import Lion  # the published package (test extra)
        topt = Lion(params, lr=opt.lr, betas=(opt.beta1, opt.beta2), weight_decay=opt.weight_decay)
    elif type(opt) is sims.SGD:
        topt = torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, dampening=opt.dampening,
                               nesterov=opt.nesterov, weight_decay=opt.weight_decay)
    else:
        topt = torch.optim.SGD(params, lr=opt.lr)

    def go():
        for _ in range(steps):
            topt.zero_grad()
            loss = sum(0.5 * ((p - s) @ h * (p - s)).sum() for p, s, h in zip(params, ws, hs))
            loss.backward()
            topt.step()
    return _timed(go)


def torch_loop_per_run(problem, opt, batch, steps):
    """The plain torch loop run one instance at a time (batch 1), as a script that loops over
    seeds would: timed for a tenth of the steps on one run and scaled by batch × steps."""
    timed = max(10, steps // 10)
    return torch_loop(problem, opt, 1, timed) * batch * steps / timed


# -- the table --------------------------------------------------------------------------------
def cases(*, quick: bool = False) -> list:
    """(size, optimizer name, problem, optimizer, batch, steps) of every benchmark case."""
    out = []
    for size, (blocks, n, batch, steps) in SIZES.items():
        p = make_problem(blocks, n)
        for oname, opt in optimizers(p).items():
            out.append((size, oname, p, opt, batch, max(10, steps // 10) if quick else steps))
    return out


TORCH = {"torch-loop": torch_loop, "torch-loop per run (scaled)": torch_loop_per_run}


def torch_timings(*, quick: bool, repeats: int) -> dict:
    """Seconds of the torch baselines per (size, optimizer, engine), measured in a fresh process.

    torch's OpenMP runtime and numba's OpenMP pool slow each other down several-fold when they
    share a process (the torch Adam loop ran 6.5x slower after one numba call), so the torch
    loops never run beside numba.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "torch.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--torch-only", str(out), "--repeats", str(repeats)]
        subprocess.run(cmd + (["--quick"] if quick else []), check=True)
        return {tuple(k.split("|")): v for k, v in json.loads(out.read_text()).items()}


def _torch_only(out: Path, *, quick: bool, repeats: int) -> None:
    secs = {f"{size}|{oname}|{e}": min(fn(p, opt, batch, steps) for _ in range(repeats))
            for size, oname, p, opt, batch, steps in cases(quick=quick) for e, fn in TORCH.items()}
    out.write_text(json.dumps(secs))


def measure(*, quick: bool = False, repeats: int | None = None) -> dict:
    """Run every size × optimizer × engine; return the table as a JSON-able dict."""
    repeats = repeats or (1 if quick else 3)
    load_start = os.getloadavg()
    roof = gemm_roof()
    label, batched_run = batched_numpy()
    engines = {"numba": run_engine("numba"), "numpy": run_engine("numpy"), label: batched_run}
    todo = cases(quick=quick)
    secs = torch_timings(quick=quick, repeats=repeats)
    for e in ("numpy", label, "numba"):  # numba last: its thread pool stays alive afterwards
        for size, oname, p, opt, batch, steps in todo:
            if e == "numba":
                engines[e](p, opt, batch, 2)  # compile / load the cache outside the timing
            secs[size, oname, e] = min(engines[e](p, opt, batch, steps)
                                       for _ in range(repeats if e != "numpy" else 1))
    engines.update(TORCH)
    rows = []
    for size, oname, p, opt, batch, steps in todo:
        fl = flops(p, batch, steps)
        for e in engines:
            s = secs[size, oname, e]
            rows.append({"size": size, "optimizer": oname, "engine": e, "blocks": len(p.sizes),
                         "n": p.sizes[0], "batch": batch, "steps": steps, "seconds": s,
                         "gflops": fl / s / 1e9, "roof_fraction": fl / s / 1e9 / roof,
                         "speedup_vs_torch": secs[size, oname, "torch-loop"] / s,
                         "speedup_vs_torch_per_run": secs[size, oname, "torch-loop per run (scaled)"] / s,
                         "speedup_vs_batched": secs[size, oname, label] / s})
    kernel = kernel_ratios(quick=quick, repeats=repeats)
    stoch = stochastic(quick=quick, repeats=repeats)
    return {"roof_gflops": roof, "quick": quick, "batched_baseline": label, "kernel_vs_old": kernel,
            "stochastic": stoch,
            "machine": {"cpus": os.cpu_count(), "processor": platform.processor(),
                        "load_avg_start": load_start, "load_avg": os.getloadavg()},
            "versions": sims.versions(), "rows": rows}


def markdown(table: dict) -> str:
    head = (f"GEMM roof (numpy float64, same run): {table['roof_gflops']:.1f} GFLOP/s; "
            f"load average {table['machine']['load_avg_start'][0]:.2f} → "
            f"{table['machine']['load_avg'][0]:.2f} (1 min) on {table['machine']['cpus']} CPUs"
            f"{' (quick)' if table['quick'] else ''}\n\n"
            "| size | opt | engine | seconds | GFLOP/s | % roof | × torch loop | × torch per run "
            "| × batched numpy |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n")
    body = "".join(
        f"| {r['size']} | {r['optimizer']} | {r['engine']} | {r['seconds']:.4g} | {r['gflops']:.2f} | "
        f"{100 * r['roof_fraction']:.1f} | {r['speedup_vs_torch']:.1f} | {r['speedup_vs_torch_per_run']:.0f} | "
        f"{r['speedup_vs_batched']:.2f} |\n"
        for r in table["rows"])
    kern = "\n| size | opt | old kernel s | new s | new × old | load |\n|---|---|---:|---:|---:|---:|\n" + "".join(
        f"| {r['size']} | {r['optimizer']} | {r['old_seconds']:.4g} | {r['new_seconds']:.4g} | "
        f"{r['speedup']:.2f} | {r['load_avg']:.1f} |\n" for r in table.get("kernel_vs_old", []) if "speedup" in r)
    sto = ("\n| noise (zhang2024-case1, Adam, batch 200) | steps | numba s | numpy s | numba × numpy "
           "| max rel diff | load |\n|---|---:|---:|---:|---:|---:|---:|\n") + "".join(
        f"| {r['covariance']} | {r['steps']} | {r['numba_seconds']:.4g} | {r['numpy_seconds']:.4g} | "
        f"{r['speedup']:.1f} | {r['max_rel_diff']:.1e} | {r['load_avg']:.1f} |\n" for r in table.get("stochastic", []))
    return head + body + kern + sto


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x fewer steps, one repeat")
    ap.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the table ({RESULTS})")
    ap.add_argument("--repeats", type=int, default=None, help="best of this many runs (default 3, quick 1)")
    ap.add_argument("--torch-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.torch_only is not None:  # child process of torch_timings
        return _torch_only(args.torch_only, quick=args.quick, repeats=args.repeats or 1)
    table = measure(quick=args.quick, repeats=args.repeats)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(table, indent=1))
    print(markdown(table))
    return table


if __name__ == "__main__":
    main()
