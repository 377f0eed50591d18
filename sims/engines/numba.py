"""The compiled CPU engine: fused numba kernels, no Python per step (THEORY §1, §3, §4, §9.2).

Same semantics as the numpy engine (``tracking.py``), tested equal to it. The work is cut into
chunks of steps; within a chunk every unit (a group of operator tiles × a range of instances, see
``numba_kernels``) runs all the chunk's steps with the iterations innermost, writing the per-block
Σ e·g and Σ g² of every step. Between chunks the driver sums those over blocks, applies the stop
rules, records, and *rolls back* every run that stopped inside the chunk: it restores the run's
state at the chunk start and re-runs exactly the steps up to its stop, which reproduces the frozen
state bit for bit (a run's arithmetic never depends on the other runs). Stopped runs then leave the
active set, so later chunks skip them.

Formulation: (a) instance-blocked (``width`` instances per unit, a small GEMM per step) for wide
batches, (b) one instance per unit (column-update matvecs) for narrow ones; chosen by shape.

The optimizer arrives as its family record (``sims.optimizers.FAMILIES``: GDRecord,
MomentumRecord, SignRecord, AdamRecord, NormRecord, LambRecord, SophiaRecord, SM3Record) with one
value per run of every hyper-parameter; a column of the state carries its run's values, so a run
computes the same bits alone or in any batch. A record with a ``partition`` (Adam-mini's blocks,
LAMB's and the block norms' problem blocks, SM3's when a block is a matrix) makes every unit hold
whole partition blocks, so its block reductions stay inside the unit. State per run: W, G, M, V
(d rows) and X, SM3's row and column accumulators of the matrix blocks. ``GaussianNoise`` adds
σ·ξ from the counter-based stream of ``sims.noise`` (keyed by the run's index in the batch), so
a rollback re-draws exactly the same noise. Stop decisions are ``sims.stopping``'s.
"""
from __future__ import annotations

import math

import numpy as np

from .. import stopping
from ..optimizers import FAMILIES, AdamRecord, MomentumRecord, SignRecord
from ..optimizers.records import LambRecord, NormRecord, SM3Record, SophiaRecord
from . import Task, Trajectory
from ..noise import GaussianNoise, run_keys, scale_tiles
from . import batched

NAME = "numba"
FAMILY_CODES = {"gd": 0, "sign": 1, "adam": 2, "momentum": 3,  # numba_kernels.GD, SIGN, ADAM, MOMENTUM,
                "norm": 4, "lamb": 5, "sophia": 6, "sm3": 7}      # NORM, LAMB, SOPHIA, SM3
NORM_CODES = {"normalized": 0, "clipped": 1}                    # numba_kernels.NORMALIZED, CLIPPED
VARIANT_CODES = {"adam": 0, "nadam": 1, "radam": 2}             # numba_kernels.ADAM_STEP, NADAM_STEP, RADAM_STEP
DECAY_CODES = {"none": 0, "coupled": 1, "decoupled": 2}         # numba_kernels.NO_DECAY, COUPLED, DECOUPLED
REDUCER_CODES = {"mean": 0, "max": 1, "min": 2, "norm": 3}      # numba_kernels.R_MEAN, R_MAX, R_MIN, R_NORM
assert set(FAMILY_CODES) == set(FAMILIES), "every optimizer family needs its numba branch"
NARROW_BATCH = 8            # batches below this use formulation (b) (measured: batch 4 runs 2x faster in (b))
TILE_BYTES = 32 * 1024      # E scratch per unit (rows × width doubles) in formulation (a)
STATS_BYTES = 32 * 2**20    # memory for the per-step, per-block statistics of one chunk
MAX_CHUNK = 256             # steps per chunk (bounds the re-run work of a rollback)
MAX_WIDTH = 128             # instances per unit in formulation (a)

_FORCE = None  # private switch for tests: 'a' or 'b' forces a formulation


def unsupported(task: Task) -> str | None:
    """The array engines' lowering limits; of the noise models, GaussianNoise (counter-based stream)."""
    if task.noise is not None and not isinstance(task.noise, GaussianNoise):
        return f"{type(task.noise).__name__} runs on the numpy engine only (only GaussianNoise has a counter-based stream in the array engines)"
    if not hasattr(task.optimizer, "lower"):  # no numba rendering: the xp engines run its update
        return f"{type(task.optimizer).__name__} has no numba rendering (runs on the numpy and cupy engines)"
    return batched.lowering_limits(task)


