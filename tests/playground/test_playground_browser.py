"""The playground as a user meets it: `hetquad playground` on a free loopback port, driven by
Debian's headless Chromium through Playwright (no browser download).

The test moves sliders and asserts on what the page shows: the curves change, the κ readout equals
``problems`` on the same parameters, an unreachable τ shows the message and keeps the last plots,
"copy as code" run in a subprocess prints the displayed iterations to tol. It measures start-up and
the time from a control change to the redrawn page, saves screenshots under a temporary directory
(checked not blank) and stops the server and the browser it started. Outside CI a missing browser
skips; in CI (CI=true, where .ci/run installs chromium) it fails.
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hetquad import problems

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
# The targets: 5 s from launch to a usable page (controls and the problem's views; the
# curves follow when numba is warm) and 150 ms from a control change to the redrawn page (d = 200,
# 1000 steps, batch 8, five optimizers, numba warm). Asserted as target × slack. The CI box is a
# shared 2-core machine whose load multiplies every number (README "Playground": at load 5–10 the
# medians were 4–9× the change target and 3.4–5× the start-up target), so the default slack is
# 6 × the machine's oversubscription when the test starts (1-minute load average per core, at
# least 1): 6 on an idle machine (900 ms per change, 30 s to the page), 15 at load 5, where the
# slowest median measured so far used 0.6 of its limit. It catches a page that stops answering
# or a change that re-runs far more than it should, not a 20 % slowdown.
# HETQUAD_PLAYGROUND_SLACK fixes it (1: the targets themselves). The measured numbers are printed
# and written to playground-timings.json.
SLACK = float(os.environ.get("HETQUAD_PLAYGROUND_SLACK", 0)) or 6.0 * max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
STARTUP_TARGET_S = 5.0
CHANGE_TARGET_MS = 150.0
SERVER_UP_LIMIT_S = 120  # the loop waiting for the server to listen gives up after this

# A query that pierces the shadow roots Panel/Bokeh render into.
DEEP = """(sel) => { const find = (root) => { const el = root.querySelector(sel); if (el) return el;
  for (const n of root.querySelectorAll('*')) { if (n.shadowRoot) { const r = find(n.shadowRoot); if (r) return r; } }
  return null; }; return find(document); }"""
# Sum of every drawn curve (median loss of each optimizer), read from the page's Bokeh document.
CURVES = """() => { const out = {}; for (const m of Bokeh.documents[0].all_models) {
  if (m.type === 'ColumnDataSource' && m.data.lm !== undefined && m.data.lm.length) {
    let s = 0; for (const v of m.data.lm) if (Number.isFinite(v)) s += Math.log(v); out[m.id] = s; } }
  return out; }"""


def _browser_or_skip() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium (Debian package) or playwright is missing in CI: .ci/run installs chromium")
        pytest.skip("no chromium/playwright here (CI installs them; see .ci/run)")
    return path


def _uptime() -> str:
    """``uptime``'s line (the machine's load, reported beside every timing), or the load averages."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _not_blank(png: Path) -> None:
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[..., :3]
    colors = np.unique((img.reshape(-1, 3) * 255).astype(np.uint8), axis=0).shape[0]
    assert img.shape[0] > 500 and img.shape[1] > 800 and img.std() > 0.05 and colors > 100, (png, img.std(), colors)


class Page:
    """Helpers around a Playwright page showing the playground."""

    def __init__(self, page):
        self.page = page

    def attr(self, sel: str, name: str):
        return self.page.evaluate(f"(s) => {{ const e = ({DEEP})(s); return e && e.getAttribute('{name}'); }}", sel)

    def updates(self) -> int:
        u = self.attr("#hq-status", "data-updates")
        return -1 if u is None else int(u)

    def wait_update(self, before: int, timeout_s: float = 60) -> None:
        self.page.wait_for_function(f"() => {{ const e = ({DEEP})('#hq-status'); "
                                    f"return e && +e.getAttribute('data-updates') > {before}; }}",
                                    polling="raf", timeout=timeout_s * 1e3)

    def set_input(self, css: str, value) -> float:
        """Type ``value`` into an editable slider's box, press Enter; seconds until the page redrew."""
        box = self.page.locator(f"{css} input").first
        before = self.updates()
        t0 = time.perf_counter()
        box.fill(str(value))
        box.press("Enter")
        self.wait_update(before)
        return time.perf_counter() - t0

    def toggle_optimizer(self, name: str) -> float:
        """Remove optimizer ``name`` from the race if it is in it, else add it; seconds from the
        click to the redrawn page."""
        before = self.updates()
        chosen = self.page.locator(f".hq-optimizers .choices__list--multiple [data-value='{name}']")
        if chosen.count():
            t0 = time.perf_counter()
            chosen.first.locator("button").click()
        else:
            self.page.locator(".hq-optimizers input").first.click()
            t0 = time.perf_counter()
            self.page.locator(f".hq-optimizers .choices__item--choice[data-value='{name}']").first.click()
        self.wait_update(before)
        dt = time.perf_counter() - t0
        self.page.keyboard.press("Escape")
        return dt

    def text(self, sel: str) -> str:
        return self.page.evaluate(f"(s) => ({DEEP})(s).textContent", sel)

    def iterations(self) -> dict:
        """The table's median iterations to tol per optimizer (exact values, 'inf' when not reached)."""
        return {k: float(v) for k, v in self._iterations().items()}

    def _iterations(self) -> dict:
        return self.page.evaluate("""() => { const out = {}; const walk = (root) => {
              for (const e of root.querySelectorAll('td.hq-its')) out[e.dataset.label] = e.dataset.value;
              for (const n of root.querySelectorAll('*')) if (n.shadowRoot) walk(n.shadowRoot); };
              walk(document); return out; }""")

    def value(self, css: str) -> float:
        return float(self.page.locator(f"{css} input").first.input_value())


