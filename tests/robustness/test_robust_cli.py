"""Bad input at the command line: one line on stderr, exit 2, no traceback (``--debug`` shows it).

``tests/sweep/test_sweep_config.py`` covers unknown keys with "did you mean" and malformed TOML;
this file adds wrong types, unusable paths, undecodable files, ``--debug``, and a property test:
any TOML-shaped table is either a valid config or a ``ValueError``/``TypeError``.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hetquad import cli, config

GOOD = """
[sweep]
steps = 5
seeds = 1
engine = "numpy"

[problem]
name = "tau-kappa"
n_blocks = 1
block_size = 3

[optimizers.gd]
lr = 0.1
"""


def _one_line_exit_2(args, capsys, *, contains) -> str:
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    # a sweep prints its size estimate before any work; the error is the one other line
    err = "".join(ln for ln in captured.err.splitlines(keepends=True) if not ln.startswith("estimate: "))
    assert err.startswith("error: ") and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for text in contains:
        assert text in err, err
    return err


@pytest.mark.parametrize("edit, contains", [
    (("steps = 5", 'steps = "5"'), ["steps must be an integer, got str '5'"]),
    (("steps = 5", "steps = 5.5"), ["steps must be an integer, got float 5.5"]),
    (("steps = 5", "steps = 0"), ["steps must be >= 1, got 0"]),
    (("seeds = 1", "seeds = [1.5]"), ["seeds[i] must be an integer, got float 1.5"]),
    (("seeds = 1", "seeds = []"), ["seeds must be a count >= 1 or a non-empty list"]),
    (('engine = "numpy"', 'engine = "numpy"\nper_block = "yes"'), ["per_block must be true or false, got 'yes'"]),
    (('engine = "numpy"', 'engine = "numpy"\ntol = -1.0'), ["tol must be in (0.0, 1.0], got -1.0"]),
    (("lr = 0.1", "lr = nan"), ["lr must be finite, got nan"]),
    (("lr = 0.1", "lr = 0.1\nbeta2 = 1.5"), ["unknown key 'beta2'"]),
    (("[optimizers.gd]\nlr = 0.1", '[optimizers.gd]\ntype = "adam"\nlr = 0.1\nbeta2 = 1.5'), ["beta2 must be in [0.0, 1.0], got 1.5"]),
    (("[optimizers.gd]\nlr = 0.1", '[optimizers.gd]\ntype = "adamx"\nlr = 0.1'), ["unknown optimizer 'adamx'", "did you mean 'adam'"]),
    (("[optimizers.gd]\nlr = 0.1", '[optimizers.gd]\ntype = "adam-mini"\nlr = 0.1\npartition = "blok"'),
     ["partition must be one of ['blocks', 'coordinates', 'heads', 'rows', 'single'], got 'blok'"]),
    (("[optimizers.gd]\nlr = 0.1", '[optimizers.gd]\ntype = "adam"\nlr = 0.1\nbias_correction = 1'),
     ["bias_correction must be True or False, got int 1"]),
    (("[optimizers.gd]\nlr = 0.1", "[optimizers]"), ["[optimizers] must name at least one optimizer"]),
    (("block_size = 3", "block_size = 3\n[axes]\nkappa = 3.0"), ["axis 'kappa' in [axes] must be a non-empty list, got 3.0"]),
    (("block_size = 3", "block_size = 3\n[axes]\nkappa = [3.0, \"x\"]"), ["mixes numbers and other values"]),
    (("block_size = 3", "block_size = 3\n[axes]\nkappa = [0.5]"), ["kappa of problem 'tau-kappa' in [axes] must be >= 1.0"]),
    (("block_size = 3", "block_size = 3\n[axes]\ntau = [0.01, 0.5]"), []),  # τ out of reach at one point: a failed run
    (("[sweep]", "sweep = 3\n[sweep2]"), ["unknown key 'sweep2'", "did you mean 'sweep'"]),
    (("[sweep]", "[[sweep]]"), ["[sweep] must be a table, got list"]),
])
def test_wrong_types_and_values_in_a_config_are_one_line_exit_2(tmp_path, capsys, edit, contains):
    path = tmp_path / "c.toml"
    path.write_text(GOOD.replace(*edit, 1))
    args = ["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"]
    if not contains:  # a problem parameter out of range is a failed run (the grid may be partly valid)
        assert cli.main(args) == 0
        out = capsys.readouterr().out
        assert "1 failed" in out and "tau" in out
        return
    _one_line_exit_2(args, capsys, contains=contains)
    assert not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.parametrize("where", ["a file", "under a file", "a directory as config", "undecodable config"])
def test_unusable_paths_are_one_line_exit_2(tmp_path, capsys, where):
    cfg = tmp_path / "c.toml"
    cfg.write_text(GOOD)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    out, contains = tmp_path / "out", []
    if where == "a file":
        out, contains = blocker, ["is a file", "blocker"]
    elif where == "under a file":
        out, contains = blocker / "sub", ["Not a directory", "blocker"]
    elif where == "a directory as config":
        cfg, contains = tmp_path, ["config file not found"]
    else:
        cfg.write_bytes(b"\xff\xfe[sweep]\x00\x81")
        contains = ["malformed TOML in", "c.toml: not UTF-8 text"]
    _one_line_exit_2(["sweep", str(cfg), "--out", str(out), "--workers", "1", "--no-progress"], capsys,
                     contains=contains)


def test_run_command_wrong_types_are_usage_errors(capsys):
    _one_line_exit_2(["run", "--problem", "tau-kappa", "--optimizer", "gd", "--lr", "0.1", "--steps", "abc"], capsys,
                     contains=["Invalid value for '--steps'"])
    _one_line_exit_2(["run", "--problem", "tau-kappa", "--optimizer", "gd", "--lr", "0.1", "--steps", "3",
                      "--batch", "0"], capsys, contains=["batch must be >= 1, got 0"])
    _one_line_exit_2(["run", "--problem", "tau-kappa", "--optimizer", "gd", "--lr", "nan", "--steps", "3"], capsys,
                     contains=["lr must be finite, got nan"])


def test_debug_shows_the_traceback_instead_of_the_one_line(tmp_path, capsys):
    missing = str(tmp_path / "missing.toml")
    args = ["sweep", missing, "--out", str(tmp_path / "o")]
    assert cli.main(args) == 2
    assert capsys.readouterr().err == f"error: config file not found: {missing}\n"
    with pytest.raises(FileNotFoundError, match="config file not found"):  # the interpreter prints it
        cli.main(["--debug", *args])


# -- property: a TOML-shaped table is a config or a documented error ----------------------------
SCALARS = st.one_of(st.integers(-3, 10**3), st.floats(allow_nan=True), st.booleans(), st.text(max_size=6),
                    st.sampled_from(["tune", "gd", "adam", "tau-kappa", "numpy", "run"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)
KEYS = st.sampled_from(["steps", "seeds", "tol", "engine", "name", "lr", "type", "kappa", "tau", "n_blocks",
                        "block_size", "lrs", "seed", "metric", "chunk_size", "beta2", "x"])
SECTION = st.dictionaries(KEYS, VALUES, max_size=5)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.fixed_dictionaries({}, optional={
    "sweep": SECTION, "problem": SECTION, "axes": SECTION, "zip": VALUES,
    "optimizers": st.dictionaries(st.sampled_from(["gd", "adam", "adam-mini", "signum", "x"]), SECTION, max_size=2),
    "tune": SECTION, "extra": VALUES}))
def test_any_table_is_a_config_or_a_documented_error(data):
    try:
        cfg = config.parse(data)
    except (ValueError, TypeError) as exc:
        assert str(exc).strip()
        return
    assert cfg.steps >= 1 and cfg.seeds and cfg.optimizers and cfg.n_runs() >= 1
