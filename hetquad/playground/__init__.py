"""hetquad.playground — a live web page where the curves and the bounds answer the sliders.

``hetquad playground`` serves it; ``embed(preset)`` shows the same app in a notebook cell. Panel and
Bokeh are imported when an app is built, not here, so importing this package stays cheap.
"""
from __future__ import annotations

from .presets import PRESETS, TITLES, preset
from .state import OptChoice, State

__all__ = ["embed", "serve", "create_app", "PRESETS", "preset", "State", "OptChoice"]


def create_app(state_or_preset="04", *, engine: str | None = None, warm=None):
    """A new ``Playground`` (its Panel object is ``.layout``) for a preset name or a ``State``;
    ``engine`` overrides the state's ``sims`` engine ('auto', 'numba', 'numpy', 'cupy'); ``warm``
    (a ``compute.WarmUp``): show the page at once and the curves when it is done."""
    from .app import Playground

    if isinstance(state_or_preset, State):
        state, title = state_or_preset, "hetquad playground"
    else:
        state, title = preset(state_or_preset), TITLES[state_or_preset]
    return Playground(state if engine is None else state.replace(engine=engine), title=title, warm=warm)


def embed(preset: str = "04"):
    """The playground for one notebook's story, to display in a Jupyter cell (one line).

    Parameters
    ----------
    preset : {'01', '02', '03', '04'}
        01 block heterogeneity (η on the ρ_l(η) picture), 02 τ and the Adam preconditioner
        (rotation R on the |H| heatmap), 03 gradient heterogeneity and sign descent (Gini),
        04 your own sweep (copy as sweep).

    Returns
    -------
    panel.layout.Row
        Live in a running kernel (the sliders re-run the optimizers there); executed headless it
        renders the starting state.
    """
    globals()["preset"](preset)  # an unknown name fails here, before Panel loads
    import panel as pn

    pn.extension()
    return create_app(preset).layout


def serve(*, port: int = 5006, preset: str = "04", show: bool = True, address: str = "127.0.0.1", warm: bool = True,
          engine: str = "auto", threads: int | None = 2):
    """Serve the playground on ``address:port`` until interrupted (one app per browser session).

    The page is served first; with ``warm`` the engine warms up in a background thread once the
    first page has loaded in a browser (a warm-up started earlier would take the GIL from the page
    being served), and pages show the problem's views and a "warming up" note until it is done:
    start-up to a usable page is imports plus one page, not numba's kernel loading. Without
    ``warm`` the first page evaluates everything before it shows.
    ``threads``: optimizers run at once, each on one numba thread (``None``: one per core, at most
    8); the kernels release the GIL, and a run's numbers do not depend on the thread that ran it.
    """
    import panel as pn

    from . import compute

    compute.set_workers(threads)
    state = globals()["preset"](preset).replace(engine=engine)
    warming = compute.WarmUp(state) if warm else None

    def page():
        app = create_app(preset, engine=engine, warm=warming)
        if warming is not None:
            pn.state.onload(app.start_warm)
        return app.layout

    origins = [f"{host}:{port}" for host in ("localhost", "127.0.0.1", address)]
    pn.serve({"/": page}, port=port, address=address, show=show, websocket_origin=origins, title="hetquad playground",
             threaded=False, print_url=True)
