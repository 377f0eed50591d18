"""Tiny sweep configs shared by the sweep tests (numpy engine: no compile time)."""
from __future__ import annotations

import pytest

TINY = """
[sweep]
steps = 300
tol = 1e-6
seeds = 3
engine = "numpy"
record_every = 5
per_block = true
chunk_size = 2

[problem]
name = "tau-kappa"
n_blocks = 2
block_size = 4

[axes]
tau = [0.5, 1.0]
kappa = [10.0, 40.0]

[optimizers.gd]
lr = "tune"
[optimizers.adam]
lr = 0.05
[optimizers.adam-mini]
lr = [0.05, 0.2]

[tune]
lrs = {low = 1e-3, high = 1.0, num = 7}
seed = 1000
steps = 200
"""
# 4 points × (1 + 1 + 2) variants × 3 seeds = 48 runs; 2 seed batches × 3 groups (adam-mini's two lrs
# share one engine call) → 24 chunks


@pytest.fixture(scope="session")
def tiny_text() -> str:
    return TINY


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """The tiny sweep run once, in this process: (config, directory, summary)."""
    import tomllib

    from hetquad import config, sweep

    cfg = config.parse(tomllib.loads(TINY))
    out = tmp_path_factory.mktemp("tiny") / "sweep"
    return cfg, out, sweep.execute(cfg, out, workers=1, progress=False)


@pytest.fixture
def write_config(tmp_path):
    def write(text: str = TINY, name: str = "sweep.toml"):
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
