"""The CLI's engine names come from one place (issue 15): ``sims/engines/names.py``.

Every command with an ``--engine`` option lists every engine in its help, the names are
``sims.engines.NAMES`` itself (one tuple, whichever of the CLI and ``hetquad.sims`` loads first),
and reading them for ``--help`` does not import ``hetquad.sims``.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import typer.main

from hetquad import cli, sims
from hetquad.commands import engine_choices, engine_help, engine_names

# the commands known to take --engine: discovery below must find at least these
EXPECTED = {"check", "playground", "run", "tune"}


def _engine_commands() -> list[str]:
    group = typer.main.get_command(cli.app)
    return sorted(name for name, cmd in group.commands.items()
                  if any(p.name == "engine" for p in cmd.params))


def test_names_are_the_engines_own_tuple():
    import hetquad.sims.engines.names as names

    assert engine_names() is names.NAMES is sims.engines.NAMES
    assert engine_choices() == ("auto", *sims.engines.NAMES)
    for name in sims.engines.NAMES:
        assert sims.engines.get(name).NAME == name  # each name is an engine module


def test_every_engine_command_lists_every_engine_in_its_help(capsys):
    commands = _engine_commands()
    assert EXPECTED <= set(commands), commands
    for command in commands:
        assert cli.main([command, "--help"]) == 0
        text = capsys.readouterr().out
        words = set(re.findall(r"[a-z]+", text))
        missing = [n for n in engine_choices() if n not in words]
        assert not missing, (command, missing, text)


def test_help_string_lists_choices_in_order():
    text = engine_help("lead: ")
    assert text.startswith("lead: auto, ")
    positions = [text.index(n) for n in engine_choices()]
    assert positions == sorted(positions), text


def test_a_bad_engine_is_one_line_naming_every_engine(capsys):
    assert cli.main(["check", "--engine", "fortran"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fortran" in err
    assert all(n in err for n in engine_choices()), err


def test_cli_first_then_sims_share_one_tuple():
    """In a fresh interpreter the CLI loads names.py alone (no hetquad.sims, no numpy); importing
    hetquad.sims afterwards reuses that module, so NAMES is still one object."""
    code = ("import json, sys\nfrom hetquad import cli\nfrom hetquad.commands import engine_names\n"
            "names = engine_names()\nbefore = sorted(m for m in ('hetquad.sims', 'numpy') if m in sys.modules)\n"
            "import hetquad.sims.engines as e\n"
            "print(json.dumps({'before': before, 'same': e.NAMES is names, 'names': list(names)}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"before": [], "same": True, "names": list(sims.engines.NAMES)}
