"""Bring your own Hessian: block quadratics from and to ``.npz`` files.

A file holds either dense blocks ``blocks_0``, ``blocks_1``, … (each (d_l, d_l), symmetric
positive definite) or eigenvalue lists ``eigs_0``, ``eigs_1``, … (then rotated as
``block_quadratic`` does, with optional scalars ``rotation`` ('haar' | 'givens' | 'identity'),
``seed`` and ``R``). Optional for both: ``w_star`` (d,), ``coupling`` (d, d), ``name`` and
``shapes`` (B, 2) ints: block l's matrix shape (r, c), or (0, 0) for a vector block.
The result is validated exactly like any ``BlockQuadratic``; errors name the file and the key.
"""
from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path

import numpy as np

from .quadratic import BlockQuadratic, block_quadratic

_INDEXED = re.compile(r"^(blocks|eigs)_(\d+)$")
_OPTIONAL = {"w_star", "coupling", "name", "rotation", "seed", "R", "shapes"}
_EIGS_ONLY = {"rotation", "seed", "R"}


def _scalar(data, key: str, path):
    value = np.asarray(data[key])
    if value.ndim != 0:
        raise ValueError(f"{path}: '{key}' must be a scalar, got shape {value.shape}")
    return value.item()


def _indexed(data, prefix: str, path) -> list[np.ndarray]:
    found = sorted(int(m.group(2)) for k in data.files if (m := _INDEXED.match(k)) and m.group(1) == prefix)
    if found != list(range(len(found))):
        raise ValueError(f"{path}: '{prefix}_<i>' keys must be numbered 0..B-1 without gaps, got {found}")
    return [data[f"{prefix}_{i}"] for i in found]


def load_npz(path, *, name: str | None = None) -> BlockQuadratic:
    """Load a block quadratic from ``path`` (see the module docstring for the keys).

    Parameters
    ----------
    path : str or Path
    name : str, optional
        Overrides the stored ``name`` (default: the stored one, else the file stem).

    Returns
    -------
    BlockQuadratic
    """
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (EOFError, ValueError, zipfile.BadZipFile) as exc:  # empty, truncated, not a zip
        raise ValueError(f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: is a single .npy array, not a .npz archive (save with problems.save_npz)")
    with loaded as data:
        keys = set(data.files)
        unknown = sorted(k for k in keys if not _INDEXED.match(k) and k not in _OPTIONAL)
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {unknown}; allowed: blocks_<i> or eigs_<i>, "
                             f"and optionally {sorted(_OPTIONAL)}")
        blocks, eigs = _indexed(data, "blocks", path), _indexed(data, "eigs", path)
        if bool(blocks) == bool(eigs):
            raise ValueError(f"{path}: needs either blocks_0, blocks_1, ... or eigs_0, eigs_1, ... (exactly one kind), "
                             f"got keys {sorted(keys)}")
        if blocks and keys & _EIGS_ONLY:
            raise ValueError(f"{path}: {sorted(keys & _EIGS_ONLY)} apply only to eigs_<i> files")
        if eigs and "coupling" in keys:
            raise ValueError(f"{path}: 'coupling' applies only to blocks_<i> files")
        w_star = data["w_star"] if "w_star" in keys else None
        coupling = data["coupling"] if "coupling" in keys else None
        shapes = _shapes(data["shapes"], path) if "shapes" in keys else None
        stored = str(_scalar(data, "name", path)) if "name" in keys else path.stem
        label = stored if name is None else name
        try:
            if blocks:
                return BlockQuadratic(tuple(blocks), w_star=w_star, coupling=coupling, name=label,
                                      info={"source": str(path)}, shapes=shapes)
            opts = {k: _scalar(data, k, path) for k in _EIGS_ONLY & keys}
            p = block_quadratic(eigs, rotation=str(opts.get("rotation", "haar")), seed=opts.get("seed"),
                                R=opts.get("R", 1.0), w_star=w_star, name=label, shapes=shapes)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{path}: {exc}") from None
    return dataclasses.replace(p, info={**p.info, "source": str(path)})


def _shapes(arr, path) -> list:
    """The stored (B, 2) ``shapes`` array as per-block (r, c) pairs, (0, 0) → None (a vector block)."""
    arr = np.asarray(arr)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{path}: 'shapes' must be a (B, 2) integer array, got dtype {arr.dtype} shape {arr.shape}")
    return [None if (r, c) == (0, 0) else (r, c) for r, c in arr.tolist()]


def save_npz(p: BlockQuadratic, path) -> Path:
    """Write ``p`` as dense ``blocks_<i>`` (+ ``w_star``, ``name``, ``coupling``, ``shapes`` when a
    block is matrix-shaped); returns the path."""
    if not isinstance(p, BlockQuadratic):
        raise TypeError(f"p must be a BlockQuadratic, got {type(p).__name__}")
    path = Path(path)
    arrays = {f"blocks_{i}": b for i, b in enumerate(p.blocks)}
    arrays["w_star"] = p.w_star
    arrays["name"] = np.array(p.name)
    if p.coupling is not None:
        arrays["coupling"] = p.coupling
    if any(s is not None for s in p.shapes):
        arrays["shapes"] = np.array([(0, 0) if s is None else s for s in p.shapes], dtype=np.int64)
    np.savez(path, **arrays)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")
