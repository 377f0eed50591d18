"""`hetquad problems [--json] [--seed N]`: the catalog with d, blocks, κ, block κ range, τ and JS⁰."""
from __future__ import annotations

import json
import math

import typer


def summary(name: str, *, seed: int = 0) -> dict:
    """One catalog entry's structure numbers; ``None`` where a number is undefined.

    κ, block κ, τ (THEORY §5b, of the whole H) and JS⁰ (THEORY §7, log mode) are defined for the
    quadratics; JS⁰ needs at least two blocks. The linear head is not a quadratic: only d and
    its blocks are reported.
    """
    from hetquad.problems import catalog
    from hetquad.problems.quadratic import BlockQuadratic
    from hetquad.problems.spectral_density import js0
    from hetquad.problems.tau import tau

    p = catalog.get(name, seed=seed)
    row = {"name": name, "d": int(p.d), "blocks": len(p.sizes), "kappa": None,
           "block_kappa_min": None, "block_kappa_max": None, "tau": None, "js0": None}
    if isinstance(p, BlockQuadratic):
        kb = p.block_kappas
        row.update(kappa=float(p.kappa), block_kappa_min=float(kb.min()), block_kappa_max=float(kb.max()),
                   tau=float(tau(p.hessian())))
        if p.n_blocks >= 2:
            row["js0"] = float(js0(p))
    return row


def _fmt(x, spec: str) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def register(app: typer.Typer) -> None:
    @app.command("problems")
    def problems_cmd(
        as_json: bool = typer.Option(False, "--json", help="Print JSON (one object per entry) instead of a table."),
        seed: int = typer.Option(0, "--seed", help="Seed used to build every entry."),
    ):
        """List the problem catalog with d, blocks, κ, block κ range, τ and JS⁰ (n/a where undefined)."""
        from hetquad.problems import catalog
        from hetquad.problems.validation import integer

        integer("seed", seed, minimum=0)  # fail before building anything
        rows = [summary(n, seed=seed) for n in catalog.names()]
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"hetquad problems (seed {seed})")
        for col in ("name", "d", "blocks", "κ", "block κ", "τ", "JS⁰"):
            table.add_column(col, justify="left" if col == "name" else "right")
        for r in rows:
            kb = ("n/a" if r["block_kappa_min"] is None
                  else f"{r['block_kappa_min']:.3g}–{r['block_kappa_max']:.3g}")
            table.add_row(r["name"], str(r["d"]), str(r["blocks"]), _fmt(r["kappa"], ".4g"), kb,
                          _fmt(r["tau"], ".3f"), _fmt(r["js0"], ".3f"))
        Console(width=120).print(table)
