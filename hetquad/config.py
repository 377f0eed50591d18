"""Sweep configuration: a TOML file → a frozen, validated ``SweepConfig``.

A sweep is a grid over problem parameters (``[axes]``: Cartesian product; ``[zip]``: axes varied
together), optimizers and their hyper-parameters (list values are axes of that optimizer), and
seeds. Example (``examples/sweeps/tau_kappa.toml`` is the full one)::

    [sweep]
    steps = 3000            # updates per run
    tol = 1e-6              # iterations_to_tol: first step with loss ≤ tol·loss₀ (THEORY §1 T(ε))
    seeds = 5               # or a list [0, 1, 4]; each seed draws w0 = w* + N(0, I)
    engine = "auto"         # 'auto' | 'numpy' | 'numba' | 'cupy'
    record_every = 10
    per_block = true        # also store ‖g_l‖ per block
    chunk_size = 8          # at most this many seeds share one chunk (one batched sims.run)

    [problem]
    name = "tau-kappa"      # a hetquad.problems catalog entry
    seed = 0                # the instance seed; "run" builds one instance per run seed
    n_blocks = 4            # fixed parameters

    [axes]
    tau = [0.25, 0.5, 1.0]
    kappa = [10.0, 100.0, 1000.0]

    [optimizers.gd]         # the key is the label; `type` defaults to it (see sims.OPTIMIZERS)
    lr = "tune"
    [optimizers.adam-b2]
    type = "adam"
    lr = "tune"
    beta2 = [0.99, 0.999]   # a hyper-parameter axis of this optimizer

    [tune]                  # used by every optimizer with lr = "tune"
    lrs = {low = 1e-4, high = 1.0, num = 9}   # or an explicit list
    seed = 1000             # held-out seed (not in `seeds`), so comparisons are fair
    metric = "final_loss"   # sims.tune metric

Unknown keys, problems, parameters and optimizers raise ``ValueError`` with a "did you mean"
hint; the CLI prints it as one line and exits 2.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import field
import itertools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path


from hetquad.problems.validation import in_range, integer, one_of, positive

SECTIONS = ("sweep", "problem", "axes", "zip", "optimizers", "tune")
SWEEP_KEYS = {"steps": None, "tol": 1e-6, "seeds": None, "engine": "auto", "record_every": 1,
              "per_block": False, "chunk_size": None}
TUNE_KEYS = {"lrs": None, "seed": None, "metric": "final_loss", "steps": None}
AUTO = "auto"  # the engine value that lets sims.run choose; the others are sims.engines.NAMES
TUNE = "tune"  # the lr value that asks for the tuning step
MAX_SEED = 2**63 - 1        # seeds are stored as int64 (the run table's `seed` column)
MAX_SEEDS = 1_000_000       # seeds per grid point; more is several sweeps
#: hyper-parameters whose value is itself a list (per-block lrs, an explicit Adam-mini partition):
#: a list of scalars is their value, a list of lists an axis of them
SEQUENCE_HYPER = ("lrs", "partition")
#: problem parameters with a documented floor (the catalog raises at build time otherwise)
PARAM_FLOORS = {"kappa": 1.0, "block_kappa": 1.0, "d": 1, "n_blocks": 1, "block_size": 1,
                "n_samples": 1, "n_classes": 1, "n_features": 1}


def did_you_mean(word: str, options) -> str:
    """'; did you mean X?' when ``word`` is close to one of ``options``, else ''."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_keys(where: str, table: dict, allowed) -> None:
    """Raise ``ValueError`` on the first key of ``table`` not in ``allowed``."""
    for key in table:
        if key not in allowed:
            raise ValueError(f"unknown key {key!r} in {where}{did_you_mean(key, allowed)} "
                             f"(allowed: {', '.join(sorted(allowed))})")


