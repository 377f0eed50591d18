"""The ``hetquad`` command line. Commands live in ``hetquad/commands/`` (one module each).

Errors from bad input (``ValueError``/``TypeError``/``OSError`` such as a missing file, a full or
read-only disk) print one line on stderr and exit 2; ``--debug`` shows the traceback instead.
Ctrl-C (SIGINT) prints one line and exits 130. Importing this module loads typer and the command
modules only: each command imports numpy, scipy, the engines etc. when it runs (an instant
``--help``; ``tests/robustness/test_cli_import.py`` holds every command module to it).
"""
from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

import hetquad
from hetquad import commands as _commands
from hetquad.errors import Interrupted

# rich_markup_mode=None: plain click help; rendering it through rich costs ~0.2 s per --help
app = typer.Typer(help="hetquad: quadratic testbeds for why Transformers need Adam.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)
_DEBUG = {"on": False}


def _version(value: bool):
    if value:
        typer.echo(f"hetquad {hetquad.__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit."),
          debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors.")):
    """hetquad: build quadratics with controlled structure, run optimizers, check the theory."""
    _DEBUG["on"] = debug


for _info in sorted(pkgutil.iter_modules(_commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{_commands.__name__}.{_info.name}").register(app)

# OSError covers what the user's file system does to us: a missing or unreadable file, an output
# path that is a file, a read-only or full disk (errno and path in the message).
USER_ERRORS = (ValueError, TypeError, OSError, KeyError)
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C



def main(argv=None) -> int:
    """Console-script entry point."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        # standalone_mode=False: typer *returns* the exit code of typer.Exit (and 130 for a
        # KeyboardInterrupt it caught) instead of calling sys.exit; dropping it made every
        # interrupted command and every `check` with violations exit 0
        rc = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except Interrupted as exc:
        typer.echo(f"interrupted: {exc}", err=True)
        return INTERRUPTED
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        return INTERRUPTED
    except Exception as exc:  # usage errors and user errors → one line, exit 2
        if type(exc).__name__ == "NoArgsIsHelpError":  # help was printed already
            return 0
        if isinstance(exc, typer.TyperException):  # typer's (vendored click) usage errors
            typer.echo(f"error: {exc.format_message()}", err=True)
            return 2
        if debug or not isinstance(exc, USER_ERRORS):
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        typer.echo(f"error: {msg}", err=True)
        return 2
    if rc == INTERRUPTED:
        typer.echo("interrupted", err=True)
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
