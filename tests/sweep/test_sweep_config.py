"""Sweep configs: the grid is the product of axes × zip groups × variants × seeds; bad input is
refused at the door with a one-line message (CLI exit 2, no traceback)."""
from __future__ import annotations

import itertools
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad import cli, config, sweep


def test_tiny_config_counts(tiny_text):
    cfg = config.parse(tomllib.loads(tiny_text))
    assert cfg.problem == "tau-kappa" and cfg.seeds == (0, 1, 2) and cfg.chunk_size == 2
    assert cfg.points() == [{"tau": t, "kappa": k} for t, k in itertools.product([0.5, 1.0], [10.0, 40.0])]
    assert [o.label for o in cfg.optimizers] == ["gd", "adam", "adam-mini"]
    assert cfg.optimizers[0].lrs is None and cfg.optimizers[2].lrs == (0.05, 0.2)
    assert cfg.n_runs() == 4 * 4 * 3
    assert cfg.hyper_axis_names == ["lr"]
    # 4 points × 3 groups (adam-mini's two lrs share an engine call) × seed batches [0, 1] and [2]
    assert len(sweep.plan(cfg)) == 4 * 3 * 2


def _grid_config(axes: dict, zipped: dict, n_seeds: int, chunk: int, betas: list) -> dict:
    return {"sweep": {"steps": 5, "seeds": n_seeds, "chunk_size": chunk},
            "problem": {"name": "tau-kappa", "block_size": 3},
            "axes": axes, "zip": zipped,
            "optimizers": {"gd": {"lr": 0.1}, "adam": {"lr": [0.1, 0.2], "beta2": betas}}}


@settings(max_examples=25, deadline=None)
@given(n_tau=st.integers(1, 3), n_kappa=st.integers(1, 3), n_zip=st.integers(0, 3),
       n_seeds=st.integers(1, 5), chunk=st.integers(1, 5), n_beta=st.integers(1, 2))
def test_plan_covers_every_run_exactly_once(n_tau, n_kappa, n_zip, n_seeds, chunk, n_beta):
    taus = [0.6 + 0.1 * i for i in range(n_tau)]
    kappas = [10.0 * (i + 1) for i in range(n_kappa)]
    zipped = {"n_blocks": list(range(1, n_zip + 1)), "block_kappa": [2.0 + i for i in range(n_zip)]} if n_zip else {}
    betas = [0.99, 0.999][:n_beta]
    cfg = config.parse(_grid_config({"tau": taus, "kappa": kappas}, zipped, n_seeds, chunk, betas))
    expected = n_tau * n_kappa * max(n_zip, 1) * (1 + 2 * n_beta) * n_seeds
    assert cfg.n_runs() == expected
    chunks = sweep.plan(cfg)
    runs = [r for c in chunks for r in c.run_ids()]
    assert len(runs) == expected and len(set(runs)) == expected
    assert len({c.key for c in chunks}) == len(chunks)
    assert all(len(c.spec["seeds"]) <= chunk for c in chunks)
    if n_zip:  # zipped values travel together, never crossed
        assert {(c.spec["axes"]["n_blocks"], c.spec["axes"]["block_kappa"]) for c in chunks} == \
            {(i + 1, 2.0 + i) for i in range(n_zip)}


def test_run_id_does_not_depend_on_batching(tiny_text):
    data = tomllib.loads(tiny_text)
    ids = []
    for chunk_size in (1, 3):
        data["sweep"]["chunk_size"] = chunk_size
        ids.append(sorted(r for c in sweep.plan(config.parse(data)) for r in c.run_ids()))
    assert ids[0] != [] and ids[0] == ids[1]


def test_config_hash_ignores_formatting(tmp_path, tiny_text):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(tiny_text)
    b.write_text("# a comment\n" + tiny_text.replace("steps = 300", "steps   =   300"))
    from hetquad.sims import config_hash
    assert config_hash(config.load(a).to_dict()) == config_hash(config.load(b).to_dict())
    b.write_text(tiny_text.replace("steps = 300", "steps = 301"))
    assert config_hash(config.load(a).to_dict()) != config_hash(config.load(b).to_dict())


@pytest.mark.parametrize("edit, message", [
    (("[sweep]", "[sweeep]"), "did you mean 'sweep'"),
    (("steps = 300", "stepz = 300"), "did you mean 'steps'"),
    (('name = "tau-kappa"', 'name = "tau-kapa"'), "did you mean 'tau-kappa'"),
    (("[axes]\ntau", "[axes]\ntua"), "did you mean 'tau'"),
    (("[optimizers.adam]", "[optimizers.adma]"), "did you mean 'adam'"),
    (("lr = 0.05\n", "lr = 0.05\nbeta_2 = 0.9\n"), "did you mean 'beta2'"),
    (("lr = 0.05\n", "lr = -0.05\n"), "lr must be > 0"),
    (("seed = 1000", "seed = 1"), "held out"),
    (("tau = [0.5, 1.0]", "tau = [0.5, 0.5]"), "repeated"),
    (('engine = "numpy"', 'engine = "fortran"'), "engine must be one of"),
])
def test_bad_config_is_one_line_exit_2(write_config, tiny_text, capsys, edit, message):
    path = write_config(tiny_text.replace(*edit, 1))
    assert cli.main(["sweep", str(path), "--out", str(path.parent / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (path.parent / "out" / "manifest.json").exists()


def test_malformed_toml_is_one_line_exit_2(write_config, capsys):
    path = write_config("[sweep\nsteps = 3\n")
    assert cli.main(["sweep", str(path), "--out", str(path.parent / "o")]) == 2
    err = capsys.readouterr().err
    assert "malformed TOML" in err and len(err.strip().splitlines()) == 1


def test_missing_config_file_is_exit_2(tmp_path, capsys):
    assert cli.main(["sweep", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err


def test_zip_lengths_must_match():
    data = _grid_config({"tau": [1.0]}, {"n_blocks": [1, 2], "block_kappa": [2.0]}, 1, 1, [0.99])
    with pytest.raises(ValueError, match="equal lengths"):
        config.parse(data)


def test_tune_needs_a_tune_section():
    data = _grid_config({"tau": [1.0]}, {}, 1, 1, [0.99])
    data["optimizers"]["gd"]["lr"] = "tune"
    with pytest.raises(ValueError, match=r"no \[tune\] section"):
        config.parse(data)


def test_parse_value_reads_like_toml():
    assert config.parse_assignment("kappa=100") == ("kappa", 100)
    assert config.parse_assignment("tau = 0.5") == ("tau", 0.5)
    assert config.parse_assignment("balanced=false") == ("balanced", False)
    assert config.parse_assignment("base=zhang2024-case1") == ("base", "zhang2024-case1")
    with pytest.raises(ValueError, match="key=value"):
        config.parse_assignment("kappa")