def parse_value(text: str):
    """A command-line value as TOML would read it (``3`` int, ``0.5`` float, ``true``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignment(text: str) -> tuple[str, object]:
    """``'key=value'`` → ``(key, parse_value(value))``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected key=value, got {text!r}")
    return key.strip(), parse_value(value.strip())


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimizerEntry:
    """One ``[optimizers.LABEL]`` table: fixed hyper-parameters, hyper-parameter axes, lr mode.

    ``lrs`` is the tuple of fixed lrs (an lr axis) or ``None`` when the lr is tuned. ``specs``
    holds the optimizer spec of every variant, built (and so validated) once when the config is
    parsed and carried to the workers (a tuned variant's spec has the placeholder lr 1.0); it is
    not part of the config's identity (``to_dict``, equality).
    """

    label: str
    type: str
    fixed: tuple          # ((name, value), ...) sorted
    axes: tuple           # ((name, (values...)), ...) sorted
    lrs: tuple | None
    specs: tuple = field(default=(), compare=False, repr=False)

    def variant_specs(self) -> tuple:
        """The validated spec of each of ``variants()`` (built now if the entry was made by hand)."""
        if len(self.specs) != len(self.variants()):
            return tuple(build_optimizer(self.type, h, 1.0 if lr is None else lr) for h, lr in self.variants())
        return self.specs

    def to_dict(self) -> dict:
        return _plain({"label": self.label, "type": self.type, "fixed": self.fixed, "axes": self.axes,
                       "lrs": self.lrs})

    def groups(self) -> list[list[int]]:
        """Indices of ``variants()`` grouped so that one engine call can run a group: the specs of
        a group differ only in the numeric hyper-parameters their class lists in ``HYPER``
        (per-run values); any other field (schedule, partition, bias_correction, v0, ...) apart
        puts them in different groups. Groups in order of first appearance."""
        specs = self.variant_specs()
        groups: list = []
        keys: list = []
        for i, spec in enumerate(specs):
            hyper = getattr(type(spec), "HYPER", ())
            key = [(f.name, getattr(spec, f.name)) for f in dataclasses.fields(spec) if f.name not in hyper]
            for k, g in zip(keys, groups):
                if k == key:
                    g.append(i)
                    break
            else:
                keys.append(key)
                groups.append([i])
        return groups

    def variants(self) -> list[tuple[dict, float | None]]:
        """Every (hyper-parameters without lr, lr or None) of this entry's grid."""
        names = [n for n, _ in self.axes]
        out = []
        for combo in itertools.product(*(v for _, v in self.axes)):
            hyper = {**dict(self.fixed), **dict(zip(names, combo))}
            for lr in (self.lrs if self.lrs is not None else (None,)):
                out.append((hyper, lr))
        return out


@dataclass(frozen=True)
class TuneSpec:
    """The lr search run inside each chunk that needs it (``sims.tune``, THEORY §6 protocol)."""

    lrs: tuple
    seed: int
    metric: str
    steps: int


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep. ``points()`` gives the problem-parameter grid; see the module docstring."""

    problem: str
    problem_seed: object       # int, or 'run'
    fixed: tuple               # ((param, value), ...)
    axes: tuple                # ((param, (values...)), ...) in file order
    zips: tuple                # (((param, (values...)), ...), ...) one tuple per zip group
    optimizers: tuple          # OptimizerEntry, ...
    seeds: tuple
    steps: int
    tol: float
    engine: str
    record_every: int
    per_block: bool
    chunk_size: int
    tune: TuneSpec | None

    @property
    def axis_names(self) -> list[str]:
        """Swept problem parameters, product axes first, then zipped ones."""
        return [n for n, _ in self.axes] + [n for group in self.zips for n, _ in group]

    @property
    def hyper_axis_names(self) -> list[str]:
        """Optimizer hyper-parameters that are swept in at least one entry (plus 'lr' if any lr axis)."""
        names = {n for o in self.optimizers for n, _ in o.axes}
        if any(o.lrs is not None and len(o.lrs) > 1 for o in self.optimizers):
            names.add("lr")
        return sorted(names)

    def points(self) -> list[dict]:
        """Every problem-parameter point of the grid (product axes × zip groups), as dicts."""
        factors = [[{n: v} for v in vals] for n, vals in self.axes]
        for group in self.zips:
            names = [n for n, _ in group]
            factors.append([dict(zip(names, combo)) for combo in zip(*(v for _, v in group))])
        return [dict(kv for d in combo for kv in d.items()) for combo in itertools.product(*factors)]

    def n_runs(self) -> int:
        return len(self.points()) * sum(len(o.variants()) for o in self.optimizers) * len(self.seeds)

    def to_dict(self) -> dict:
        """Plain, JSON-ready form (the manifest stores it; its canonical hash identifies the sweep)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["optimizers"] = [o.to_dict() for o in self.optimizers]
        out["tune"] = None if self.tune is None else dataclasses.asdict(self.tune)
        return _plain(out)


