"""An instant CLI (issue 15 item 7): ``import hetquad`` and ``hetquad --help`` (and every
command's ``--help``) load no heavy module; the heavy ones load where they are used.

Checked in a fresh interpreter through ``sys.modules``, not timed (timings are in the report).
"""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sympy", "torch", "numba", "dask", "distributed", "scipy", "numpy", "pandas", "xarray", "matplotlib")
COMMANDS = ("bench", "check", "figures", "problems", "report", "run", "spectra", "sweep", "tune")

PROBE = """
import json, sys
{code}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_hetquad_loads_nothing_heavy():
    assert _loaded("import hetquad") == []


def test_help_loads_nothing_heavy():
    code = ("import contextlib, io\nfrom hetquad import cli\nwith contextlib.redirect_stdout(io.StringIO()) as buf:\n"
            "    rc = cli.main(['--help'])\nassert rc == 0 and 'sweep' in buf.getvalue(), (rc, buf.getvalue())")
    assert _loaded(code) == []


def test_every_commands_help_loads_nothing_heavy():
    code = ("import contextlib, io\nfrom hetquad import cli\n"
            f"for command in {COMMANDS!r}:\n"
            "    with contextlib.redirect_stdout(io.StringIO()) as buf:\n"
            "        rc = cli.main([command, '--help'])\n"
            "    assert rc == 0 and 'Usage' in buf.getvalue(), (command, buf.getvalue())")
    assert _loaded(code) == []


def test_the_rooms_still_load_on_first_use():
    """Laziness must not change the API: attribute access imports the room, ``load`` is there,
    ``hetquad.theory.derivations`` loads sympy only when asked for."""
    code = ("import hetquad\nassert hetquad.sims.run and hetquad.problems.get and hetquad.theory.gd_rate\n"
            "from hetquad import load\nassert callable(load)\nimport hetquad.theory as t\n"
            "assert 'sympy' not in sys.modules\nt.derivations\nassert 'sympy' in sys.modules")
    loaded = _loaded(code)
    assert {"numpy", "sympy"} <= set(loaded) and "torch" not in loaded and "dask" not in loaded
