"""`hetquad run --problem NAME --optimizer NAME --steps N`: one problem × optimizer, summarised."""
from __future__ import annotations

from pathlib import Path

import typer

from hetquad.commands import engine_help


def build(problem: str, sets: list[str], optimizer: str, hyper: list[str], lr: float | None, *, seed: int):
    """(problem, optimizer spec) from the command-line pieces (``key=value`` strings).

    Without ``--lr``: GD runs at its optimal constant step 2/(L+μ) (``theory.gd_rate``), blockwise
    GD at the per-block optimal steps (``BlockwiseGD.optimal``, THEORY §3); other optimizers need
    ``--lr`` (or ``hetquad tune``).
    """
    from hetquad import problems, sims, theory
    from hetquad.config import build_optimizer, default_lr, optimizer_type, parse_assignment

    kind = optimizer_type(optimizer)
    p = problems.get(problem, seed=seed, **dict(parse_assignment(s) for s in sets))
    hyper_kw = dict(parse_assignment(h) for h in hyper)
    if lr is None and kind == "gd":
        lr = theory.gd_rate(p).lr
    elif lr is None and kind == "blockwise-gd" and "lrs" not in hyper_kw:
        hyper_kw["lrs"] = list(sims.BlockwiseGD.optimal(p).lrs)
    if lr is None:
        lr = default_lr(kind)
        if lr is None:
            raise ValueError(f"--lr is required for optimizer {kind!r} (find one with `hetquad tune`)")
    return p, build_optimizer(kind, hyper_kw, lr)


def summary_lines(res, problem, optimizer, *, tol: float, w0=None) -> list[str]:
    """Iterations to tol, final loss, stop reasons and the bound check of a ``sims.Result``
    (``w0``: the (batch, d) initial points, for bounds that depend on them)."""
    from collections import Counter

    import numpy as np

    from hetquad.sweep import bound_check

    t = res.iterations_to(tol)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = res.final_loss / res.loss[:, 0]
    stops = ", ".join(f"{n} {r}" for r, n in Counter(res.stop_reason).items())
    reached = np.isfinite(t)
    t_txt = (f"median {np.median(t[reached]):.0f} (min {t[reached].min():.0f}, max {t[reached].max():.0f}); "
             f"{reached.sum()}/{t.size} runs reached it") if reached.any() else f"not reached by any of {t.size} runs"
    lines = [f"{problem.name} (d={problem.d}, blocks={len(problem.sizes)}) × {optimizer.name} lr={optimizer.lr:g}, "
             f"engine {res.engine}, {res.wall_time:.3g} s",
             f"iterations to loss ≤ {tol:g}·loss₀: {t_txt}",
             f"final loss: median {np.median(res.final_loss):.4g} (ratio to initial {np.nanmedian(ratio):.3g})",
             f"stop reason: {stops}"]
    checks = [bound_check(problem, optimizer, float(x), tol=tol, steps=int(res.steps[-1]),
                          w0=None if w0 is None else w0[i]) for i, x in enumerate(t)]
    name = checks[0][0]
    its = np.array([c[1] for c in checks])
    if np.isfinite(its).any() or name.startswith("theory."):
        slack = np.array([c[2] for c in checks])
        fin = its[np.isfinite(its)]
        t_bound = (f"{fin.min():.0f}" if fin.size and fin.min() == fin.max()
                   else f"{fin.min():.0f}–{fin.max():.0f}" if fin.size else "inf")
        decided = ~np.isnan(slack)
        txt = (f"bound: {name}: T ≤ {t_bound}; holds for {(slack >= 1).sum()}/{slack.size} runs, "
               f"violated by {(slack[decided] < 1).sum()}")
        if (~decided).any():
            txt += f", undecided for {(~decided).sum()} (no tol hit and the bound lies beyond --steps)"
        if decided.any():
            txt += f"; min slack {np.min(slack[decided]):.3g}"
        lines.append(txt)
    else:
        lines.append(f"bound: {name}")
    return lines


def plot(res, path: Path, *, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for i in range(res.batch):
        ax.semilogy(res.steps, res.loss[i], lw=1)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


PLOT_FORMATS = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")


def check_output_file(option: str, path: Path) -> None:
    """``ValueError`` now, not after the work, when ``path`` cannot be a file we write."""
    if path.is_dir():
        raise ValueError(f"{option} {path} is a directory; give a file name (e.g. {path / 'loss.png'})")
    if not path.parent.is_dir():
        raise ValueError(f"{option} {path}: the folder {path.parent} does not exist")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        problem: str = typer.Option(..., "--problem", help="Catalog entry (hetquad problems)."),
        sets: list[str] = typer.Option([], "--set", help="Problem parameter key=value (repeatable)."),
        optimizer: str = typer.Option(..., "--optimizer", help="Optimizer name (sims.OPTIMIZERS)."),
        lr: float = typer.Option(None, "--lr", help="Learning rate."),
        hyper: list[str] = typer.Option([], "--hyper", help="Optimizer hyper-parameter key=value (repeatable)."),
        steps: int = typer.Option(..., "--steps", help="Updates per run."),
        seed: int = typer.Option(0, "--seed", help="Seed of the instance and of the initial points."),
        batch: int = typer.Option(1, "--batch", help="Independent initial points."),
        tol: float = typer.Option(1e-6, "--tol", help="Report iterations to loss ≤ tol·loss₀."),
        engine: str = typer.Option("auto", "--engine", help=engine_help()),
        plot_to: Path = typer.Option(None, "--plot", help="Save the loss curves to this file."),
    ):
        """Run one problem × optimizer and print iterations to tol, final loss, stop reason, bound check."""
        from hetquad import sims
        from hetquad.problems.validation import in_range

        in_range("--tol", tol, 0.0, 1.0, closed="right")  # named as the user typed it, before any work
        if plot_to is not None:
            check_output_file("--plot", plot_to)
            if plot_to.suffix.lower() not in PLOT_FORMATS:
                raise ValueError(f"--plot {plot_to}: the name must end in one of {', '.join(PLOT_FORMATS)} "
                                 "(it picks the image format)")
        from hetquad import budget
        from hetquad.problems.validation import integer

        integer("--steps", steps, minimum=0)
        integer("--batch", batch, minimum=1)
        p, opt = build(problem, sets, optimizer, hyper, lr, seed=seed)
        est = budget.estimate(runs=batch, chunks=1, chunk_runs=batch, steps=steps, record_every=1, d=int(p.d),
                              b=int(max(p.sizes)), n_blocks=len(p.sizes), per_block=False)
        est.refuse_beyond(budget.default_memory_budget(), what="this run",
                          how="use a smaller --batch or fewer --steps")
        w0 = sims.initial_points(p, batch, seed)  # what run(seed=, batch=) would draw; kept for the bound
        res = sims.run(p, opt, steps, w0=w0, engine=engine)
        for line in summary_lines(res, p, opt, tol=tol, w0=w0):
            typer.echo(line)
        if plot_to is not None:
            plot(res, plot_to, title=f"{p.name} × {opt.name} lr={opt.lr:g}")
            typer.echo(f"plot: {plot_to}")
