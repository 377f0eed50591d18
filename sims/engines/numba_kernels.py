"""Compiled kernels of the numba engine (THEORY §1 quadratic, §3 GD, §4 Adam, §9.2 sign descent).

One parallel entry point, ``advance``, runs a list of *units*. A unit is one *group* of operator
tiles (a contiguous run of tiles that no Adam-mini partition block crosses, so it evolves
independently of the rest of the model) times a range of instance columns; it advances ``steps``
iterations with the iterations innermost, so the tiles H_b of the group stay in cache. Inside a
unit the state is copied into contiguous scratch of shape (rows, width), instances innermost:

* width > 1 — formulation (a), instance-blocked: the per-step matvecs of the ``width`` instances
  are one small matrix–matrix product H_b @ E_b (instances as columns);
* width = 1 — formulation (b), per-(instance, block): column-update matvecs g += H[:, k]·e_k.

Both are the same ``block_product`` helper and accumulate every output over k in the same order
with separate multiply and add (``fastmath=False``), so they are bit-identical per instance and an
instance never depends on which other instances share its unit. The optimizer family is an integer
scalar (GD, MOMENTUM, SIGN, ADAM, NORM, LAMB, SOPHIA, SM3: the records of
``sims.optimizers.FAMILIES``), one compiled kernel for all of them; every hyper-parameter is per
run (per column). Within a family, small integer switches select the rule: Adam's direction (Adam,
NAdam, RAdam), its weight decay (none, coupled, decoupled) and Adam-mini's block reducer (mean,
max, min, 2-norm); SGD's ``nesterov``; normalized GD or clipping. Block norms (LAMB's trust ratio,
the norms) sum squares in coordinate order inside a unit, which holds whole blocks; Sophia's
Hutchinson u ⊙ Hu uses the gradient's own tile product on the Rademacher draws.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

import types

from .. import noise as _noise

GD, SIGN, ADAM, MOMENTUM, NORM, LAMB, SOPHIA, SM3 = 0, 1, 2, 3, 4, 5, 6, 7
NORMALIZED, CLIPPED = 0, 1                     # NormRecord.kind
CLIP_EPS = 1e-6                                # torch's clip_grad_norm_ (sims.optimizers.normalized)
ADAM_STEP, NADAM_STEP, RADAM_STEP = 0, 1, 2   # AdamRecord.variant
NO_DECAY, COUPLED, DECOUPLED = 0, 1, 2         # AdamRecord.decay
R_MEAN, R_MAX, R_MIN, R_NORM = 0, 1, 2, 3      # AdamRecord.reducer
NO_NOISE, IDENTITY_NOISE, HESSIAN_NOISE = 0, 1, 2
_OPTS = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)


def _compiled(fn, **helpers):
    """``fn``'s own code compiled by numba, its global helper functions replaced by compiled ones."""
    return njit(**_OPTS)(types.FunctionType(fn.__code__, {**fn.__globals__, **helpers}, fn.__name__))


# the counter-based stream of sims.noise, compiled from the very code the numpy engine runs
_splitmix64 = _compiled(_noise.splitmix64)
_uniform = _compiled(_noise.uniform)
_normal_pair = _compiled(_noise.normal_pair, splitmix64=_splitmix64, uniform=_uniform)


