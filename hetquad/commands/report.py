"""`hetquad report DIR`: the sweep's figures (metric vs axis with bands over seeds, heatmaps)."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        directory: Path = typer.Argument(..., help="A finished sweep directory."),
        out: Path = typer.Option(None, "--out", help="Where to write the figures (default DIR/report)."),
        metric: list[str] = typer.Option(["iterations_to_tol", "time_to_tol"], "--metric",
                                         help="Table column(s) to plot (repeat the option)."),
        confidence: float = typer.Option(0.95, "--confidence", help="Level of the bands over seeds."),
    ):
        """Plot a sweep: PNG + PDF per swept axis and a heatmap for the first two axes."""
        from hetquad.report import build_report

        rep = build_report(directory, out=out, metrics=tuple(metric), confidence=confidence)
        for path in rep.paths:
            typer.echo(str(path))
        for note in rep.notes:
            typer.echo(f"note: {note}", err=True)
