"""hetquad.figures — one module per figure; ``render`` computes (through the library), caches the
data beside the images, and plots.

A figure module defines::

    NAME = "zhang-cases"             # CLI name
    SOURCE = "Zhang et al. 2024 ..."  # the seed figure it reproduces
    CAPTION = "..."                  # what it shows, what is ours [C], settings, where it differs
    def compute(fidelity: str) -> xarray.Dataset   # 'tiny' (tests), 'default' (make figures), 'full'
    def plot(data) -> matplotlib.figure.Figure     # plotting only: no physics here

Data are cached as ``<out>/<NAME>.nc`` keyed by a hash of the module source, the fidelity and the
package version, so a re-run only re-plots.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil
import time
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

import hetquad

FIDELITIES = ("tiny", "default", "full")
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
    data = mod.compute(fidelity)
    data.attrs.update({"cache_key": key, "fidelity": fidelity, "figure": mod.NAME,
                       "source": getattr(mod, "SOURCE", ""), "hetquad": hetquad.__version__})
    tmp = path.with_suffix(".nc.tmp")
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
    (out / f"{mod.NAME}.txt").write_text(f"{mod.SOURCE}\n\n{inspect.cleandoc(mod.CAPTION)}\n")
    return Rendered(mod.NAME, png, pdf, out / f"{mod.NAME}.nc", cached, time.perf_counter() - t0)
