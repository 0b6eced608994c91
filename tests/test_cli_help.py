"""``peled --help`` and every ``peled <cmd> --help`` answer without loading JAX (issue "A
new user's first hour", item 6: every command, even --help, took ~3 s of JAX import).

Each check runs in a fresh interpreter, since the test process has JAX loaded already."""

from __future__ import annotations

import subprocess
import sys
import textwrap

HEAVY = ("jax", "jaxlib", "matplotlib", "pandas", "scipy", "dask")


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_help_of_every_command_loads_no_jax():
    """--help of the group and of every command and subcommand, through click's runner on
    the real entry point, leaves JAX (and the other heavy libraries) unimported."""
    out = _run(
        f"""
        import sys

        import click
        from click.testing import CliRunner

        import peled.cli

        def paths(cmd, prefix):
            yield prefix
            if isinstance(cmd, click.Group):
                for name, sub in cmd.commands.items():
                    yield from paths(sub, [*prefix, name])

        seen = []
        for path in paths(peled.cli.main, []):
            result = CliRunner().invoke(peled.cli.main, [*path, "--help"])
            assert result.exit_code == 0, (path, result.output)
            assert "Usage:" in result.output, (path, result.output)
            seen.append(" ".join(path))
        loaded = sorted(m for m in {HEAVY!r} if m in sys.modules)
        print("commands:", ",".join(seen))
        print("loaded:", loaded)
        """
    )
    commands = out.split("commands:")[1].split("\n")[0].split(",")
    assert {"simulate", "sweep", "validate", "optimize", "check", "materials show"} <= set(commands)
    assert "loaded: []" in out


def test_package_names_resolve_on_first_use():
    """``import peled`` loads no JAX; its public names resolve on first use, and
    ``peled.simulate`` stays the function after the ``peled.simulate`` module is imported
    by another module (here peled.sweep)."""
    out = _run(
        """
        import sys

        import peled

        print("jax after import:", "jax" in sys.modules)
        import peled.sweep  # noqa: F401  (imports the peled.simulate module)

        print("simulate:", callable(peled.simulate), peled.simulate.__name__)
        print("names:", all(hasattr(peled, n) for n in peled.__all__))
        print("mesh:", peled.MeshSpec(8).nodes_per_layer)
        """
    )
    assert "jax after import: False" in out
    assert "simulate: True simulate" in out
    assert "names: True" in out and "mesh: 8" in out
