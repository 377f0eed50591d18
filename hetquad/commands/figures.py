"""`hetquad figures [NAME ...] [--list] [--full] [--out DIR] [--jobs N]`."""
from __future__ import annotations

import os
import shutil
import time
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
        readme: Optional[Path] = typer.Option(None, "--readme", help="Rewrite this README's gallery table "
                                              "(between its gallery markers) from the figures' data in --out."),
        jobs: int = typer.Option(0, "--jobs", min=0, help="Figures made at once, each in its own process "
                                 "(0: one per core; 1: in this process)."),
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
            console.print("[bold]--full[/]: paper fidelity (5–20× the default seeds and steps); the measured "
                          "time is printed at the end.")
        jobs = jobs or os.cpu_count() or 1
        wall, cpu = time.perf_counter(), time.process_time()
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("figures", total=len(chosen))
            for n, r in _rendered(chosen, fidelity, out, jobs, lambda n: bar.update(task, description=f"figure {n}")):
                bar.console.print(f"{n}: {r.png} ({'cached data' if r.cached else f'{r.seconds:.1f} s'})")
                if gallery is not None:
                    gallery.mkdir(parents=True, exist_ok=True)
                    shutil.copy(r.png, gallery / r.png.name)
                bar.advance(task)
        console.print(f"{len(chosen)} figures at fidelity {fidelity}: {time.perf_counter() - wall:.1f} s wall"
                      + (f", {time.process_time() - cpu:.1f} s CPU (this process; cached data are not recomputed)"
                         if jobs == 1 else f" with {jobs} processes"))
        if readme is not None:
            F.write_gallery(readme, out)
            console.print(f"gallery rewritten in {readme}")


# The slowest figures at default fidelity (measured 2026-12-02, 22-39 s each against 2-20 s for the
# rest): started first, so that no long one starts last while the other process idles.
SLOW_FIRST = ("real-spectra", "ln-placement", "tomihari-complexity", "noise-models", "tomihari-linear-head",
              "adam-mini-table4", "mlp-heterogeneity")


def _one_thread_each() -> None:
    """Pool initializer: the figures' processes share the cores, so each keeps numba to one thread
    (read when numba is first imported, which happens after this) and BLAS to one (figures.render)."""
    os.environ["NUMBA_NUM_THREADS"] = "1"


def _render(name: str, fidelity: str, out: Path):
    from hetquad import figures as F
    return name, F.render(name, fidelity=fidelity, out=out)


def _rendered(chosen: list, fidelity: str, out: Path, jobs: int, starting):
    """(name, Rendered) of every chosen figure: in this process with jobs = 1, else from a pool of
    ``jobs`` fresh processes ('spawn': torch and numba are not fork-safe), in completion order."""
    if jobs == 1 or len(chosen) == 1:
        from hetquad import figures as F
        for n in chosen:
            starting(n)
            yield n, F.render(n, fidelity=fidelity, out=out)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    starting(f"{len(chosen)} figures, {jobs} at a time")
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_one_thread_each) as pool:
        order = sorted(chosen, key=lambda n: SLOW_FIRST.index(n) if n in SLOW_FIRST else len(SLOW_FIRST))
        futures = [pool.submit(_render, n, fidelity, out) for n in order]
        for f in as_completed(futures):
            yield f.result()