@njit(**_OPTS)
def block_product(h, hb, e, out, r, n):
    """out[r:r+n] = H @ e[r:r+n] for (rows, width) scratch; H is the symmetric n × n tile stored
    row-major in ``h`` from offset ``hb``.

    Every output is summed over k = 0, 1, … with a separate multiply and add, whatever the width,
    so (a) and (b) agree bit for bit. In (a), two output rows and four k per pass over the
    columns (same order per output; each load of E feeds two rows, a quarter of the output
    loads and stores). The loops index views with bare loop counters: numba then drops its
    negative-index select and LLVM vectorizes the innermost loop.
    """
    hh = h[hb:hb + n * n].reshape((n, n))
    ee = e[r:r + n]
    oo = out[r:r + n]
    width = e.shape[1]
    k4 = n - n % 4
    if width == 1:  # (b): column updates down contiguous rows of H (H[k, j] = H[j, k])
        for j in range(n):
            oo[j, 0] = 0.0
        for k in range(0, k4, 4):
            x0, x1, x2, x3 = ee[k, 0], ee[k + 1, 0], ee[k + 2, 0], ee[k + 3, 0]
            for j in range(n):
                oo[j, 0] = (((oo[j, 0] + hh[k, j] * x0) + hh[k + 1, j] * x1) + hh[k + 2, j] * x2) + hh[k + 3, j] * x3
        for k in range(k4, n):
            x0 = ee[k, 0]
            for j in range(n):
                oo[j, 0] += hh[k, j] * x0
        return
    j = 0
    while j + 2 <= n:  # (a): rows j, j+1 of H times the instance columns of E (each E load feeds both)
        for c in range(width):
            oo[j, c] = 0.0
            oo[j + 1, c] = 0.0
        for k in range(0, k4, 4):
            a0, a1, a2, a3 = hh[j, k], hh[j, k + 1], hh[j, k + 2], hh[j, k + 3]
            b0, b1, b2, b3 = hh[j + 1, k], hh[j + 1, k + 1], hh[j + 1, k + 2], hh[j + 1, k + 3]
            for c in range(width):
                x0, x1, x2, x3 = ee[k, c], ee[k + 1, c], ee[k + 2, c], ee[k + 3, c]
                oo[j, c] = (((oo[j, c] + a0 * x0) + a1 * x1) + a2 * x2) + a3 * x3
                oo[j + 1, c] = (((oo[j + 1, c] + b0 * x0) + b1 * x1) + b2 * x2) + b3 * x3
        for k in range(k4, n):
            a0, b0 = hh[j, k], hh[j + 1, k]
            for c in range(width):
                oo[j, c] += a0 * ee[k, c]
                oo[j + 1, c] += b0 * ee[k, c]
        j += 2
    if j < n:  # odd n: the last row alone, same order
        for c in range(width):
            oo[j, c] = 0.0
        for k in range(0, k4, 4):
            a0, a1, a2, a3 = hh[j, k], hh[j, k + 1], hh[j, k + 2], hh[j, k + 3]
            for c in range(width):
                oo[j, c] = (((oo[j, c] + a0 * ee[k, c]) + a1 * ee[k + 1, c]) + a2 * ee[k + 2, c]) + a3 * ee[k + 3, c]
        for k in range(k4, n):
            a0 = hh[j, k]
            for c in range(width):
                oo[j, c] += a0 * ee[k, c]


@njit(**_OPTS)
def _sign(x):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x  # 0 → 0, NaN → NaN (np.sign)


@njit(**_OPTS)
def _adam_step(variant, wi, gi, mi, vr, s0, s1, s2, s3, ep):
    """w after the step of one coordinate from the moments m and the (reduced) second moment vr.

    Per-column scalars: ADAM s0 = f·lr/c1, s1 = 1/c2; NADAM s0, s1 = the two addcdiv values,
    s2 = 1 − β2^t; RADAM s0 = f·lr, s1 = 1 − β1^t, s2 = (1 − β2^t)^½, s3 = r_t (≤ 0: un-adapted).
    Zero numerators leave w as it is (0/0 := 0 when ε = 0, ``optimizers.scaled``).
    """
    if variant == ADAM_STEP:
        if mi != 0.0:
            wi = wi - s0 * (mi / (np.sqrt(vr) * s1 + ep))
    elif variant == NADAM_STEP:  # torch: denom = √(v/(1−β2^t)) + ε; two addcdiv
        d = np.sqrt(vr / s2) + ep
        if gi != 0.0:
            wi = wi + (s0 * gi) / d
        if mi != 0.0:
            wi = wi + (s1 * mi) / d
    elif mi != 0.0:  # RADAM
        bcm = mi / s1
        if s3 > 0.0:
            wi = wi - ((bcm * s0) * (s2 / (np.sqrt(vr) + ep))) * s3
        else:
            wi = wi - bcm * s0
    return wi


