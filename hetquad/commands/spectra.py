"""`hetquad spectra --model transformer|cnn|mlp`: per-block Hessian spectra and gradient shares of a real net."""
from __future__ import annotations

import json
import math

import typer


def spectra_summary(model: str, *, method: str = "auto", seed: int = 0, n_v: int = 10, m: int = 100) -> dict:
    """Per-block size, λ_min, λ_max, κ_b, negative mass and gradient share, plus JS⁰ and Gini.

    ``None`` where a number is undefined (κ_b of an indefinite block). JS⁰ in both THEORY §7 modes
    (log folds negative eigenvalues to |λ|), Gini of ‖g_b‖/√d_b (THEORY §8.1).
    """
    from hetquad.problems.networks import blockwise_gradients, reference_model, reference_spectra

    rec = reference_spectra(model, seed=seed, method=method, n_v=n_v, m=m)
    rm = reference_model(model, seed=seed)
    grads = blockwise_gradients(rm.model, rm.loss_fn, rm.batch)
    kappas = rec.block_kappas
    blocks = [{"name": n, "size": int(s), "method": meth, "lam_min": float(lo), "lam_max": float(hi),
               "kappa": None if not math.isfinite(k) else float(k), "negative_mass": float(neg),
               "grad_share": float(sh)}
              for n, s, meth, lo, hi, k, neg, sh in zip(rec.names, rec.sizes, rec.methods, rec.lam_min, rec.lam_max,
                                                         kappas, rec.negative_mass, grads.share)]
    return {"model": model, "seed": seed, "method": method, "n_params": rec.d, "n_blocks": rec.n_blocks,
            "loss": rec.loss, "js0_log": rec.js0(mode="log"), "js0_paper_lin": rec.js0(mode="paper-lin"),
            "gradient_gini": grads.gini, "seconds": rec.wall_time, "n_v": rec.n_v, "m": rec.m, "blocks": blocks}


def _fmt(x, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def register(app: typer.Typer) -> None:
    @app.command("spectra")
    def spectra_cmd(
        model: str = typer.Option("transformer", "--model", help="Reference network: transformer, cnn or mlp."),
        method: str = typer.Option("auto", "--method", help="auto (exact up to 2000 entries), exact or slq."),
        seed: int = typer.Option(0, "--seed", help="Seed of the model, its batch and the SLQ probes."),
        n_v: int = typer.Option(10, "--n-v", help="SLQ probes (THEORY §7)."),
        m: int = typer.Option(100, "--m", help="SLQ Lanczos steps (THEORY §7)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ):
        """Per-block Hessian spectra of a small reference network at init: size, λ_min, λ_max, κ_b,
        share of the gradient norm, and the model's JS⁰ and gradient Gini."""
        from hetquad.problems.networks import MODELS
        from hetquad.problems.spectral_density import METHODS
        from hetquad.problems.validation import integer, one_of

        one_of("model", model, MODELS)  # fail before building anything
        one_of("method", method, METHODS)
        integer("seed", seed, minimum=0)
        integer("n_v", n_v, minimum=1)
        integer("m", m, minimum=1)
        row = spectra_summary(model, method=method, seed=seed, n_v=n_v, m=m)
        if as_json:
            typer.echo(json.dumps(row, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{model} (seed {seed}): {row['n_params']} parameters, {row['n_blocks']} blocks, "
                            f"loss {row['loss']:.4f}")
        for col in ("block", "size", "method", "λ_min", "λ_max", "κ_b", "neg. mass", "grad share"):
            table.add_column(col, justify="left" if col == "block" else "right")
        for b in row["blocks"]:
            table.add_row(b["name"], str(b["size"]), b["method"], f"{b['lam_min']:.3e}", f"{b['lam_max']:.3e}",
                          _fmt(b["kappa"], ".3g"), f"{b['negative_mass']:.2f}", f"{b['grad_share']:.3f}")
        console = Console(width=120)
        console.print(table)
        console.print(f"JS⁰ log {row['js0_log']:.3f}   JS⁰ paper-lin {row['js0_paper_lin']:.3f}   "
                      f"gradient Gini {row['gradient_gini']:.3f}   ({row['seconds']:.1f} s; κ_b n/a = indefinite block)")
