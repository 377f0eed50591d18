"""The playground page: Panel widgets and Bokeh plots around ``compute.evaluate``.

One ``Playground`` per browser session (or notebook cell). A control change builds a new ``State``,
evaluates it and pushes the numbers into the plots' data sources (the layout and the figures stay;
only data is sent, and the problem's views only when the problem changed); a bad value shows its
message above the plots and leaves the last good plots in place. Sliders report on release
(``value_throttled``), so a drag costs one re-run, not one per pixel. Served, the page comes up
before the engine is warm: it shows the problem's views and a "warming up" note, and the curves
as soon as ``compute.WarmUp`` is done.
"""
from __future__ import annotations

import html
import logging
import math
import time

import numpy as np
import panel as pn
from bokeh.core.properties import value
from bokeh.models import ColumnDataSource, LinearColorMapper, Span
from bokeh.palettes import Category10_10, Viridis256
from bokeh.plotting import figure

from hetquad.problems import catalog

from . import codegen, compute
from .state import FAMILIES, OptChoice, State

log = logging.getLogger(__name__)

# The optimizers a user can race: label → (sims name, variant). Colors are fixed per label.
CHOICES = {"gd": ("gd", "torch"), "blockwise-gd": ("blockwise-gd", "torch"), "signsgd": ("signsgd", "torch"),
           "signum": ("signum", "torch"), "adam": ("adam", "torch"), "adam (theorem)": ("adam", "theorem"),
           "adam-mini": ("adam-mini", "torch"), "adam-mini (theorem)": ("adam-mini", "theorem"),
           "rmsprop": ("rmsprop", "torch"), "sgd": ("sgd", "torch"), "normalized-gd": ("normalized-gd", "torch")}
COLORS = dict(zip(CHOICES, (*Category10_10, "#393b79")))
MAX_OPTIMIZERS = 5
HYPER = {"signum": ("momentum",), "adam": ("beta1", "beta2", "eps"), "adam-mini": ("beta1", "beta2", "eps"),
         "rmsprop": ("beta2", "eps"), "sgd": ("momentum", "nesterov")}