@njit(**_OPTS)
def _update(family, t, w, g, m, v, e, lr, wstar, sq, sq_sum, vids, vcounts, factors, c1, c2, extra,
            b1, b2, ep, wd, dp, lrc, corr, step_c, inv_c2, sc, v0_g0sq, v_block, variant, decay, nesterov, reducer):
    """One optimizer step on (rows, width) scratch; also e ← w − w* for the next product.

    Per-run hyper-parameters are per column c: ``lr`` (rows, width) for GD, momentum SGD and sign
    descent, ``lrc``, ``b1``, ``b2``, ``ep`` (width,) for the Adam family, ``b1`` the momentum μ
    and ``dp`` the dampening of SGD, ``b1``/``b2`` Lion's (Signum's) betas, ``wd`` the weight decay
    (coupled for SGD and ``decay == COUPLED``, decoupled for sign descent and ``DECOUPLED``);
    ``corr[c]`` is the column of the per-step tables ``factors``, ``c1``/``c2`` and ``extra``
    (``numba._kernel_tables``: one column per distinct schedule and hyper tuple). Every family uses
    exactly the operations of its ``sims.optimizers`` update, except that with bias correction
    Adam applies lr·(f/(1−β1^t)) and √v·(1/√(1−β2^t)) — one division per step and run instead of
    two per coordinate — which moves results by about one ulp per step. With the momentum family
    the input ``g`` is overwritten by g + λ·w (the engine recomputes g right after).
    """
    rows, width = w.shape
    if family != ADAM:
        for c in range(width):
            step_c[c] = factors[t, corr[c]]
    if family == GD:
        for i in range(rows):
            ws = wstar[i]
            for c in range(width):
                w[i, c] = w[i, c] - (step_c[c] * lr[i, c]) * g[i, c]
                e[i, c] = w[i, c] - ws
    elif family == MOMENTUM:  # torch.optim.SGD: buf = g at t = 0, then μ·buf + (1−δ)·g
        first = t == 0
        for i in range(rows):
            ws = wstar[i]
            for c in range(width):
                gi = g[i, c] + wd[c] * w[i, c]
                mu = b1[c]
                d = gi
                if mu != 0.0:
                    b = gi if first else mu * m[i, c] + (1.0 - dp[c]) * gi
                    m[i, c] = b
                    d = gi + mu * b if nesterov else b
                w[i, c] = w[i, c] - (step_c[c] * lr[i, c]) * d
                e[i, c] = w[i, c] - ws
    elif family == SIGN:  # Lion's order; Signum: b1 = b2, wd = 0 (w·1 = w exactly)
        for i in range(rows):
            ws = wstar[i]
            for c in range(width):
                gi, mi = g[i, c], m[i, c]
                b = b1[c] * mi + (1.0 - b1[c]) * gi
                m[i, c] = b2[c] * mi + (1.0 - b2[c]) * gi
                lt = step_c[c] * lr[i, c]
                w[i, c] = w[i, c] * (1.0 - lt * wd[c]) - lt * _sign(b)
                e[i, c] = w[i, c] - ws
    else:
        if decay != NO_DECAY:
            for c in range(width):
                step_c[c] = lrc[c] * factors[t, corr[c]]
            for i in range(rows):
                for c in range(width):
                    if decay == COUPLED:  # torch: grad.add(param, alpha=λ)
                        g[i, c] = g[i, c] + wd[c] * w[i, c]
                    else:  # torch: param.mul_(1 − lr·λ)
                        w[i, c] = w[i, c] * (1.0 - step_c[c] * wd[c])
        if v_block and reducer == R_MEAN:  # block mean of g², summed in coordinate order like np.add.at
            sq_sum[:] = 0.0
            for i in range(rows):
                acc = sq_sum[vids[i]]
                for c in range(width):
                    acc[c] += g[i, c] * g[i, c]
            for i in range(rows):
                acc, n = sq_sum[vids[i]], vcounts[vids[i]]
                for c in range(width):
                    sq[i, c] = acc[c] / n
        else:
            for i in range(rows):
                for c in range(width):
                    sq[i, c] = g[i, c] * g[i, c]
        first = v0_g0sq and t == 0
        for c in range(width):  # the variant's per-run scalars of step t
            u, f = corr[c], factors[t, corr[c]]
            if variant == ADAM_STEP:  # exactly 1 and 1 without bias correction (c1 = c2 = 1)
                step_c[c] = sc[0, c] = lrc[c] * (f / c1[t, u])
                inv_c2[c] = sc[1, c] = 1.0 / c2[t, u]
            elif variant == NADAM_STEP:
                lt = lrc[c] * f
                sc[0, c] = (-lt * extra[t, u, 1]) / extra[t, u, 2]
                sc[1, c] = (-lt * extra[t, u, 3]) / extra[t, u, 4]
                sc[2, c] = extra[t, u, 0]
            else:
                sc[0, c] = lrc[c] * f
                sc[1, c] = extra[t, u, 0]
                sc[2, c] = extra[t, u, 1]
                sc[3, c] = extra[t, u, 2]
        if v_block and reducer != R_MEAN:  # Adam's v per coordinate, the step from its block max/min/2-norm
            for i in range(rows):
                for c in range(width):
                    vi = sq[i, c] if first else v[i, c]
                    m[i, c] = b1[c] * m[i, c] + (1.0 - b1[c]) * g[i, c]
                    v[i, c] = b2[c] * vi + (1.0 - b2[c]) * sq[i, c]
            _block_reduce(v, sq, sq_sum, vids, reducer)
            for i in range(rows):
                ws = wstar[i]
                for c in range(width):
                    w[i, c] = _adam_step(variant, w[i, c], g[i, c], m[i, c], sq[i, c],
                                         sc[0, c], sc[1, c], sc[2, c], sc[3, c], ep[c])
                    e[i, c] = w[i, c] - ws
        elif variant == ADAM_STEP:  # the hot path, spelled out (1-D scalars, no call): as fast as before
            for i in range(rows):
                ws = wstar[i]
                for c in range(width):
                    vi = sq[i, c] if first else v[i, c]
                    mi = b1[c] * m[i, c] + (1.0 - b1[c]) * g[i, c]
                    vi = b2[c] * vi + (1.0 - b2[c]) * sq[i, c]
                    m[i, c] = mi
                    v[i, c] = vi
                    if mi != 0.0:  # 0/0 := 0 when eps = 0 (``optimizers.scaled``)
                        w[i, c] = w[i, c] - step_c[c] * (mi / (np.sqrt(vi) * inv_c2[c] + ep[c]))
                    e[i, c] = w[i, c] - ws
        else:
            for i in range(rows):
                ws = wstar[i]
                for c in range(width):
                    vi = sq[i, c] if first else v[i, c]
                    mi = b1[c] * m[i, c] + (1.0 - b1[c]) * g[i, c]
                    vi = b2[c] * vi + (1.0 - b2[c]) * sq[i, c]
                    m[i, c] = mi
                    v[i, c] = vi
                    w[i, c] = _adam_step(variant, w[i, c], g[i, c], mi, vi, sc[0, c], sc[1, c], sc[2, c],
                                         sc[3, c], ep[c])
                    e[i, c] = w[i, c] - ws


