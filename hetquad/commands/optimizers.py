"""`hetquad optimizers [--json]`: every optimizer of ``sims.OPTIMIZERS`` with its hyper-parameters,
defaults, engines, the reference it is checked against and the bounds that apply to it.

The reference comes from one place: a spec's ``REFERENCE`` class attribute when it declares one,
else ``REFERENCES`` below (each entry names the test file that does the step-by-step comparison).
Engines are the ones whose ``unsupported(task)`` accepts a small probe run (matrix-shaped blocks,
so matrix optimizers are probed too); an engine not installed here is listed as such.
"""
from __future__ import annotations

import dataclasses
import json

import typer

#: name -> what the spec is checked against (tests/sims/...); a spec's REFERENCE attribute wins
REFERENCES = {
    "gd": "closed forms on diagonal problems (test_known_answers.py)",
    "blockwise-gd": "closed forms per block (test_known_answers.py)",
    "signsgd": "closed form: every coordinate moves by lr (test_crosscheck_lion.py)",
    "signum": "Lion with beta1 = beta2 = mu, bit for bit (test_crosscheck_lion.py)",
    "adam": "torch.optim.Adam (test_crosscheck_torch.py)",
    "adam-mini": "the official adam_mini package (test_crosscheck_adam_mini.py)",
    "rmsprop": "torch.optim.RMSprop (test_crosscheck_torch.py)",
    "sgd": "torch.optim.SGD (test_crosscheck_torch.py)",
    "adamw": "torch.optim.AdamW (test_crosscheck_torch.py)",
    "nadam": "torch.optim.NAdam (test_crosscheck_torch.py)",
    "radam": "torch.optim.RAdam (test_crosscheck_torch.py)",
    "lion": "lion-pytorch (test_crosscheck_lion.py)",
    "adafactor": "torch.optim.Adafactor (test_crosscheck_matrix.py)",
    "came": "came-pytorch (test_crosscheck_matrix.py)",
    "shampoo": "pytorch-optimizer Shampoo / paper algorithm box (test_crosscheck_matrix.py)",
    "soap": "pytorch-optimizer SOAP / paper algorithm box (test_crosscheck_matrix.py)",
    "muon": "pytorch-optimizer Muon / paper algorithm box (test_crosscheck_matrix.py)",
    "lamb": "pytorch-optimizer LAMB / paper algorithm box (test_crosscheck_zoo_c.py)",
    "sm3": "pytorch-optimizer SM3 / paper algorithm box (test_crosscheck_zoo_c.py)",
    "sophia": "pytorch-optimizer SophiaH / paper algorithm box (test_crosscheck_zoo_c.py)",
    "normalized-gd": "closed form (test_zoo_c.py)",
    "clipped-gd": "torch.nn.utils.clip_grad_norm_ + SGD (test_crosscheck_zoo_c.py)",
}
PROBE_STEPS = 2
PROBE_LR = 0.01


def _probe_problem():
    """Two matrix-shaped blocks (2×3 and 2×2): every optimizer, vector or matrix, can be probed."""
    import numpy as np

    from hetquad.problems.quadratic import block_quadratic
    return block_quadratic([np.linspace(1.0, 4.0, 6), np.linspace(1.0, 2.0, 4)], seed=0, shapes=[(2, 3), (2, 2)])


def _engines(cls, problem) -> list[str]:
    from hetquad.sims import engines
    from hetquad.sims.run import build_task

    fields = {f.name: f for f in dataclasses.fields(cls)}
    kw = {"lr": PROBE_LR} if "lr" in fields and fields["lr"].default is dataclasses.MISSING else {}
    try:
        spec = cls.optimal(problem, **kw) if hasattr(cls, "optimal") else cls(**kw)  # BlockwiseGD: its lrs
        task = build_task(problem, spec, PROBE_STEPS)
    except (ValueError, TypeError) as e:
        return [f"n/a on the probe problem ({str(e).splitlines()[0]})"]
    out = []
    for name in engines.NAMES:
        mod = engines.get(name)
        if not mod.is_available():
            why = None
            try:
                why = mod.unsupported(task)
            except Exception:  # an engine that is not installed may not even answer
                why = "?"
            if why is None:
                out.append(f"{name} (not available here)")
            continue
        if mod.unsupported(task) is None:
            out.append(name)
    return out


def _default(f) -> object:
    if f.default is not dataclasses.MISSING:
        v = f.default
    elif f.default_factory is not dataclasses.MISSING:
        v = f.default_factory()
    else:
        return "required"
    from hetquad.sims import to_dict
    v = to_dict(v)
    return v if isinstance(v, (int, float, str, bool, type(None))) else json.dumps(v, sort_keys=True)


def rows() -> list[dict]:
    """One dict per optimizer: name, class, hyper-parameters {name: default}, per_run (HYPER),
    engines, reference, bounds."""
    from hetquad import sims
    from hetquad.theory import registry

    problem = _probe_problem()
    out = []
    for name, cls in sims.OPTIMIZERS.items():
        if not dataclasses.is_dataclass(cls):
            continue
        hyper = {f.name: _default(f) for f in dataclasses.fields(cls)}
        out.append({"name": name, "class": cls.__name__, "hyper": hyper,
                    "per_run": list(getattr(cls, "HYPER", ())),
                    "engines": _engines(cls, problem),
                    "reference": getattr(cls, "REFERENCE", None) or REFERENCES.get(name, "none recorded"),
                    "bounds": [r.name for r in registry.for_optimizer(name)]})
    return out


def register(app: typer.Typer) -> None:
    @app.command("optimizers")
    def optimizers_cmd(
        as_json: bool = typer.Option(False, "--json", help="Print JSON (one object per optimizer) instead of a table."),
    ):
        """List every optimizer: hyper-parameters and defaults, engines, cross-check reference, bounds."""
        table_rows = rows()
        if as_json:
            typer.echo(json.dumps(table_rows, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="hetquad optimizers (sims.OPTIMIZERS; * = may be per-run)", show_lines=True)
        for col in ("name", "hyper-parameters (default)", "engines", "checked against", "bounds"):
            table.add_column(col, overflow="fold")
        for r in table_rows:
            hp = ", ".join(f"{k}{'*' if k in r['per_run'] else ''}={v}" for k, v in r["hyper"].items())
            table.add_row(r["name"], hp, ", ".join(r["engines"]), r["reference"], ", ".join(r["bounds"]) or "-")
        Console(width=160).print(table)