def _plain(x):
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


# -- parsing ---------------------------------------------------------------------------------------
def load(path) -> SweepConfig:
    """Read and validate a sweep TOML file."""
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        raise ValueError(f"config {path} is not a regular file (a device, pipe or socket); give a TOML file")
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        # utf-8-sig: a byte-order mark (Windows editors write one) is not part of the TOML
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"malformed TOML in {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"malformed TOML in {path}: {exc}") from None
    return parse(data)


def parse(data: dict) -> SweepConfig:
    """Validate a TOML-shaped dict (see the module docstring) into a ``SweepConfig``."""
    from hetquad.problems import catalog

    if not isinstance(data, dict):
        raise TypeError(f"config must be a table, got {type(data).__name__}")
    check_keys("the config", data, SECTIONS)
    for required in ("sweep", "problem", "optimizers"):
        if required not in data:
            raise ValueError(f"config needs a [{required}] section")
    sweep = _table("[sweep]", data["sweep"])
    check_keys("[sweep]", sweep, SWEEP_KEYS)
    opts = {**SWEEP_KEYS, **sweep}
    if opts["steps"] is None or opts["seeds"] is None:
        raise ValueError("[sweep] needs 'steps' and 'seeds'")
    steps = integer("steps", opts["steps"], minimum=1)
    seeds = _seeds(opts["seeds"])
    chunk_size = len(seeds) if opts["chunk_size"] is None else integer("chunk_size", opts["chunk_size"], minimum=1)

    prob = dict(_table("[problem]", data["problem"]))
    name = prob.pop("name", None)
    if name is None:
        raise ValueError("[problem] needs 'name' (one of hetquad.problems.names())")
    params = catalog.parameters(name)  # unknown name → ValueError with a suggestion
    pseed = prob.pop("seed", 0)
    if isinstance(pseed, str) and pseed != "run":
        raise ValueError(f"[problem] seed must be an integer or \"run\", got {pseed!r}{did_you_mean(pseed, ['run'])}")
    if pseed != "run":
        pseed = _seed("[problem] seed", pseed)
    axes = _axes("[axes]", data.get("axes", {}))
    zips = _zips(data.get("zip", []))
    seen: dict = {}
    for where, names in (("[problem]", list(prob)), ("[axes]", [n for n, _ in axes]),
                         ("[zip]", [n for g in zips for n, _ in g])):
        for n in names:
            if n not in params:
                raise ValueError(f"unknown parameter {n!r} of problem {name!r} in {where}"
                                 f"{did_you_mean(n, params)} (its parameters: {', '.join(params)})")
            if n in seen:
                raise ValueError(f"parameter {n!r} appears in both {seen[n]} and {where}")
            seen[n] = where
    for n, v in prob.items():
        _problem_value(name, params, n, v, "[problem]")
    for where, group in (("[axes]", axes), *(("[zip]", g) for g in zips)):
        for n, values in group:
            for v in values:
                _problem_value(name, params, n, v, where)

    tune = None
    if "tune" in data:
        tune = _tune(_table("[tune]", data["tune"]), steps=steps, seeds=seeds)
    optimizers = _optimizers(_table("[optimizers]", data["optimizers"]))
    if any(o.lrs is None for o in optimizers) and tune is None:
        raise ValueError('an optimizer has lr = "tune" but the config has no [tune] section')
    return SweepConfig(
        problem=name, problem_seed=pseed, fixed=tuple(sorted(prob.items())), axes=axes, zips=zips,
        optimizers=optimizers, seeds=seeds, steps=steps, tol=in_range("tol", opts["tol"], 0.0, 1.0, closed="right"),
        engine=_engine(opts["engine"]),
        record_every=integer("record_every", opts["record_every"], minimum=1),
        per_block=_bool("per_block", opts["per_block"]), chunk_size=chunk_size, tune=tune)