def is_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def why_unavailable() -> str:
    return "" if is_available() else "numba is not installed"


# -- static layout ---------------------------------------------------------------------------
def _tiles(problem):
    tiles = [np.ascontiguousarray(h, dtype=np.float64) for h in problem.operator_blocks]
    sizes = np.array([h.shape[0] for h in tiles], dtype=np.int64)
    toff = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    hoff = np.concatenate([[0], np.cumsum(sizes * sizes)]).astype(np.int64)
    if toff[-1] != problem.d:
        raise ValueError(f"operator tiles cover {toff[-1]} coordinates, the problem has d = {problem.d}")
    return np.concatenate([h.ravel() for h in tiles]), hoff, toff


def _groups(toff: np.ndarray, vids: np.ndarray | None) -> np.ndarray:
    """Tile boundaries of the groups: tiles joined by an Adam-mini partition block merge."""
    n_tiles = toff.size - 1
    if vids is None:
        return np.arange(n_tiles + 1, dtype=np.int64)
    tile_of = np.searchsorted(toff, np.arange(toff[-1]), side="right") - 1
    lo = np.full(vids.max() + 1, n_tiles)
    hi = np.zeros(vids.max() + 1, dtype=np.int64)
    np.minimum.at(lo, vids, tile_of)
    np.maximum.at(hi, vids, tile_of)
    reach = np.arange(n_tiles)  # furthest tile each tile must be joined with
    np.maximum.at(reach, lo, hi)
    bounds, end = [0], 0
    for t in range(n_tiles):
        end = max(end, reach[t])
        if end == t:
            bounds.append(t + 1)
    return np.array(bounds, dtype=np.int64)


