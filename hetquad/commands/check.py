"""`hetquad check [--quick] [--seed N] [--engine E] [--json PATH]`: every bound vs measured runs.

The work is in ``hetquad.checks``; this module parses options, prints the table and sets the exit
status (1 on any violation).
"""
from __future__ import annotations

import json
import math
import time

import typer

from hetquad.commands import engine_choices, engine_help


def _fmt(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.4g}"


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check_cmd(
        quick: bool = typer.Option(False, "--quick", help="Fewer instances (under a minute; used by make test)."),
        seed: int = typer.Option(0, "--seed", help="Master seed of the random instances."),
        engine: str = typer.Option("auto", "--engine", help=engine_help("Engine for the deterministic runs: ")),
        json_path: str = typer.Option(None, "--json", help="Also write the table (and run metadata) as JSON here."),
        only: list[str] = typer.Option(None, "--only", help="Check only this bound (repeatable)."),
        instances: int = typer.Option(None, "--instances", help="Instances per bound (overrides the mode)."),
    ):
        """Check every THEORY bound against measured runs on random instances; exit 1 on a violation."""
        from hetquad.problems.validation import integer, one_of

        integer("seed", seed, minimum=0)
        one_of("engine", engine, engine_choices())
        if instances is not None:
            integer("instances", instances, minimum=1)
        if json_path:  # fail now, not after minutes of runs
            from pathlib import Path

            from hetquad.commands.run import check_output_file
            check_output_file("--json", Path(json_path))
        from hetquad.checks import case_names, run_checks

        names = case_names()
        for name in only or []:
            one_of("only", name, names)
        t0 = time.perf_counter()
        rows = run_checks(quick=quick, seed=seed, engine=engine, only=only, instances=instances)
        wall = time.perf_counter() - t0
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"hetquad check ({'quick' if quick else 'full'}, seed {seed}, {wall:.1f} s)")
        for col in ("bound", "quantity", "instances", "runs", "violations", "min slack", "median slack", "THEORY §10"):
            table.add_column(col, justify="left" if col in ("bound", "quantity", "THEORY §10") else "right")
        for r in rows:
            table.add_row(r["bound"], r["quantity"], str(r["instances"]), str(r["runs"]),
                          ("[red]" if r["violations"] else "") + str(r["violations"]),
                          _fmt(r["min_slack"]), _fmt(r["median_slack"]), r["expected"])
        Console(width=170).print(table)
        if json_path:
            with open(json_path, "w") as fh:
                json.dump({"mode": "quick" if quick else "full", "seed": seed, "engine": engine, "wall_time": wall,
                           "rows": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                     for k, v in r.items()} for r in rows]}, fh, indent=2)
        total = sum(r["violations"] for r in rows)
        if total:
            typer.echo(f"{total} violation(s)", err=True)
            raise typer.Exit(code=1)