@njit(**_OPTS)
def _maxnan(a, b):
    """np.maximum: the larger, NaN if either is NaN."""
    return a if (a > b or a != a) else b


@njit(**_OPTS)
def _minnan(a, b):
    """np.minimum: the smaller, NaN if either is NaN."""
    return a if (a < b or a != a) else b


@njit(**_OPTS)
def _part_norms(x, red, vids):
    """red[p, c] = ‖x[·, c]‖₂ over the coordinates of partition block p (squares summed in
    coordinate order); blocks outside the unit's rows are 0."""
    rows, width = x.shape
    red[:] = 0.0
    for i in range(rows):
        acc = red[vids[i]]
        for c in range(width):
            acc[c] += x[i, c] * x[i, c]
    for p in range(red.shape[0]):
        for c in range(width):
            red[p, c] = np.sqrt(red[p, c])


@njit(**_OPTS)
def _update_norm(t, w, g, e, wstar, red, vids, factors, lrc, sc, corr, step_c, kind):
    """Normalized GD / norm clipping per partition block (NormRecord); sc = ε or max_norm."""
    rows, width = w.shape
    for c in range(width):
        step_c[c] = factors[t, corr[c]] * lrc[c]
    _part_norms(g, red, vids)
    for i in range(rows):
        nrm, ws = red[vids[i]], wstar[i]
        for c in range(width):
            gi = g[i, c]
            if kind == CLIPPED:  # torch: clip_coef.clamp(max=1)
                w[i, c] = w[i, c] - step_c[c] * (gi * _minnan(sc[c] / (nrm[c] + CLIP_EPS), 1.0))
            elif gi != 0.0:  # 0/0 := 0 (``optimizers.scaled``)
                w[i, c] = w[i, c] - step_c[c] * (gi / (nrm[c] + sc[c]))
            e[i, c] = w[i, c] - ws


