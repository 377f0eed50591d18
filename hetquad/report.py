"""Plots of a finished sweep (``hetquad report DIR``): metric vs a swept axis per optimizer with
confidence bands over seeds, and heatmaps over two axes. Plots only: every number comes from the
run table (``hetquad.results.load``); nothing is recomputed.

Statistics are taken on log10 of the metric (iteration counts spread multiplicatively): the
centre is the geometric mean over seeds and the band its Student-t confidence interval. Runs that
never reached tol (T = inf), diverged or failed are left out of the statistics and counted in the
panel title — never drawn as numbers.

Every sweep gets a report: a string axis is drawn as categories, a sweep without swept axes gets
one panel per optimizer (``by_optimizer``), and what cannot be drawn (no run reached tol, all
failed) is said in the panel and in ``Report.notes`` (the CLI prints them), never an exception.

The look is the figures' house style (``hetquad.figures.style``: rcParams, one fixed colour and
label per optimizer name), so a sweep's Adam is the same red as in every figure.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

METRICS = {"iterations_to_tol": "iterations to tol", "time_to_tol": "wall time to tol [s]",
           "final_loss_ratio": "final loss / initial loss", "iterations": "iterations run",
           "wall_time": "wall time [s]"}
MAX_PANELS = 6  # more combinations of the other axes than this are pooled into one panel


@dataclass(frozen=True)
class Band:
    """Geometric mean and its confidence interval over ``n`` finite values; ``dropped`` were not finite."""

    center: float
    low: float
    high: float
    n: int
    dropped: int


def band(values, *, confidence: float = 0.95) -> Band:
    """Geometric mean with a Student-t interval on log10 of the finite, positive ``values``."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    ok = np.isfinite(x) & (x > 0)
    logs = np.log10(x[ok])
    n, dropped = int(logs.size), int(x.size - logs.size)
    if n == 0:
        return Band(np.nan, np.nan, np.nan, 0, dropped)
    mean = float(logs.mean())
    if n == 1:
        return Band(10 ** mean, 10 ** mean, 10 ** mean, 1, dropped)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * logs.std(ddof=1) / np.sqrt(n))
    return Band(10 ** mean, 10 ** (mean - half), 10 ** (mean + half), n, dropped)


def swept(table, axes) -> list[str]:
    """The axes of ``axes`` that take more than one value in ``table``."""
    return [a for a in axes if a in table.columns and table[a].nunique(dropna=True) > 1]


def _panels(table, others: list[str]) -> list[tuple[str, object]]:
    """(title, rows) per combination of the ``others`` axes, or one pooled panel if too many."""
    if not others:
        return [("", table)]
    groups = list(table.groupby(others, sort=True))
    if len(groups) > MAX_PANELS:
        return [(f"pooled over {', '.join(others)}", table)]
    out = []
    for values, rows in groups:
        values = values if isinstance(values, tuple) else (values,)
        out.append((", ".join(f"{a}={v:g}" if isinstance(v, (int, float)) else f"{a}={v}"
                              for a, v in zip(others, values)), rows))
    return out


def _numeric(column) -> bool:
    return np.issubdtype(np.asarray(column).dtype, np.number) and not np.issubdtype(np.asarray(column).dtype, bool)


def optimizer_colors(labels) -> dict:
    """label → colour: the house colour (``figures.style``) for an optimizer name it knows, else the
    next colour of matplotlib's cycle not already taken by a house colour in ``labels``."""
    from hetquad.figures import style

    labels = list(dict.fromkeys(labels))
    taken = {style.COLORS[x] for x in labels if x in style.COLORS}
    spare = (c for c in (f"C{k}" for k in range(10)) if _hex(c) not in taken)
    return {x: style.COLORS[x] if x in style.COLORS else next(spare, "#7f7f7f") for x in labels}


def _hex(color: str) -> str:
    from matplotlib.colors import to_hex
    return to_hex(color)


