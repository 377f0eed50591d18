"""`hetquad tune --problem NAME --optimizer NAME --lrs LOW:HIGH:NUM --steps N`: the lr search alone."""
from __future__ import annotations

import typer

from hetquad.commands import engine_help


def parse_lrs(text: str):
    """'LOW:HIGH:NUM' → a log grid; 'a,b,c' → those values (``hetquad.sims.tune.parse_lrs``)."""
    from hetquad.sims.tune import parse_lrs as parse

    return parse(text, name="--lrs")


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
        engine: str = typer.Option("auto", "--engine", help=engine_help()),
    ):
        """Grid-search the learning rate (sims.tune) and print the table; the best lr is marked."""
        from rich.console import Console
        from rich.table import Table

        import dataclasses

        from hetquad import sims
        from hetquad.commands.run import build

        from hetquad import budget
        from hetquad.problems.validation import in_range, integer

        from hetquad.sims.tune import METRICS
        from hetquad.problems.validation import one_of

        in_range("--tol", tol, 0.0, 1.0, closed="right")
        one_of("--metric", metric, METRICS)
        integer("--steps", steps, minimum=1)
        integer("--batch", batch, minimum=1)
        grid = parse_lrs(lrs)
        p, opt = build(problem, sets, optimizer, hyper, float(grid[0]), seed=seed)
        est = budget.estimate(runs=len(grid) * batch, chunks=1, chunk_runs=len(grid) * batch, steps=steps,
                              record_every=1, d=int(p.d), b=int(max(p.sizes)), n_blocks=len(p.sizes),
                              per_block=False)
        est.refuse_beyond(budget.default_memory_budget(), what="this lr search",
                          how="use fewer lrs (--lrs), a smaller --batch or fewer --steps")
        typer.echo(est.line(), err=True)
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

