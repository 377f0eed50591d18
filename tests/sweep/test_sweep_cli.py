"""`hetquad run`, `tune`, `sweep`, `report` through the CLI entry point (in process)."""
from __future__ import annotations

import numpy as np
import pytest

from hetquad import cli, problems, sims
from hetquad.report import band

TAU = ["--problem", "tau-kappa", "--set", "tau=0.5", "--set", "kappa=20", "--set", "n_blocks=2",
       "--set", "block_size=4"]


def test_run_prints_the_summary_and_plots(tmp_path, capsys):
    png = tmp_path / "run.png"
    code = cli.main(["run", *TAU, "--optimizer", "adam", "--lr", "0.05", "--steps", "400", "--batch", "3",
                     "--engine", "numpy", "--seed", "2", "--plot", str(png)])
    out = capsys.readouterr().out
    assert code == 0 and png.stat().st_size > 0
    p = problems.get("tau-kappa", seed=2, tau=0.5, kappa=20, n_blocks=2, block_size=4)
    res = sims.run(p, sims.Adam(lr=0.05), 400, seed=2, batch=3, engine="numpy")
    t = res.iterations_to(1e-6)
    assert f"median {np.median(t):.0f}" in out and f"{np.isfinite(t).sum()}/3 runs reached it" in out
    assert f"final loss: median {np.median(res.final_loss):.4g}" in out
    assert "stop reason: 3 steps" in out and "bound:" in out