def _engine(name) -> str:
    """An engine name that can run here ('cupy' without a GPU is refused now, not per run)."""
    from hetquad.sims import engines

    one_of("engine", name, (AUTO, *engines.NAMES))
    if name != AUTO:
        mod = engines.get(name)
        if not mod.is_available():
            why = getattr(mod, "why_unavailable", lambda: "")()
            raise ValueError(f"engine {name!r} is not available here{': ' + why if why else ''} "
                             f"(use 'auto' or one of {[n for n in engines.NAMES if n != name]})")
    return name


def _problem_value(problem: str, params: dict, name: str, value, where: str) -> None:
    """Type and floor of one problem-parameter value, checked against the catalog default's kind.

    Only what holds for every value is checked here; a combination out of reach (τ below
    ``tau_range`` for that κ and block size) is a failed run of that grid point, not of the sweep.
    """
    default = params[name]
    numeric_default = isinstance(default, (int, float)) and not isinstance(default, bool)
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric_default and not is_number:
        raise TypeError(f"{name} of problem {problem!r} in {where} must be a number, got "
                        f"{type(value).__name__} {value!r}")
    if isinstance(default, int) and not isinstance(default, bool) and is_number and not isinstance(value, int):
        raise TypeError(f"{name} of problem {problem!r} in {where} must be an integer, got "
                        f"{type(value).__name__} {value!r}")
    if isinstance(default, str) and not isinstance(value, str):
        raise TypeError(f"{name} of problem {problem!r} in {where} must be a string, got "
                        f"{type(value).__name__} {value!r}")
    if is_number and not math.isfinite(value):
        raise ValueError(f"{name} of problem {problem!r} in {where} must be finite, got {value!r}")
    if is_number and name in PARAM_FLOORS and value < PARAM_FLOORS[name]:
        raise ValueError(f"{name} of problem {problem!r} in {where} must be >= {PARAM_FLOORS[name]}, got {value!r}")


def _seed(name: str, value) -> int:
    seed = integer(name, value, minimum=0)
    if seed > MAX_SEED:
        raise ValueError(f"{name} must be <= 2**63 - 1 = {MAX_SEED} (stored as int64), got {seed}")
    return seed


def _table(where: str, value) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"{where} must be a table, got {type(value).__name__} {value!r}")
    return value


def _bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false, got {value!r}")
    return value


def _seeds(value) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool):
        n = integer("seeds", value, minimum=1)
        if n > MAX_SEEDS:
            raise ValueError(f"seeds must be <= {MAX_SEEDS} per grid point, got {n}; split them over several "
                             "sweeps (seeds = [first, ..., last] lists)")
        return tuple(range(n))
    if not isinstance(value, list) or not value:
        raise ValueError(f"seeds must be a count >= 1 or a non-empty list of ints, got {value!r}")
    if len(value) > MAX_SEEDS:
        raise ValueError(f"seeds must hold <= {MAX_SEEDS} seeds per grid point, got {len(value)}")
    seeds = tuple(_seed("seeds[i]", s) for s in value)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    return seeds


