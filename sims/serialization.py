"""Specs ↔ plain dicts, so a run's config can be stored as canonical JSON and rebuilt.

``to_dict(spec)`` gives ``{'type': ClassName, **fields}`` recursively; ``from_dict`` inverts it;
``canonical_json`` sorts keys and fixes float formatting so equal configs hash equally.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np

from . import noise as _noise
from . import optimizers as _opt
from . import schedules as _sched

_TYPES = {cls.__name__: cls for cls in (
    *_opt.OPTIMIZERS.values(),  # the optimizer registry: a new spec serializes with no edit here
    *_sched.SCHEDULES,
    _noise.GaussianNoise, _noise.MiniBatch, _noise.GradientCorrelatedNoise,
)}


def to_dict(obj):
    """A JSON-ready dict of a spec (dataclass), recursively; plain values pass through."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {"type": type(obj).__name__}
        for f in dataclasses.fields(obj):
            out[f.name] = to_dict(getattr(obj, f.name))
        return out
    if isinstance(obj, (list, tuple)):
        return [to_dict(x) for x in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


def from_dict(data):
    """Inverse of ``to_dict`` for the spec types of ``hetquad.sims``."""
    if isinstance(data, dict) and "type" in data:
        kind = data["type"]
        if kind not in _TYPES:
            raise ValueError(f"unknown spec type {kind!r}; known: {sorted(_TYPES)}")
        kwargs = {k: from_dict(v) for k, v in data.items() if k != "type"}
        for k, v in kwargs.items():
            if isinstance(v, list):  # per-run values and nested rows (BlockwiseGD lrs) as tuples
                kwargs[k] = tuple(tuple(x) if isinstance(x, list) else x for x in v)
        return _TYPES[kind](**kwargs)
    return data


def canonical_json(data) -> str:
    """Sorted keys, no whitespace, floats by repr: equal configs give equal strings."""
    return json.dumps(to_dict(data), sort_keys=True, separators=(",", ":"), allow_nan=True)


def config_hash(data, length: int = 16) -> str:
    """SHA-256 of the canonical JSON, hex, truncated."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:length]
