"""`hetquad sweep CONFIG.toml --out DIR`: a parallel, resumable grid of runs (``hetquad.sweep``)."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep_cmd(
        config: Path = typer.Argument(..., help="Sweep config (TOML; see hetquad.config)."),
        out: Path = typer.Option(..., "--out", help="Sweep directory: new, empty, or this sweep's own "
                                 "(re-running resumes)."),
        workers: int = typer.Option(None, "--workers", help="Local processes (default: all cores; 1 = in this process)."),
        scheduler: str = typer.Option(None, "--scheduler",
                                      help="dask.distributed scheduler: tcp://HOST:PORT, or 'local' for a LocalCluster."),
        resume: bool = typer.Option(False, "--resume", help="Require DIR to hold this sweep already; finish it."),
        force: bool = typer.Option(False, "--force", help="Accept a changed config in an existing DIR."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar with ETA."),
        memory_gib: float = typer.Option(None, "--memory-budget",
                                         help="GiB the sweep may use at its peak (default: half the RAM); "
                                              "a larger estimate is refused before any work."),
    ):
        """Run a sweep: one row per run in DIR/results.parquet, trajectories in DIR/trajectories.nc."""
        from hetquad import config as _config
        from hetquad import sweep as _sweep
        from hetquad.errors import Interrupted

        if memory_gib is not None and not memory_gib > 0:  # NaN too
            raise ValueError(f"--memory-budget must be > 0 GiB, got {memory_gib}")
        cfg = _config.load(config)
        try:
            summary = _sweep.execute(cfg, out, workers=workers, scheduler=scheduler, resume=resume, force=force,
                                     progress=progress, say=lambda line: typer.echo(line, err=True),
                                     memory_budget=None if memory_gib is None else memory_gib * 2**30)
        except KeyboardInterrupt:
            raise Interrupted(f"the sweep in {out} stopped; its finished chunks are saved: re-run the same "
                              "command to resume") from None
        for line in summary.lines():
            typer.echo(line)
