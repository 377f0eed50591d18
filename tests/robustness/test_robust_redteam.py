"""Our own red team (issue 19, last part): hostile inputs nobody listed in the issue, against the
CLI and the API. Each row is one case and the line it must produce: exit 2, one line on stderr,
naming the option or key, no traceback, nothing written, in well under a second of work.
``tests/robustness/README.md`` lists every case with what it did before the fixes.
"""
from __future__ import annotations

import json
import shutil
import tomllib

import pytest

import hetquad
from hetquad import cli, config, sweep

BASE = """
[sweep]
steps = 60
seeds = 2
engine = "numpy"
record_every = 10

[problem]
name = "tau-kappa"
n_blocks = 2
block_size = 3

[axes]
kappa = [10.0, 20.0]

[optimizers.adam]
lr = 0.05
"""
TAU = ["--problem", "tau-kappa", "--set", "n_blocks=2", "--set", "block_size=3"]
RUN = ["run", *TAU, "--optimizer", "gd", "--lr", "0.1", "--steps", "3"]
TUNE = ["tune", *TAU, "--optimizer", "gd", "--steps", "3"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("rt") / "sweep"
    sweep.execute(config.parse(tomllib.loads(BASE)), out, workers=1, progress=False)
    return out


def _edit(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


TUNED = _edit("lr = 0.05", 'lr = "tune"')
# (id, config text or None, extra args (CONFIG/OUT/DIR/FILE/TMP are filled in), expected text)
CASES = [
    # sweep options
    ("sweep-workers-0", BASE, ["--workers", "0"], "workers must be >= 1, got 0"),
    ("sweep-workers-negative", BASE, ["--workers", "-1"], "workers must be >= 1, got -1"),
    ("sweep-scheduler-no-scheme", BASE, ["--scheduler", "foo"], "scheduler must be 'local' or an address"),
    ("sweep-memory-budget-0", BASE, ["--memory-budget", "0"], "--memory-budget must be > 0 GiB"),
    ("sweep-memory-budget-nan", BASE, ["--memory-budget", "nan"], "--memory-budget must be > 0 GiB, got nan"),
    ("sweep-out-nul-byte", BASE, ["--out-raw", "a\x00b"], "embedded null byte"),
    ("sweep-config-dev-null", None, ["--config-raw", "/dev/null"], "is not a regular file"),
    # sweep config values
    ("cfg-chunk-size-0", _edit("record_every = 10", "record_every = 10\nchunk_size = 0"), [], "chunk_size must be >= 1"),
    ("cfg-tol-0", _edit("record_every = 10", "record_every = 10\ntol = 0.0"), [], "tol must be in (0.0, 1.0]"),
    ("cfg-tol-2", _edit("record_every = 10", "record_every = 10\ntol = 2.0"), [], "tol must be in (0.0, 1.0], got 2.0"),
    ("cfg-record-every-0", _edit("record_every = 10", "record_every = 0"), [], "record_every must be >= 1"),
    ("cfg-steps-bool", _edit("steps = 60", "steps = true"), [], "steps must be an integer, got bool"),
    ("cfg-seeds-float", _edit("seeds = 2", "seeds = 3.0"), [], "seeds must be a count >= 1"),
    ("cfg-seeds-negative", _edit("seeds = 2", "seeds = [0, -1]"), [], "seeds[i] must be >= 0, got -1"),
    ("cfg-engine-case", _edit('engine = "numpy"', 'engine = "NUMBA"'), [], "engine must be one of"),
    ("cfg-empty-file", "", [], "config needs a [sweep] section"),
    ("cfg-problem-seed-negative", _edit('name = "tau-kappa"', 'name = "tau-kappa"\nseed = -1'), [],
     "[problem] seed must be >= 0"),
    ("cfg-problem-seed-typo", _edit('name = "tau-kappa"', 'name = "tau-kappa"\nseed = "runs"'), [],
     "did you mean 'run'"),
    ("cfg-kappa-bool", _edit("kappa = [10.0, 20.0]", "kappa = [true, false]"), [], "must be a number, got bool"),
    ("cfg-kappa-inf", _edit("kappa = [10.0, 20.0]", "kappa = [10.0, 1e309]"), [], "must be finite, got inf"),
    ("cfg-axis-empty", _edit("kappa = [10.0, 20.0]", "kappa = []"), [], "must be a non-empty list"),
    ("cfg-lr-Tune", _edit("lr = 0.05", 'lr = "Tune"'), [], "did you mean 'tune'"),
    ("cfg-lr-0", _edit("lr = 0.05", "lr = 0"), [], "lr must be > 0"),
    ("cfg-lr-repeated", _edit("lr = 0.05", "lr = [0.1, 0.1]"), [], "has repeated values"),
    ("cfg-lr-overflow", _edit("lr = 0.05", "lr = 1e400"), [], "lr must be finite, got inf"),
    ("cfg-label-empty", _edit("[optimizers.adam]", '[optimizers.""]\ntype = "adam"'), [], "optimizer label ''"),
    ("cfg-tune-lrs-empty", TUNED + '\n[tune]\nlrs = []\nseed = 99\n', [], "must be a non-empty list"),
    ("cfg-tune-low-above-high", TUNED + "\n[tune]\nlrs = {low = 1.0, high = 0.1, num = 3}\nseed = 99\n", [],
     "lrs.low must be < lrs.high"),
    ("cfg-tune-num-1e8", TUNED + "\n[tune]\nlrs = {low = 0.001, high = 0.1, num = 100000000}\nseed = 99\n", [],
     "lrs.num must be <= 100000"),
    ("cfg-hyper-unknown", _edit("lr = 0.05", "lr = 0.05\nbeta3 = 0.9"), [], "unknown key 'beta3'"),
    # other commands
    ("run-steps-negative", None, ["run", *TAU, "--optimizer", "gd", "--lr", "0.1", "--steps", "-1"],
     "--steps must be >= 0, got -1"),
    ("run-batch-1e10", None, [*RUN, "--batch", "10000000000"], "would need"),
    ("run-seed-negative", None, [*RUN, "--seed", "-1"], "seed must be >= 0"),
    ("run-engine-unknown", None, [*RUN, "--engine", "gpu"], "engine must be one of"),
    ("run-set-string", None, ["run", *TAU, "--set", "tau=abc", "--optimizer", "gd", "--lr", "0.1", "--steps", "3"],
     "tau must be a real number"),
    ("run-set-no-key", None, ["run", *TAU, "--set", "=3", "--optimizer", "gd", "--lr", "0.1", "--steps", "3"],
     "expected key=value"),
    ("run-hyper-unknown", None, ["run", *TAU, "--optimizer", "adam", "--lr", "0.1", "--steps", "3", "--hyper",
                                 "betas=1"], "unknown key 'betas'"),
    ("run-plot-extension", None, [*RUN, "--plot", "TMP/loss.txt"], "--plot"),
    ("run-plot-parent-is-file", None, [*RUN, "--plot", "FILE/x.png"], "does not exist"),
    ("tune-lrs-zero", None, [*TUNE, "--lrs", "0:1:5"], "lrs low must be > 0"),
    ("tune-lrs-empty", None, [*TUNE, "--lrs", ""], "--lrs must be LOW:HIGH:NUM"),
    ("tune-lrs-fractional-num", None, [*TUNE, "--lrs", "1e-4:1:2.5"], "--lrs must be LOW:HIGH:NUM"),
    ("tune-lrs-nan", None, [*TUNE, "--lrs", "nan,1"], "lrs must be finite"),
    ("tune-metric-unknown", None, [*TUNE, "--metric", "nope"], "--metric must be one of"),
    ("problems-seed-negative", None, ["problems", "--seed", "-1"], "seed must be >= 0"),
    ("check-instances-0", None, ["check", "--instances", "0"], "instances must be >= 1"),
    ("check-json-parent-is-file", None, ["check", "--only", "gd_rate", "--json", "FILE/x.json"], "does not exist"),
    ("spectra-model-unknown", None, ["spectra", "--model", "nope"], "model must be one of"),
    ("command-unknown", None, ["nosuch"], "No such command"),
    ("report-confidence-1.5", None, ["report", "DIR", "--confidence", "1.5"], "confidence must be in (0.0, 1.0)"),
    ("report-metric-unknown", None, ["report", "DIR", "--metric", "nope"], "metric must be one of"),
    ("report-on-a-file", None, ["report", "FILE"], "holds no finished sweep"),
    ("report-out-is-a-file", None, ["report", "DIR", "--out", "FILE"], "is a file"),
]


def _args(case, tmp_path, finished) -> list[str]:
    _, text, extra, _ = case
    (tmp_path / "afile").write_text("x")
    fill = {"DIR": str(finished), "FILE": str(tmp_path / "afile"), "TMP": str(tmp_path)}
    extra = [fill.get(a, a) for a in extra]
    extra = [a.replace("FILE/", fill["FILE"] + "/").replace("TMP/", fill["TMP"] + "/") for a in extra]
    if text is None and "--config-raw" not in extra:
        return extra
    cfg = str(tmp_path / "c.toml")
    if text is not None:
        (tmp_path / "c.toml").write_text(text)
    out = str(tmp_path / "out")
    if "--config-raw" in extra:
        i = extra.index("--config-raw")
        cfg = extra.pop(i + 1)
        extra.pop(i)
    if "--out-raw" in extra:
        i = extra.index("--out-raw")
        out = extra.pop(i + 1)
        extra.pop(i)
    workers = [] if "--workers" in extra else ["--workers", "1"]
    return ["sweep", cfg, "--out", out, "--no-progress", *workers, *extra]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, finished, capsys):
    args = _args(case, tmp_path, finished)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("estimate:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert case[3] in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# -- API cases ------------------------------------------------------------------------------------------
def test_api_hostile_arguments_name_the_argument(finished, tmp_path):
    cfg = config.parse(tomllib.loads(BASE))
    with pytest.raises(TypeError, match="config must be a hetquad.config.SweepConfig, got str"):
        sweep.execute("sweep.toml", tmp_path / "o")
    with pytest.raises(TypeError, match="workers must be an integer, got bool"):
        sweep.execute(cfg, tmp_path / "o", workers=True)
    with pytest.raises(ValueError, match="memory_budget must be a number of bytes > 0, got -1"):
        sweep.execute(cfg, tmp_path / "o", memory_budget=-1)
    with pytest.raises(TypeError, match="partial must be True or False, got str 'yes'"):
        hetquad.load(finished, partial="yes")
    from hetquad.report import report

    with pytest.raises(ValueError, match="metrics must name at least one"):
        report(finished, out=tmp_path / "r", metrics=())
    with pytest.raises(ValueError, match="confidence must be finite|confidence must be in"):
        report(finished, out=tmp_path / "r", confidence=float("nan"))
    assert not (tmp_path / "o").exists()


def test_report_accepts_one_metric_as_a_string(finished, tmp_path):
    from hetquad.report import report

    paths = report(finished, out=tmp_path / "r", metrics="final_loss_ratio")
    assert [p.name for p in paths] == ["vs_kappa.png", "vs_kappa.pdf"]


def test_a_manifest_whose_chunk_keys_are_paths_is_refused(finished, tmp_path):
    """A doctored manifest must not make ``load(partial=True)`` read files outside the sweep."""
    out = tmp_path / "copy"
    shutil.copytree(finished, out)
    m = json.loads((out / "manifest.json").read_text())
    (tmp_path / "secret.parquet").write_bytes((out / "results.parquet").read_bytes())
    (out / "manifest.json").write_text(json.dumps({**m, "chunks": ["../../secret"]}))
    with pytest.raises(ValueError, match="chunk key that is not a hash"):
        hetquad.load(out, partial=True)


def test_a_directory_where_an_output_file_goes_is_one_line(finished, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(finished, out)
    (out / "results.parquet").unlink()
    (out / "results.parquet").mkdir()
    (tmp_path / "c.toml").write_text(BASE)
    assert cli.main(["sweep", str(tmp_path / "c.toml"), "--out", str(out), "--workers", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "results.parquet" in err[-1]
