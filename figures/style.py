"""One look for every figure: rcParams, a fixed colour per optimizer, median-and-band helper."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are files; never need a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLORS = {
    "gd": "#1f77b4",
    "blockwise-gd": "#17becf",
    "signsgd": "#8c564b",
    "signum": "#e377c2",
    "adam": "#d62728",
    "adam-mini": "#2ca02c",
    "rmsprop": "#9467bd",
    "adam-variant": "#ff7f0e",
    "theory": "#000000",
}
LABELS = {
    "gd": "GD", "blockwise-gd": "blockwise GD", "signsgd": "SignSGD", "signum": "Signum",
    "adam": "Adam", "adam-mini": "Adam-mini", "rmsprop": "RMSProp", "adam-variant": "Adam (β1=0, β2=1)",
}

RC = {
    "figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight", "font.size": 9,
    "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8, "axes.grid": True,
    "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False, "lines.linewidth": 1.6,
}


def apply() -> None:
    """Install the rcParams (idempotent)."""
    plt.rcParams.update(RC)


def color(name: str) -> str:
    """Colour of an optimizer (grey for unknown names)."""
    return COLORS.get(name, "#7f7f7f")


def label(name: str) -> str:
    return LABELS.get(name, name)


def num(x, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, exponents written short: 1e-8, 1.1e5 (not 1e-08)."""
    import re
    text = f"{float(x):.{digits}g}"
    if "e" in text and 1 <= abs(float(x)) < 1e6:
        return f"{float(x):.0f}"  # 16183, not 1.62e4: an integer-sized count reads better whole
    return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", text)


BAND = (0.1, 0.9)  # quantiles of every band and whisker


def band_facts() -> dict:
    """Caption fields ``band_lo``/``band_hi`` (per cent) of the house band."""
    return {"band_lo": round(100 * BAND[0]), "band_hi": round(100 * BAND[1])}


def band(ax, x, runs, *, name: str, q=BAND, log=False, **kw):
    """Plot the median over runs (axis 0) with a quantile band; ``runs`` is (n_runs, len(x))."""
    runs = np.asarray(runs, dtype=float)
    with np.errstate(invalid="ignore"):
        lo, med, hi = np.nanquantile(runs, [q[0], 0.5, q[1]], axis=0)
    c = kw.pop("color", color(name))
    ax.plot(x, med, color=c, label=kw.pop("label", label(name)), **kw)
    ax.fill_between(x, lo, hi, color=c, alpha=0.18, linewidth=0)
    if log:
        ax.set_yscale("log")
    return ax


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 3.4, height: float = 2.8, **kw):
    """A figure with the house style and a grid of panels."""
    apply()
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kw)
