"""A sweep directory on disk: chunk files, the manifest, the run table and the trajectories.

Layout of ``DIR``::

    manifest.json          config (canonical), its hash, package versions, chunk keys, status
    chunks/KEY.parquet     one finished chunk: one row per run, trajectories as list columns
    chunks/KEY.sha256      SHA-256 of KEY.parquet, written after it (a chunk is done iff both agree)
    results.parquet        the run table (one row per run, no trajectories)
    trajectories.nc        xarray Dataset, dims (run, step, block), axis values as coordinates

Columns of the run table: the swept axes (problem parameters, swept optimizer hyper-parameters),
``run_id`` (hash of the run's config), ``problem``, ``optimizer`` (the config label),
``optimizer_type``, ``hyper`` (JSON), ``lr``, ``lr_source`` ('fixed' | 'tuned'), ``tune_table``
(JSON of the lr search), ``lr_edge`` (None for a fixed lr; 'interior', or 'low' / 'high' / 'both'
when the tuned lr is a grid edge: widen the grid), ``seed`` (initial point), ``problem_seed`` (instance), ``status`` ('ok' |
'diverged' | 'failed') and ``reason``, ``stop_reason``, ``iterations`` (updates made),
``iterations_to_tol`` (exact first update with loss ≤ tol·loss₀; inf if never, NaN unless ok),
``final_loss``, ``final_loss_ratio``, ``wall_time`` and ``time_to_tol`` (seconds; the batch's
engine time apportioned by updates), ``engine``, ``bound``, ``bound_iterations``, ``bound_slack``
(``hetquad.sweep.bound_check``; NaN with the reason in ``bound`` where no bound applies).

Every file is written atomically (temp file in the same folder, then ``os.replace``), so a sweep
killed at any moment leaves only whole files; a chunk whose checksum does not match is recomputed.
Files get the usual permissions (0666 minus the umask), like any file a program creates.
``load(DIR)`` returns ``(table, dataset)`` of a complete sweep only: the manifest must say
"complete" and record the SHA-256 of both output files, and their run ids must agree
(``load(DIR, partial=True)`` assembles whatever chunks are finished instead).
"""
from __future__ import annotations

import hashlib
import io
import re
import json
import os
import tempfile
from pathlib import Path

import numpy as np