def plot_vs_axis(ax, rows, axis: str, *, metric: str = "iterations_to_tol", confidence: float = 0.95) -> int:
    """Draw ``metric`` vs ``axis``, one line + band per optimizer; return how many runs were left out.

    A non-numeric axis is drawn as evenly spaced categories; a panel with nothing to draw says so.
    """
    from hetquad.figures import style

    dropped, drawn = 0, 0
    numeric = _numeric(rows[axis])
    categories = sorted(rows[axis].dropna().unique(), key=str) if not numeric else None
    colors = optimizer_colors(rows["optimizer"].unique())
    for label, opt_rows in rows.groupby("optimizer", sort=False):
        xs, bands = [], []
        for x, cell in opt_rows.groupby(axis, sort=True):
            ok = cell[cell["status"] == "ok"]
            b = band(ok[metric], confidence=confidence)
            dropped += b.dropped + len(cell) - len(ok)
            xs.append(x if numeric else categories.index(x))
            bands.append(b)
        c = np.array([b.center for b in bands])
        if not np.isfinite(c).any():
            continue
        drawn += 1
        color = colors[label]
        ax.plot(xs, c, "o-", color=color, label=style.label(label))
        ax.fill_between(xs, [b.low for b in bands], [b.high for b in bands], color=color, alpha=0.2, lw=0)
    ax.set_xlabel(axis)
    ax.set_ylabel(METRICS.get(metric, metric))
    if not numeric:
        ax.set_xticks(range(len(categories)), [str(c) for c in categories])
    if drawn:
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, f"nothing to plot: no run has a finite\n{METRICS.get(metric, metric)} "
                f"(none reached tol, or all failed/diverged)", ha="center", va="center", fontsize=7,
                transform=ax.transAxes)
    if numeric and (rows[axis] > 0).all() and rows[axis].max() / rows[axis].min() >= 20:
        ax.set_xscale("log")
    return dropped


def heatmap_grid(rows, x: str, y: str, *, metric: str = "iterations_to_tol"):
    """(x values, y values, grid[y, x]): geometric mean of ``metric`` over seeds and pooled other
    axes for each (x, y) cell; NaN where no run of the cell reached tol."""
    xs, ys = sorted(rows[x].unique()), sorted(rows[y].unique())
    grid = np.full((len(ys), len(xs)), np.nan)
    for (xv, yv), cell in rows.groupby([x, y]):
        grid[ys.index(yv), xs.index(xv)] = band(cell.loc[cell["status"] == "ok", metric]).center
    return xs, ys, grid


def _tick(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v)


def draw_heatmap(ax, xs, ys, grid, *, norm=None):
    """An annotated heatmap ('—' where the cell has no value)."""
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", norm=norm)
    ax.set_xticks(range(len(xs)), [_tick(v) for v in xs])
    ax.set_yticks(range(len(ys)), [_tick(v) for v in ys])
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, "—" if not np.isfinite(v) else f"{v:.3g}", ha="center", va="center", fontsize=7,
                color="w")
    return im


def _save(fig, path: Path) -> list[Path]:
    out = []
    for ext in (".png", ".pdf"):
        p = path.with_suffix(ext)
        fig.savefig(p, dpi=150, bbox_inches="tight")
        out.append(p)
    return out


@dataclass(frozen=True)
class Report:
    """The files a report wrote and what it could not draw (one sentence each)."""

    paths: tuple
    notes: tuple


def report(directory, *, out=None, metrics=("iterations_to_tol", "time_to_tol"),
           confidence: float = 0.95) -> list[Path]:
    """Write the sweep's figures (PNG + PDF) and return their paths (``build_report`` also
    returns the notes on what could not be drawn)."""
    return list(build_report(directory, out=out, metrics=metrics, confidence=confidence).paths)


