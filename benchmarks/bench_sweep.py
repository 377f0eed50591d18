"""Sweep benchmark (issue 15 item 9): the same 2176 Adam runs four ways, interleaved.

The grid: ``zhang2024-case3``, Adam, 17 lrs × 4 β1 × 4 β2 × 8 seeds, 300 steps, record every 10,
numba engine. Timed, each repetition in turn (interleaved), best of ``--repeat``:

- ``sweep local``: ``hetquad.sweep.execute`` with local workers (``--workers``; default: all cores,
  small work in-process) into a fresh directory: planning, the engine call(s), the Parquet part, the assembled table and netCDF;
- ``sweep dask``: the same through a dask cluster this script starts as processes (a scheduler
  and 2 single-threaded workers on loopback) and stops at the end;
- ``engine call``: one ``sims.run`` of the whole grid (``sims.grid``), the floor a sweep can reach;
- ``jax peer``: a jax + optax ``jit(vmap(scan))`` over the same grid, compile included (a peer
  written for comparison, not hetquad), when jax is importable (``pip install .[peer]``).

Excluded: interpreter start and imports (all paid before the first repetition). The first
repetition also pays numba's cached-kernel load and jax's compile; best-of takes the warm one for
hetquad and reports the jax peer both with and without its compile.

``--scale`` runs the same grid with 368 seeds (100,096 runs) once through ``hetquad.sweep.execute``
in a subprocess and reports its wall time, peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``
of that subprocess; with a pool, its workers are not counted), chunks and output sizes, and a
lazy ``hetquad.load``.

Run ``python benchmarks/bench_sweep.py [--repeat N] [--workers N] [--no-dask] [--scale] [--json FILE]``.
A benchmark, not a test: nothing fails on a slow machine. The load average is printed at start and
end: on a shared machine, quote it with the numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROBLEM = "zhang2024-case3"
LRS = np.geomspace(1e-4, 1.0, 17)
BETA1 = [0.0, 0.5, 0.9, 0.99]
BETA2 = [0.9, 0.99, 0.999, 0.9999]
STEPS, RECORD_EVERY = 300, 10


def toml(seeds: int) -> str:
    """The grid as a sweep config (fixed lrs, so no tuning: the same runs as the engine call)."""
    return f"""
[sweep]
steps = {STEPS}
seeds = {seeds}
engine = "numba"
record_every = {RECORD_EVERY}

[problem]
name = "{PROBLEM}"

