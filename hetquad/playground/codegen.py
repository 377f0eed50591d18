""""Copy as code" and "copy as sweep": the page's state as a Python snippet and as a sweep TOML.

The snippet rebuilds the problem, the initial points and every optimizer from the public API and
prints each optimizer's median iterations to tol, the number the page's table shows. The sweep
varies the control the user moved last (``State.last_moved``) around its current value.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .state import State, build_optimizer, build_problem

# Numeric controls bounded on both sides: a sweep steps linearly inside; others step geometrically.
BOUNDED = {"tau": (0.0, 1.0), "R": (0.0, 1.0), "a": (0.0, 1.0), "strength": (0.0, 0.99),
           "beta1": (0.0, 0.99), "beta2": (0.0, 1.0), "momentum": (0.0, 0.99)}
INTEGERS = ("n_blocks", "block_size", "d", "seed", "batch", "steps")


def _py(value) -> str:
    """A Python literal that reads back as exactly ``value``."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def _spec_code(spec) -> str:
    """``sims.Name(field=..., ...)`` for a ``sims`` spec, every field spelled out."""
    parts = []
    for f in dataclasses.fields(spec):
        v = getattr(spec, f.name)
        parts.append(f"{f.name}={_spec_code(v) if dataclasses.is_dataclass(v) else _py(v)}")
    return f"sims.{type(spec).__name__}({', '.join(parts)})"


def _w0_code(state: State) -> str:
    if state.gini is None:
        return (f"w0 = np.concatenate([sims.initial_points(p, 1, i) for i in range({state.batch})])"
                "  # run i = a sweep's seed i")
    return (f"w0 = np.stack([problems.initial_point(p, gini={state.gini!r}, placement='sharpest', seed=i)\n"
            f"               for i in range({state.batch})])  # block gradient norms with Gini {state.gini!r}")


def labels(state: State) -> list[str]:
    """Unique labels of the race's optimizers (a second 'adam' becomes 'adam-2')."""
    out = []
    for c in state.optimizers:
        base = c.label.replace(" (theorem)", "-theorem")
        label, k = base, 2
        while label in out:
            label, k = f"{base}-{k}", k + 1
        out.append(label)
    return out


def as_code(state: State, problem=None) -> str:
    """A Python snippet that reproduces the page's runs and prints each median iterations to tol.

    ``problem``: the state's problem when the caller has it already built. Raises ``ValueError``
    if the state is invalid (as ``evaluate`` would).
    """
    p = build_problem(state) if problem is None else problem
    kw = "".join(f", {k}={_py(v)}" for k, v in state.params)
    lines = [
        "# hetquad playground: the page's state as code (prints the table's iterations to tol)",
        "import numpy as np",
        "from hetquad import problems, sims",
        "",
        f"p = problems.get({state.problem!r}, seed={state.seed}{kw})",
        _w0_code(state),
        "race = [",
    ]
    for label, c in zip(labels(state), state.optimizers):
        lines.append(f"    ({label!r}, {_spec_code(build_optimizer(c, p))}),")
    lines += [
        "]",
        "for label, opt in race:",
        f"    res = sims.run(p, opt, {state.steps}, w0=w0, engine={state.engine!r})",
        f"    its = float(np.median(res.iterations_to({state.tol!r})))  # first t with loss <= tol * loss_0",
        "    print(f'{label}: iterations to tol = {its:g}')",
    ]
    return "\n".join(lines) + "\n"


def axis_values(name: str, value) -> list:
    """Five values around ``value`` for a sweep axis (``value`` included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return [value]
    if name in INTEGERS or isinstance(value, int):
        lo = 2 if name in ("block_size", "d") else (0 if name == "seed" else 1)
        return sorted({max(lo, int(value) + k) for k in (-2, -1, 0, 1, 2)})
    if name in BOUNDED:
        lo, hi = BOUNDED[name]
        vals = np.clip(value + np.array([-0.2, -0.1, 0.0, 0.1, 0.2]) * (hi - lo), lo + 1e-3 * (hi - lo), hi)
        vals[2] = value
        return sorted({round(float(v), 6) if i != 2 else float(v) for i, v in enumerate(vals)})
    return [float(value * f) if f != 1 else float(value) for f in (0.25, 0.5, 1, 2, 4)]


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _opt_table(spec) -> dict:
    """The hyper-parameters of ``spec`` a sweep table needs (schedule as a ``sims.from_dict`` dict)."""
    from hetquad import sims

    d = sims.to_dict(spec)
    d.pop("type")
    if d.get("schedule") == {"type": "Constant"}:
        d.pop("schedule")
    return d


def as_sweep(state: State, problem=None) -> str:
    """A ``hetquad sweep`` TOML of the current state, varying the control moved last.

    Each sweep seed i starts at ``sims.initial_points(p, 1, i)``, the page's run i (without a
    Gini target); ``last_moved`` of the form 'param.NAME' becomes a problem axis and
    'opt.K.NAME' (K the optimizer's index) an axis of that optimizer.
    """
    p = build_problem(state) if problem is None else problem
    moved = state.last_moved or ""
    sweepable = ((moved.startswith("param.") and moved[6:] in dict(state.params))
                 or (moved.startswith("opt.") and moved.rpartition(".")[2] not in ("schedule", "every", "gamma")))
    varies = moved if sweepable else (f"nothing: the control moved last ({moved}) is not a sweep axis" if moved
                                      else "nothing: move a slider first")
    head = [f"# hetquad playground: the page's state as a sweep (hetquad sweep THIS.toml --out DIR; varies {varies})"]
    if state.gini is not None:
        head.append(f"# the page starts from block gradient norms with Gini {state.gini}; a sweep draws "
                    "w0 = w* + N(0, I) per seed, so its numbers differ from the page's")
    params = dict(state.params)
    lines = head + ["", "[sweep]", f"steps = {state.steps}", f"tol = {_toml(state.tol)}",
                    f"seeds = {state.batch}", f'engine = "{state.engine}"', "per_block = true", "",
                    "[problem]", f'name = "{state.problem}"', f"seed = {state.seed}"]
    axis = None
    if moved.startswith("param.") and moved[6:] in params:
        axis = moved[6:]
    for k, v in params.items():
        if k != axis and v is not None:
            lines.append(f"{k} = {_toml(v)}")
    if axis is not None:
        lines += ["", "[axes]", f"{axis} = {_toml(axis_values(axis, params[axis]))}"]
    for i, (label, c) in enumerate(zip(labels(state), state.optimizers)):
        spec = build_optimizer(c, p)
        if c.name == "blockwise-gd":  # a list in a sweep table is an axis: per-block lrs don't fit
            lines += ["", f"# {label}: its per-block steps cannot be written in a sweep table "
                      "(lists are axes); use 'copy as code' for it"]
            continue
        lines += ["", f"[optimizers.{label}]", f'type = "{spec.name}"']
        for k, v in _opt_table(spec).items():
            if moved == f"opt.{i}.{k}":
                v = axis_values(k, v)
            lines.append(f"{k} = {_toml(v)}")
    return "\n".join(lines) + "\n"
