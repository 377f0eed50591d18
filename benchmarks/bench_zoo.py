"""Every optimizer's engine throughput: ms/step, GFLOP/s, % of the GEMM roof and × a torch loop.

Every spec of ``sims.OPTIMIZERS`` (the registry is iterated; only the constructor arguments and
the torch counterparts are tabled here) runs on one problem with three matrix-shaped blocks and
one vector block (spectra 1..100, Haar-rotated), batch 16, 200 steps, on the fastest engine that
takes it here: numba where its ``unsupported(task)`` is None, else the batched array engine on
numpy (``engines.batched.simulate(task, xp=numpy)``); numba rows also time the batched numpy
engine, since on this problem (a few blocks of a few hundred coordinates) its BLAS GEMMs are
as fast as numba's loops. GFLOP/s count the matvec flops as
``bench_engines`` does (2·Σ n_b² per step per run); the roof is numpy's float64 GEMM measured in
the same run. The peer is a plain torch loop, float64, one parameter per block *and run* shaped
like the block (a matrix for a matrix block, so Shampoo/SOAP/Muon/SM3/Adafactor/CAME see
matrices), autograd, with the optimizer's own torch implementation; it runs in a fresh process
(torch's and numba's OpenMP pools slow each other down in one process). Repeats are interleaved
(all of ours, then the torch process, again ...) and the best of each is kept.

Run ``python benchmarks/bench_zoo.py [--quick] [--only a,b] [--json FILE]``. A benchmark, not a
test: nothing here fails on a slow machine.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engines import _timed, flops, gemm_roof  # noqa: E402  (the same flop count and roof)

from hetquad import sims  # noqa: E402
from hetquad.problems.quadratic import block_quadratic  # noqa: E402
from hetquad.sims import engines as _engines  # noqa: E402
from hetquad.sims.run import build_task, initial_points  # noqa: E402

SHAPES = [(32, 16), (16, 16), None, (24, 8)]  # three matrix blocks and one vector block
BATCH, STEPS, QUICK_STEPS = 16, 200, 20
RESULTS = Path(__file__).resolve().parent / "results" / "zoo.json"

# Constructor arguments per registry name (L = 100 on this problem); a name missing here is
# built from its defaults. Chosen so that no run diverges in STEPS steps (checked below).
KWARGS = {
    "gd": lambda p: dict(lr=1.0 / p.L), "blockwise-gd": lambda p: dict(lrs=[1.0 / e[-1] for e in p.block_eigvals]),
    "signsgd": lambda p: dict(lr=1e-3), "signum": lambda p: dict(lr=1e-3),
    "adam": lambda p: dict(lr=1e-3), "adam-mini": lambda p: dict(lr=1e-3), "rmsprop": lambda p: dict(lr=1e-3),
    "sgd": lambda p: dict(lr=0.5 / p.L, momentum=0.9), "adamw": lambda p: dict(lr=1e-3),
    "nadam": lambda p: dict(lr=1e-3), "radam": lambda p: dict(lr=1e-3), "lion": lambda p: dict(lr=1e-4),
    "lamb": lambda p: dict(lr=1e-3), "sm3": lambda p: dict(lr=0.05),
    "sophia": lambda p: dict(lr=1e-3, hessian="hutchinson"),  # the peer SophiaH draws Hutchinson too
    "normalized-gd": lambda p: dict(lr=1e-2), "clipped-gd": lambda p: dict(lr=1.0 / p.L),
    "shampoo": lambda p: dict(lr=1e-2, vector="diagonal"),
}


def make_problem():
    eigs = [np.geomspace(1.0, 100.0, s[0] * s[1] if s else 64) for s in SHAPES]
    return block_quadratic(eigs, seed=0, shapes=SHAPES, name="bench-zoo")


def specs(problem, only=None) -> dict:
    """{registry name: spec} of every optimizer (or of ``only``)."""
    names = list(sims.OPTIMIZERS) if not only else only
    unknown = [n for n in names if n not in sims.OPTIMIZERS]
    if unknown:
        raise ValueError(f"only must name optimizers of sims.OPTIMIZERS ({', '.join(sims.OPTIMIZERS)}), got {unknown}")
    return {n: sims.OPTIMIZERS[n](**KWARGS.get(n, lambda p: {})(problem)) for n in names}


# -- ours ---------------------------------------------------------------------------------------
def engine_for(task) -> str:
    """'numba' when it takes the task here, else 'batched-numpy'."""
    numba = _engines.get("numba")
    return "numba" if numba.is_available() and numba.unsupported(task) is None else "batched-numpy"


def run_ours(task, engine: str):
    if engine == "numba":
        return _engines.get("numba").simulate(task)
    from hetquad.sims.engines import batched
    return batched.simulate(task, xp=np)


# -- the torch peers ------------------------------------------------------------------------------
def _muon(params, o):
    """pytorch-optimizer Muon on the matrices + its AdamW group on the vectors; Newton–Schulz in
    float64 (the package's default is bfloat16), as in tests/sims/test_crosscheck_matrix.py."""
    import pytorch_optimizer as po
    from pytorch_optimizer.optimizer.muon import base
    if not isinstance(base.zero_power_via_newton_schulz_5, functools.partial):
        import torch
        base.zero_power_via_newton_schulz_5 = functools.partial(base.zero_power_via_newton_schulz_5,
                                                                dtype=torch.float64)
    mats = [q for q in params if q.ndim == 2]
    vecs = [q for q in params if q.ndim == 1]
    return po.Muon([dict(params=mats, use_muon=True, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov,
                         ns_steps=o.ns_steps, weight_decay=o.weight_decay),
                    dict(params=vecs, use_muon=False, lr=o.adam_lr, betas=(o.adam_beta1, o.adam_beta2),
                         eps=o.adam_eps, weight_decay=o.weight_decay)], foreach=False)


def _peer_table():
    """{registry name: (label, make(params, named, spec) -> torch optimizer)}; absent = no peer."""
    import torch
    import pytorch_optimizer as po
    T = torch.optim

    def lion(betas):
        from lion_pytorch import Lion
        return lambda ps, named, o: Lion(ps, lr=o.lr, betas=betas(o), weight_decay=getattr(o, "weight_decay", 0.0))

    def came(ps, named, o):
        from came_pytorch import CAME
        return CAME(ps, lr=o.lr, eps=(o.eps1, o.eps2), clip_threshold=o.clip_threshold,
                    betas=(o.beta1, o.beta2, o.beta3), weight_decay=o.weight_decay)

    def adam_mini(ps, named, o):
        from adam_mini import Adam_mini  # neutral names: one v per tensor, = partition 'blocks'
        return Adam_mini(named, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=0.0, verbose=False)

    return {
        "gd": ("torch SGD", lambda ps, named, o: T.SGD(ps, lr=o.lr)),
        "blockwise-gd": ("torch SGD, a param group per block", lambda ps, named, o: T.SGD(
            [dict(params=[q for k, q in named if k.startswith(f"block{l}_")], lr=o.lr * r) for l, r in enumerate(o.lrs)],
            lr=o.lr)),
        "signsgd": ("Lion β=(0,0) (= SignSGD)", lion(lambda o: (0.0, 0.0))),
        "signum": ("Lion β=(μ,μ) (= Signum)", lion(lambda o: (o.momentum, o.momentum))),
        "adam": ("torch Adam", lambda ps, named, o: T.Adam(ps, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps)),
        "adam-mini": ("adam_mini Adam_mini", adam_mini),
        "rmsprop": ("torch RMSprop", lambda ps, named, o: T.RMSprop(ps, lr=o.lr, alpha=o.beta2, eps=o.eps)),
        "sgd": ("torch SGD", lambda ps, named, o: T.SGD(ps, lr=o.lr, momentum=o.momentum, dampening=o.dampening,
                                                         nesterov=o.nesterov, weight_decay=o.weight_decay)),
        "adamw": ("torch AdamW", lambda ps, named, o: T.AdamW(ps, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps,
                                                             weight_decay=o.weight_decay)),
        "nadam": ("torch NAdam", lambda ps, named, o: T.NAdam(
            ps, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay,
            momentum_decay=o.momentum_decay, decoupled_weight_decay=o.decoupled_weight_decay)),
        "radam": ("torch RAdam", lambda ps, named, o: T.RAdam(
            ps, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay,
            decoupled_weight_decay=o.decoupled_weight_decay)),
        "lion": ("lion-pytorch Lion", lion(lambda o: (o.beta1, o.beta2))),
        "lamb": ("pytorch-optimizer Lamb", lambda ps, named, o: po.Lamb(
            ps, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay, weight_decouple=False)),
        "sm3": ("pytorch-optimizer SM3", lambda ps, named, o: po.SM3(ps, lr=o.lr, momentum=o.momentum, beta=o.beta,
                                                                      eps=o.eps)),
        "sophia": ("pytorch-optimizer SophiaH", lambda ps, named, o: po.SophiaH(
            ps, lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay, p=o.gamma, update_period=o.k,
            eps=o.eps)),
        "clipped-gd": ("torch SGD + clip_grad_norm_", lambda ps, named, o: T.SGD(ps, lr=o.lr)),
        "shampoo": ("pytorch-optimizer Shampoo", lambda ps, named, o: po.Shampoo(
            ps, lr=o.lr, matrix_eps=o.eps, preconditioning_compute_steps=o.update_freq)),
        "soap": ("pytorch-optimizer SOAP", lambda ps, named, o: po.SOAP(
            ps, lr=o.lr, betas=(o.beta1, o.beta2), shampoo_beta=o.shampoo_beta, eps=o.eps,
            weight_decay=o.weight_decay, precondition_frequency=o.precondition_frequency)),
        "muon": ("pytorch-optimizer Muon (NS float64)", lambda ps, named, o: _muon(ps, o)),
        "adafactor": ("torch Adafactor", lambda ps, named, o: T.Adafactor(
            ps, lr=o.lr, beta2_decay=o.beta2_decay, eps=(o.eps1, o.eps2), d=o.d, weight_decay=o.weight_decay)),
        "came": ("came-pytorch CAME", came),
    }


def torch_loop(problem, name, opt, batch, steps, *, threads: int = 1) -> float:
    """Seconds of ``steps`` steps of the torch peer: one float64 parameter per block and run,
    shaped like the block, the loss ½ Σ (w − w*)ᵀ H (w − w*) by autograd.

    ``threads``: torch's intra-op threads. 1 by default: its ops here are tiny, and on a shared
    2-core box two OpenMP threads made the Adam loop ~25x slower (550 vs 24 ms/step, load 5-8)."""
    import torch
    torch.set_num_threads(threads)
    _, make = _peer_table()[name]
    w0 = initial_points(problem, batch, 0)
    offs = np.cumsum([0, *problem.sizes])
    hs = [torch.tensor(np.asarray(h)) for h in problem.operator_blocks]
    ws = [torch.tensor(problem.w_star[a:b]) for a, b in zip(offs[:-1], offs[1:])]
    blocks = [[torch.tensor(w0[i, a:b].reshape(s or (b - a,)).copy(), requires_grad=True) for i in range(batch)]
              for a, b, s in zip(offs[:-1], offs[1:], problem.shapes)]
    params = [q for blk in blocks for q in blk]
    named = [(f"block{l}_run{i}", q) for l, blk in enumerate(blocks) for i, q in enumerate(blk)]
    topt = make(params, named, opt)
    hessian = name == "sophia"  # SophiaH's Hutchinson estimate differentiates the gradient
    clip = None
    if name == "clipped-gd":
        clip = (lambda: [torch.nn.utils.clip_grad_norm_(blk, opt.max_norm) for blk in blocks]) if opt.per_block \
            else (lambda: [torch.nn.utils.clip_grad_norm_([blk[i] for blk in blocks], opt.max_norm)
                           for i in range(batch)])  # global = over one run's blocks

    def go():
        for _ in range(steps):
            topt.zero_grad()
            loss = 0.0
            for blk, h, s in zip(blocks, hs, ws):
                e = torch.stack([q.reshape(-1) for q in blk]) - s
                loss = loss + 0.5 * ((e @ h) * e).sum()
            loss.backward(create_graph=hessian)
            if clip:
                clip()
            topt.step()
    secs = _timed(go)
    final = sum(float(q.detach().abs().sum()) for q in params)
    return secs if math.isfinite(final) else float("nan")


def _torch_only(out: Path, names: list, steps: int, threads: int) -> None:
    p = make_problem()
    table = _peer_table()
    out.write_text(json.dumps({n: torch_loop(p, n, o, BATCH, steps, threads=threads)
                               for n, o in specs(p, names).items() if n in table}))


def torch_timings(names: list, steps: int, threads: int = 1) -> dict:
    """{name: seconds} of every peer, in a fresh process (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "torch.json"
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--torch-only", str(out), "--only",
                        ",".join(names), "--steps", str(steps),
                        "--torch-threads", str(threads)], check=True)
        return json.loads(out.read_text())


# -- the table ----------------------------------------------------------------------------------
def measure(*, quick: bool = False, repeats: int | None = None, only=None, torch_threads: int = 1) -> dict:
    repeats = repeats or (1 if quick else 3)
    steps = QUICK_STEPS if quick else STEPS
    load_start = os.getloadavg()
    roof = gemm_roof()
    p = make_problem()
    opts = specs(p, only)
    tasks = {n: build_task(p, o, steps, batch=BATCH) for n, o in opts.items()}
    eng = {n: engine_for(t) for n, t in tasks.items()}
    for n, o in opts.items():  # compile / load numba's cache outside the timing
        if eng[n] == "numba":
            run_ours(build_task(p, o, 2, batch=BATCH), "numba")
    final = {}
    ours, batched, theirs = ({n: [] for n in opts} for _ in range(3))

    def timed(n, engine, into):
        t0 = time.perf_counter()
        tr = run_ours(tasks[n], engine)
        into[n].append(time.perf_counter() - t0)
        final[n] = float(np.max(tr.final_loss))
        if not np.isfinite(final[n]) or int(np.min(tr.iterations)) < steps:
            raise RuntimeError(f"{n}: the run stopped early or diverged (final loss {final[n]}); fix KWARGS")

    for _ in range(repeats):  # interleaved: ours, torch, ours, torch, ...
        for n in tasks:
            timed(n, eng[n], ours)
            if eng[n] == "numba":
                timed(n, "batched-numpy", batched)
        for n, s in torch_timings(list(opts), steps, torch_threads).items():
            theirs[n].append(s)
    labels = {n: lab for n, (lab, _) in _peer_table().items()}
    fl = flops(p, BATCH, steps)
    rows = []
    for n in opts:
        s = min(ours[n])
        ts = min(theirs[n]) if theirs[n] else None
        rows.append({"optimizer": n, "engine": eng[n], "steps": steps, "batch": BATCH, "seconds": s,
                     "ms_per_step": 1e3 * s / steps, "gflops": fl / s / 1e9, "roof_fraction": fl / s / 1e9 / roof,
                     "batched_numpy_ms_per_step": 1e3 * min(batched[n] or ours[n]) / steps,
                     "torch_peer": labels.get(n, "no torch peer"),
                     "torch_ms_per_step": None if ts is None else 1e3 * ts / steps,
                     "speedup_vs_torch": None if ts is None else ts / s, "final_loss_max": final[n],
                     "all_seconds": ours[n], "all_torch_seconds": theirs[n]})
    return {"roof_gflops": roof, "quick": quick, "repeats": repeats, "shapes": [list(s) if s else None for s in SHAPES],
            "d": p.d, "d_sq_sum": int(sum(n * n for n in p.sizes)), "torch_threads": torch_threads, "load_avg_start": load_start, "load_avg_end": os.getloadavg(), "cpus": os.cpu_count(),
            "versions": sims.versions(), "rows": rows}


def markdown(table: dict) -> str:
    head = (f"Blocks {table['shapes']} (d = {table['d']}), batch {BATCH}, {table['rows'][0]['steps']} steps, "
            f"best of {table['repeats']}; torch threads {table['torch_threads']}; GEMM roof (numpy float64, same run) {table['roof_gflops']:.1f} GFLOP/s; "
            f"load average {table['load_avg_start'][0]:.2f} → {table['load_avg_end'][0]:.2f} (1 min) on "
            f"{table['cpus']} CPUs{' (quick)' if table['quick'] else ''}\n\n"
            "| optimizer | engine | ms/step | GFLOP/s | % roof | batched numpy ms/step | torch peer "
            "| torch ms/step | × torch |\n|---|---|---:|---:|---:|---:|---|---:|---:|\n")

    def fmt(x, spec):
        return "–" if x is None else format(x, spec)
    return head + "".join(
        f"| {r['optimizer']} | {r['engine']} | {r['ms_per_step']:.3g} | {r['gflops']:.2f} | "
        f"{100 * r['roof_fraction']:.1f} | {r['batched_numpy_ms_per_step']:.3g} | {r['torch_peer']} | {fmt(r['torch_ms_per_step'], '.3g')} | "
        f"{fmt(r['speedup_vs_torch'], '.1f')} |\n" for r in table["rows"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps, one repeat")
    ap.add_argument("--only", default=None, help="comma-separated registry names (default: every optimizer)")
    ap.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the table ({RESULTS})")
    ap.add_argument("--repeats", type=int, default=None, help="best of this many (default 3, quick 1)")
    ap.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads of the peer (default 1)")
    ap.add_argument("--torch-only", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    only = args.only.split(",") if args.only else None
    if args.torch_only is not None:  # child process of torch_timings
        return _torch_only(args.torch_only, only, args.steps, args.torch_threads)
    table = measure(quick=args.quick, repeats=args.repeats, only=only, torch_threads=args.torch_threads)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(table, indent=1))
    print(markdown(table))
    return table


if __name__ == "__main__":
    main()