HYPER_DEFAULTS = {"momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "nesterov": False}
CHECKBOXES = ("nesterov",)  # boolean hyper-parameters

# Problem parameters: (kind, start, end, step). Sliders are editable: a typed value outside the
# slider's range goes to the generator, which answers with its own range in the message.
PARAMS = {"tau": ("float", 0.05, 1.0, 0.01), "kappa": ("float", 1.0, 10000.0, 1.0),
          "n_blocks": ("int", 1, 8, 1), "block_size": ("int", 2, 50, 1),
          "block_kappa": ("float", 1.0, 1000.0, 1.0), "spread": ("float", 0.0, 6.0, 0.1),
          "d": ("int", 2, 200, 1), "R": ("float", 0.0, 1.0, 0.01), "a": ("float", 0.0, 1.0, 0.01),
          "strength": ("float", 0.0, 0.99, 0.01)}
HIDDEN_PARAMS = {"tomihari-blocks": ("gini", "placement")}  # only shape info['w0'], which runs don't use


def _cls(name: str) -> list[str]:
    return [f"hq-{name}"]


def _log_slider(name: str, label: str, value: float, start: float, end: float):
    # unrounded: 10**value gives back the lr a preset or a bound's parameters set, not a neighbour
    return pn.widgets.EditableFloatSlider(label=label, value=math.log10(value), start=start, end=end,
                                          step=0.05, css_classes=_cls(name), width=300)


class Playground:
    """The live app for one session. ``layout`` is the Panel object to serve or display.

    Parameters
    ----------
    state : State
        The starting state (a preset).
    title : str
    warm : compute.WarmUp or None
        While it is not done, the page draws the problem's views only and says it is warming up;
        ``start_warm`` (called when the page has loaded) starts it and watches for the end.
        None: evaluate everything at once (a notebook cell).
    """

    def __init__(self, state: State, *, title: str = "hetquad playground", warm=None):
        self.state = state
        self.updates = 0
        self.last_ms = float("nan")
        self.warm = warm
        self._warm_cb = None
        self._building = True
        self._opt_widgets: dict = {}
        self._drawn_view = None
        self._drawn_first = None  # the curve whose per-block norms are drawn
        self.message = pn.pane.HTML("", visible=False, css_classes=_cls("message"), sizing_mode="stretch_width")
        self.status = pn.pane.HTML("starting…", css_classes=_cls("status"))
        self._controls()
        self._plots()
        self.table = pn.pane.HTML("", css_classes=_cls("table"), sizing_mode="stretch_width")
        self.code = pn.pane.HTML("", css_classes=_cls("code"), sizing_mode="stretch_width")
        self.sweep = pn.pane.HTML("", css_classes=_cls("sweep"), sizing_mode="stretch_width")
        copy_code = pn.widgets.Button(label="copy as code", css_classes=_cls("copy-code"), color="primary")
        copy_sweep = pn.widgets.Button(label="copy as sweep", css_classes=_cls("copy-sweep"), color="primary")
        for button, target in ((copy_code, "#hq-code"), (copy_sweep, "#hq-sweep")):
            # the text is in a shadow root: search the open shadow roots for it
            button.js_on_click(code="""
                const find = (root) => { const el = root.querySelector('%s'); if (el) return el;
                  for (const n of root.querySelectorAll('*')) { if (n.shadowRoot) { const r = find(n.shadowRoot);
                    if (r) return r; } } return null; };
                navigator.clipboard.writeText(find(document).textContent);""" % target)
        self._building = False
        self.refresh()
        sidebar = pn.Column(f"### {title}", self.problem, self.params_box, self.seed, self.batch, self.steps,
                            self.log_tol, self.use_gini, self.gini, self.optimizers, self.opts_box, width=330)
        main = pn.Column(
            self.message, self.status,
            pn.Row(self.fig_loss, self.fig_grad), pn.Row(self.fig_blocks, self.fig_rho),
            pn.Row(self.fig_h, self.fig_spec), self.table,
            pn.Tabs(("copy as code", pn.Column(copy_code, self.code)),
                    ("copy as sweep", pn.Column(copy_sweep, self.sweep))),
            sizing_mode="stretch_width")
        self.layout = pn.Row(sidebar, main, sizing_mode="stretch_width")

    # -- controls ------------------------------------------------------------------------------
    def _controls(self):
        s = self.state
        self.problem = pn.widgets.Select(label="problem", options=list(FAMILIES), value=s.problem,
                                         css_classes=_cls("problem"), width=300)
        self.problem.param.watch(self._on_problem, "value")
        self.params_box = pn.Column()
        self._param_widgets(s.param_dict)
        self.seed = self._int("seed", "instance seed", s.seed, 0, 20)
        self.batch = self._int("batch", "initial points (batch)", s.batch, 1, 32)
        self.steps = self._int("steps", "steps", s.steps, 100, 5000, step=100)
        self.log_tol = pn.widgets.EditableFloatSlider(label="log10 tol", value=math.log10(s.tol), start=-12, end=-1,
                                                      step=0.5, css_classes=_cls("tol"), width=300)
        self.log_tol.param.watch(lambda e: self._changed("tol"), "value_throttled")
        self.use_gini = pn.widgets.Checkbox(label="initial block gradients with a target Gini",
                                            value=s.gini is not None, css_classes=_cls("use-gini"))
        self.use_gini.param.watch(lambda e: self._changed("gini"), "value")
        self.gini = pn.widgets.EditableFloatSlider(label="Gini of ‖g0_l‖/√d_l", value=0.5 if s.gini is None else s.gini,
                                                   start=0.0, end=0.7, step=0.01, css_classes=_cls("gini"), width=300)
        self.gini.param.watch(lambda e: self._changed("gini"), "value_throttled")
        labels = [c.label for c in s.optimizers]
        self.optimizers = pn.widgets.MultiChoice(label=f"optimizers (at most {MAX_OPTIMIZERS})", options=list(CHOICES),
                                                 value=labels, max_items=MAX_OPTIMIZERS, css_classes=_cls("optimizers"),
                                                 width=300)
        # an optimizer's card is made when first chosen and hidden, not removed, when dropped: a
        # second choice toggles a visibility instead of sending widgets and re-laying the page out
        for c in s.optimizers:
            self._opt_card(c.label, c)
        self.optimizers.param.watch(self._on_optimizers, "value")
        self.opts_box = pn.Column(*[self._opt_widgets[l]["card"] for l in labels])

    def _int(self, name, label, value, start, end, step=1):
        w = pn.widgets.EditableIntSlider(label=label, value=int(value), start=start, end=end, step=step,
                                         css_classes=_cls(name), width=300)
        w.param.watch(lambda e: self._changed(name), "value_throttled")
        return w

    def _param_widgets(self, values: dict):
        defaults = catalog.parameters(self.problem.value)
        hidden = HIDDEN_PARAMS.get(self.problem.value, ())
        self._params = {}
        for k, default in defaults.items():
            if k in hidden:
                continue
            v = values.get(k, default)
            if k in PARAMS:
                kind, lo, hi, step = PARAMS[k]
                if v is None:  # block_kappa=None means "= kappa"; start from 10 so it is a number
                    v = 10.0
                cls = pn.widgets.EditableIntSlider if kind == "int" else pn.widgets.EditableFloatSlider
                w = cls(label=k, value=v, start=lo, end=hi, step=step, css_classes=_cls(f"param-{k}"), width=300)
                w.param.watch(lambda e, k=k: self._changed(f"param.{k}"), "value_throttled")
            elif k == "base":
                w = pn.widgets.Select(label=k, value=v, options=[n for n in FAMILIES if n not in ("coupled",)],
                                      css_classes=_cls(f"param-{k}"), width=300)
                w.param.watch(lambda e, k=k: self._changed(f"param.{k}"), "value")
            else:
                w = pn.widgets.TextInput(label=k, value=str(v), css_classes=_cls(f"param-{k}"), width=300)
                w.param.watch(lambda e, k=k: self._changed(f"param.{k}"), "value")
            self._params[k] = w
        self.params_box.objects = list(self._params.values())

    def _opt_card(self, label: str, choice: OptChoice | None = None):
        name, variant = CHOICES[label]
        choice = choice or OptChoice(name, 1.0 if name == "blockwise-gd" else 1e-2, variant=variant)
        key = label.replace(" (theorem)", "-theorem")
        ws = {"lr": _log_slider(f"{key}-lr", "log10 lr" + (" multiplier" if name == "blockwise-gd" else ""),
                                choice.lr, -6.0, 1.0)}
        hyper = dict(choice.hyper)
        if variant == "torch":
            for h in HYPER.get(name, ()):
                v = hyper.get(h, HYPER_DEFAULTS[h])
                if h == "eps":
                    ws[h] = _log_slider(f"{key}-eps", "log10 eps", v, -12.0, -1.0)
                elif h in CHECKBOXES:
                    ws[h] = pn.widgets.Checkbox(label=h, value=bool(v), css_classes=_cls(f"{key}-{h}"))
                else:
                    ws[h] = pn.widgets.EditableFloatSlider(label=h, value=v, start=0.0, end=0.9999, step=0.001,
                                                           css_classes=_cls(f"{key}-{h}"), width=300)
        ws["schedule"] = pn.widgets.Select(label="schedule", options=["constant", "step", "cosine"],
                                           value=choice.schedule[0], css_classes=_cls(f"{key}-schedule"), width=300)
        sched = choice.schedule
        # plain number boxes, not sliders: one Bokeh model each instead of a slider, a box and a
        # layout (the page's start-up is mostly building widget models)
        ws["every"] = pn.widgets.IntInput(label="step: every / cosine: total", start=1, end=100_000,
                                          value=int(sched[1]) if len(sched) > 1 else 100, width=300,
                                          css_classes=_cls(f"{key}-every"))
        ws["gamma"] = pn.widgets.FloatInput(label="step: gamma / cosine: final", start=0.0, end=1.0, step=0.05,
                                            value=float(sched[2]) if len(sched) > 2 else 0.5, width=300,
                                            css_classes=_cls(f"{key}-gamma"))
        ws["every"].visible = ws["gamma"].visible = choice.schedule[0] != "constant"

        def show(event, ws=ws):
            ws["every"].visible = ws["gamma"].visible = event.new != "constant"
        ws["schedule"].param.watch(show, "value")
        for h, w in ws.items():
            event = "value" if h in ("schedule", "every", "gamma", *CHECKBOXES) else "value_throttled"
            w.param.watch(lambda e, label=label, h=h: self._changed(f"opt.{label}.{h}"), event)
        buttons = [self._at_bound_button(label, key, row) for row in _bound_rows(name)]
        card = pn.Card(*ws.values(), *buttons, title=label, collapsed=False, width=320, css_classes=_cls(f"card-{key}"),
                       header_color=COLORS[label])
        self._opt_widgets[label] = {**ws, "card": card}

    def _at_bound_button(self, label: str, key: str, row):
        """A button that sets the card to the hyper-parameters registry ``row``'s bound holds at
        on the current problem (``row.run_spec``), so the run gets that bound."""
        button = pn.widgets.Button(label=f"set to {row.name}'s hyper-parameters", width=300,
                                   css_classes=_cls(f"{key}-at-{row.name}"))
        button.on_click(lambda e: self.set_to_bound(label, row.name))
        return button

    def set_to_bound(self, label: str, row_name: str):
        """Set optimizer ``label``'s card to the hyper-parameters of registry row ``row_name`` on
        the current problem and re-run once (a message if the problem is not one it covers)."""
        from hetquad import theory

        row = theory.registry.get(row_name)
        try:
            p = compute.problem_view(self.state).problem
            _, kwargs = row.run_spec(p, row.function(p))
        except (ValueError, TypeError) as exc:
            self._fail(exc)
            return
        ws = self._opt_widgets[label]
        self._building = True  # one re-run for the whole set, not one per widget
        try:
            for k, v in kwargs.items():
                if k == "lr":
                    ws["lr"].value = math.log10(v)
                elif k in ws:
                    ws[k].value = v
            ws["schedule"].value = "constant"
            for k in HYPER.get(CHOICES[label][0], ()):
                if k in CHECKBOXES and k not in kwargs:
                    ws[k].value = False
        finally:
            self._building = False
        self._changed(f"opt.{label}.lr")

    # -- events ----------------------------------------------------------------------------------
    def _on_problem(self, event):
        self._building = True
        try:
            self._param_widgets({})
        finally:
            self._building = False
        self._changed("problem")

    def _on_optimizers(self, event):
        with pn.io.hold():
            new = [l for l in event.new if l not in self._opt_widgets]
            for label in new:
                self._opt_card(label)
            if new:
                self.opts_box.extend([self._opt_widgets[l]["card"] for l in new])
            for label, ws in self._opt_widgets.items():
                ws["card"].visible = label in event.new
            self._changed("optimizers")

    def _changed(self, what: str):
        if self._building:
            return
        try:
            state = self.read_state(what)
        except (ValueError, TypeError) as exc:
            self._fail(exc)
            return
        self.refresh(state)

    def read_state(self, moved: str | None = None) -> State:
        """The ``State`` the widgets show (``moved``: the control that changed)."""
        params = []
        for k, w in self._params.items():
            v = w.value
            if isinstance(w, pn.widgets.TextInput):
                v = _parse(v)
            params.append((k, v))
        opts = []
        for label in self.optimizers.value:
            name, variant = CHOICES[label]
            ws = self._opt_widgets[label]
            hyper = tuple((h, 10.0 ** ws[h].value if h == "eps" else ws[h].value)
                          for h in HYPER.get(name, ()) if h in ws)
            kind = ws["schedule"].value
            sched = ("constant",) if kind == "constant" else (kind, int(ws["every"].value), float(ws["gamma"].value))
            opts.append(OptChoice(name, float(10.0 ** ws["lr"].value), hyper, variant, sched))
        if moved and moved.startswith("opt."):
            label, _, h = moved[4:].rpartition(".")
            moved = f"opt.{list(self.optimizers.value).index(label)}.{h}" if label in self.optimizers.value else None
        return State(problem=self.problem.value, params=tuple(params), seed=int(self.seed.value),
                     batch=int(self.batch.value), steps=int(self.steps.value), tol=float(10.0 ** self.log_tol.value),
                     gini=float(self.gini.value) if self.use_gini.value else None, optimizers=tuple(opts),
                     last_moved=moved or self.state.last_moved, engine=self.state.engine)

    def _fail(self, exc: BaseException):
        kind = "" if isinstance(exc, (ValueError, TypeError)) else f"internal error ({type(exc).__name__}): "
        self.message.object = (f'<div id="hq-message" style="background:#fde2e1;color:#8a1c1c;border:1px solid #f5a3a0;'
                               f'padding:6px 10px;border-radius:4px"><b>Not applied:</b> {kind}{html.escape(str(exc))}'
                               " — the plots show the last good state.</div>")
        self.message.visible = True
        self.updates += 1
        self._status(error=True)

    def _status(self, error: bool = False):
        warming = self.warming
        note = (" · <b>warming up the engine</b> (loading numba's compiled kernels): the problem's views are live, "
                "the curves appear when it is ready" if warming else "")
        self.status.object = (f'<span id="hq-status" data-updates="{self.updates}" data-ms="{self.last_ms:.1f}" '
                              f'data-error="{int(error)}" data-warming="{int(warming)}">update {self.updates} · '
                              f'evaluate {self.last_ms:.0f} ms{" · last change rejected" if error else ""}{note}</span>')

    @property
    def warming(self) -> bool:
        return self.warm is not None and not self.warm.is_set()

    def start_warm(self):
        """Start the engine's warm-up (once per server) and redraw with the curves when it is done."""
        if not self.warming:
            return
        self.warm.start()
        log.info("playground: warm-up started; watching for its end")
        self._warm_cb = pn.state.add_periodic_callback(self._warm_done, period=100)

    def _warm_done(self):
        if self.warming:
            return
        self._warm_cb.stop()
        self.refresh()

    def refresh(self, state: State | None = None):
        """Evaluate ``state`` (default: the current one) and redraw; on error keep the last plots."""
        state = state or self.state
        t0 = time.perf_counter()
        try:
            snap = compute.evaluate(state, runs=not self.warming)
            code, sweep = codegen.as_code(state, snap.view.problem), codegen.as_sweep(state, snap.view.problem)
        except Exception as exc:  # noqa: BLE001 — whatever a control value does, the server lives on
            if not isinstance(exc, (ValueError, TypeError)):
                log.exception("playground: evaluating %r failed", state)
            self._fail(exc)
            return
        self.state = state
        self.last_ms = 1e3 * (time.perf_counter() - t0)
        with pn.io.hold():  # one message to the browser for the whole redraw
            self.message.visible = False
            self._draw(snap)
            self.code.object = f"<pre id='hq-code'>{html.escape(code)}</pre>"
            self.sweep.object = f"<pre id='hq-sweep'>{html.escape(sweep)}</pre>"
            self.updates += 1
            self._status()

    # -- plots -----------------------------------------------------------------------------------
    def _plots(self):
        kw = dict(width=430, height=260, toolbar_location=None, output_backend="canvas")
        self.fig_loss = figure(title="loss ℓ_t/ℓ_0: median, 10–90 % band; dashed: bound", y_axis_type="log",
                               x_axis_label="step", **kw)
        self.fig_grad = figure(title="‖g_t‖/‖g_0‖ (median, band)", y_axis_type="log", x_axis_label="step", **kw)
        # one slot of renderers per race position, kept: a change of the race swaps data, colors and
        # legend labels (one slot per starting optimizer now, more on first use, up to five)
        self.slots = [self._slot(i) for i in range(max(1, len(self.state.optimizers)))]
        self.src = {}  # label -> the data source showing it (the drawn optimizers)
        self.fig_blocks = figure(title="per-block ‖g_l‖ (median), first optimizer", y_axis_type="log",
                                 x_axis_label="step", **kw)
        self.src_blocks = ColumnDataSource(dict(xs=[], ys=[], color=[]))
        self.fig_blocks.multi_line("xs", "ys", color="color", source=self.src_blocks, line_width=2)
        self.fig_rho = figure(title="ρ_l(η) = max |1 − ηλ| over block l (black: all of H; line: GD's η)",
                              x_axis_label="η", x_axis_type="log", y_range=(0, 1.5), **kw)
        self.src_rho = ColumnDataSource(dict(xs=[], ys=[], color=[]))
        self.src_rho_all = ColumnDataSource(dict(x=[], y=[]))
        self.fig_rho.multi_line("xs", "ys", color="color", source=self.src_rho, line_width=2)
        self.fig_rho.line("x", "y", source=self.src_rho_all, color="black", line_dash="dotted")
        self.eta_span = Span(location=0, dimension="height", line_color=COLORS["gd"], line_width=2)
        self.fig_rho.add_layout(self.eta_span)
        self.fig_h = figure(title="log10 |H|, blocks outlined", width=340, height=320, toolbar_location=None,
                            match_aspect=True)
        self.fig_h.y_range.flipped = True
        self.src_h = ColumnDataSource(dict(image=[np.zeros((1, 1))], dw=[1], dh=[1]))
        self.cmap = LinearColorMapper(palette=Viridis256, low=-6, high=0)
        self.fig_h.image("image", x=0, y=0, dw="dw", dh="dh", source=self.src_h, color_mapper=self.cmap)
        self.src_outline = ColumnDataSource(dict(l=[], r=[], t=[], b=[]))
        self.fig_h.quad(left="l", right="r", top="t", bottom="b", source=self.src_outline, fill_alpha=0,
                        line_color="red", line_width=1.5)
        self.fig_spec = figure(title="block spectra", y_axis_type="log", x_axis_label="block", width=520,
                               height=320, toolbar_location=None)
        self.src_spec = ColumnDataSource(dict(x=[], y=[], color=[]))
        self.fig_spec.scatter("x", "y", color="color", source=self.src_spec, size=5, alpha=0.7)

    def _slot(self, i: int) -> dict:
        src = ColumnDataSource(dict(t=[], lm=[], ll=[], lh=[], gm=[], gl=[], gh=[], b=[]))
        color = Category10_10[i]
        fills = [self.fig_loss.varea("t", "ll", "lh", source=src, fill_color=color, fill_alpha=0.15),
                 self.fig_grad.varea("t", "gl", "gh", source=src, fill_color=color, fill_alpha=0.15)]
        lines = [self.fig_loss.line("t", "lm", source=src, color=color, line_width=2, legend_label=f"slot {i}"),
                 self.fig_loss.line("t", "b", source=src, color=color, line_dash="dashed"),
                 self.fig_grad.line("t", "gm", source=src, color=color, line_width=2)]
        legend = self.fig_loss.legend[0]
        legend.location, legend.label_text_font_size, legend.background_fill_alpha = "bottom_left", "8pt", 0.5
        item = legend.items[-1]
        item.visible = False
        return dict(src=src, fills=fills, lines=lines, item=item, label=None, curve=None)

    def _draw(self, snap):
        v = snap.view
        palette = _palette(len(v.block_eigs))
        if snap.curves:
            self._draw_curves(snap)
        self.table.object = table_html(snap)
        if v is self._drawn_view:  # same problem: ρ_l(η), heatmap and spectra are on the page already
            return
        self._drawn_view = v
        self._draw_problem(v, palette)

    def _draw_curves(self, snap):
        while len(self.slots) < len(snap.curves):
            self.slots.append(self._slot(len(self.slots)))
        for slot, c in zip(self.slots, snap.curves + (None,) * (len(self.slots) - len(snap.curves))):
            if slot["curve"] is c:  # this curve (cached) is on the page already: send nothing
                continue
            slot["curve"] = c
            if c is None:
                slot["src"].data = dict(t=[], lm=[], ll=[], lh=[], gm=[], gl=[], gh=[], b=[])
                slot["item"].visible = False
                continue
            if slot["label"] != c.label:
                slot["label"] = c.label
                for r in slot["fills"]:
                    r.glyph.fill_color = COLORS[c.label]
                for r in slot["lines"]:
                    r.glyph.line_color = COLORS[c.label]
                slot["item"].label = value(c.label)
            slot["item"].visible = True
            b = c.bound_loss
            k = _thin(c.steps.size)
            slot["src"].data = dict(t=c.steps[k], lm=_pos(c.loss_med[k]), ll=_pos(c.loss_lo[k]),
                                    lh=_pos(c.loss_hi[k]), gm=_pos(c.grad_med[k]), gl=_pos(c.grad_lo[k]),
                                    gh=_pos(c.grad_hi[k]), b=_pos(np.full(k.size, np.nan) if b is None else b[k]))
        self.src = {slot["label"]: slot["src"] for slot in self.slots if slot["curve"] is not None}
        first = snap.curves[0]
        if first is not self._drawn_first:
            self._drawn_first = first
            nb = first.block_grad_med.shape[1]
            k = _thin(first.steps.size)
            self.src_blocks.data = dict(xs=[first.steps[k]] * nb, ys=[_pos(first.block_grad_med[k, l]) for l in range(nb)],
                                        color=_palette(nb))
        gd = [c for c in snap.state.optimizers if c.name == "gd"]
        self.eta_span.location = gd[0].lr if gd else float("nan")
        self.eta_span.visible = bool(gd)

    def _draw_problem(self, v, palette):
        self.src_rho.data = dict(xs=[v.eta] * len(v.rho), ys=list(v.rho), color=palette[:len(v.rho)])
        self.src_rho_all.data = dict(x=v.eta, y=v.rho_global)
        if v.abs_h is not None:
            with np.errstate(divide="ignore"):
                img = np.log10(v.abs_h / v.abs_h.max())
            img[~np.isfinite(img)] = -16
            d = img.shape[0]
            self.src_h.data = dict(image=[img.astype(np.float32)], dw=[d], dh=[d])  # half the bytes to send
            self.cmap.low = max(-8.0, float(np.min(img[img > -16])) if np.any(img > -16) else -8.0)
            self.cmap.high = 0.0
            self.src_outline.data = dict(l=[a for a, _ in v.offsets], r=[b for _, b in v.offsets],
                                         t=[b for _, b in v.offsets], b=[a for a, _ in v.offsets])
        xs = np.concatenate([l + np.linspace(-0.3, 0.3, e.size) for l, e in enumerate(v.block_eigs)])
        cs = [palette[l] for l, e in enumerate(v.block_eigs) for _ in range(e.size)]
        self.src_spec.data = dict(x=xs, y=np.concatenate(v.block_eigs), color=cs)
        self.fig_spec.title.text = f"block spectra · JS⁰ = {v.js0:.3f}"


MAX_POINTS = 300  # points drawn per curve: the numbers in the table come from every step


def _thin(n: int) -> np.ndarray:
    """Indices of at most ~MAX_POINTS evenly spaced recorded steps, the first and last included."""
    every = max(1, -(-n // MAX_POINTS))
    return np.unique(np.r_[np.arange(0, n, every), n - 1])


FLOOR = 1e-20  # below this a relative loss is rounding noise: clamp, so the axis stays readable


def _pos(x: np.ndarray) -> np.ndarray:
    """Values for a log axis: non-finite become NaN (a gap in the line), tiny ones the floor."""
    x = np.asarray(x, dtype=float).copy()
    x[~np.isfinite(x)] = np.nan
    x[x < FLOOR] = FLOOR
    return x


def _palette(n: int) -> list:
    return [Category10_10[i % 10] for i in range(n)]


def _parse(text: str):
    from hetquad.config import parse_value

    return parse_value(text)


def _num(x, spec=".4g") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _bound_rows(name: str) -> list:
    """The registry rows for ``sims`` optimizer ``name`` that say which hyper-parameters they hold at."""
    from hetquad import theory

    return [r for r in theory.registry.for_optimizer(name) if r.run_spec is not None and r.applies is not None]


def _bound_cell(c) -> str:
    if c.bound_name:
        return html.escape(c.bound_name)
    why = html.escape(c.bound_reason or "")
    return f"— <span style='color:#777;font-size:11px'>{why}</span>" if why else "—"


def table_html(snap) -> str:
    """The numbers that matter; each cell carries its exact value in ``data-value``."""
    v = snap.view

    def cell(key, x, spec=".4g"):
        return f'<td id="hq-{key}" data-value="{x!r}">{_num(x, spec)}</td>'

    head = ("<table class='hq-numbers' style='border-collapse:collapse;font-size:13px'>"
            "<tr><th>κ(H)</th><th>max κ_l</th><th>τ(H)</th><th>τ_l range</th><th>JS⁰</th><th>Gini(g0)</th>"
            "<th>L_G/L_P</th><th>d</th><th>blocks</th></tr><tr>"
            + cell("kappa", v.kappa) + cell("kappa-max-block", float(np.max(v.block_kappas)))
            + cell("tau", v.tau, ".3f")
            + f"<td>{v.block_taus.min():.3f}–{v.block_taus.max():.3f}</td>"
            + cell("js0", v.js0, ".3f") + cell("gini", snap.gini, ".3f") + cell("lg-lp", snap.l_g_over_l_p, ".3f")
            + f"<td>{v.problem.d}</td><td>{len(v.block_eigs)}</td></tr></table>")
    rows = ["<table class='hq-race' style='border-collapse:collapse;font-size:13px;margin-top:6px'><tr>"
            "<th>optimizer</th><th>iterations to tol (median)</th><th>stop reasons</th>"
            "<th>bound (theory.registry)</th>"
            "<th>bound iterations</th><th>slack (bound/measured)</th><th>κ(P)</th><th>ψ = κ(P)/max κ_l</th></tr>"]
    if not snap.curves:
        rows.append("<tr><td colspan='8'><i>the race runs when the engine is warm</i></td></tr>")
    for c in snap.curves:
        reasons = ", ".join(f"{k} {c.stop_reasons.count(k)}" for k in dict.fromkeys(c.stop_reasons))
        rows.append(f"<tr><td style='color:{COLORS[c.label]}'><b>{html.escape(c.label)}</b></td>"
                    f"<td class='hq-its' data-label='{html.escape(c.label)}' data-value='{c.iterations!r}'>"
                    f"{_num(c.iterations, 'g')}</td><td>{reasons}</td>"
                    f"<td class='hq-bound' data-label='{html.escape(c.label)}' "
                    f"data-value='{html.escape(c.bound_name or '')}'>{_bound_cell(c)}</td>"
                    f"<td>{_num(c.bound_iterations, 'g')}</td><td>{_num(c.slack, '.3g')}</td>"
                    f"<td>{_num(c.kappa_p)}</td><td>{_num(c.psi, '.3g')}</td></tr>")
    rows.append("</table>")
    return head + "".join(rows)