def _values(where: str, name: str, values) -> tuple:
    """An axis: a non-empty list of scalars of one kind (numbers are unified to float if mixed)."""
    if not isinstance(values, list) or not values:
        raise ValueError(f"axis {name!r} in {where} must be a non-empty list, got {values!r}")
    if any(isinstance(v, (dict, list)) for v in values):
        raise TypeError(f"axis {name!r} in {where} must hold scalars, got {values!r}")
    numeric = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in values]
    if any(numeric) and not all(numeric):
        raise TypeError(f"axis {name!r} in {where} mixes numbers and other values: {values!r}")
    if all(numeric) and any(isinstance(v, float) for v in values):
        values = [float(v) for v in values]
    if len(set(values)) != len(values):
        raise ValueError(f"axis {name!r} in {where} has repeated values: {values!r}")
    return tuple(values)


def _axes(where: str, table) -> tuple:
    return tuple((n, _values(where, n, v)) for n, v in _table(where, table).items())


def _zips(value) -> tuple:
    groups = [value] if isinstance(value, dict) else value
    if not isinstance(groups, list):
        raise TypeError(f"[zip] must be a table or an array of tables, got {value!r}")
    out = []
    for group in groups:
        axes = _axes("[zip]", group)
        lengths = {n: len(v) for n, v in axes}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"zipped axes must have equal lengths, got {lengths}")
        if axes:
            out.append(axes)
    return tuple(out)


def _optimizers(table: dict) -> tuple:
    from hetquad import sims

    if not table:
        raise ValueError("[optimizers] must name at least one optimizer")
    entries = []
    for label, spec in table.items():
        _label(label)
        spec = dict(_table(f"[optimizers.{label}]", spec))
        kind = optimizer_type(spec.pop("type", label), where=f" in [optimizers.{label}]")
        cls = sims.OPTIMIZERS[kind]
        fields = [f.name for f in dataclasses.fields(cls)]
        check_keys(f"[optimizers.{label}] (hyper-parameters of {kind})", spec, fields)
        lr = spec.pop("lr", None)
        if lr is None and default_lr(kind) is None:
            raise ValueError(f'[optimizers.{label}] needs lr (a number, a list, or "tune")')
        if isinstance(lr, str) and lr != TUNE:
            raise ValueError(f'lr in [optimizers.{label}] must be a number, a list or "tune", got {lr!r}'
                             f"{did_you_mean(lr, [TUNE])}")
        if lr == TUNE:
            lrs = None
        elif lr is None:
            lrs = (default_lr(kind),)
        else:
            lrs = tuple(positive("lr", x) for x in _values(f"[optimizers.{label}]", "lr", lr if isinstance(lr, list) else [lr]))
        spec = {n: _sequence_value(label, n, v) if n in SEQUENCE_HYPER else v for n, v in spec.items()}
        axes = tuple(sorted((n, _values(f"[optimizers.{label}]", n, v)) for n, v in spec.items()
                            if isinstance(v, list)))
        fixed = tuple(sorted((n, v) for n, v in spec.items() if not isinstance(v, list)))
        entry = OptimizerEntry(label, kind, fixed, axes, lrs)
        # every constructor check at the door, once: the workers get these specs, not their recipe
        specs = tuple(build_optimizer(kind, hyper, 1.0 if lr_ is None else lr_) for hyper, lr_ in entry.variants())
        entries.append(dataclasses.replace(entry, specs=specs))
    return tuple(entries)


def _label(label: str) -> None:
    """An optimizer label is a printable name (it becomes a column value and a figure legend)."""
    if not label.strip() or not label.isprintable() or "/" in label or "\\" in label or len(label) > 64:
        raise ValueError(f"optimizer label {label!r} must be 1-64 printable characters without '/' or '\\'")


