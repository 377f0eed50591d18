"""Exceptions the command line gives a meaning to (``hetquad.cli`` maps them to exit codes)."""


class Interrupted(Exception):
    """A command caught Ctrl-C and says what was kept (the CLI prints it and exits 130)."""