MANIFEST = "manifest.json"
TABLE = "results.parquet"
TRAJECTORIES = "trajectories.nc"
CHUNKS = "chunks"
TRAJECTORY_COLUMNS = ("loss", "grad_norm", "block_grad_norm")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (a large sweep's outputs need not fit in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            h.update(block)
    return h.hexdigest()


# -- manifest --------------------------------------------------------------------------------------
MANIFEST_KEYS = ("config", "config_hash", "chunks", "status", "steps_recorded")
KEY = re.compile(r"[0-9a-f]{8,128}")  # sims.config_hash: hex digits


def read_manifest(directory) -> dict | None:
    """The manifest of ``directory``, or ``None`` if there is none.

    Raises ``ValueError`` when ``manifest.json`` exists but is not a hetquad sweep manifest (not
    JSON, not an object, keys missing): that folder is not a sweep this package wrote, and nothing
    in it is touched.
    """
    path = Path(directory) / MANIFEST
    if not path.exists():
        return None
    why = None
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        why, data = f"not valid JSON ({exc})", None
    except IsADirectoryError:
        why, data = "a directory", None
    if why is None and not isinstance(data, dict):
        why = f"a JSON {type(data).__name__}, not an object"
    elif why is None and any(k not in data for k in MANIFEST_KEYS):
        why = f"missing {', '.join(k for k in MANIFEST_KEYS if k not in data)}"
    elif why is None and not (isinstance(data["chunks"], list) and isinstance(data["config_hash"], str)
                              and isinstance(data["steps_recorded"], list)):
        why = "chunks, config_hash or steps_recorded of the wrong type"
    elif why is None and not all(isinstance(k, str) and KEY.fullmatch(k) for k in data["chunks"]):
        why = "a chunk key that is not a hash (chunk files are named by their keys: no paths)"
    if why is not None:
        raise ValueError(f"{path} is not a hetquad sweep manifest: {why}; this directory is not a sweep "
                         "hetquad can resume or read: use another --out")
    return data


def write_manifest(directory, manifest: dict) -> None:
    write_atomic(Path(directory) / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())


OUTPUTS = (TABLE, TRAJECTORIES)


def output_digests(directory) -> dict:
    """{file name: SHA-256} of the assembled outputs (the complete manifest records them)."""
    return {n: file_sha256(Path(directory) / n) for n in OUTPUTS}


def is_own_leftover(name: str) -> bool:
    """True for what a sweep killed before writing its manifest can leave at the top of its
    directory: its lock (and the lock's temp file) and the temp files of ``write_atomic``."""
    if name == ".lock" or (name.startswith(".lock.") and name.endswith(".tmp")):
        return True
    return any(name.startswith(f".{own}.") and name.endswith(".tmp") for own in (MANIFEST, *OUTPUTS))


def remove_own_temp_files(directory) -> int:
    """Delete the temp files ``write_atomic`` leaves when killed — only names this module makes
    (``.NAME.XXXX.tmp`` of its own files, at the top and in ``chunks/``); returns the count."""
    directory = Path(directory)
    gone = 0
    for p in directory.glob(".*.tmp"):
        if is_own_leftover(p.name) and not p.name.startswith(".lock"):
            p.unlink(missing_ok=True)
            gone += 1
    chunks = directory / CHUNKS
    if chunks.is_dir():
        for p in chunks.glob(".*.tmp"):
            if p.name.endswith(".tmp") and (".parquet." in p.name or ".sha256." in p.name):
                p.unlink(missing_ok=True)
                gone += 1
    return gone


# -- chunks ----------------------------------------------------------------------------------------
def chunk_path(directory, key: str) -> Path:
    return Path(directory) / CHUNKS / f"{key}.parquet"


def rows_to_parquet(rows: list[dict], *, key: str) -> bytes:
    """Serialise a chunk's rows (dicts, trajectories as 1-D/2-D arrays or None) to Parquet bytes.

    The scalar columns go through pandas (one row per run); the trajectory columns are built
    column-wise, straight from the arrays (one list<double> / list<list<double>> column each),
    in the same single write.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = list(dict.fromkeys(k for r in rows for k in r if k not in TRAJECTORY_COLUMNS))
    frame = pd.DataFrame({k: [r.get(k) for r in rows] for k in names})  # column-wise: faster than records
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name in TRAJECTORY_COLUMNS:
        if any(name in r for r in rows):
            table = table.append_column(name, list_column([r.get(name) for r in rows]))
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"hetquad_chunk": key.encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def list_column(values: list) -> "pa.Array":
    """Per-run arrays (1-D: list<double>; 2-D: list<list<double>>; None: a null) as one Arrow
    column, without a Python list per value."""
    import pyarrow as pa

    arrays = [None if v is None else np.asarray(v, dtype=np.float64) for v in values]
    present = [a for a in arrays if a is not None]
    if not present:
        return pa.nulls(len(values), pa.list_(pa.float64()))
    mask = pa.array([a is None for a in arrays])
    if present[0].ndim == 1:
        lengths = [0 if a is None else a.shape[0] for a in arrays]
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
        return pa.ListArray.from_arrays(offsets, pa.array(np.concatenate(present)), mask=mask)
    inner = list_column([row for a in present for row in a])
    lengths = [0 if a is None else a.shape[0] for a in arrays]
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    return pa.ListArray.from_arrays(offsets, inner, mask=mask)


def write_chunk(directory, key: str, data: bytes) -> Path:
    """Store a finished chunk: the Parquet file, then its checksum (both atomic)."""
    path = chunk_path(directory, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    write_atomic(path.with_suffix(".sha256"), sha256(data).encode())
    return path


def chunk_is_valid(directory, key: str) -> bool:
    """True iff the chunk file and its checksum exist and agree, and the file names this chunk."""
    import pyarrow.parquet as pq

    path = chunk_path(directory, key)
    digest = path.with_suffix(".sha256")
    if not (path.exists() and digest.exists()):
        return False
    data = path.read_bytes()
    if sha256(data) != digest.read_text().strip():
        return False
    try:
        meta = pq.read_schema(io.BytesIO(data)).metadata or {}
    except Exception:  # noqa: BLE001 — any unreadable file is simply recomputed
        return False
    return meta.get(b"hetquad_chunk", b"").decode() == key


def read_chunks(directory, keys) -> "pd.DataFrame":
    """All rows of the given chunks (with trajectory list columns), in ``keys`` order."""
    import pandas as pd

    frames = [pd.read_parquet(chunk_path(directory, k)) for k in keys]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_parts(directory, keys, *, n_steps: int) -> tuple:
    """(run table without trajectories, {name: (n, R[, B]) NaN-padded array}) of the given chunks,
    read part by part and column-wise (no Python object per run and step)."""
    import pandas as pd
    import pyarrow.parquet as pq

    frames, trajs = [], {n: [] for n in TRAJECTORY_COLUMNS}
    for k in keys:
        t = pq.read_table(chunk_path(directory, k))
        present = [n for n in TRAJECTORY_COLUMNS if n in t.column_names]
        frames.append(t.drop_columns(present).to_pandas())
        blocks = frames[-1]["n_blocks_recorded"] if "n_blocks_recorded" in frames[-1] else None
        for n in TRAJECTORY_COLUMNS:
            col = t.column(n) if n in present else None
            trajs[n].append((col, len(t), blocks))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out = {"loss": np.concatenate([_dense(c, m, n_steps) for c, m, _ in trajs["loss"]]) if keys else
           np.empty((0, n_steps)),
           "grad_norm": np.concatenate([_dense(c, m, n_steps) for c, m, _ in trajs["grad_norm"]]) if keys else
           np.empty((0, n_steps))}
    if any(c is not None and c.null_count < len(c) for c, _, _ in trajs["block_grad_norm"]):
        n_blocks = int(np.nanmax(table["n_blocks_recorded"].to_numpy(dtype=float)))
        out["block_grad_norm"] = np.concatenate([_dense(c, m, n_steps, n_blocks) for c, m, _ in trajs["block_grad_norm"]])
    return table, out


def _dense(column, n_runs: int, n_steps: int, n_blocks: int | None = None) -> np.ndarray:
    """An Arrow list column → (n, R[, B]) NaN-padded array; the common case (every present run
    has R steps and B blocks) is one reshape of the flat values."""
    import pyarrow as pa

    shape = (n_runs, n_steps) + (() if n_blocks is None else (n_blocks,))
    out = np.full(shape, np.nan)
    if column is None or column.null_count == len(column):
        return out
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    valid = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    lengths = np.asarray(arr.value_lengths().fill_null(0).to_numpy(zero_copy_only=False))
    flat = arr.flatten()
    if n_blocks is None:
        if np.all(lengths[valid] == n_steps):
            out[valid] = flat.to_numpy(zero_copy_only=False).reshape(-1, n_steps)
            return out
    else:
        inner = np.asarray(flat.value_lengths().fill_null(0).to_numpy(zero_copy_only=False))
        width = int(inner.max()) if inner.size else 0
        if np.all(lengths[valid] == n_steps) and inner.size and np.all(inner == width) and width <= n_blocks:
            out[valid, :, :width] = flat.flatten().to_numpy(zero_copy_only=False).reshape(-1, n_steps, width)
            return out
    return _stack(arr.to_pylist(), n_steps, n_blocks)  # ragged (hand-made files): row by row


def netcdf_engine() -> str:
    """'h5netcdf' (netCDF4/HDF5) when h5py is installed, else 'scipy' (netCDF3, always present).

    h5netcdf ≥ 1.8 no longer pulls in h5py, so the declared dependency alone cannot write;
    ``xr.open_dataset`` reads either format without being told which.
    """
    import importlib.util
    return "h5netcdf" if importlib.util.find_spec("h5py") is not None else "scipy"


# -- the assembled results -------------------------------------------------------------------------
def assemble(directory, keys, *, axes, steps) -> tuple:
    """Write ``results.parquet`` and ``trajectories.nc`` from the chunks; return ``(table, dataset)``.

    Parameters
    ----------
    directory : path
    keys : chunk keys in plan order (rows keep that order)
    axes : names of the swept columns, stored as coordinates along ``run``
    steps : (R,) recorded step indices (the ``step`` coordinate)
    """
    table, arrays = read_parts(directory, keys, n_steps=len(steps))
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    write_atomic(Path(directory) / TABLE, buf.getvalue())
    dataset = dataset_of(table, arrays, axes=axes, steps=steps)
    engine = netcdf_engine()
    # netCDF, one file: xarray opens it lazily (``load(DIR, lazy=True)``: dask chunks of
    # RUN_CHUNK runs), every tool reads it, and HDF5 stores it in chunks along ``run``; the
    # Parquet parts stream to disk as chunks finish and this file is written once from them.
    encoding = {} if engine != "h5netcdf" else {
        v: {"chunksizes": (max(min(RUN_CHUNK, dataset.sizes["run"]), 1), *dataset[v].shape[1:])}
        for v in dataset.data_vars if dataset.sizes["run"]}
    with _local_dask():
        blob = dataset.to_netcdf(engine=engine, encoding=encoding)
    write_atomic(Path(directory) / TRAJECTORIES, blob)
    return table, dataset


def _local_dask():
    """While a dask.distributed client is the default scheduler (a sweep on a cluster), xarray
    would take a cluster-wide lock named after the in-memory file and fail; this file is written
    here, by this process, so the local scheduler's lock is the right one."""
    import contextlib

    try:
        import dask
    except ImportError:
        return contextlib.nullcontext()
    return dask.config.set(scheduler="synchronous")


def _stack(column, n_steps: int, n_blocks: int | None = None) -> np.ndarray:
    """Ragged per-run lists → one NaN-padded array (failed runs have no trajectory; problems
    with fewer blocks leave the extra blocks NaN)."""
    shape = (len(column), n_steps) + (() if n_blocks is None else (n_blocks,))
    out = np.full(shape, np.nan)
    for i, x in enumerate(column):
        if x is None or len(x) == 0:
            continue
        arr = np.stack([np.asarray(r, dtype=float) for r in x])
        out[(i, *(slice(0, n) for n in arr.shape))] = arr
    return out


RUN_CHUNK = 16384  # runs per netCDF/HDF5 chunk and per dask chunk of a lazy load


def trajectories(rows, *, axes, steps) -> "xr.Dataset":
    """The runs' trajectories as a Dataset with dims (run, step[, block]) and run coordinates
    (``rows``: a run table with the trajectory list columns)."""
    steps = np.asarray(steps, dtype=np.int64)
    arrays = {"loss": _stack(rows["loss"], steps.size), "grad_norm": _stack(rows["grad_norm"], steps.size)}
    if "block_grad_norm" in rows.columns and rows["block_grad_norm"].notna().any():
        arrays["block_grad_norm"] = _stack(rows["block_grad_norm"], steps.size, int(rows["n_blocks_recorded"].max()))
    return dataset_of(rows, arrays, axes=axes, steps=steps)


def dataset_of(table, arrays: dict, *, axes, steps) -> "xr.Dataset":
    """The Dataset of a run table and its dense trajectory arrays (``read_parts``)."""
    import xarray as xr

    steps = np.asarray(steps, dtype=np.int64)
    coords = {"run": table["run_id"].to_numpy(dtype=str), "step": steps}
    for name in [*axes, "optimizer", "optimizer_type", "lr", "seed", "status"]:
        if name in table.columns:
            col = table[name].to_numpy()
            coords[name] = ("run", col.astype(str) if col.dtype == object else col)
    data = {"loss": (("run", "step"), arrays["loss"]), "grad_norm": (("run", "step"), arrays["grad_norm"])}
    if "block_grad_norm" in arrays:
        data["block_grad_norm"] = (("run", "step", "block"), arrays["block_grad_norm"])
        coords["block"] = np.arange(arrays["block_grad_norm"].shape[2])
    ds = xr.Dataset(data, coords=coords)
    ds["loss"].attrs["long_name"] = "loss ℓ(w_t) at the recorded steps (NaN after the run stopped)"
    ds["grad_norm"].attrs["long_name"] = "‖∇ℓ(w_t)‖"
    return ds


def load(directory, *, partial: bool = False, lazy: bool = False) -> tuple:
    """The results of a sweep: ``(table, dataset)``.

    ``table`` is a ``pandas.DataFrame`` with one row per run (axis values, optimizer, lr, seed,
    status/reason, iterations_to_tol, final_loss, stop_reason, wall_time, bound slack); ``dataset``
    is an ``xarray.Dataset`` with dims ``run``, ``step`` (and ``block`` when per-block norms were
    recorded), fully loaded into memory (the file is closed) unless ``lazy``.

    Parameters
    ----------
    directory : path of a sweep
    partial : bool
        ``False`` (default): only one complete, consistent sweep is returned — the manifest says
        "complete", both files match the checksums it recorded, and their run ids agree with
        each other and with its run count; anything else raises ``ValueError`` saying what is
        wrong. ``True``: the finished, valid chunks of the manifest's plan, assembled in memory
        (nothing is written); ``table.attrs["partial"]`` says so and how many runs are missing.
    lazy : bool
        ``True``: the trajectories stay on disk, opened with dask chunks of ``RUN_CHUNK`` runs
        (values equal to the eager load; close with ``dataset.close()``). For sweeps too large to
        hold in memory. Ignored with ``partial`` (assembled in memory).
    """
    import pandas as pd
    import xarray as xr

    if not isinstance(partial, bool):
        raise TypeError(f"partial must be True or False, got {type(partial).__name__} {partial!r}")
    if not isinstance(lazy, bool):
        raise TypeError(f"lazy must be True or False, got {type(lazy).__name__} {lazy!r}")
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} holds no finished sweep (not a directory); run "
                                "`hetquad sweep CONFIG --out DIR` first")
    manifest = read_manifest(directory)
    if manifest is None:
        raise FileNotFoundError(f"{directory} holds no finished sweep (no {MANIFEST}); run "
                                "`hetquad sweep CONFIG --out DIR` first")
    if partial:
        keys = [k for k in manifest["chunks"] if chunk_is_valid(directory, k)]
        table, arrays = read_parts(directory, keys, n_steps=len(manifest["steps_recorded"]))
        axes = list(manifest.get("axes", [])) + list(manifest.get("hyper_axes", []))
        dataset = dataset_of(table, arrays, axes=axes, steps=manifest["steps_recorded"]) if len(table) else xr.Dataset()
        n_runs = manifest.get("n_runs", len(table))
        table.attrs["partial"] = {"chunks": len(keys), "of_chunks": len(manifest["chunks"]),
                                  "runs": len(table), "missing_runs": max(int(n_runs) - len(table), 0)}
        return table, dataset
    status = manifest.get("status")
    if status != "complete":
        raise ValueError(f"{directory} holds an unfinished sweep (manifest status {status!r}): re-run "
                         "`hetquad sweep` to finish it, or load(DIR, partial=True) for the finished chunks")
    recorded = manifest.get("outputs")
    missing = [n for n in OUTPUTS if not (directory / n).exists()]
    if missing:
        raise ValueError(f"{directory}: {', '.join(missing)} missing although the manifest says complete; "
                         "re-run `hetquad sweep` to rebuild them, or load(DIR, partial=True)")
    if not isinstance(recorded, dict):
        raise ValueError(f"{directory}: the manifest records no checksums of its outputs (written by an older "
                         "hetquad?); re-run `hetquad sweep` to rebuild them, or load(DIR, partial=True)")
    for name in OUTPUTS:
        if file_sha256(directory / name) != recorded.get(name):
            raise ValueError(f"{directory}: {name} does not match the checksum the manifest recorded (changed "
                             "or replaced since the sweep finished); re-run `hetquad sweep` to rebuild it")
    table = pd.read_parquet(directory / TABLE)
    if lazy:
        dataset = xr.open_dataset(directory / TRAJECTORIES, chunks={"run": RUN_CHUNK})
    else:
        dataset = xr.load_dataset(directory / TRAJECTORIES)
    ids = table["run_id"].to_numpy(dtype=str)
    if len(ids) != manifest.get("n_runs", len(ids)) or not np.array_equal(ids, dataset["run"].values.astype(str)):
        raise ValueError(f"{directory}: the run table and the trajectories disagree (run ids or counts); "
                         "re-run `hetquad sweep` to rebuild them")
    return table, dataset