def _sequence_value(label: str, name: str, value):
    """A list-valued hyper-parameter: a list of scalars is one value (a tuple), a list of lists an
    axis of values (a list of tuples)."""
    if not isinstance(value, list):
        return value
    if value and all(isinstance(v, list) for v in value):
        return [_sequence_value(label, name, v) for v in value]
    if value and all(isinstance(v, str) for v in value):
        return value  # an axis of named values ('blocks', 'single', ...)
    if any(isinstance(v, (list, dict)) for v in value):
        raise TypeError(f"{name} in [optimizers.{label}] must be a list of numbers (one value) or a list of "
                        f"such lists (an axis), got {value!r}")
    if name == "partition":
        ids = [integer("partition[i]", v, minimum=0) for v in value]
        if max(ids) >= len(ids):  # ids are 0..B-1 with B <= number of coordinates
            raise ValueError(f"partition ids must be consecutive 0..B-1 over {len(ids)} coordinates, got "
                             f"max id {max(ids)}")
    return tuple(value)


def optimizer_type(name: str, *, where: str = "") -> str:
    """``name`` if it is in ``sims.OPTIMIZERS``, else ``ValueError`` with a "did you mean".

    ``"module:callable"`` or ``"file.py:callable"`` (bring your own optimizer, ``sims.byo``): the
    callable's spec class is registered in ``sims.OPTIMIZERS`` under the reference (a file made
    absolute), which is returned, so every process that resolves the same reference builds it.
    """
    from hetquad import sims

    if isinstance(name, str) and ":" in name:
        from hetquad.sims import byo
        ref = byo.normalize(name)
        if ref not in sims.OPTIMIZERS:
            try:
                sims.OPTIMIZERS[ref] = byo.plugin(ref)
            except (ValueError, TypeError) as e:
                raise type(e)(f"{e}{where}") from None
        return ref
    if name not in sims.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}{where}{did_you_mean(name, sims.OPTIMIZERS)} "
                         f"(known: {', '.join(sims.OPTIMIZERS)})")
    return name


def default_lr(kind: str) -> float | None:
    """The spec's default lr (BlockwiseGD's global multiplier), or ``None`` when lr is required."""
    from hetquad import sims

    f = sims.OPTIMIZERS[optimizer_type(kind)].__dataclass_fields__["lr"]
    return None if f.default is dataclasses.MISSING else float(f.default)


def build_optimizer(kind: str, hyper: dict, lr: float):
    """The optimizer spec ``kind`` with ``hyper`` and ``lr``; dict values go through ``sims.from_dict``."""
    from hetquad import sims

    fields = [f.name for f in dataclasses.fields(sims.OPTIMIZERS[optimizer_type(kind)])]
    check_keys(f"the hyper-parameters of {kind}", hyper, [f for f in fields if f != "lr"])
    kwargs = {k: (sims.from_dict(v) if isinstance(v, dict) else v) for k, v in hyper.items()}
    return sims.make(kind, lr=float(lr), **kwargs)


def _tune(table: dict, *, steps: int, seeds: tuple) -> TuneSpec:
    from hetquad.sims.tune import METRICS, parse_lrs

    check_keys("[tune]", table, TUNE_KEYS)
    t = {**TUNE_KEYS, **table}
    if t["lrs"] is None or t["seed"] is None:
        raise ValueError("[tune] needs 'lrs' (a list or {low, high, num}) and a held-out 'seed'")
    if isinstance(t["lrs"], list):  # the config's own messages for a list ("axis 'lrs' in [tune] ...")
        _values("[tune]", "lrs", t["lrs"])
    lrs = tuple(float(x) for x in parse_lrs(t["lrs"], name="lrs"))
    seed = _seed("[tune] seed", t["seed"])
    if seed in seeds:
        raise ValueError(f"[tune] seed {seed} is also a run seed; the tuning seed must be held out")
    tsteps = steps if t["steps"] is None else integer("[tune] steps", t["steps"], minimum=1)
    return TuneSpec(lrs, seed, one_of("[tune] metric", t["metric"], METRICS), tsteps)