@njit(**_OPTS)
def _update_lamb(t, w, g, m, v, e, u, wstar, red, red2, vids, factors, c1, c2, b1, b2, ep, wd, clamp, lrc,
                 corr, step_c):
    """LAMB (LambRecord): Adam's direction plus λw in ``u``, one trust ratio per partition block."""
    rows, width = w.shape
    for c in range(width):
        step_c[c] = factors[t, corr[c]] * lrc[c]
    for i in range(rows):
        for c in range(width):
            gi, k = g[i, c], corr[c]
            mi = b1[c] * m[i, c] + (1.0 - b1[c]) * gi
            vi = b2[c] * v[i, c] + (1.0 - b2[c]) * (gi * gi)
            m[i, c] = mi
            v[i, c] = vi
            mh = mi / c1[t, k]
            r = 0.0 if mh == 0.0 else mh / (np.sqrt(vi / c2[t, k]) + ep[c])
            u[i, c] = r + wd[c] * w[i, c]
    _part_norms(w, red, vids)
    _part_norms(u, red2, vids)
    for i in range(rows):
        wn_, un_, ws = red[vids[i]], red2[vids[i]], wstar[i]
        for c in range(width):
            wn, un = _minnan(wn_[c], clamp[c]), un_[c]
            trust = 1.0 if (wn == 0.0 or un == 0.0) else wn / (un + ep[c])
            w[i, c] = w[i, c] - step_c[c] * (trust * u[i, c])
            e[i, c] = w[i, c] - ws


@njit(**_OPTS)
def _rademacher(z, keys, t, r0, d):
    """z[i, c] = ±1: the top bit of splitmix64(key_c ^ (t·d + r0 + i)) (``sophia.rademacher``)."""
    rows, width = z.shape
    base = np.uint64(t) * np.uint64(d) + np.uint64(r0)
    for i in range(rows):
        ci = base + np.uint64(i)
        for c in range(width):
            z[i, c] = 1.0 if (_splitmix64(keys[c] ^ ci) >> np.uint64(63)) == np.uint64(1) else -1.0


@njit(**_OPTS)
def _update_sophia(t, w, g, m, h, e, est, hutch, hdiag, wstar, factors, b1, b2, gamma, ep, wd, lrc, corr, step_c, k):
    """Sophia (SophiaRecord); ``est`` the Hutchinson u ⊙ Hu of this step when ``hutch`` (else diag(H))."""
    rows, width = w.shape
    for c in range(width):
        step_c[c] = factors[t, corr[c]] * lrc[c]
    refresh = t % k == 0
    for i in range(rows):
        ws = wstar[i]
        for c in range(width):
            mi = b1[c] * m[i, c] + (1.0 - b1[c]) * g[i, c]
            m[i, c] = mi
            if refresh:
                h[i, c] = b2[c] * h[i, c] + (1.0 - b2[c]) * (est[i, c] if hutch else hdiag[i])
            lt = step_c[c]
            wi = w[i, c] - (lt * wd[c]) * w[i, c]
            ratio = mi / _maxnan(gamma[c] * h[i, c], ep[c])
            ratio = 1.0 if ratio > 1.0 else (-1.0 if ratio < -1.0 else ratio)
            w[i, c] = wi - lt * ratio
            e[i, c] = w[i, c] - ws


@njit(**_OPTS)
def _sm3_ghat(gi, nu, ep):
    return 0.0 if gi == 0.0 else gi / np.sqrt(nu + ep)


