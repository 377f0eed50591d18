"""Norm of a linear head's bias and weights over training (Tomihari & Sato Prop. 4.10, THEORY §8.5).

Sample-wise SignSGD moves every bias coordinate by η(2N_c − N) per epoch, the same sign every
epoch, so ‖b‖ grows linearly; full-batch SignSGD moves it by at most η per epoch, so its ‖b‖
grows at least N(1 − 2/C)× slower; momentum tames the growth only if 1/(1 − μ) ≳ C.

``sims.run`` returns only the final parameters, so this module drives the optimizer's public
pure ``init``/``update`` with ``sims.MiniBatch`` gradients and records w at every epoch end
(``param_path``; the same loop the numpy engine runs, checked equal to ``sims.run`` in the tests).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad import problems, sims

NAME = "tomihari-linear-head"
SOURCE = "Tomihari & Sato 2025 (seed 001), Fig. 5 and Prop. 4.10 (norm of the linear head)"
REPRODUCES = "Tomihari & Sato Fig. 5, Prop. 4.10"
CAPTION = """
Linear head (softmax cross-entropy on frozen synthetic features, problems.linear_head: N = {N}
samples, C = {C} balanced classes, k = {k} features) trained from w0 = 0 [C] for {epochs} epochs
with batch-1 cyclic epochs ('sample-wise', sims.MiniBatch(size=1, order='cyclic')) or one
full-batch step per epoch. (a) ‖b‖/√C (linear and (b) symlog scale, linear below the shaded band
edge {linthresh:g}) and (c) ‖W‖/√(Ck) ([T] eq. 216, symlog) vs epoch; median over {seeds} data
seeds (band: {band_lo}–{band_hi} %). Dashed: Prop. 4.10's prediction for sample-wise SignSGD,
‖b_E‖/√C = E·η‖2N_c − N‖/√C (= E·ηN(1 − 2/C) for balanced classes). (d) Full-batch training
loss per epoch. Settings [C]: SignSGD and Signum (μ = {mus}) with η = {lr:g} as in THEORY §8.5;
Adam (β = ({beta1:g}, {beta2:g}), ε = {adam_eps}, lr = η) and GD (lr = {gd_lr:g}) sample-wise; no lr
tuning — the figure is about the mechanism, not a race. [T] Fig. 5 uses ResNet18 on Flowers102
after fine-tuning, with each optimizer at its tuned lr; we use synthetic features (the bias
update of Prop. 4.10 does not depend on them). Measured (medians over seeds): sample-wise
SignSGD's bias norm grows linearly, {slope_sample:.3g} per epoch against the predicted
{slope_pred:.3g} (largest relative deviation {pred_dev:.1e}); full-batch SignSGD's bias is not bounded either but moves at most η per
epoch (one ±η step per coordinate and epoch): it ends at {full_end:.3g} (≤ η·E = {full_cap:.3g}),
{ratio:.0f}× below sample-wise (N(1 − 2/C) = {ratio_pred:.0f}); after {epochs} epochs Signum has {signum_fracs}
of SignSGD's bias norm, Adam {adam_frac:.2f} and GD {gd_frac:.2f}. Momentum reduces the growth only
partly when 1/(1 − μ) < C (THEORY §8.5, §11 (5)).
"""
SUMMARY = """
sample-wise SignSGD's bias norm grows linearly as predicted ({slope_sample:.3g} per epoch);
full-batch SignSGD's ends {ratio:.0f}× lower (at most η per epoch); Signum keeps {signum_fracs} of it
"""

FIDELITY = {
    "tiny": dict(n_samples=40, n_classes=10, n_features=5, epochs=5, seeds=2),
    "default": dict(n_samples=200, n_classes=50, n_features=20, epochs=20, seeds=5),
    "full": dict(n_samples=200, n_classes=50, n_features=20, epochs=50, seeds=20),
}
LR = 0.01      # η of the sign methods (THEORY §8.5)
GD_LR = 0.1    # [C]

# (key, optimizer factory, full batch?)
METHODS = (
    ("signsgd", lambda: sims.SignSGD(LR), False),
    ("signsgd-full-batch", lambda: sims.SignSGD(LR), True),
    ("signum-0.9", lambda: sims.Signum(LR, momentum=0.9), False),
    ("signum-0.99", lambda: sims.Signum(LR, momentum=0.99), False),
    ("adam", lambda: sims.Adam(LR), False),
    ("gd", lambda: sims.GD(GD_LR), False),
)
STYLE = {  # key -> (colour name in style.COLORS, label, line style)
    "signsgd": ("signsgd", "SignSGD (sample-wise)", "-"),
    "signsgd-full-batch": ("signsgd", "SignSGD (full batch)", ":"),
    "signum-0.9": ("signum", "Signum μ=0.9", "-"),
    "signum-0.99": ("signum", "Signum μ=0.99", "--"),
    "adam": ("adam", "Adam", "-"),
    "gd": ("gd", "GD", "-"),
}


def param_path(problem, optimizer, epochs: int, *, batch_size: int = 1, w0=None) -> np.ndarray:
    """Parameters at every epoch end, (epochs + 1, d), row 0 = w0 (default 0).

    Each epoch is ⌈N / batch_size⌉ cyclic mini-batch steps of ``optimizer`` through its pure
    ``init``/``update`` and ``sims.MiniBatch`` — the loop of the numpy engine, recording w.
    """
    return param_paths(problem, (optimizer,), epochs, batch_size=batch_size, w0=w0)[0]


def param_paths(problem, optimizers, epochs: int, *, batch_size: int = 1, w0=None) -> np.ndarray:
    """``param_path`` of several optimizers at once, (len(optimizers), epochs + 1, d).

    Cyclic mini-batches are the same for every run, so one ``problem.grad`` call per step serves
    all optimizers (their parameters stacked as rows): the loop's cost is the gradient, not the
    update. Each optimizer's own state and update are untouched.
    """
    noise = sims.MiniBatch(size=batch_size, order="cyclic")
    draw = noise.sampler(problem, 1)
    steps = -(-problem.n_samples // batch_size)
    states = [opt.init(problem, np.zeros(problem.d) if w0 is None else w0) for opt in optimizers]
    path = [np.stack([st.w[0] for st in states])]
    for _ in range(epochs):
        for _ in range(steps):
            g = noise.gradient(problem, np.concatenate([st.w for st in states]), draw)
            states = [opt.update(st, g[i:i + 1]) for i, (opt, st) in enumerate(zip(optimizers, states))]
        path.append(np.stack([st.w[0] for st in states]))
    return np.stack(path, axis=1)


def predicted_bias_norm(problem, lr: float, epochs) -> np.ndarray:
    """Prop. 4.10: ‖b_E − b_0‖/√C = E·η‖2N_c − N‖/√C for sample-wise SignSGD (THEORY §8.5)."""
    per_epoch = lr * np.linalg.norm(2.0 * problem.class_counts - problem.n_samples)
    return np.asarray(epochs, dtype=float) * per_epoch / np.sqrt(problem.n_classes)


def compute(fidelity: str) -> xr.Dataset:
    cfg = FIDELITY[fidelity]
    E, S = cfg["epochs"], cfg["seeds"]
    epochs = np.arange(E + 1)
    keys = [m[0] for m in METHODS]
    b_norm = np.zeros((len(keys), S, E + 1))
    w_norm = np.zeros_like(b_norm)
    loss = np.zeros_like(b_norm)
    pred = np.zeros((S, E + 1))
    for s in range(S):
        p = problems.get("linear-head", seed=s, n_samples=cfg["n_samples"], n_classes=cfg["n_classes"],
                         n_features=cfg["n_features"])
        pred[s] = predicted_bias_norm(p, LR, epochs)
        paths = {}
        for full in (False, True):  # one gradient per step for all sample-wise (all full-batch) methods
            idx = [i for i, m in enumerate(METHODS) if m[2] == full]
            got = param_paths(p, [METHODS[i][1]() for i in idx], E, batch_size=p.n_samples if full else 1)
            paths.update(zip(idx, got))
        for i in range(len(METHODS)):
            path = paths[i]
            W, b = p.split(path)
            b_norm[i, s] = np.linalg.norm(b, axis=-1) / np.sqrt(b.shape[-1])
            w_norm[i, s] = np.linalg.norm(W.reshape(E + 1, -1), axis=-1) / np.sqrt(W[0].size)
            loss[i, s] = p.loss(path)
    dims = ("optimizer", "seed", "epoch")
    return xr.Dataset(
        {"bias_norm": (dims, b_norm), "weight_norm": (dims, w_norm), "loss": (dims, loss),
         "predicted_bias_norm": (("seed", "epoch"), pred)},
        coords={"optimizer": keys, "seed": np.arange(S), "epoch": epochs},
        attrs={"lr": LR, "gd_lr": GD_LR, "momenta": [0.9, 0.99], "beta1": 0.9, "beta2": 0.999, "adam_eps": 1e-8, "n_samples": cfg["n_samples"], "n_classes": cfg["n_classes"],
               "n_features": cfg["n_features"]},
    )


LINTHRESH = 0.01  # symlog axes are linear below this


def facts(data: xr.Dataset) -> dict:
    from . import style

    E = int(data.epoch[-1])
    last = data.bias_norm.isel(epoch=-1).median("seed")
    sample, full = float(last.sel(optimizer="signsgd")), float(last.sel(optimizer="signsgd-full-batch"))
    measured = data.bias_norm.sel(optimizer="signsgd").values[:, 1:]
    pred = data.predicted_bias_norm.values[:, 1:]
    N, C = int(data.attrs["n_samples"]), int(data.attrs["n_classes"])
    return {"N": N, "C": C, "k": int(data.attrs["n_features"]), "epochs": E, "seeds": data.sizes["seed"],
            **style.band_facts(), "linthresh": LINTHRESH, "lr": data.attrs["lr"], "gd_lr": data.attrs["gd_lr"],
            "mus": ", ".join(f"{m:g}" for m in np.atleast_1d(data.attrs["momenta"])),
            "beta1": data.attrs["beta1"], "beta2": data.attrs["beta2"], "adam_eps": style.num(data.attrs["adam_eps"]),
            "slope_sample": sample / E, "slope_pred": float(np.median(data.predicted_bias_norm.values[:, -1])) / E,
            "pred_dev": float(np.max(np.abs(measured - pred) / pred)),
            "full_end": full, "full_cap": float(data.attrs["lr"]) * E, "ratio": sample / full, "ratio_pred": N * (1 - 2 / C),
            "signum_fracs": " and ".join(f"{float(last.sel(optimizer=f'signum-{m:g}')) / sample:.2f} (μ = {m:g})"
                                         for m in np.atleast_1d(data.attrs["momenta"])),
            "adam_frac": float(last.sel(optimizer="adam")) / sample, "gd_frac": float(last.sel(optimizer="gd")) / sample}


def plot(data: xr.Dataset):
    from . import style

    fig, axes = style.figure(4, 1, width=3.1, height=3.0)
    ax_b, ax_blog, ax_w, ax_l = axes[0]
    x = data.epoch.values
    for key in data.optimizer.values:  # ("method" would clash with Dataset.sel(method=))
        cname, label, ls = STYLE[str(key)]
        sel = data.sel(optimizer=str(key))
        for ax, var in ((ax_b, "bias_norm"), (ax_blog, "bias_norm"), (ax_w, "weight_norm"), (ax_l, "loss")):
            style.band(ax, x, sel[var].values, name=cname, label=label, linestyle=ls)
    for ax in (ax_b, ax_blog):
        ax.plot(x, np.median(data.predicted_bias_norm.values, axis=0), color=style.color("theory"),
                linestyle="--", linewidth=1.0, label="Prop. 4.10: E·η‖2N_c−N‖/√C")
    C, N = data.attrs["n_classes"], data.attrs["n_samples"]
    ax_b.set_title(f"(a) bias ‖b‖/√C  (N={N}, C={C})")
    ax_blog.set_title(f"(b) bias, symlog (linear < {LINTHRESH:g}, shaded)")
    ax_w.set_title("(c) weights ‖W‖/√(Ck), symlog")
    ax_l.set_title("(d) full-batch training loss")
    for ax in (ax_blog, ax_w):
        ax.set_yscale("symlog", linthresh=LINTHRESH)
        ax.set_ylim(bottom=0)
        ax.axhspan(0, LINTHRESH, color="#7f7f7f", alpha=0.12, linewidth=0)  # the linear part of symlog
    ax_l.set_yscale("log")
    for ax in (ax_b, ax_blog, ax_w, ax_l):
        ax.set_xlabel("epoch")
    ax_b.legend(fontsize=6.5, loc="upper left")
    fig.tight_layout()
    return fig
