"""`hetquad bench [--quick] [--json FILE]`: the engine benchmark of ``benchmarks/bench_engines.py``."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Optional

import typer

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_engines.py"


def load_benchmark(path: Path = SCRIPT):
    """The benchmark module (it lives beside the package in a source checkout, not in a wheel)."""
    if not path.is_file():
        raise FileNotFoundError(f"benchmark script not found at {path}; `hetquad bench` needs a source "
                                "checkout (pip install -e .)")
    spec = importlib.util.spec_from_file_location("hetquad_bench_engines", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench_cmd(
        quick: bool = typer.Option(False, "--quick", help="10x fewer steps, one repeat (a smoke run)."),
        json_path: Optional[Path] = typer.Option(None, "--json", help="Write the table here "
                                                 "(default benchmarks/results/latest.json)."),
    ):
        """Time every engine on three problem sizes; print a markdown table and save it as JSON."""
        mod = load_benchmark()
        table = mod.measure(quick=quick)
        out = json_path or mod.RESULTS
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(table, indent=1))
        typer.echo(mod.markdown(table))
        typer.echo(f"table written to {out}", err=True)