@njit(**_OPTS)
def _update_sm3(t, w, g, m, acc, e, gh, X, cnew, wstar, r0, c0, blk, boff, bshape, xoff, factors, mom, beta, ep,
                lrc, corr, step_c):
    """SM3 with momentum (SM3Record): per-coordinate accumulators ``acc`` on vector blocks, row and
    column accumulators in ``X`` (rows xoff[b]…, then columns, of the global state) on matrix blocks."""
    rows, width = w.shape
    for c in range(width):
        step_c[c] = factors[t, corr[c]] * lrc[c]
    for b in range(blk[r0], blk[r0 + rows - 1] + 1):
        lo, hi = boff[b] - r0, boff[b + 1] - r0
        R, C = bshape[b, 0], bshape[b, 1]
        if R == 0:  # a vector block: every coordinate its own cover (AdaGrad / its EMA)
            for i in range(lo, hi):
                for c in range(width):
                    keep = beta[c] if beta[c] > 0.0 else 1.0
                    gi, old = g[i, c], acc[i, c]
                    nu = keep * old + (1.0 - beta[c]) * (gi * gi)
                    acc[i, c] = _maxnan(old, nu)
                    gh[i, c] = _sm3_ghat(gi, nu, ep[c])
            continue
        xr, xc = xoff[b], xoff[b] + R
        for j in range(C):
            for c in range(width):
                cnew[j, c] = X[xc + j, c0 + c]
        for a in range(R):
            for c in range(width):
                keep = beta[c] if beta[c] > 0.0 else 1.0
                fresh = 1.0 - beta[c]
                rold = X[xr + a, c0 + c]
                rmax = rold
                for j in range(C):
                    i = lo + a * C + j
                    gi = g[i, c]
                    nu = keep * _minnan(rold, X[xc + j, c0 + c]) + fresh * (gi * gi)
                    gh[i, c] = _sm3_ghat(gi, nu, ep[c])
                    rmax = _maxnan(rmax, nu)
                    cnew[j, c] = _maxnan(cnew[j, c], nu)
                X[xr + a, c0 + c] = rmax
        for j in range(C):
            for c in range(width):
                X[xc + j, c0 + c] = cnew[j, c]
    for i in range(rows):
        ws = wstar[i]
        for c in range(width):
            mi = mom[c] * m[i, c] + (1.0 - mom[c]) * gh[i, c]
            m[i, c] = mi
            w[i, c] = w[i, c] - step_c[c] * mi
            e[i, c] = w[i, c] - ws


@njit(**_OPTS)
def _block_reduce(v, out, red, vids, reducer):
    """out[i] = max / min / 2-norm of v over the partition block of coordinate i (in coordinate order)."""
    rows, width = v.shape
    seen = np.zeros(red.shape[0], dtype=np.bool_)
    for i in range(rows):
        b = vids[i]
        acc = red[b]
        if not seen[b]:
            seen[b] = True
            for c in range(width):
                acc[c] = v[i, c] * v[i, c] if reducer == R_NORM else v[i, c]
            continue
        for c in range(width):
            x = v[i, c]
            if reducer == R_MAX:
                acc[c] = x if (x > acc[c] or x != x) else acc[c]
            elif reducer == R_MIN:
                acc[c] = x if (x < acc[c] or x != x) else acc[c]
            else:
                acc[c] += x * x
    for i in range(rows):
        acc = red[vids[i]]
        for c in range(width):
            out[i, c] = np.sqrt(acc[c]) if reducer == R_NORM else acc[c]


@njit(**_OPTS)
def _gradient(e, g, hflat, hoff, toff, t_lo, t_hi, r0):
    """g = H e over the tiles of one group."""
    for tt in range(t_lo, t_hi):
        block_product(hflat, hoff[tt], e, g, toff[tt] - r0, toff[tt + 1] - toff[tt])


@njit(**_OPTS)
def _stats(e2, g2, blk, r0, c0, s, acc, lossp, gsqp):
    """Per problem block and column: Σ e·g and Σ g² into slot s (summed in coordinate order).

    Sums build in the small contiguous ``acc`` (2, blocks of the group, width) and are written
    to the (steps, blocks, runs) outputs once per step.
    """
    rows, width = e2.shape
    b0 = blk[r0]
    acc[:] = 0.0
    for i in range(rows):
        al = acc[0, blk[r0 + i] - b0]
        ag = acc[1, blk[r0 + i] - b0]
        for c in range(width):
            al[c] += e2[i, c] * g2[i, c]
            ag[c] += g2[i, c] * g2[i, c]
    for b in range(acc.shape[1]):
        for c in range(width):
            lossp[s, b0 + b, c0 + c] = acc[0, b, c]
            gsqp[s, b0 + b, c0 + c] = acc[1, b, c]


