"""`hetquad sweep CONFIG.toml --out DIR`: a parallel, resumable grid of runs (``hetquad.sweep``)."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep_cmd(
        config: Path = typer.Argument(..., help="Sweep config (TOML; see hetquad.config)."),
        out: Path = typer.Option(..., "--out", help="Sweep directory (created; re-running resumes)."),
        workers: int = typer.Option(None, "--workers", help="Local processes (default: all cores; 1 = in this process)."),
        scheduler: str = typer.Option(None, "--scheduler",
                                      help="dask.distributed scheduler: tcp://HOST:PORT, or 'local' for a LocalCluster."),
        resume: bool = typer.Option(False, "--resume", help="Require DIR to hold this sweep already; finish it."),
        force: bool = typer.Option(False, "--force", help="Accept a changed config in an existing DIR."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar with ETA."),
    ):
        """Run a sweep: one row per run in DIR/results.parquet, trajectories in DIR/trajectories.nc."""
        from hetquad import config as _config
        from hetquad import sweep as _sweep

        cfg = _config.load(config)
        summary = _sweep.execute(cfg, out, workers=workers, scheduler=scheduler, resume=resume, force=force,
                                 progress=progress)
        for line in summary.lines():
            typer.echo(line)
