"""`hetquad tune --problem NAME --optimizer NAME --lrs LOW:HIGH:NUM --steps N`: the lr search alone."""
from __future__ import annotations

import numpy as np
import typer


def parse_lrs(text: str) -> np.ndarray:
    """'LOW:HIGH:NUM' → a log grid (``np.geomspace``); 'a,b,c' → those values."""
    from hetquad.problems.validation import integer, positive

    try:
        if ":" in text:
            low, high, num = text.split(":")
            return np.geomspace(positive("lrs low", float(low)), positive("lrs high", float(high)),
                                integer("lrs num", int(num), minimum=2))
        return np.array([positive("lrs", float(x)) for x in text.split(",")])
    except (TypeError, ValueError) as exc:
        if "lrs" in str(exc):
            raise
        raise ValueError(f"--lrs must be LOW:HIGH:NUM or a comma list of numbers, got {text!r}") from None


def register(app: typer.Typer) -> None:
    @app.command("tune")
    def tune_cmd(
        problem: str = typer.Option(..., "--problem", help="Catalog entry (hetquad problems)."),
        sets: list[str] = typer.Option([], "--set", help="Problem parameter key=value (repeatable)."),
        optimizer: str = typer.Option(..., "--optimizer", help="Optimizer name (sims.OPTIMIZERS)."),
        hyper: list[str] = typer.Option([], "--hyper", help="Optimizer hyper-parameter key=value (repeatable)."),
        lrs: str = typer.Option("1e-4:1:13", "--lrs", help="LOW:HIGH:NUM (log grid) or a comma list."),
        steps: int = typer.Option(..., "--steps", help="Updates per run."),
        metric: str = typer.Option("final_loss", "--metric", help="final_loss, iterations or tail_grad."),
        tol: float = typer.Option(1e-6, "--tol", help="tol of the 'iterations' metric."),
        seed: int = typer.Option(0, "--seed", help="Seed of the instance and of the initial points."),
        batch: int = typer.Option(1, "--batch", help="Initial points per lr (the score is their median)."),
        engine: str = typer.Option("auto", "--engine", help="auto, numpy, numba or cupy."),
    ):
        """Grid-search the learning rate (sims.tune) and print the table; the best lr is marked."""
        from rich.console import Console
        from rich.table import Table

        import dataclasses

        from hetquad import sims
        from hetquad.commands.run import build

        grid = parse_lrs(lrs)
        p, opt = build(problem, sets, optimizer, hyper, float(grid[0]), seed=seed)
        res = sims.tune(p, lambda lr: dataclasses.replace(opt, lr=lr), grid, steps, metric=metric, tol=tol,
                        seed=seed, batch=batch, engine=engine)
        table = Table(title=f"lr search: {p.name} × {opt.name}, {steps} steps, metric {metric}")
        for col in ("lr", "score", "stop reasons", ""):
            table.add_column(col, justify="right")
        for row in res.as_rows():
            stops = ", ".join(f"{n} {r}" for r, n in row["stop"].items())
            table.add_row(f"{row['lr']:.4g}", f"{row['score']:.4g}", stops, "best" if row["lr"] == res.best_lr else "")
        Console(width=120).print(table)
        typer.echo(f"best lr: {res.best_lr:.6g} (score {res.best_score:.4g})")

