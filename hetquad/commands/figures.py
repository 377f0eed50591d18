"""`hetquad figures [NAME ...] [--list] [--full] [--out DIR]`."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("figures")
    def figures_cmd(
        names: Optional[List[str]] = typer.Argument(None, help="Figures to make (default: all)."),
        list_: bool = typer.Option(False, "--list", help="List the figures and exit."),
        full: bool = typer.Option(False, "--full", help="Paper fidelity: more seeds and steps (slow)."),
        out: Path = typer.Option(Path("figures/out"), "--out", help="Output directory."),
        gallery: Optional[Path] = typer.Option(None, "--gallery", help="Also copy PNGs here (docs/figures)."),
    ):
        """Reproduce the papers' figures: PNG + PDF + the plotted data (netCDF) per figure."""
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from hetquad import figures as F

        console = Console(stderr=True)
        reg = F.registry()
        if list_:
            for name, mod in reg.items():
                typer.echo(f"{name:24s} {mod.SOURCE}")
            return
        chosen = list(names) if names else list(reg)
        for n in chosen:
            F.get(n)  # validate every name before spending time
        fidelity = "full" if full else "default"
        if full:
            console.print(f"[bold]--full[/]: paper fidelity (5–20× the default seeds and steps); expect roughly "
                          f"{5 * len(chosen)}–{15 * len(chosen)} minutes on 2 cores (a rough guess from those "
                          "ratios: the default run of all figures takes ~3 min).")
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("figures", total=len(chosen))
            for n in chosen:
                bar.update(task, description=f"figure {n}")
                r = F.render(n, fidelity=fidelity, out=out)
                bar.console.print(f"{n}: {r.png} ({'cached data' if r.cached else f'{r.seconds:.1f} s'})")
                if gallery is not None:
                    gallery.mkdir(parents=True, exist_ok=True)
                    shutil.copy(r.png, gallery / r.png.name)
                bar.advance(task)
