"""`hetquad optimizers`: every spec of sims.OPTIMIZERS with hyper-parameters, engines, reference, bounds."""
from __future__ import annotations

import json

from hetquad import sims
from hetquad.cli import main
from hetquad.commands import optimizers as cmd
from hetquad.theory import registry


def test_json_lists_every_optimizer_with_engines_reference_and_bounds(capsys):
    assert main(["optimizers", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(sims.OPTIMIZERS)
    rows = {k: r for k, r in rows.items() if ":" not in k}  # built-ins (a plugin registered by another test)
    gd = rows["gd"]
    assert gd["hyper"]["lr"] == "required" and "lr" in gd["per_run"]
    assert {"numpy", "numba"} <= set(gd["engines"])
    assert rows["adam"]["hyper"]["beta1"] == 0.9 and rows["adam"]["reference"].startswith("torch.optim.Adam")
    assert "heavy_ball_rate" in rows["sgd"]["bounds"] and "nesterov_rate" in rows["sgd"]["bounds"]
    assert rows["blockwise-gd"]["engines"][0] == "numpy"  # probed at its optimal lrs
    for name, r in rows.items():
        assert r["reference"] != "none recorded", name
        assert r["bounds"] == [b.name for b in registry.for_optimizer(name)]
        assert r["engines"] and "numpy" in r["engines"][0] or r["engines"][0].startswith("n/a"), name


def test_engines_come_from_the_engines_own_unsupported(tmp_path, monkeypatch):
    """A bring-your-own spec (no numba rendering) lists the xp engines but not numba."""
    (tmp_path / "zi_plugin.py").write_text(
        "def make(lr=0.1):\n    return (lambda w: None), (lambda g, s, w: (w - lr * g, s))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from hetquad.config import optimizer_type
    monkeypatch.setattr(sims.optimizers, "OPTIMIZERS", dict(sims.OPTIMIZERS))
    monkeypatch.setattr(sims, "OPTIMIZERS", sims.optimizers.OPTIMIZERS)
    kind = optimizer_type("zi_plugin:make")
    row = {r["name"]: r for r in cmd.rows()}[kind]
    assert row["engines"][0] == "numpy" and not any(e.startswith("numba") for e in row["engines"])
    assert row["hyper"] == {"lr": 0.1} and row["bounds"] == [] and row["reference"] == "none recorded"


def test_table_output(capsys):
    assert main(["optimizers"]) == 0
    out = capsys.readouterr().out
    assert "hetquad optimizers" in out and "adam-mini" in out and "torch.optim.SGD" in out