@pytest.mark.slow
def test_playground_in_headless_chromium(tmp_path):
    chromium = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    # numba compiles a kernel once per machine (cached on disk): do that first, so start-up is timed
    # as a user's launch on a machine that has run hetquad before, not as a first-ever compile
    subprocess.run([sys.executable, "-c", "from hetquad.playground import compute, preset; "
                    "compute.evaluate(preset('04'))"], check=True, timeout=600)
    port = _free_port()
    uptime_start = _uptime()
    hetquad = str(Path(sys.executable).with_name("hetquad"))
    log = open(tmp_path / "server.log", "w")
    t_start = time.perf_counter()
    server = subprocess.Popen([hetquad, "playground", "--port", str(port), "--no-browser", "--preset", "04"],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    timings = {}

    def phase(name):  # progress with -s, so a slow step shows where the time went
        print(f"[{time.perf_counter() - t_start:6.1f} s] {name}", flush=True)
    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=chromium,
                                                        headless=True, args=FLAGS,
                                                        viewport={"width": 1500, "height": 1300})
            try:
                ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=f"http://127.0.0.1:{port}")
                page = ctx.pages[0] if ctx.pages else ctx.new_page()
                p = Page(page)
                while True:  # the server needs a few seconds to import and warm up
                    try:
                        page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
                        break
                    except Exception:
                        assert server.poll() is None, (tmp_path / "server.log").read_text()
                        assert time.perf_counter() - t_start < SERVER_UP_LIMIT_S, "server did not come up"
                        time.sleep(0.2)
                p.wait_update(0)
                timings["startup_s"] = time.perf_counter() - t_start  # a usable page (maybe still warming)
                timings["startup_warming"] = p.attr("#hq-status", "data-warming") == "1"
                page.screenshot(path=tmp_path / "start.png", full_page=True)
                _not_blank(tmp_path / "start.png")
                page.wait_for_function(f"() => {{ const e = ({DEEP})('#hq-status'); "
                                       "return e && e.getAttribute('data-warming') === '0'; }", polling=100,
                                       timeout=120_000)
                timings["first_curves_s"] = time.perf_counter() - t_start
                assert len(page.evaluate(CURVES)) == 3  # the preset's three optimizers are drawn

                phase('page up')
                # κ readout: a real drag of the κ slider, then the readout equals problems.get on the
                # parameters the page's boxes show
                handle = page.locator(".hq-param-kappa .noUi-handle").first
                box = handle.bounding_box()
                before_updates, curves0 = p.updates(), page.evaluate(CURVES)
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                page.mouse.down()
                page.mouse.move(box["x"] + 50, box["y"] + box["height"] / 2, steps=8)
                page.mouse.up()
                p.wait_update(before_updates)
                params = {k: p.value(f".hq-param-{k}") for k in ("tau", "kappa", "block_kappa")}
                params.update({k: int(p.value(f".hq-param-{k}")) for k in ("n_blocks", "block_size")})
                assert params["kappa"] != 100.0  # the drag moved it
                want = problems.get("tau-kappa", seed=0, **params).kappa
                assert float(p.attr("#hq-kappa", "data-value")) == want
                curves1 = page.evaluate(CURVES)
                assert curves0.keys() == curves1.keys() and len(curves1) == 3
                assert all(curves0[k] != curves1[k] for k in curves0), "the curves did not change"

                phase('kappa drag checked')
                # the speed case: d = 200 (4 blocks of 50), 1000 steps, batch 8, 5 optimizers
                p.set_input(".hq-param-block_size", 50)
                for name in ("signsgd", "rmsprop"):
                    before = p.updates()
                    page.locator(".hq-optimizers input").first.click()
                    page.locator(f".hq-optimizers .choices__item--choice[data-value='{name}']").first.click()
                    p.wait_update(before)
                page.keyboard.press("Escape")
                assert list(p.iterations()) == ["gd", "adam", "adam-mini", "signsgd", "rmsprop"]
                assert len(p.iterations()) == 5 and int(problems.get("tau-kappa", **{**params, "block_size": 50}).d) == 200
                phase('five optimizers, d = 200')
                # each kind of change five or more times, at values not run before (no cache hit);
                # ms from the keypress / click to the page showing the new update
                ms, evals = {}, {}

                def timed(kind, seconds):
                    ms.setdefault(kind, []).append(1e3 * seconds)
                    evals.setdefault(kind, []).append(float(p.attr("#hq-status", "data-ms")))
                for v in (-2.1, -1.9, -2.2, -1.8, -2.05):  # adam's lr: adam re-runs
                    timed("lr", p.set_input(".hq-adam-lr", v))
                for name in ("rmsprop", "signum", "signum", "adam (theorem)", "adam (theorem)", "rmsprop"):
                    timed("optimizer", p.toggle_optimizer(name))  # remove (no run) / add (one run)
                assert list(p.iterations()) == ["gd", "adam", "adam-mini", "signsgd", "rmsprop"]
                for v in (900, 1100, 1200, 800, 1300):  # all five re-run
                    timed("steps", p.set_input(".hq-steps", v))
                p.set_input(".hq-steps", 1000)
                for v in (0.45, 0.55, 0.6, 0.52, 0.48):  # a new problem: its views and all five runs
                    timed("tau", p.set_input(".hq-param-tau", v))
                timings["change_ms"] = ms
                timings["server_evaluate_ms"] = evals
                page.screenshot(path=tmp_path / "five.png", full_page=True)
                _not_blank(tmp_path / "five.png")

                phase('timed')
                # an unreachable τ: the message, the last good curves kept, the server alive
                curves_good, its_good = page.evaluate(CURVES), p.iterations()
                p.set_input(".hq-param-tau", 0.01)
                assert "tau must be in" in p.text("#hq-message") and p.attr("#hq-status", "data-error") == "1"
                assert page.evaluate(CURVES) == curves_good and p.iterations() == its_good
                page.screenshot(path=tmp_path / "message.png", full_page=True)
                _not_blank(tmp_path / "message.png")
                p.set_input(".hq-param-kappa", 0.5)  # κ < 1 too
                assert "kappa" in p.text("#hq-message") and page.evaluate(CURVES) == curves_good
                p.set_input(".hq-param-kappa", 300)
                p.set_input(".hq-param-tau", 0.6)
                assert p.attr("#hq-status", "data-error") == "0"
                assert not page.locator("#hq-message").first.is_visible()

                phase('bad values checked')
                # copy as code: the button's clipboard text, run in a subprocess, prints the table
                page.locator(".hq-copy-code button").first.click()
                code = page.evaluate("navigator.clipboard.readText()")
                assert code == p.text("#hq-code")
                out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                     timeout=120).stdout
                printed = {k: float(v) for k, v in (l.split(": iterations to tol = ") for l in out.strip().splitlines())}
                shown = p.iterations()
                assert list(printed.values()) == list(shown.values()), (printed, shown)
                assert any(np.isfinite(v) for v in shown.values())
            finally:
                ctx.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    assert server.returncode is not None
    medians = {k: statistics.median(v) for k, v in timings["change_ms"].items()}
    summary = {**timings, "change_median_ms": medians,
               "server_evaluate_median_ms": {k: statistics.median(v) for k, v in timings["server_evaluate_ms"].items()},
               "load_average": os.getloadavg(), "uptime_start": uptime_start, "uptime_end": _uptime(), "slack": SLACK}
    (tmp_path / "playground-timings.json").write_text(json.dumps(summary, indent=1))
    print("playground timings:", json.dumps(summary))
    print(f"playground: start-up {timings['startup_s']:.2f} s (target {STARTUP_TARGET_S} s), change medians "
          + ", ".join(f"{k} {v:.0f} ms" for k, v in medians.items()) + f" (target {CHANGE_TARGET_MS:.0f} ms); "
          f"uptime at start: {uptime_start}; at end: {summary['uptime_end']}")
    assert timings["startup_s"] <= STARTUP_TARGET_S * SLACK, summary
    for kind, median in medians.items():
        assert median <= CHANGE_TARGET_MS * SLACK, (kind, summary)
