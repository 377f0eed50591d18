"""Bring your own optimizer: plain functions, or a ``"module:callable"`` reference, as a hetquad spec.

The contract (``custom``):

* ``init(w) -> state``: ``w`` is the (n, d) float64 batch of initial points (n independent runs) on
  the engine's array module — numpy on the numpy engine, cupy on the cupy engine. ``state`` is any
  value (an array, a tuple or dict of arrays, None); hetquad only passes it back.
* ``update(g, state, w) -> (new_w, new_state)``: ``g`` is the (n, d) gradient at ``w``; return the
  next (n, d) iterate and state. Write it with the array methods or the module of ``w``
  (``sims.optimizers.namespace(w)``) so that one function serves numpy and cupy. Runs are rows: a
  run's row must depend on that row only (then a run's numbers do not depend on its batch mates).

The engines stop a run (tol, divergence) by freezing its row of ``w``; the state of a stopped run
may go on changing, it is never read again. The numba engine needs a lowered family record, so a
custom spec runs on the numpy and cupy engines ('auto' picks one of them).

In a sweep or ``hetquad run``, ``type = "module:callable"`` (a module on ``sys.path``) or
``type = "path/to/file.py:callable"`` (a file, resolved against the working directory) names a
callable whose keyword arguments are the hyper-parameters — ``lr`` is required — and which returns
either a spec (anything with ``init(problem, w0)``/``update(state, g)``, e.g. a ``sims`` spec) or the
pair ``(init, update)`` of the contract above. ``plugin(ref)`` turns it into a spec class.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import math
import os
import sys
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .optimizers.base import namespace


class CustomState(NamedTuple):
    w: object      # (n, d) iterate
    t: int
    state: object  # the user's state


def _describe(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', type(fn).__name__)}"


@dataclass(frozen=True)
class Custom:
    """A spec around user functions ``init(w)`` / ``update(g, state, w)`` (module docstring: the contract).

    Build it with ``sims.custom``. ``name`` labels results; ``hyper`` (name, number) pairs are
    recorded as the runs' hyper-parameters; ``source`` names the functions. Two specs are equal
    when these three are (the functions themselves are not compared).
    """

    name: str = "custom"
    hyper_values: tuple = ()
    source: str = ""

    def init(self, problem, w0) -> CustomState:
        xp = namespace(w0)
        w = xp.array(w0, dtype=np.float64)
        w = w[None, :] if w.ndim == 1 else w
        groups = self._rows(w.shape[0])
        if groups is None:
            return CustomState(w, 0, self._init(w))
        return CustomState(w, 0, tuple(init(w[xp.asarray(r)]) for (init, _), r in zip(self._pairs, groups)))

    def _rows(self, n: int):
        """Row indices of each (init, update) pair, or None for one pair over every row."""
        group = getattr(self, "_group", None)
        if group is None:
            return None
        if len(group) != n:
            raise ValueError(f"optimizer {self.name!r} has {len(group)} per-run lrs but the batch has {n} runs")
        return [np.flatnonzero(group == k) for k in range(len(self._pairs))]

    def _check(self, out, shape):
        if not isinstance(out, tuple) or len(out) != 2:
            raise TypeError(f"update of optimizer {self.name!r} must return (new_w, state), "
                            f"got {type(out).__name__}")
        if getattr(out[0], "shape", None) != shape:
            raise ValueError(f"update of optimizer {self.name!r} must return new_w of shape {shape}, "
                             f"got {getattr(out[0], 'shape', type(out[0]).__name__)}")
        return out

    def update(self, state: CustomState, g) -> CustomState:
        groups = self._rows(state.w.shape[0])
        if groups is None:
            w, s = self._check(self._update(g, state.state, state.w), state.w.shape)
            return CustomState(w, state.t + 1, s)
        xp = namespace(g)
        w, states = state.w.copy(), []
        for (_, update), r, s in zip(self._pairs, groups, state.state):
            r = xp.asarray(r)
            nw, s = self._check(update(g[r], s, state.w[r]), state.w[r].shape)
            w[r] = nw
            states.append(s)
        return CustomState(w, state.t + 1, tuple(states))

    def hyper(self, n: int) -> dict:
        out = {k: np.full(n, float(v)) for k, v in self.hyper_values}
        if getattr(self, "_group", None) is not None:
            out["lr"] = np.array(self._lrs, dtype=np.float64)
        return out

    def _lengths(self) -> dict:
        group = getattr(self, "_group", None)
        return {} if group is None else {"lr": len(group)}


def custom(init, update, *, name: str = "custom", hyper: dict | None = None) -> Custom:
    """A hetquad spec from plain xp-generic functions ``init(w)`` and ``update(g, state, w)``.

    Parameters
    ----------
    init : callable w (n, d) -> state
    update : callable (g, state, w) -> (new_w, new_state)
    name : str
        Label of the runs (``Result.config``, sweep tables).
    hyper : dict of str -> number, optional
        Hyper-parameters the functions close over, recorded in ``Result.hyper``.

    Returns
    -------
    Custom
        Runs on the numpy and cupy engines through ``sims.run``.

    Examples
    --------
    >>> def init(w):
    ...     return None
    >>> def update(g, state, w):
    ...     return w - 0.1 * g, state
    >>> spec = custom(init, update, name="my-gd", hyper={"lr": 0.1})
    """
    for arg, fn in (("init", init), ("update", update)):
        if not callable(fn):
            raise TypeError(f"{arg} must be a callable, got {type(fn).__name__}")
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    pairs = []
    for k, v in (hyper or {}).items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
            raise ValueError(f"hyper[{k!r}] must be a finite number, got {v!r}")
        pairs.append((str(k), float(v)))
    spec = Custom(name, tuple(pairs), f"{_describe(init)} {_describe(update)}")
    object.__setattr__(spec, "_init", init)  # not fields: specs stay serializable and hashable
    object.__setattr__(spec, "_update", update)
    return spec


# -- "module:callable" references --------------------------------------------------------------
def normalize(ref: str) -> str:
    """``ref`` with a file part made absolute (so worker processes find the same file)."""
    module, _, attr = ref.rpartition(":")
    if module.endswith(".py"):
        module = os.path.abspath(module)
    return f"{module}:{attr}"


def load_callable(ref: str):
    """The object ``ref`` ("module:callable" or "file.py:callable") names; one-line errors."""
    if not isinstance(ref, str) or ref.count(":") < 1 or not ref.rpartition(":")[2]:
        raise ValueError(f'optimizer type must be a name or "module:callable", got {ref!r}')
    module, _, attr = ref.rpartition(":")
    if module.endswith(".py"):
        if not os.path.isfile(module):
            raise ValueError(f"optimizer type {ref!r}: no file {module}")
        key = "hetquad_byo_" + hashlib.sha1(os.path.abspath(module).encode()).hexdigest()[:16]
        mod = sys.modules.get(key)
        if mod is None:
            spec = importlib.util.spec_from_file_location(key, module)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            sys.modules[key] = mod
    else:
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            raise ValueError(f"optimizer type {ref!r}: cannot import {module!r} ({e})") from None
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"optimizer type {ref!r}: {module!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"optimizer type {ref!r} must name a callable, got {type(obj).__name__}")
    return obj


def _is_pair(out) -> bool:
    return isinstance(out, tuple) and len(out) == 2 and all(callable(f) for f in out)


def _as_spec(ref: str, fn, kwargs: dict):
    """The spec ``fn(**kwargs)`` stands for. A per-run ``lr`` (a tuple, as ``sims.tune`` passes
    it): a returned spec gets the tuple itself; (init, update) pairs are built once per distinct
    lr and each runs on its own rows."""
    lr = kwargs.get("lr")
    per_run = isinstance(lr, tuple)
    out = fn(**{**kwargs, "lr": lr[0]}) if per_run else fn(**kwargs)
    if hasattr(out, "init") and hasattr(out, "update"):
        return fn(**kwargs) if per_run else out
    if not _is_pair(out):
        raise TypeError(f"optimizer type {ref!r} must return a spec or an (init, update) pair, "
                        f"got {type(out).__name__}")
    numbers = {k: v for k, v in kwargs.items()
               if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)}
    spec = custom(out[0], out[1], name=ref, hyper=numbers)
    if per_run:
        uniq = list(dict.fromkeys(lr))
        pairs = [out] + [fn(**{**kwargs, "lr": x}) for x in uniq[1:]]
        object.__setattr__(spec, "_pairs", pairs)
        object.__setattr__(spec, "_group", np.array([uniq.index(x) for x in lr]))
        object.__setattr__(spec, "_lrs", tuple(float(x) for x in lr))
    return spec


def plugin(ref: str) -> type:
    """A spec class for ``ref``: its fields are the callable's keyword arguments (``lr`` required);
    an instance calls the callable once and behaves as the spec it returned."""
    fn = load_callable(ref)
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if "lr" not in [p.name for p in params]:
        raise TypeError(f"optimizer type {ref!r}: the callable must take an lr argument "
                        f"(it has {[p.name for p in params]})")
    fields = [(p.name, object, field(default=p.default) if p.default is not p.empty else field())
              for p in params]

    def __post_init__(self):
        kwargs = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        object.__setattr__(self, "_spec", _as_spec(ref, fn, kwargs))

    def __getattr__(self, item):  # everything else (init, update, lower, hyper, ...) is the built spec's
        if item == "_spec" or item.startswith("__"):
            raise AttributeError(item)
        return getattr(self._spec, item)

    cls = dataclasses.make_dataclass(
        "Plugin", fields, frozen=True, kw_only=True,
        namespace={"__post_init__": __post_init__, "__getattr__": __getattr__, "name": ref, "REF": ref,
                   "__doc__": f"The optimizer returned by {ref} (sims.byo.plugin)."})
    return cls
