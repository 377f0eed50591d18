"""Tiny-fidelity figure data, computed once per test session and shared by the xdist workers.

The ``tiny`` fixture is a function ``tiny(fig_module) -> xarray.Dataset`` that goes through
``figures.compute_cached`` into one directory per session, so a figure's own tests and the
caption test reuse one computation. The directory is new each session: cached data never
outlive a change to the library they were computed with.
"""
import pytest

from hetquad import figures as F


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, worker_id):
    # xdist: basetemp is per worker; its parent is shared by the session's workers
    base = tmp_path_factory.getbasetemp()
    where = (base.parent if worker_id != "master" else base) / "figures-tiny"

    def load(mod):
        return F.compute_cached(mod, "tiny", where)[0]
    return load
