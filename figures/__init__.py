"""hetquad.figures — one module per figure; ``render`` computes (through the library), caches the
data beside the images, and plots.

A figure module defines::

    NAME = "zhang-cases"             # CLI name
    SOURCE = "Zhang et al. 2024 ..."  # the seed figure it reproduces
    REPRODUCES = "Zhang et al. Cases 1–4"          # short form for the README gallery
    CAPTION = "... {gap:.1f} decades ..."         # what it shows, ours [C], settings, differences
    SUMMARY = "..."                                # one line for the README gallery (same fields)
    def compute(fidelity: str) -> xarray.Dataset   # 'tiny' (tests), 'default' (make figures), 'full'
    def facts(data) -> dict                        # every number of CAPTION / SUMMARY, from data
    def plot(data) -> matplotlib.figure.Figure     # plotting only: no physics here

CAPTION and SUMMARY are ``str.format`` templates: no number is typed in them (settings and
measurements alike come from ``facts(data)``), so a caption always describes the data it is
printed with, at any fidelity; tests/figures/test_captions.py checks this for every figure.

Data are cached as ``<out>/<NAME>.nc`` keyed by a hash of the module source, the fidelity and the
package version, so a re-run only re-plots.

``compute`` runs with one BLAS thread (``BLAS_THREADS``): the figures factor many small matrices
(tens to a few hundred rows), where a second OpenBLAS thread only adds synchronisation — on a
loaded 2-core machine 20 eigh of a 72×72 matrix took 13.6 s wall with two threads and 0.35 s with
one (measured 2 Dec 2026, load average 8).
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import pkgutil
import re
import string
import time
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

import hetquad

FIDELITIES = ("tiny", "default", "full")
BLAS_THREADS = 1  # for every figure's compute (module docstring)
_NOT_FIGURES = {"style"}


def registry() -> dict:
    """name → module for every figure module in this package, in name order."""
    mods = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in _NOT_FIGURES:
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "NAME"):
            mods[mod.NAME] = mod
    return dict(sorted(mods.items()))


def names() -> list[str]:
    return list(registry())


def get(name: str):
    reg = registry()
    if name not in reg:
        import difflib
        close = difflib.get_close_matches(name, reg, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown figure {name!r}{hint}; known: {', '.join(reg)}")
    return reg[name]


def cache_key(mod, fidelity: str) -> str:
    src = inspect.getsource(mod)
    return hashlib.sha256(f"{src}|{fidelity}|{hetquad.__version__}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Rendered:
    name: str
    png: Path
    pdf: Path
    data: Path
    cached: bool
    seconds: float


def compute_cached(mod, fidelity: str, out: Path) -> tuple[xr.Dataset, bool]:
    """The figure's data, from ``out/NAME.nc`` when its cache key matches, else computed and saved."""
    if fidelity not in FIDELITIES:
        raise ValueError(f"fidelity must be one of {FIDELITIES}, got {fidelity!r}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{mod.NAME}.nc"
    key = cache_key(mod, fidelity)
    if path.exists():
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            if ds.attrs.get("cache_key") == key:
                return ds.load(), True
    from threadpoolctl import threadpool_limits

    wall, cpu = time.perf_counter(), time.process_time()
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        data = mod.compute(fidelity)
    data.attrs.update({"cache_key": key, "fidelity": fidelity, "figure": mod.NAME,
                       "source": getattr(mod, "SOURCE", ""), "hetquad": hetquad.__version__,
                       "compute_wall_s": time.perf_counter() - wall,
                       "compute_cpu_s": time.process_time() - cpu})
    tmp = path.with_suffix(f".nc.{os.getpid()}.tmp")  # per process: test workers may share ``out``
    data.to_netcdf(tmp, engine="h5netcdf")
    tmp.replace(path)  # atomic: a killed run never leaves a half-written cache
    return data, False


def render(name: str, *, fidelity: str = "default", out="figures/out") -> Rendered:
    """Compute (or load) the data of figure ``name``, plot it, write PNG + PDF + caption."""
    import matplotlib.pyplot as plt

    mod = get(name)
    out = Path(out)
    t0 = time.perf_counter()
    data, cached = compute_cached(mod, fidelity, out)
    fig = mod.plot(data)
    png, pdf = out / f"{mod.NAME}.png", out / f"{mod.NAME}.pdf"
    fig.savefig(png)
    fig.savefig(pdf)
    plt.close(fig)
    (out / f"{mod.NAME}.txt").write_text(f"{mod.SOURCE}\n\n{caption(mod, data)}\n")
    return Rendered(mod.NAME, png, pdf, out / f"{mod.NAME}.nc", cached, time.perf_counter() - t0)


class _Recorder(string.Formatter):
    """``str.format`` that remembers the text each replacement field produced."""

    def __init__(self):
        self.fields: list[tuple[str, str]] = []

    def format_field(self, value, format_spec):
        text = super().format_field(value, format_spec)
        self.fields.append((format_spec, text))
        return text


def fill(template: str, facts: dict) -> tuple[str, list[tuple[str, str]], str]:
    """Format ``template`` with ``facts``.

    Returns the text, the (format spec, produced text) of every field, and the template's literal
    text (the fields removed) — what the caption test searches for typed numbers.
    """
    rec = _Recorder()
    text = rec.vformat(inspect.cleandoc(template), (), facts)
    literal = "".join(lit for lit, *_ in string.Formatter().parse(inspect.cleandoc(template)))
    return text, rec.fields, literal


def caption(mod, data) -> str:
    """The figure's caption with every number taken from ``mod.facts(data)``."""
    return fill(mod.CAPTION, mod.facts(data))[0]


def summary(mod, data) -> str:
    """The one-line README gallery entry, numbers from ``mod.facts(data)``."""
    return " ".join(fill(mod.SUMMARY, mod.facts(data))[0].split())


GALLERY_START = "<!-- gallery:start (written by `hetquad figures --readme README.md`; do not edit) -->"
GALLERY_END = "<!-- gallery:end -->"


def gallery_table(out, *, images="docs/figures") -> str:
    """The README gallery, one row per figure, from the cached data in ``out`` (any fidelity).

    Raises ``ValueError`` naming the figures whose data are missing from ``out``.
    """
    out = Path(out)
    rows, missing, wall, cpu, fids = [], [], 0.0, 0.0, set()
    for name, mod in registry().items():
        path = out / f"{name}.nc"
        if not path.exists():
            missing.append(name)
            continue
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            data = ds.load()
        wall += float(data.attrs.get("compute_wall_s", float("nan")))
        cpu += float(data.attrs.get("compute_cpu_s", float("nan")))
        fids.add(str(data.attrs.get("fidelity")))
        cells = (fill(mod.REPRODUCES, mod.facts(data))[0], summary(mod, data))
        rep, summ = (c.replace("|", "\\|") for c in cells)  # a bare | would split the table cell
        rows.append(f"| ![]({images}/{name}.png) | `{name}` | {rep} | {summ} |")
    if missing:
        raise ValueError(f"out={str(out)!r} lacks the data of {', '.join(missing)}: run `hetquad figures` first")
    head = (f"{len(rows)} figures at fidelity {'/'.join(sorted(fids))}; computing their data took "
            f"{wall:.0f} s wall, {cpu:.0f} s CPU (summed over figures, as recorded in their .nc files).\n\n"
            "| | figure | reproduces | what it shows |\n|---|---|---|---|")
    return "\n".join([head, *rows])


def write_gallery(readme, out, *, images="docs/figures") -> None:
    """Replace the text between the gallery markers of ``readme`` with ``gallery_table``."""
    readme = Path(readme)
    text = readme.read_text()
    pat = re.compile(re.escape(GALLERY_START) + ".*?" + re.escape(GALLERY_END), re.S)
    if not pat.search(text):
        raise ValueError(f"readme={str(readme)!r} has no gallery markers {GALLERY_START!r} … {GALLERY_END!r}")
    table = gallery_table(out, images=images)
    readme.write_text(pat.sub(lambda _: f"{GALLERY_START}\n{table}\n{GALLERY_END}", text))
