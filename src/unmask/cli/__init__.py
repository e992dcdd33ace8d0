"""Command-line interface: one module per verb group, all mounted on :data:`unmask.cli.main.app`."""
