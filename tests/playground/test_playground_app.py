"""The app object without a browser: every menu entry renders or shows a message, never raises;
a rejected value keeps the last good plots; "copy as sweep" follows the control moved last."""
import numpy as np
import param
import pytest

from hetquad.playground import OptChoice, create_app, preset
from hetquad.playground.state import FAMILIES


def _move(widget, value):
    """What a slider release does: value, then value_throttled (the event the app listens to)."""
    with param.parameterized.edit_constant(widget):
        widget.value = value
        widget.value_throttled = value


@pytest.fixture(scope="module")
def app():
    state = preset("04").replace(steps=200, batch=2, optimizers=(OptChoice("gd", 0.01), OptChoice("adam", 0.01)))
    return create_app(state)


@pytest.mark.slow
def test_every_family_in_the_menu_renders(app):
    for name in FAMILIES[1:] + FAMILIES[:1]:  # the app starts on FAMILIES[0]
        before = app.updates
        app.problem.value = name
        assert app.updates == before + 1
        assert not app.message.visible, (name, app.message.object)
        assert app.state.problem == name and f'data-value="{app.state.problem}"' not in app.table.object
    app.problem.value = "tau-kappa"


def test_a_rejected_value_keeps_the_last_good_plots_and_state(app):
    app.problem.value = "tau-kappa"
    good_state, good_table = app.state, app.table.object
    good_curve = {k: list(v.data["lm"]) for k, v in app.src.items()}
    _move(app._params["tau"], 0.001)
    assert app.message.visible and "tau must be in" in app.message.object
    assert app.state == good_state and app.table.object == good_table
    for k, v in app.src.items():  # the very same arrays (NaN where a run diverged)
        assert np.array_equal(np.asarray(v.data["lm"]), np.asarray(good_curve[k]), equal_nan=True)
    assert 'data-error="1"' in app.status.object
    _move(app._params["tau"], 0.6)
    assert not app.message.visible and app.state.param_dict["tau"] == 0.6 and 'data-error="0"' in app.status.object


def test_copy_as_sweep_follows_the_control_moved_last(app):
    _move(app._params["kappa"], 50.0)
    assert app.state.last_moved == "param.kappa" and "[axes]\nkappa = [12.5, 25.0, 50.0, 100.0, 200.0]" in app.sweep.object
    _move(app._opt_widgets["adam"]["lr"], -1.5)
    assert app.state.last_moved == "opt.1.lr"
    lr = 10.0 ** -1.5
    assert f"lr = [{lr * 0.25!r}, {lr * 0.5!r}, {lr!r}, {lr * 2!r}, {lr * 4!r}]" in app.sweep.object


def test_a_warming_page_shows_the_problem_then_the_curves():
    from hetquad.playground import compute

    state = preset("04").replace(steps=150, batch=2, seed=11, optimizers=(OptChoice("gd", 0.01), OptChoice("adam", 0.01)))
    warm = compute.WarmUp(state)
    page = create_app(state, warm=warm)
    # before the engine is warm: the problem's views and numbers, no curves, the note
    assert page.warming and 'data-warming="1"' in page.status.object and "warming up" in page.status.object
    assert not page.src and len(page.src_spec.data["y"]) == 40 and 'id="hq-kappa"' in page.table.object
    assert "the race runs when the engine is warm" in page.table.object
    page.start_warm()  # what the page's onload does: start the warm-up, watch for its end
    assert warm.wait(120)
    page._warm_done()  # what the periodic callback does once the warm-up is done
    assert not page.warming and 'data-warming="0"' in page.status.object
    assert set(page.src) == {"gd", "adam"} and all(len(s.data["lm"]) for s in page.src.values())
    assert "hq-its" in page.table.object


def test_momentum_sgd_shows_its_registry_bound():
    """Adding SGD and pressing its card's heavy-ball button sets the registry row's (lr, momentum):
    the table names the bound and the dashed line draws its envelope."""
    from hetquad import theory
    from hetquad.playground import compute

    state = preset("04").replace(steps=300, batch=2, optimizers=(OptChoice("gd", 0.01),))
    page = create_app(state)
    page.optimizers.value = ["gd", "sgd"]
    assert "set to heavy_ball_rate's hyper-parameters" in [w.label for w in page._opt_widgets["sgd"]["card"].objects
                                                       if hasattr(w, "clicks")]
    assert "data-value=''>— <span" in page.table.object.split("data-label='sgd'")[-1]  # lr 0.01: no bound
    assert "n/a: theory.heavy_ball_rate holds at lr" in page.table.object
    page.set_to_bound("sgd", "heavy_ball_rate")
    hb = theory.heavy_ball_rate(compute.problem_view(page.state).problem)
    sgd = page.state.optimizers[1]
    assert sgd.lr == pytest.approx(hb.lr, rel=1e-12) and dict(sgd.hyper) == {"momentum": hb.momentum, "nesterov": False}
    assert "data-value='heavy_ball_rate'" in page.table.object
    b = np.asarray(page.src["sgd"].data["b"])
    assert b.size and np.all(np.isfinite(b)) and b[0] == 1.0
    page.set_to_bound("sgd", "nesterov_rate")
    assert "data-value='nesterov_rate'" in page.table.object and dict(page.state.optimizers[1].hyper)["nesterov"]