def _width(na: int, toff: np.ndarray, gtile: np.ndarray, formulation: str) -> int:
    if formulation == "b":
        return 1
    rows = int(np.max(np.diff(toff)))
    width = max(4, min(MAX_WIDTH, TILE_BYTES // (8 * rows)))
    threads = _threads()
    n_groups = gtile.size - 1
    while width > 4 and n_groups * math.ceil(na / width) < 2 * threads:
        width //= 2  # keep every core busy
    return min(width, na)


def _threads() -> int:
    import numba
    return int(numba.get_num_threads())


def _units(n_groups: int, na: int, width: int, steps: int):
    starts = np.arange(0, na, width, dtype=np.int64)
    ug = np.repeat(np.arange(n_groups, dtype=np.int64), starts.size)
    uc0 = np.tile(starts, n_groups)
    uw = np.minimum(width, na - uc0).astype(np.int64)
    return ug, uc0, uw, np.full(ug.size, steps, dtype=np.int64)


def choose_formulation(n: int) -> str:
    """'a' (instance-blocked) for batches of at least ``NARROW_BATCH``, else 'b'."""
    if _FORCE is not None:
        return _FORCE
    return "a" if n >= NARROW_BATCH else "b"


# -- driver ----------------------------------------------------------------------------------
def simulate(task: Task) -> Trajectory:
    from . import numba_kernels as K
    K_NOISE = {"none": K.NO_NOISE, "identity": K.IDENTITY_NOISE, "hessian": K.HESSIAN_NOISE}

    p, n, steps = task.problem, task.n, task.steps
    rec = task.optimizer.lower(p, n, steps)
    family = next(k for k, cls in FAMILIES.items() if isinstance(rec, cls))
    hflat, hoff, toff = _tiles(p)
    part = getattr(rec, "partition", None)  # Adam-mini's, LAMB's and the norms' blocks, SM3's matrix blocks
    vids = None if part is None else np.ascontiguousarray(part.ids, dtype=np.int64)
    gtile = _groups(toff, vids)
    n_groups = gtile.size - 1
    sizes = np.asarray(p.sizes, dtype=np.int64)
    blk = np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)
    B = sizes.size
    if vids is None:
        vids, vcounts, n_parts = np.zeros(p.d, dtype=np.int64), np.ones(1), 1
    else:
        vcounts = np.asarray(part.counts, dtype=np.float64)
        n_parts = int(vcounts.size)
    # per-run arrays (one entry per column of the state); compacted with it as runs stop
    runs = _per_run_arrays(rec, n)
    noise = task.noise
    runs["keys"] = run_keys(noise.seed, n) if noise is not None else np.zeros(n, dtype=np.uint64)
    sflat = np.zeros(1)
    if noise is not None and noise.covariance == "hessian":
        sflat = np.concatenate([s.ravel() for s in scale_tiles(p)])
    static = dict(wstar=np.ascontiguousarray(p.w_star, dtype=np.float64), hflat=hflat, hoff=hoff,
                  toff=toff, gtile=gtile, blk=blk, vids=vids, vcounts=vcounts,
                  **_kernel_tables(task, rec if family in ("adam", "lamb") else None, runs),
                  family=FAMILY_CODES[family], v0_g0sq=family == "adam" and rec.v0 == "g0sq",
                  v_block=part is not None, n_parts=n_parts, sflat=sflat, **_flags(rec),
                  noise_kind=(K_NOISE["none"] if noise is None else K_NOISE[noise.covariance]),
                  sigma=0.0 if noise is None else float(noise.sigma), **_block_layout(p, rec))
    formulation = choose_formulation(n)

    # state, (d, n): one column per active run
    W = np.ascontiguousarray(task.w0.T, dtype=np.float64)
    G, M, V = np.zeros_like(W), np.zeros_like(W), np.zeros_like(W)
    X = np.zeros((max(1, int(static["xsize"])), n))  # SM3's row and column accumulators of matrix blocks
    del static["xsize"]
    ids = np.arange(n)
    R = task.record.size
    out_loss, out_gn = np.full((n, R), np.nan), np.full((n, R), np.nan)
    out_bn = np.full((n, R, B), np.nan) if task.per_block else None
    iterations, stop = np.zeros(n, dtype=np.int64), np.full(n, stopping.StopCode.STEPS, dtype=np.int8)
    final, w_final = np.full(n, np.nan), np.empty((n, p.d))

    kmax = max(1, min(MAX_CHUNK, steps, STATS_BYTES // (16 * B * n)))
    bufs = [np.empty(kmax * B * n) for _ in range(2)] + [np.empty(kmax * n) for _ in range(2)]

    def run(prime, units, t0, k):
        """Advance ``units`` from step t0; per-step statistics of the k steps, (k, [B,] na)."""
        na = W.shape[1]
        lossp, gsqp = (b[:k * B * na].reshape(k, B, na) for b in bufs[:2])
        loss, gsq = (b[:k * na].reshape(k, na) for b in bufs[2:])
        K.advance(prime, W, G, M, V, X, ug=units[0], uc0=units[1], uw=units[2], usteps=units[3],
                  t0=t0, lossp=lossp, gsqp=gsqp, loss_tot=loss, gsq_tot=gsq, **runs, **static)
        return loss, gsq, gsqp

    width = _width(n, toff, gtile, formulation)
    loss0, gsq, gsqp = run(True, _units(n_groups, n, width, 0), 0, 1)
    loss0 = loss0[0].copy()
    threshold = stopping.divergence_threshold(loss0)
    final[:] = loss0
    _record(out_loss, out_gn, out_bn, ids, np.array([0]), loss0[None], gsq, gsqp if task.per_block else None)

    t = 0
    while t < steps and ids.size:
        na = ids.size
        k = min(kmax, steps - t)
        snap = (W.copy(), G.copy(), M.copy(), V.copy(), X.copy())
        width = _width(na, toff, gtile, formulation)
        loss, gsq, gsqp = run(False, _units(n_groups, na, width, k), t, k)
        diverged, hit = stopping.decide(loss, gsq, threshold=threshold[ids], tol=task.tol, loss0=loss0[ids])
        stopped = diverged | hit
        ends = np.where(stopped.any(axis=0), np.argmax(stopped, axis=0), k - 1)  # last step kept
        cols = np.arange(na)
        sel = (task.record > t) & (task.record <= t + k)
        slots, srel = np.flatnonzero(sel), task.record[sel] - t - 1
        keep = srel[:, None] <= ends[None, :]
        _record(out_loss, out_gn, out_bn, ids, slots, np.where(keep, loss[srel], np.nan),
                np.where(keep, gsq[srel], np.nan),
                np.where(keep[:, None, :], gsqp[srel], np.nan) if task.per_block else None)
        iterations[ids] = t + ends + 1
        final[ids] = loss[ends, cols]
        done = stopped[ends, cols]
        if done.any():
            stop[ids[done]] = np.where(diverged[ends, cols][done], stopping.StopCode.DIVERGED,
                                       stopping.StopCode.TOL)
            for a, b in zip((W, G, M, V, X), snap):  # rollback, then re-run to the stop step
                a[:, done] = b[:, done]
            dc = np.flatnonzero(done)
            units = (np.repeat(np.arange(n_groups, dtype=np.int64), dc.size), np.tile(dc, n_groups),
                     np.ones(dc.size * n_groups, dtype=np.int64), np.tile(ends[dc] + 1, n_groups))
            run(False, units, t, k)
            w_final[ids[done]] = W[:, done].T
            live = ~done
            W, G, M, V, X = (np.ascontiguousarray(a[:, live]) for a in (W, G, M, V, X))
            runs = {k: np.ascontiguousarray(a[..., live]) for k, a in runs.items()}
            ids = ids[live]
        t += k
    w_final[ids] = W.T
    return Trajectory(out_loss, out_gn, out_bn, iterations, stop, final, w_final)


def _block_layout(p, rec) -> dict:
    """The problem blocks' offsets and SM3 matrix shapes (0, 0 for a vector block), the rows of
    each matrix block's accumulators in the extra state X (r rows, then c columns), Sophia's
    exact diagonal, its k and whether it draws Hutchinson vectors."""
    B = len(p.sizes)
    boff = np.concatenate([[0], np.cumsum(p.sizes)]).astype(np.int64)
    bshape, xoff, xsize = np.zeros((B, 2), dtype=np.int64), np.zeros(B, dtype=np.int64), 0
    if isinstance(rec, SM3Record):
        for b, shape in enumerate(rec.shapes):
            if shape is not None:
                bshape[b], xoff[b] = shape, xsize
                xsize += shape[0] + shape[1]
    sophia = isinstance(rec, SophiaRecord)
    hdiag = rec.diag if sophia and rec.diag is not None else np.zeros(p.d)
    return dict(boff=boff, bshape=bshape, xoff=xoff, xsize=xsize, hdiag=np.ascontiguousarray(hdiag, dtype=np.float64),
                sophia_k=int(rec.k) if sophia else 1, hutch=sophia and rec.keys is not None)


def _kernel_tables(task: Task, adam, runs: dict) -> dict:
    """``factors``, ``c1``, ``c2`` (T, U) indexed by the per-run column id ``runs['corr']`` (updated).

    A column is a distinct (schedule, bias-correction pair): the schedule's factor table is
    (steps,) or, with per-run schedule parameters, (steps, n) (``sims.schedules``); Adam's bias
    tables have one column per distinct (β1, β2) (``rec.corr``).
    """
    steps = task.factors.shape[0]
    cols = task.factors if task.factors.ndim == 2 else task.factors[:, None]  # (steps, 1) or (steps, n)
    uniq, sid = np.unique(cols, axis=1, return_inverse=True) if cols.shape[1] > 1 else (cols, np.zeros(1, np.int64))
    sid = np.broadcast_to(sid.ravel(), (task.n,))
    corr = runs["corr"] if adam is not None else np.zeros(task.n, dtype=np.int64)
    joint, new = np.unique(np.stack([sid, corr], axis=1), axis=0, return_inverse=True)
    runs["corr"] = np.ascontiguousarray(new.ravel(), dtype=np.int64)
    T = max(steps, 1)
    factors = np.ones((T, joint.shape[0]))
    factors[:steps] = uniq[:, joint[:, 0]]
    if adam is None:
        ones = np.ones((1, joint.shape[0]))
        return dict(factors=factors, c1=ones, c2=ones, extra=np.ones((1, joint.shape[0], 1)))
    extra = adam.extra if isinstance(adam, AdamRecord) else np.ones(adam.c1.shape + (1,))
    return dict(factors=factors, c1=np.ascontiguousarray(adam.c1[:, joint[:, 1]]),
                c2=np.ascontiguousarray(adam.c2[:, joint[:, 1]]),
                extra=np.ascontiguousarray(extra[:, joint[:, 1]]))


def _flags(rec) -> dict:
    """The record's static switches as the kernel's integer codes (neutral for other families)."""
    adam = isinstance(rec, AdamRecord)
    variant = VARIANT_CODES[rec.variant] if adam else NORM_CODES[rec.kind] if isinstance(rec, NormRecord) else 0
    return dict(variant=variant,
                decay=DECAY_CODES[rec.decay] if adam else 0,
                nesterov=bool(rec.nesterov) if isinstance(rec, MomentumRecord) else False,
                reducer=REDUCER_CODES[rec.reducer] if adam else 0)


def _per_run_arrays(rec, n: int) -> dict:
    """The kernel's per-run arguments, last axis = runs: LR (d, n) for GD/momentum/sign, (1, n)
    unused for the others; lrc, beta1, beta2, eps, wd, damp, aux, corr, hkeys (n,) (unused ones
    hold neutral values). Momentum SGD: beta1 = μ, damp = δ; sign descent: beta1, beta2 = Lion's
    β1, β2; norms: eps = ε or max_norm; LAMB: aux = clamp; Sophia: aux = γ, hkeys its Hutchinson
    keys; SM3: beta1 = momentum, beta2 = β."""
    ones, zeros = np.ones(n), np.zeros(n)
    base = dict(LR=np.zeros((1, n)), lrc=ones, beta1=zeros, beta2=zeros, eps=zeros, wd=zeros, damp=zeros,
                aux=zeros, corr=np.zeros(n, dtype=np.int64), hkeys=np.zeros(n, dtype=np.uint64))
    per_run = _lowered_per_run(rec)
    if per_run is not None:
        return {**base, **{k: np.array(a, dtype=base[k].dtype) for k, a in per_run.items()}}
    out = dict(base, LR=np.ascontiguousarray(rec.lr.T))
    if isinstance(rec, SignRecord):
        out.update(beta1=rec.beta1.copy(), beta2=rec.beta2.copy(), wd=rec.weight_decay.copy())
    elif isinstance(rec, MomentumRecord):
        out.update(beta1=rec.momentum.copy(), damp=rec.dampening.copy(), wd=rec.weight_decay.copy())
    return out


def _lowered_per_run(rec) -> dict | None:
    """The per-run kernel arguments of the families with a per-run lr (None for the LR-matrix ones)."""
    if isinstance(rec, AdamRecord):
        return dict(lrc=rec.lr, beta1=rec.beta1, beta2=rec.beta2, eps=rec.eps, wd=rec.weight_decay,
                    corr=rec.corr.copy())
    if isinstance(rec, NormRecord):
        return dict(lrc=rec.lr, eps=rec.scale)
    if isinstance(rec, LambRecord):
        return dict(lrc=rec.lr, beta1=rec.beta1, beta2=rec.beta2, eps=rec.eps, wd=rec.weight_decay, aux=rec.clamp,
                    corr=rec.corr.copy())
    if isinstance(rec, SophiaRecord):
        out = dict(lrc=rec.lr, beta1=rec.beta1, beta2=rec.beta2, eps=rec.eps, wd=rec.weight_decay, aux=rec.gamma)
        return out if rec.keys is None else dict(out, hkeys=rec.keys)
    if isinstance(rec, SM3Record):
        return dict(lrc=rec.lr, beta1=rec.momentum, beta2=rec.beta, eps=rec.eps)
    return None


def _record(out_loss, out_gn, out_bn, ids, slots, loss, gsq, gsqp) -> None:
    """Write records at ``slots`` for runs ``ids``: loss and gsq (S, na), gsqp (S, B, na)."""
    if slots.size == 0:
        return
    ix = np.ix_(ids, slots)
    out_loss[ix] = loss.T
    out_gn[ix] = np.sqrt(gsq).T
    if out_bn is not None:
        out_bn[ix] = np.sqrt(gsqp).transpose(2, 0, 1)