[optimizers.adam]
lr = {[float(x) for x in LRS]}
beta1 = {BETA1}
beta2 = {BETA2}
"""


def config(seeds: int):
    import tomllib

    from hetquad import config as _config
    return _config.parse(tomllib.loads(toml(seeds)))


# -- the four ways -----------------------------------------------------------------------------------
def run_sweep(cfg, root: Path, *, workers: int | None, scheduler=None) -> float:
    from hetquad import sweep

    out = Path(tempfile.mkdtemp(dir=root))
    t0 = time.perf_counter()
    summary = sweep.execute(cfg, out / "s", workers=workers, scheduler=scheduler, progress=False)
    wall = time.perf_counter() - t0
    assert summary.ok == summary.runs == cfg.n_runs(), summary.lines()
    shutil.rmtree(out)
    return wall


def engine_call(seeds: int) -> float:
    from hetquad import problems, sims

    p = problems.get(PROBLEM)
    g = sims.grid(sims.Adam, seeds=range(seeds), lr=LRS, beta1=BETA1, beta2=BETA2)
    t0 = time.perf_counter()
    g.run(p, STEPS, engine="numba", record_every=RECORD_EVERY)
    return time.perf_counter() - t0


def jax_peer(seeds: int):
    """A jit(vmap(scan)) Adam over the grid, float64, compile included; None when jax is absent."""
    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError as exc:
        return None, f"jax/optax not importable ({exc.name}); pip install '.[peer]'"
    jax.config.update("jax_enable_x64", True)
    from hetquad import problems, sims

    p = problems.get(PROBLEM)
    g = sims.grid(sims.Adam, seeds=range(seeds), lr=LRS, beta1=BETA1, beta2=BETA2)
    H = jnp.asarray(p.hessian())  # dense d × d (d = 9 here)
    w_star = jnp.asarray(p.w_star)
    w0 = jnp.asarray(np.concatenate([sims.initial_points(p, 1, s) for s in g.seed]))
    hyper = {k: jnp.asarray(g.axes[k]) for k in ("lr", "beta1", "beta2")}

    def one(w, lr, b1, b2):
        opt = optax.adam(lr, b1=b1, b2=b2, eps=1e-8)

        def loss(w):
            d = w - w_star
            return 0.5 * d @ (H @ d)

        def step(carry, _):
            w, s = carry
            l, gr = jax.value_and_grad(loss)(w)
            u, s = opt.update(gr, s, w)
            return (optax.apply_updates(w, u), s), l

        (_, _), losses = jax.lax.scan(step, (w, opt.init(w)), None, length=STEPS)
        return losses[::RECORD_EVERY]

    fn = jax.jit(jax.vmap(one))
    t0 = time.perf_counter()
    fn(w0, hyper["lr"], hyper["beta1"], hyper["beta2"]).block_until_ready()
    with_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    fn(w0, hyper["lr"], hyper["beta1"], hyper["beta2"]).block_until_ready()
    return (with_compile, time.perf_counter() - t0), None


# -- a local dask cluster, as processes --------------------------------------------------------------
class Cluster:
    """A dask scheduler and 2 single-threaded workers on loopback, stopped by ``close``."""

    def __init__(self, root: Path, n_workers: int = 2):
        info = root / "scheduler.json"
        self.log = open(root / "cluster.log", "w")
        self.procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                                        "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
                                       stdout=self.log, stderr=subprocess.STDOUT)]
        deadline = time.monotonic() + 120
        while not info.exists():
            if time.monotonic() > deadline or self.procs[0].poll() is not None:
                self.close()
                raise RuntimeError(f"the dask scheduler did not start: {(root / 'cluster.log').read_text()[-500:]}")
            time.sleep(0.1)
        time.sleep(0.3)
        self.address = json.loads(info.read_text())["address"]
        self.procs += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                                         "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1", "--name",
                                         f"w{i}"], stdout=self.log, stderr=subprocess.STDOUT)
                       for i in range(n_workers)]
        from distributed import Client
        self.client = Client(self.address, timeout="60s")
        self.client.wait_for_workers(n_workers, timeout=180)

    def close(self):
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        for p in self.procs[::-1]:
            if p.poll() is None:
                p.terminate()
        for p in self.procs[::-1]:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.log.close()


# -- scale ---------------------------------------------------------------------------------------------
SCALE_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
import bench_sweep
from hetquad import sweep
import hetquad
cfg = bench_sweep.config({seeds})
t0 = time.perf_counter()
s = sweep.execute(cfg, {out!r}, workers={workers}, progress=False)
wall = time.perf_counter() - t0
t1 = time.perf_counter()
table, ds = hetquad.load({out!r}, lazy=True)
first = float(ds["loss"].isel(run=0, step=-1).values)
ds.close()
lazy = time.perf_counter() - t1
print(json.dumps({{"runs": s.runs, "ok": s.ok, "chunks": s.chunks_computed, "wall_s": wall, "lazy_load_s": lazy,
                  "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def scale(root: Path, *, seeds: int = 368, workers: int | None = None) -> dict:
    out = root / "scale"
    code = SCALE_CHILD.format(here=str(Path(__file__).resolve().parent), seeds=seeds, out=str(out),
                              workers=workers)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = time.perf_counter() - t0  # with interpreter start and imports
    res["bytes"] = {p.name: p.stat().st_size for p in out.iterdir() if p.is_file()}
    res["chunk_bytes"] = sum(p.stat().st_size for p in (out / "chunks").glob("*.parquet"))
    shutil.rmtree(out)
    return res


# -- main ------------------------------------------------------------------------------------------------
def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None,
                    help="local workers (default: all cores, small work in-process: hetquad.sweep.IN_PROCESS_SECONDS)")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--scale", action="store_true", help="also the 368-seed (100k-run) sweep")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    load0 = os.getloadavg()
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} ({os.cpu_count()} CPUs)")
    cfg = config(args.seeds)
    runs = cfg.n_runs()
    print(f"grid: {PROBLEM}, Adam, {len(LRS)} lrs x {len(BETA1)} beta1 x {len(BETA2)} beta2 x {args.seeds} seeds = "
          f"{runs} runs, {STEPS} steps, record every {RECORD_EVERY}")
    times: dict = {"sweep local": [], "sweep dask": [], "engine call": [], "jax peer (with compile)": [],
                   "jax peer (compiled)": []}
    notes = {}
    root = Path(tempfile.mkdtemp(prefix="hetquad-bench-sweep-"))
    cluster = None
    try:
        if not args.no_dask:
            try:
                cluster = Cluster(root)
            except Exception as exc:  # noqa: BLE001 — reported, the rest still runs
                notes["sweep dask"] = f"skipped: {exc}"
        else:
            notes["sweep dask"] = "skipped: --no-dask"
        for _ in range(args.repeat):  # interleaved: each way once per round
            times["engine call"].append(engine_call(args.seeds))
            times["sweep local"].append(run_sweep(cfg, root, workers=args.workers))
            if cluster is not None:
                times["sweep dask"].append(run_sweep(cfg, root, workers=2, scheduler=cluster.address))
            jx, why = jax_peer(args.seeds)
            if jx is None:
                notes["jax peer (with compile)"] = notes["jax peer (compiled)"] = f"skipped: {why}"
            else:
                times["jax peer (with compile)"].append(jx[0])
                times["jax peer (compiled)"].append(jx[1])
    finally:
        if cluster is not None:
            cluster.close()
    best = {k: min(v) for k, v in times.items() if v}
    engine = best["engine call"]
    targets = {"sweep local": 0.7, "sweep dask": 3.0}
    print()
    print("| way | best s | all s | x engine call | target |")
    print("|---|---:|---|---:|---|")
    for k, v in times.items():
        if not v:
            print(f"| {k} | - | {notes.get(k, '')} | | |")
            continue
        label = k + (" (a peer, not hetquad)" if k.startswith("jax") else "")
        tgt = f"<= {targets[k]} s, <= 1.5x engine" if k in targets else ""
        print(f"| {label} | {best[k]:.3f} | {', '.join(f'{x:.3f}' for x in v)} | {best[k] / engine:.2f} | {tgt} |")
    out = {"runs": runs, "repeat": args.repeat, "workers": args.workers, "times": times, "best": best,
           "notes": notes, "load_start": load0}
    if args.scale:
        print("\nscale: 368 seeds ...", flush=True)
        sc = scale(root, workers=args.workers)
        out["scale"] = sc
        print(f"scale: {sc['runs']} runs ({sc['ok']} ok) in {sc['chunks']} chunks: {sc['wall_s']:.1f} s in "
              f"sweep.execute ({sc['process_wall_s']:.1f} s with interpreter start), peak RSS "
              f"{sc['max_rss_mib']:.0f} MiB, lazy load {sc['lazy_load_s']:.2f} s; files {sc['bytes']}, "
              f"chunk parts {sc['chunk_bytes']} B (targets: <= 30 s, <= 1024 MiB)")
        out["per_run_s"] = sc["wall_s"] / sc["runs"]
    shutil.rmtree(root, ignore_errors=True)
    load1 = os.getloadavg()
    out["load_end"] = load1
    print(f"\nload average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
