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

Data are cached as ``<out>/<NAME>.nc`` keyed by the fidelity, the package versions and a hash of
every source the data may depend on (``dependency_files``): the figure module, the hetquad
modules it imports outside the library (sibling figures, ``hetquad.checks``; transitively), the
figures' shared helpers and the whole of ``sims``, ``problems`` and ``theory``. A re-run with an
unchanged tree only re-plots; a library fix recomputes every figure.

``compute`` runs with one BLAS thread (``BLAS_THREADS``): the figures factor many small matrices
(tens to a few hundred rows), where a second OpenBLAS thread only adds synchronisation — on a
loaded 2-core machine 20 eigh of a 72×72 matrix took 13.6 s wall with two threads and 0.35 s with
one (measured 2 Dec 2026, load average 8).
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import platform
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
# hashed whole by the cache key: they import one another, so any file may change a figure's data
_LIBRARY = ("hetquad.sims", "hetquad.problems", "hetquad.theory")
_VERSIONED = ("numpy", "scipy", "numba", "torch")  # distributions whose version is in the key


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
    """16 hex digits of SHA-256 over the sources of ``dependency_files(mod)``, ``fidelity`` and
    ``versions()``: equal keys mean the same hetquad sources, fidelity and package versions.

    Reads and hashes about 0.6 MB of source per call: 12–24 ms warm, 31–36 ms for a process's first
    key (measured 2 Dec 2026 on the loaded 2-core machine, load average 4).
    """
    parts = (source_digest(dependency_files(mod)), fidelity, repr(versions()))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@functools.cache
def versions() -> tuple:
    """(name, version) of Python, hetquad and the ``_VERSIONED`` distributions ('absent' when not
    installed), from package metadata (importing numba alone would cost about half a second); read
    once per process, as the modules themselves are imported once."""
    out = [("python", platform.python_version()), ("hetquad", hetquad.__version__)]
    for dist in _VERSIONED:
        try:
            out.append((dist, importlib.metadata.version(dist)))
        except importlib.metadata.PackageNotFoundError:
            out.append((dist, "absent"))
    return tuple(out)


def dependency_files(mod) -> tuple[Path, ...]:
    """The source files the data of figure module ``mod`` may depend on, sorted.

    Every ``.py`` file of the ``_LIBRARY`` packages; this package's non-figure modules (``_*.py``,
    ``style``); ``mod``'s own file and, transitively, the files of the hetquad modules outside the
    library that its import statements name (at any depth in the code, so lazy imports count).
    """
    files = {f for pkg in _LIBRARY for f in _package_dir(pkg).rglob("*.py")}
    files.update(f for f in Path(__file__).parent.glob("*.py") if f.stem.startswith("_") or f.stem in _NOT_FIGURES)
    seen, todo = set(), [(Path(mod.__file__), mod.__name__)]
    while todo:
        path, name = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for dep in _imported(path, package):
            if dep == "hetquad" or any(dep == p or dep.startswith(p + ".") for p in _LIBRARY):
                continue  # the namespace (its version is in the key) and the library (hashed whole)
            found = _module_file(dep)
            if found is not None:
                todo.append((found, dep))
    return tuple(sorted(files | seen))


def source_digest(files) -> str:
    """SHA-256 hex of the files' paths (relative to their common folder) and contents."""
    files = [Path(f) for f in files]
    root = Path(os.path.commonpath(files)) if files else Path()
    h = hashlib.sha256()
    for f in files:
        data = _source(f)
        h.update(f"{f.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def _source(path: Path) -> bytes:
    """The bytes of one hashed source (the one place the key reads files: tests patch it)."""
    return Path(path).read_bytes()


def _package_dir(name: str) -> Path:
    return Path(importlib.util.find_spec(name).submodule_search_locations[0])


def _module_file(name: str) -> Path | None:
    """The ``.py`` file of module ``name``; None for a name that is not a module (an attribute
    named by ``from m import x``)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # a parent that is a module, not a package
        return None
    origin = getattr(spec, "origin", None)
    return Path(origin) if origin and origin.endswith(".py") else None


# an import statement at any indentation: ``from <dots><module> import <names or (names)>`` or
# ``import <names>``. A regex, not ``ast``: parsing and walking a figure took ~30 ms of the key's
# ~40; a match inside a string only adds a file to the key, never drops one.
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)"
                     r"|import[ \t]+([^\n#;]*))", re.M)


def _imported(path: Path, package: str) -> set[str]:
    """Absolute names that the import statements of ``path`` (a module of ``package``) may bind
    as hetquad modules: ``from m import x`` gives both m and m.x."""
    names = set()
    for dots, module, what, plain in _IMPORT.findall(_source(path).decode("utf-8", "replace")):
        if not (dots or module):  # ``import a.b as c, d``
            names.update(item.split()[0] for item in plain.split(",") if item.strip())
            continue
        base = module
        if dots:
            parts = package.split(".")
            base = ".".join(parts[:len(parts) - len(dots) + 1] + ([module] if module else []))
        names.add(base)
        names.update(f"{base}.{item.split()[0]}" for item in what.strip("()").split(",") if item.strip())
    return {n for n in names if n == "hetquad" or n.startswith("hetquad.")}


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
