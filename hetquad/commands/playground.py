"""`hetquad playground [--port N] [--no-browser] [--preset 01..04]`: the live web app (issue 18)."""
from __future__ import annotations

import typer

from hetquad.commands import engine_choices, engine_help


def register(app: typer.Typer) -> None:
    @app.command("playground")
    def playground_cmd(
        port: int = typer.Option(5006, help="Port on 127.0.0.1."),
        no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser tab."),
        preset: str = typer.Option("04", help="Starting state: 01, 02, 03 (the notebooks' stories) or 04."),
        engine: str = typer.Option("auto", help=engine_help("sims engine: ")),
        threads: int = typer.Option(2, help="Optimizers run at once, one numba thread each (0: one per core)."),
    ):
        """Serve the playground: sliders for the problem and the optimizers, curves and bounds that answer."""
        from hetquad import playground  # panel, bokeh and the numba engine load here, not at --help

        if preset not in playground.PRESETS:
            raise ValueError(f"preset must be one of {', '.join(playground.PRESETS)}, got {preset!r}")
        if not 1 <= port <= 65535:
            raise ValueError(f"port must be in [1, 65535], got {port}")
        if engine not in engine_choices():
            raise ValueError(f"engine must be one of {', '.join(engine_choices())}, got {engine!r}")
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        playground.serve(port=port, preset=preset, show=not no_browser, engine=engine, threads=threads or None)
