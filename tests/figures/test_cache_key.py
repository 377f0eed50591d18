"""The figure cache key: a change to any source a figure's data may depend on recomputes it.

Sources are changed by patching ``figures._source`` (the one place the key reads files), so the
tree itself is never touched. Tested: an unchanged tree gives the same key, a change to a library
file, a shared helper, the figure, a sibling figure it imports (not an unrelated one), the fidelity
or a package version changes it, and ``compute_cached`` recomputes after a library change.
"""
import importlib.util
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hetquad import figures as F
from hetquad.figures import leave_one_out, leave_x_out, noise_models, zhang_cases

LIBRARY = Path(F._package_dir("hetquad.sims"))


def _edited(monkeypatch, target: Path):
    """Make ``figures._source`` return ``target`` with a comment appended (a one-line library fix)."""
    read = F._source
    monkeypatch.setattr(F, "_source", lambda p: read(p) + (b"\n# edited\n" if Path(p) == target else b""))


def test_unchanged_tree_gives_the_same_key():
    assert F.cache_key(noise_models, "tiny") == F.cache_key(noise_models, "tiny")


@pytest.mark.parametrize("target", [
    LIBRARY / "noise.py",                                      # the library the figure calls
    Path(F._package_dir("hetquad.theory")) / "registry.py",    # a library file it never imports directly
    Path(F._package_dir("hetquad.problems")) / "catalog.py",
    Path(F.__file__).parent / "_runs.py",                      # a shared helper
    Path(noise_models.__file__),                               # the figure itself
])
def test_a_changed_source_changes_the_key(monkeypatch, target):
    assert target in F.dependency_files(noise_models)
    before = F.cache_key(noise_models, "tiny")
    _edited(monkeypatch, target)
    assert F.cache_key(noise_models, "tiny") != before


def test_a_sibling_figure_counts_only_where_it_is_imported(monkeypatch):
    sibling = Path(leave_one_out.__file__)
    assert sibling in F.dependency_files(leave_x_out)  # ``from .leave_one_out import ...``
    assert sibling not in F.dependency_files(zhang_cases)
    before = {m: F.cache_key(m, "default") for m in (leave_x_out, zhang_cases)}
    _edited(monkeypatch, sibling)
    assert F.cache_key(leave_x_out, "default") != before[leave_x_out]
    assert F.cache_key(zhang_cases, "default") == before[zhang_cases]


def test_fidelity_and_versions_are_in_the_key(monkeypatch):
    before = F.cache_key(noise_models, "tiny")
    assert F.cache_key(noise_models, "default") != before
    real = F.versions()
    assert {"numpy", "scipy", "numba"} <= {name for name, _ in real}
    bumped = tuple((n, v + ".post1" if n == "numba" else v) for n, v in real)  # only numba differs
    monkeypatch.setattr(F, "versions", lambda: bumped)
    assert F.cache_key(noise_models, "tiny") != before


def test_imports_are_resolved_relative_lazy_and_absolute(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text(textwrap.dedent("""
        from . import style
        from .leave_one_out import (LRS,
            STEPS)
        import hetquad.checks as checks, os
        def f():
            from hetquad import problems, sims
            from .. import results  # two dots: the parent package
    """))
    got = F._imported(src, "hetquad.figures")
    assert {"hetquad.figures", "hetquad.figures.style", "hetquad.figures.leave_one_out",
            "hetquad.figures.leave_one_out.STEPS", "hetquad.checks", "hetquad.problems", "hetquad.sims",
            "hetquad.results"} <= got
    assert "os" not in got


def _fake_figure(tmp_path, calls):
    path = tmp_path / "fake_figure.py"
    path.write_text("from hetquad import sims\nNAME = 'fake-figure'\n")
    spec = importlib.util.spec_from_file_location("fake_figure", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    def compute(fidelity):
        calls.append(fidelity)
        return xr.Dataset({"x": ("i", np.arange(3.0))})
    mod.compute = compute
    return mod


def test_compute_cached_recomputes_after_a_library_change(tmp_path, monkeypatch):
    calls = []
    mod = _fake_figure(tmp_path, calls)
    out = tmp_path / "out"
    assert F.compute_cached(mod, "tiny", out)[1] is False
    assert F.compute_cached(mod, "tiny", out)[1] is True  # unchanged tree: cached
    _edited(monkeypatch, LIBRARY / "run.py")
    assert F.compute_cached(mod, "tiny", out)[1] is False
    assert calls == ["tiny", "tiny"]
