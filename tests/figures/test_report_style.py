"""``hetquad report`` draws in the figures' house style (issue 17: "the sweep example ignores the house style")."""
import matplotlib
import numpy as np
import pandas as pd

from hetquad import report
from hetquad.figures import style


def _rows():
    rng = np.random.default_rng(0)
    out = []
    for opt in ("adam", "gd", "my-variant"):
        for lr in (1e-3, 1e-2, 1e-1):
            for s in range(3):
                out.append({"optimizer": opt, "lr": lr, "seed": s, "status": "ok",
                            "iterations_to_tol": float(rng.integers(10, 1000))})
    return pd.DataFrame(out)


def test_known_optimizers_get_their_house_colour_and_label():
    fig, axes = style.figure(1, 1)
    report.plot_vs_axis(axes[0, 0], _rows(), "lr")
    lines = {ln.get_label(): matplotlib.colors.to_hex(ln.get_color()) for ln in axes[0, 0].get_lines()}
    assert lines["Adam"] == style.COLORS["adam"] and lines["GD"] == style.COLORS["gd"]
    # an unknown label keeps its name and gets a colour no house optimizer of the panel uses
    assert lines["my-variant"] not in {style.COLORS["adam"], style.COLORS["gd"]}
    style.plt.close(fig)


def test_spare_colours_never_repeat_a_house_colour_in_use():
    colors = report.optimizer_colors(["adam", "x", "y", "gd", "z"])
    assert len(set(colors.values())) == 5
    assert colors["adam"] == style.COLORS["adam"]


def test_build_report_uses_the_house_rcparams(tmp_path, monkeypatch):
    # the report sets the house rcParams (grid on, top/right spines off) before drawing
    matplotlib.rcParams.update({"axes.grid": False, "axes.spines.top": True})
    monkeypatch.setattr("hetquad.results.load", lambda d: (_rows(), None))
    monkeypatch.setattr("hetquad.results.read_manifest", lambda d: {"axes": [], "hyper_axes": ["lr"]})
    rep = report.build_report(tmp_path, out=tmp_path / "r", metrics=("iterations_to_tol",))
    assert rep.paths and all(p.exists() for p in rep.paths)
    assert matplotlib.rcParams["axes.grid"] is True and matplotlib.rcParams["axes.spines.top"] is False