@pytest.mark.parametrize("args, message", [
    (["run", "--problem", "tau-kapa", "--optimizer", "gd", "--lr", "0.1", "--steps", "5"], "did you mean 'tau-kappa'"),
    (["run", *TAU, "--optimizer", "Adam", "--lr", "0.1", "--steps", "5"], "did you mean 'adam'"),
    (["run", *TAU, "--optimizer", "signsgd", "--steps", "5"], "--lr is required"),
    (["run", *TAU, "--set", "kapa=3", "--optimizer", "gd", "--lr", "0.1", "--steps", "5"], "unknown parameter"),
    (["tune", *TAU, "--optimizer", "gd", "--lrs", "1:x:3", "--steps", "5"], "--lrs must be"),
    (["report", "/nonexistent/sweep"], "holds no finished sweep"),
])
def test_user_errors_are_one_line_exit_2(args, message, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_tune_prints_the_table_and_the_best_lr(capsys):
    code = cli.main(["tune", *TAU, "--optimizer", "gd", "--lrs", "1e-3:1:7", "--steps", "150", "--engine", "numpy"])
    out = capsys.readouterr().out
    p = problems.get("tau-kappa", seed=0, tau=0.5, kappa=20, n_blocks=2, block_size=4)
    res = sims.tune(p, lambda lr: sims.GD(lr=lr), np.geomspace(1e-3, 1, 7), 150, engine="numpy")
    assert code == 0 and f"best lr: {res.best_lr:.6g}" in out
    assert out.count("diverged") == sum("diverged" in r for _, _, r in res.table)


def test_report_cli(tiny_sweep, tmp_path, capsys):
    _, out, _ = tiny_sweep
    assert cli.main(["report", str(out), "--out", str(tmp_path / "fig"), "--metric", "iterations_to_tol"]) == 0
    files = capsys.readouterr().out.split()
    names = {f.rsplit("/", 1)[1] for f in files}
    assert names == {"vs_tau.png", "vs_tau.pdf", "vs_kappa.png", "vs_kappa.pdf",
                     "heatmap_tau_kappa.png", "heatmap_tau_kappa.pdf"}
    assert all((tmp_path / "fig" / n).stat().st_size > 0 for n in names)


def test_band_is_a_geometric_mean_with_a_t_interval():
    from scipy import stats
    x = np.array([10.0, 100.0, 1000.0, np.inf])
    b = band(x, confidence=0.9)
    assert b.n == 3 and b.dropped == 1
    assert b.center == pytest.approx(100.0)
    half = stats.t.ppf(0.95, 2) * 1.0 / np.sqrt(3)  # log10 values 1, 2, 3: sd 1
    assert b.low == pytest.approx(10 ** (2 - half)) and b.high == pytest.approx(10 ** (2 + half))
    assert np.isnan(band([np.nan, np.inf]).center)


class _Bound:
    """THEORY §2 for GD at step η, computed here independently of hetquad.theory."""

    def __init__(self, p, lr=None, *, shrink: float = 1.0):
        lam = p.eigvalsh()
        L, mu = lam.max(), lam.min()
        self.lr = 2.0 / (L + mu) if lr is None else lr
        self.rate = max(abs(1 - self.lr * L), abs(1 - self.lr * mu))
        self.shrink = shrink

    def iterations(self, eps):
        return np.ceil(np.log(1 / eps) / (2 * np.log(1 / self.rate))) * self.shrink


@pytest.mark.parametrize("shrink, holds", [(1.0, True), (0.01, False)])
def test_bound_slack_uses_theory_and_can_fail(monkeypatch, shrink, holds):
    """With a correct bound every GD run has slack ≥ 1; with a bound 100× too small, < 1."""
    import hetquad.theory
    from hetquad.sweep import bound_check

    monkeypatch.setattr(hetquad.theory, "gd_rate", lambda p, lr=None: _Bound(p, lr, shrink=shrink), raising=False)
    p = problems.get("tau-kappa", seed=0, tau=0.5, kappa=30, n_blocks=2, block_size=4)
    for lr in (0.5 * 2 / 31, 2 / 31):
        res = sims.run(p, sims.GD(lr=lr), 2000, batch=4, engine="numpy", tol=1e-6)
        assert res.stop_reason == ("tol",) * 4
        for its in res.iterations:
            name, bound_its, slack = bound_check(p, sims.GD(lr=lr), float(its), tol=1e-6, steps=2000)
            assert name == "theory.gd_rate" and bound_its == _Bound(p, lr, shrink=shrink).iterations(1e-6)
            assert (slack >= 1) == holds
    name, _, slack = bound_check(p, sims.Adam(lr=0.1), 10.0, tol=1e-6)
    assert name.startswith("n/a") and np.isnan(slack)


def test_bound_slack_for_blockwise_and_theorem_variants():
    """Every wired optimizer gets its THEORY bound (slack ≥ 1 on real runs); others get 'n/a'."""
    from hetquad import theory
    from hetquad.sweep import bound_check

    p = problems.get("tau-kappa", seed=1, tau=0.5, kappa=30, n_blocks=3, block_size=4)
    w0 = sims.initial_points(p, 3, 7)
    eta_p = [theory.adam_variant_rate(p, w).lr for w in w0]
    eta_m = [theory.adam_mini_variant_rate(p, w).lr for w in w0]
    cases = [("blockwise_gd_rate", lambda i: sims.BlockwiseGD.optimal(p)),
             ("adam_variant_rate", lambda i: sims.Adam.theorem_variant(eta_p[i])),
             ("adam_mini_variant_rate", lambda i: sims.AdamMini.theorem_variant(eta_m[i]))]
    for fn_name, make in cases:
        for i in range(len(w0)):
            opt = make(i)
            res = sims.run(p, opt, 5000, w0=w0[i], engine="numpy", tol=1e-6)
            assert res.stop_reason == ("tol",)
            name, its, slack = bound_check(p, opt, float(res.iterations[0]), tol=1e-6, steps=5000, w0=w0[i])
            assert name == f"theory.{fn_name}" and slack >= 1.0, (fn_name, i, its, slack)
    half = sims.BlockwiseGD(lrs=tuple(0.5 * x for x in sims.BlockwiseGD.optimal(p).lrs))
    assert bound_check(p, half, 10.0, tol=1e-6)[0].startswith("n/a")
    assert bound_check(p, sims.GD(lr=0.01, schedule=sims.Cosine(100)), 10.0, tol=1e-6)[0].startswith("n/a")


def test_run_gd_defaults_to_the_optimal_step_and_checks_its_bound(capsys):
    from hetquad import theory

    code = cli.main(["run", *TAU, "--optimizer", "gd", "--steps", "3000", "--batch", "3", "--engine", "numpy"])
    out = capsys.readouterr().out
    p = problems.get("tau-kappa", seed=0, tau=0.5, kappa=20, n_blocks=2, block_size=4)
    b = theory.gd_rate(p)
    assert code == 0 and f"lr={b.lr:g}" in out
    assert f"bound: theory.gd_rate: T ≤ {b.iterations(1e-6):.0f}; holds for 3/3 runs, violated by 0" in out