@njit(**_OPTS)
def _noisy(t, g, gu, z, xi, keys, r0, d, sflat, hoff, toff, t_lo, t_hi, noise_kind, sigma):
    """gu = g + σ·ξ for step t: ξ = z or S z (tiles ``sflat``), z from the counter-based stream."""
    rows, width = g.shape
    tu, hu = np.uint64(t), np.uint64((d + 1) // 2)
    i = 0
    while i < rows:  # coordinate j = r0 + i takes the cosine (j even) or the sine (j odd) of pair j // 2
        j = r0 + i
        qu = np.uint64(j // 2)
        both = j % 2 == 0 and i + 1 < rows
        for c in range(width):
            z0, z1 = _normal_pair(keys[c], tu, qu, hu)
            if j % 2 == 0:
                z[i, c] = z0
                if both:
                    z[i + 1, c] = z1
            else:
                z[i, c] = z1
        i += 2 if both else 1
    if noise_kind == HESSIAN_NOISE:
        _gradient(z, xi, sflat, hoff, toff, t_lo, t_hi, r0)
    else:
        xi[:, :] = z
    for i in range(rows):
        for c in range(width):
            gu[i, c] = g[i, c] + sigma * xi[i, c]


@njit(**_OPTS)
def _run_unit(u, prime, W, G, M, V, X, LR, wstar, hflat, hoff, toff, gtile, blk, vids, vcounts,
              ug, uc0, uw, usteps, t0, factors, c1, c2, extra, lrc, beta1, beta2, eps, wd, damp, aux, corr, family,
              v0_g0sq, v_block, n_parts, variant, decay, nesterov, reducer, lossp, gsqp, keys, sflat,
              noise_kind, sigma, boff, bshape, xoff, hdiag, hkeys, sophia_k, hutch):
    grp = ug[u]
    t_lo, t_hi = gtile[grp], gtile[grp + 1]
    r0, r1 = toff[t_lo], toff[t_hi]
    rows, c0, width = r1 - r0, uc0[u], uw[u]
    w = np.empty((rows, width))
    g = np.empty((rows, width))
    m = np.empty((rows, width))
    v = np.empty((rows, width))
    e = np.empty((rows, width))
    sq = np.empty((rows, width))
    coord_lr = family == GD or family == SIGN or family == MOMENTUM  # lr per coordinate (LR), else per run
    lr = np.empty((rows if coord_lr else 1, width))
    sq_sum = np.empty((n_parts if v_block else 1, width))
    red2 = np.empty((n_parts if family == LAMB else 1, width))
    cnew = np.empty((max(1, np.max(bshape[:, 1])) if family == SM3 else 1, width))
    hutching = family == SOPHIA and hutch
    zh, xh = np.empty((rows, width) if hutching else (1, 1)), np.empty((rows, width) if hutching else (1, 1))
    hku = hkeys[c0:c0 + width] if hutching else hkeys[:1]
    hd = hdiag[r0:r1] if family == SOPHIA and not hutch else hdiag[:1]
    acc = np.empty((2, blk[r1 - 1] - blk[r0] + 1, width))
    b1, b2, ep, lrcu = np.empty(width), np.empty(width), np.empty(width), np.empty(width)
    wdu, dpu, auxu = np.empty(width), np.empty(width), np.empty(width)
    cu, step_c, inv_c2 = np.empty(width, dtype=np.int64), np.empty(width), np.empty(width)
    sc = np.zeros((4, width))
    for c in range(width):
        b1[c], b2[c], ep[c] = beta1[c0 + c], beta2[c0 + c], eps[c0 + c]
        wdu[c], dpu[c], auxu[c] = wd[c0 + c], damp[c0 + c], aux[c0 + c]
        lrcu[c], cu[c] = lrc[c0 + c], corr[c0 + c]
    wsg, vg = wstar[r0:r1], vids[r0:r1]
    noisy = noise_kind != NO_NOISE
    shape = (rows, width) if noisy else (1, 1)
    gu, z, xi = np.empty(shape), np.empty(shape), np.empty(shape)
    ku = keys[c0:c0 + width] if noisy else keys[:1]
    for i in range(rows):
        for c in range(width):
            w[i, c] = W[r0 + i, c0 + c]
            g[i, c] = G[r0 + i, c0 + c]
            m[i, c] = M[r0 + i, c0 + c]
            v[i, c] = V[r0 + i, c0 + c]
    if coord_lr:
        for i in range(rows):
            for c in range(width):
                lr[i, c] = LR[r0 + i, c0 + c]
    if prime:
        for i in range(rows):
            for c in range(width):
                e[i, c] = w[i, c] - wsg[i]
        _gradient(e, g, hflat, hoff, toff, t_lo, t_hi, r0)
        _stats(e, g, blk, r0, c0, 0, acc, lossp, gsqp)
    for s in range(usteps[u]):
        if noisy:
            _noisy(t0 + s, g, gu, z, xi, ku, r0, W.shape[0], sflat, hoff, toff, t_lo, t_hi, noise_kind, sigma)
        gs = gu if noisy else g  # outside the call: numba rejects inline control flow in a 30+ argument call
        t = t0 + s
        if family == NORM:
            _update_norm(t, w, gs, e, wsg, sq_sum, vg, factors, lrcu, ep, cu, step_c, variant)
        elif family == LAMB:
            _update_lamb(t, w, gs, m, v, e, sq, wsg, sq_sum, red2, vg, factors, c1, c2, b1, b2, ep, wdu, auxu,
                         lrcu, cu, step_c)
        elif family == SOPHIA:
            if hutching and t % sophia_k == 0:  # u ⊙ Hu: H acts within the group's tiles
                _rademacher(zh, hku, t, r0, W.shape[0])
                _gradient(zh, xh, hflat, hoff, toff, t_lo, t_hi, r0)
                for i in range(rows):
                    for c in range(width):
                        xh[i, c] = zh[i, c] * xh[i, c]
            _update_sophia(t, w, gs, m, v, e, xh, hutching, hd, wsg, factors, b1, b2, auxu, ep, wdu, lrcu, cu,
                           step_c, sophia_k)
        elif family == SM3:
            _update_sm3(t, w, gs, m, v, e, sq, X, cnew, wsg, r0, c0, blk, boff, bshape, xoff, factors, b1, b2, ep,
                        lrcu, cu, step_c)
        else:
            _update(family, t, w, gs, m, v, e, lr, wsg, sq, sq_sum, vg, vcounts, factors,
                    c1, c2, extra, b1, b2, ep, wdu, dpu, lrcu, cu, step_c, inv_c2, sc, v0_g0sq, v_block, variant,
                    decay, nesterov, reducer)
        _gradient(e, g, hflat, hoff, toff, t_lo, t_hi, r0)
        _stats(e, g, blk, r0, c0, s, acc, lossp, gsqp)
    for i in range(rows):
        for c in range(width):
            W[r0 + i, c0 + c] = w[i, c]
            G[r0 + i, c0 + c] = g[i, c]
            M[r0 + i, c0 + c] = m[i, c]
            V[r0 + i, c0 + c] = v[i, c]


@njit(parallel=True, **_OPTS)
def advance(prime, W, G, M, V, X, LR, wstar, hflat, hoff, toff, gtile, blk, vids, vcounts,
            ug, uc0, uw, usteps, t0, factors, c1, c2, extra, lrc, beta1, beta2, eps, wd, damp, aux, corr, family,
            v0_g0sq, v_block, n_parts, variant, decay, nesterov, reducer, lossp, gsqp, loss_tot, gsq_tot, keys,
            sflat, noise_kind, sigma, boff, bshape, xoff, hdiag, hkeys, sophia_k, hutch):
    """Run every unit, then sum the per-block statistics of every run and step over blocks.

    Units touch disjoint state and every sum has a fixed order, so the result does not depend on
    thread scheduling. ``prime`` first computes g = H(w − w*) and its statistics into slot 0.
    """
    for u in prange(ug.size):
        _run_unit(u, prime, W, G, M, V, X, LR, wstar, hflat, hoff, toff, gtile, blk, vids, vcounts,
                  ug, uc0, uw, usteps, t0, factors, c1, c2, extra, lrc, beta1, beta2, eps, wd, damp, aux, corr, family,
                  v0_g0sq, v_block, n_parts, variant, decay, nesterov, reducer, lossp, gsqp, keys, sflat,
                  noise_kind, sigma, boff, bshape, xoff, hdiag, hkeys, sophia_k, hutch)
    n_slots, n_blocks, n_runs = lossp.shape
    for c in prange(n_runs):
        for s in range(n_slots):
            a = 0.0
            b = 0.0
            for k in range(n_blocks):
                a += lossp[s, k, c]
                b += gsqp[s, k, c]
            loss_tot[s, c] = 0.5 * a
            gsq_tot[s, c] = b
