"""Steps to a target loss against the batch size under three gradient-noise models (THEORY §8.4).

Problem: the noisy quadratic model (catalog ``nqm``: H = diag(1/i), d = 100). A mini-batch of B
samples is modelled as g̃ = ∇ℓ(w) + ξ/√B with E‖ξ‖² = σ²d under three covariances [C]:

- 'isotropic' — ξ = σz (``sims.GaussianNoise(σ)``'s stream);
- 'hessian'   — ξ = σ(d·H/tr H)^{1/2} z (``GaussianNoise(σ, covariance='hessian')``, the NQM);
- 'gradient'  — ξ_i = σ·√d·|g_i|/‖g‖·z_i: coordinate-wise noise scaled by the gradient itself, our
  reading of Tomihari & Sato's coordinate-wise noise–gradient correlation (Assm. 4.8, eq. 21) [C]
  (``sims.noise.GradientCorrelatedNoise(σ)``, whose z is the isotropic stream's).

All runs of one (noise model, optimizer) — every batch size × lr × init — step together through
the spec's pure ``init``/``update`` (per-run lr), one row each; the noise rows come from the
counter-based ``sims.noise`` stream, so a row's noise does not depend on the others. T(B) = the
first step with ℓ(w_t) ≤ TARGET·ℓ_0 (true loss), minimised over the lr grid per B (median over
inits). Critical batch size B* [C]: the smallest B with T(B) ≤ 2·T(B_max), log-interpolated —
McCandlish et al.'s S = S_min(1 + B_noise/B) gives T = 2 S_min at B = B_noise, and the largest
batch stands in for S_min.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad import problems, sims

NAME = "noise-models"
SOURCE = ("Tomihari & Sato 2025 (seed 001), Assm. 4.8 / Thm. 4.9 / App. H (stochastic setting); "
          "batch-size scaling on the noisy quadratic model (Zhang et al. 2019, not a seed)")
REPRODUCES = "Tomihari Assumption 4.8 / Thm. 4.9 (noise)"
MODELS = ("isotropic", "hessian", "gradient")
OPTIMIZERS = ("sgd", "momentum", "adam")
MOMENTUM = 0.9  # heavy ball (torch.optim.SGD semantics)
LABELS = {"sgd": "SGD", "momentum": "SGD + momentum", "adam": "Adam"}
TARGET = 0.05   # ℓ ≤ 5 % of ℓ_0 [C]: reachable by SGD at every batch size within the cap
SIGMA = 0.3     # E‖ξ‖² = σ²d per sample: noise-dominated at B = 1 (‖g0‖ ≈ 1.3 vs σ√d = 3) [C]
LRS = {"sgd": 2.0 ** np.arange(-6.0, 1.01, 1.0), "momentum": 2.0 ** np.arange(-9.0, 2.01, 1.0),
       "adam": 2.0 ** np.arange(-8.0, -0.99, 1.0)}  # 2/L = 2 is SGD's limit, 2(1+μ)/L = 3.8 heavy ball's
FIDELITY = {
    "tiny": dict(batches=(1, 8, 64), inits=3, steps=1500),
    "default": dict(batches=tuple(2 ** np.arange(0, 11)), inits=3, steps=3000),
    "full": dict(batches=tuple(2 ** np.arange(0, 13)), inits=20, steps=20000),
}
CAPTION = """
Steps to ℓ ≤ {target:g}·ℓ_0 against the batch size B on the noisy quadratic model (nqm: H =
diag(1/i), d = {d}, κ = {kappa:.0f}; w0 = w* + N(0, I), {inits} inits) with gradient noise ξ/√B,
E‖ξ‖² = σ²d, σ = {sigma:g} [C], under three covariances: isotropic σ²I, Hessian-shaped σ²d·H/tr H
(the NQM), and gradient-correlated, ξ_i ∝ |g_i| z_i (our reading of Tomihari & Sato's
coordinate-wise noise–gradient correlation, Assumption 4.8 eq. 21 [C]). SGD, SGD with momentum {momentum:g}
and Adam (torch semantics, β = ({beta1:g}, {beta2:g})) each take the lr that minimises the median steps
at that B, from 2^{{{sgd_lo:g}…{sgd_hi:g}}} (SGD), 2^{{{mom_lo:g}…{mom_hi:g}}} (momentum) and
2^{{{adam_lo:g}…{adam_hi:g}}} (Adam) [C]; at most {steps} steps.
Vertical lines: the critical batch size B* = smallest B with T(B) ≤ 2·T(B_max) [C] (McCandlish et
al.'s S = S_min(1 + B_noise/B), with the largest batch standing in for S_min). Measured B* (SGD /
momentum / Adam): {bstar}. Steps at B = 1 → B = {bmax}: {ends}. Tomihari Thm. 4.9 says the noise term has the
same σ-dependence for gradient- and sign-based methods up to constants (THEORY §8.4: shape
only, no constant to check); here {reading}
"""
SUMMARY = """
steps to {target:g}·ℓ_0 vs batch size under isotropic, Hessian-shaped and gradient-correlated noise;
critical batch B* (SGD / momentum / Adam): {bstar}
"""


def noise_rows(kind: str, stream_iso, stream_hess, t: int, g: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """ξ/√B of every row at step ``t`` (``scale`` = 1/√B per row); ``g`` the true gradients.

    'gradient' wraps the isotropic stream in ``sims.noise.GradientCorrelatedStream``: the rows of
    ``GradientCorrelatedNoise(σ, seed=s).stream`` when ``stream_iso`` is ``GaussianNoise(σ, seed=s)``'s.
    """
    if kind == "hessian":
        xi = stream_hess.at(t)
    elif kind == "gradient":
        xi = sims.noise.GradientCorrelatedStream(stream_iso).at(t, g)
    else:
        xi = stream_iso.at(t)
    return xi * scale[:, None]


def spec(name: str, lr: np.ndarray):
    if name == "momentum":
        return sims.SGD(lr=lr, momentum=MOMENTUM)
    return sims.GD(lr) if name == "sgd" else sims.Adam(lr)


def steps_to_target(p, name: str, kind: str, lr: np.ndarray, batch: np.ndarray, w0: np.ndarray, *,
                    steps: int, seed: int = 0, groups=None) -> np.ndarray:
    """First t with ℓ(w_t) ≤ TARGET·ℓ_0 per row (inf if not within ``steps``); rows = (lr, B, w0).

    ``groups`` (rows × ``group``, ``lr``): the loop stops once every group is settled — some lr of
    it has a majority of its inits at the target. Any lr without that majority then has a larger
    median, so the best median of every group is final; the unfinished rows stay inf.
    """
    n = w0.shape[0]
    iso = sims.GaussianNoise(SIGMA, seed=seed).stream(p, n)
    hess = sims.GaussianNoise(SIGMA, covariance="hessian", seed=seed).stream(p, n) if kind == "hessian" else None
    scale = 1.0 / np.sqrt(batch)
    opt = spec(name, lr)
    state = opt.init(p, w0)
    loss0 = p.loss(w0)
    hit = np.full(n, np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            g = p.grad(state.w)
            loss = 0.5 * np.sum((state.w - p.w_star) * g, axis=1)  # ℓ = ½eᵀHe = ½eᵀg: no second product
            hit[np.isinf(hit) & (loss <= TARGET * loss0)] = t
            if t == steps or not np.isinf(hit).any() or (groups is not None and settled(hit, *groups)):
                break
            state = opt.update(state, g + noise_rows(kind, iso, hess, t, g, scale))
    return hit


def settled(hit: np.ndarray, group: np.ndarray, lr_id: np.ndarray) -> bool:
    """Every group has an lr whose inits are mostly (strictly more than half) at the target."""
    done = np.isfinite(hit)
    key = group * (lr_id.max() + 1) + lr_id
    n = np.bincount(key, minlength=key.max() + 1)
    k = np.bincount(key, weights=done, minlength=key.max() + 1)
    ok_key = np.flatnonzero((n > 0) & (2 * k > n))
    return np.unique(group).size == np.unique(ok_key // (lr_id.max() + 1)).size


def compute(fidelity: str) -> xr.Dataset:
    cfg = FIDELITY[fidelity]
    p = problems.get("nqm")
    B = np.asarray(cfg["batches"], dtype=float)
    S, steps = cfg["inits"], cfg["steps"]
    w_init = sims.initial_points(p, S, 0)
    n_lr = max(len(v) for v in LRS.values())
    T = np.full((len(MODELS), len(OPTIMIZERS), n_lr, B.size, S), np.nan)
    lr_grid = np.full((len(OPTIMIZERS), n_lr), np.nan)
    for o, name in enumerate(OPTIMIZERS):
        lrs = LRS[name]
        lr_grid[o, :lrs.size] = lrs
        rows_lr = np.repeat(lrs, B.size * S)
        rows_b = np.tile(np.repeat(B, S), lrs.size)
        rows_w = np.tile(w_init, (lrs.size * B.size, 1))
        groups = (np.tile(np.repeat(np.arange(B.size), S), lrs.size), np.repeat(np.arange(lrs.size), B.size * S))
        for m, kind in enumerate(MODELS):
            hit = steps_to_target(p, name, kind, rows_lr, rows_b, rows_w, steps=steps, groups=groups)
            T[m, o, :lrs.size] = hit.reshape(lrs.size, B.size, S)
    return xr.Dataset(
        {"steps": (("noise", "optimizer", "lr_index", "batch", "init"), T),
         "lr": (("optimizer", "lr_index"), lr_grid)},
        coords={"noise": list(MODELS), "optimizer": list(OPTIMIZERS), "lr_index": np.arange(n_lr),
                "batch": B, "init": np.arange(S)},
        attrs={"target": TARGET, "sigma": SIGMA, "max_steps": steps, "d": p.d, "kappa": p.kappa,
               "beta1": 0.9, "beta2": 0.999},  # sims.Adam's defaults, used by ``spec``
    )


def tuned(data: xr.Dataset) -> xr.Dataset:
    """Per (noise, optimizer, B): the smallest median-over-inits steps over the lr grid, and its lr."""
    med = data.steps.median("init")  # NaN rows (padding of the shorter grid) stay NaN
    filled = med.fillna(np.inf)
    best = filled.argmin("lr_index")
    return xr.Dataset({"steps": filled.min("lr_index"), "lr": data.lr.isel(lr_index=best)})


def critical_batch(B: np.ndarray, T: np.ndarray) -> float:
    """Smallest B with T(B) ≤ 2·T(B_max), log-log interpolated between grid points; NaN if T(B_max)
    is not finite."""
    if not np.isfinite(T[-1]):
        return float("nan")
    ok = T <= 2 * T[-1]
    k = int(np.argmax(ok))
    if k == 0:
        return float(B[0])
    b0, b1, t0, t1 = np.log(B[k - 1]), np.log(B[k]), np.log(T[k - 1]) if np.isfinite(T[k - 1]) else None, np.log(T[k])
    if t0 is None:
        return float(B[k])
    target = np.log(2 * T[-1])
    return float(np.exp(b0 + (target - t0) * (b1 - b0) / (t1 - t0)))


def bstars(data: xr.Dataset) -> np.ndarray:
    tb = tuned(data).steps
    B = data.batch.values
    return np.array([[critical_batch(B, tb.sel(noise=m, optimizer=o).values) for o in data.optimizer.values]
                     for m in data.noise.values])


def facts(data: xr.Dataset) -> dict:
    from . import style

    tb = tuned(data).steps
    bs = bstars(data)
    B = data.batch.values

    def show(x):
        return style.num(x, 3) if np.isfinite(x) else "not reached"

    opts = list(data.optimizer.values)
    i_sgd, i_adam = opts.index("sgd"), opts.index("adam")
    bstar = "; ".join(f"{m} " + " / ".join(show(bs[i, j]) for j in range(len(opts)))
                      for i, m in enumerate(data.noise.values))
    ends = "; ".join(f"{m}: " + ", ".join(f"{LABELS[o]} {show(float(tb.sel(noise=m, optimizer=o)[0]))} → "
                                          f"{show(float(tb.sel(noise=m, optimizer=o)[-1]))}" for o in opts)
                     for m in data.noise.values)
    larger = [bool(bs[i, i_adam] > bs[i, i_sgd]) for i in range(bs.shape[0])
              if np.isfinite(bs[i, i_adam]) and np.isfinite(bs[i, i_sgd])]
    if not larger:
        reading = "B* is not defined for every optimizer at this fidelity."
    elif all(larger):
        reading = "Adam's critical batch size is larger than SGD's under every noise model (as Zhang et al. 2019 find on the NQM)."
    elif not any(larger):
        reading = "Adam's critical batch size is not larger than SGD's under any noise model."
    else:
        reading = (f"Adam's critical batch size is larger than SGD's under {sum(larger)} of {len(larger)} noise models: "
                   "the noise model, not the optimizer alone, sets it.")
    lo = lambda o: float(np.log2(np.nanmin(data.lr.sel(optimizer=o).values)))  # noqa: E731
    hi = lambda o: float(np.log2(np.nanmax(data.lr.sel(optimizer=o).values)))  # noqa: E731
    return {"target": data.attrs["target"], "d": int(data.attrs["d"]), "beta1": data.attrs["beta1"],
            "beta2": data.attrs["beta2"], "kappa": float(data.attrs["kappa"]),
            "inits": data.sizes["init"], "sigma": data.attrs["sigma"], "steps": int(data.attrs["max_steps"]),
            "sgd_lo": lo("sgd"), "sgd_hi": hi("sgd"), "adam_lo": lo("adam"), "adam_hi": hi("adam"),
            "mom_lo": lo("momentum"), "mom_hi": hi("momentum"), "momentum": MOMENTUM,
            "bstar": bstar, "bmax": int(B[-1]), "ends": ends, "reading": reading}


def plot(data: xr.Dataset):
    from . import style

    M = data.sizes["noise"]
    fig, axes = style.figure(M, 1, width=3.4, height=3.1, sharey=True)
    tb = tuned(data).steps
    bs = bstars(data)
    B = data.batch.values
    colors = {"sgd": style.color("gd"), "momentum": "#2ca02c", "adam": style.color("adam")}
    for i, m in enumerate(data.noise.values):
        ax = axes[0, i]
        for j, o in enumerate(data.optimizer.values):
            t = tb.sel(noise=m, optimizer=o).values
            fin = np.isfinite(t)
            ax.plot(B[fin], t[fin], "o-", color=colors[str(o)], label=LABELS[str(o)])
            if np.isfinite(bs[i, j]):
                ax.axvline(bs[i, j], color=colors[str(o)], linestyle="--", linewidth=0.9)
        t0 = float(tb.sel(noise=m, optimizer="sgd").values[0])
        if np.isfinite(t0):
            ax.plot(B, t0 * B[0] / B, ":", color="#7f7f7f", linewidth=0.8, label="perfect scaling ∝ 1/B")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size B")
        ax.set_title(f"({'abc'[i]}) {m} noise", fontsize=9)
    axes[0, 0].set_ylabel(f"steps to ℓ ≤ {data.attrs['target']:g}·ℓ_0 (best lr)")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
