"""CLI commands, one module each. A module defines ``register(app)``, which adds its command(s)
to the typer app; ``hetquad.cli`` discovers the modules here, so adding a command is adding a file."""
