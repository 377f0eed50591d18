"""hetquad.playground — a live web page where the curves and the bounds answer the sliders.

``hetquad playground`` serves it; ``embed(preset)`` shows the same app in a notebook cell. Panel and
Bokeh are imported when an app is built, not here, so importing this package stays cheap.
"""
from __future__ import annotations

from .presets import PRESETS, TITLES, preset
from .state import OptChoice, State

__all__ = ["embed", "serve", "create_app", "PRESETS", "preset", "State", "OptChoice"]


def create_app(state_or_preset="04", *, engine: str | None = None):
    """A new ``Playground`` (its Panel object is ``.layout``) for a preset name or a ``State``;
    ``engine`` overrides the state's ``sims`` engine ('auto', 'numba', 'numpy', 'cupy')."""
    from .app import Playground

    if isinstance(state_or_preset, State):
        state, title = state_or_preset, "hetquad playground"
    else:
        state, title = preset(state_or_preset), TITLES[state_or_preset]
    return Playground(state if engine is None else state.replace(engine=engine), title=title)


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
          engine: str = "auto", threads: int | None = 1):
    """Serve the playground on ``address:port`` until interrupted (one app per browser session).

    ``warm`` evaluates the preset once first, so the numba kernels are compiled before the first
    page is requested. ``threads`` caps numba's threads for the server's runs (``None``: numba's
    default): the browser needs a core too, and on a 2-core machine under load one thread re-ran
    five optimizers 1.3–1.8× faster than two (measured interleaved, README "Playground").
    """
    import panel as pn

    from . import compute

    if threads is not None:
        import numba

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))

    if warm:
        compute.evaluate(globals()["preset"](preset).replace(engine=engine))
    origins = [f"{host}:{port}" for host in ("localhost", "127.0.0.1", address)]
    pn.serve({"/": lambda: create_app(preset, engine=engine).layout}, port=port, address=address, show=show,
             websocket_origin=origins, title="hetquad playground", threaded=False, print_url=True)