def build_report(directory, *, out=None, metrics=("iterations_to_tol", "time_to_tol"),
                 confidence: float = 0.95) -> Report:
    """Write the sweep's figures (PNG + PDF); return a ``Report`` (their paths and notes).

    Parameters
    ----------
    directory : path of a finished sweep
    out : path, optional
        Where to write (default ``DIR/report``).
    metrics : names of table columns (see ``METRICS``); each gets a row of panels
    confidence : float in (0, 1)
        Level of the bands over seeds.

    Notes
    -----
    Per swept axis: ``vs_AXIS`` — one column of panels per combination of the other axes (pooled
    when more than ``MAX_PANELS``), one row per metric. Per pair of the first two swept axes:
    ``heatmap_X_Y`` — one panel per optimizer, geometric mean of the first metric.
    """
    from hetquad.figures import style  # the house look of every figure (sets the Agg backend)
    from hetquad.problems.validation import in_range
    from hetquad.results import load, read_manifest

    in_range("confidence", confidence, 0.0, 1.0, closed="neither")
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if not metrics:
        raise ValueError(f"metrics must name at least one of {sorted(METRICS)}, got none")
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"metric must be one of {sorted(METRICS)}, got {m!r}")
    directory = Path(directory)
    table, _ = load(directory)
    manifest = read_manifest(directory) or {}
    axes = swept(table, manifest.get("axes", []) + [a for a in manifest.get("hyper_axes", []) if a != "lr"])
    out = Path(out) if out is not None else directory / "report"
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for the figures")
    out.mkdir(parents=True, exist_ok=True)
    written, notes = [], []
    statuses = table["status"].value_counts().to_dict()
    for metric in metrics:
        finite = table.loc[table["status"] == "ok", metric]
        if not (np.isfinite(finite.to_numpy(dtype=float)) & (finite.to_numpy(dtype=float) > 0)).any():
            notes.append(f"{metric}: no run has a finite value ({', '.join(f'{n} {s}' for s, n in statuses.items())}"
                         f"{'; none reached tol' if 'tol' in metric else ''}): its panels are empty")
    plot_axes = axes
    if not axes:
        notes.append("no swept axis: one panel per optimizer (by_optimizer)")
        plot_axes = ["optimizer"]
    for axis in plot_axes:
        others = [a for a in axes if a != axis]
        panels = _panels(table, others)
        fig, grid = style.figure(len(panels), len(metrics), width=3.6, height=3.0, sharex=True,
                                 layout="constrained")
        for j, (title, rows) in enumerate(panels):
            for i, metric in enumerate(metrics):
                dropped = plot_vs_axis(grid[i, j], rows, axis, metric=metric, confidence=confidence)
                note = f" ({dropped} runs not at tol/failed)" if dropped else ""
                grid[i, j].set_title(f"{title}{note}", fontsize=8)
        if grid[0, 0].get_legend_handles_labels()[0]:
            grid[0, 0].legend()
        fig.suptitle(f"{manifest.get('config', {}).get('problem', '')}: geometric mean over seeds, "
                     f"{confidence:.0%} band")
        written += _save(fig, out / ("by_optimizer" if axis == "optimizer" and not axes else f"vs_{axis}"))
        style.plt.close(fig)
    for x, y in itertools.islice(itertools.combinations(axes, 2), 1):
        from matplotlib.colors import LogNorm

        opts = list(dict.fromkeys(table["optimizer"]))
        grids = [heatmap_grid(table[table["optimizer"] == o], x, y, metric=metrics[0]) for o in opts]
        finite = np.concatenate([g[np.isfinite(g) & (g > 0)] for _, _, g in grids])
        if not finite.size:
            notes.append(f"heatmap {x} × {y}: no cell has a finite {metrics[0]}; not drawn")
            continue
        # one colour scale for every optimizer, so equal colours mean equal values across panels
        norm = LogNorm(vmin=finite.min(), vmax=max(finite.max(), finite.min() * 1.001)) if finite.size else None
        fig, grid = style.figure(len(opts), 1, width=3.4 + 1 / len(opts), height=3.2, layout="constrained")
        for j, (opt, (xs, ys, g)) in enumerate(zip(opts, grids)):
            im = draw_heatmap(grid[0, j], xs, ys, g, norm=norm)
            grid[0, j].set_title(style.label(opt), fontsize=9)
            grid[0, j].grid(False)  # the house grid would hide the annotated cells
            grid[0, j].set_xlabel(x)
            grid[0, 0].set_ylabel(y)
        fig.colorbar(im, ax=grid[0, :].tolist(), shrink=0.9, label=METRICS[metrics[0]])
        fig.suptitle(f"{METRICS[metrics[0]]}: geometric mean over seeds")
        written += _save(fig, out / f"heatmap_{x}_{y}")
        style.plt.close(fig)
    return Report(tuple(written), tuple(notes))
