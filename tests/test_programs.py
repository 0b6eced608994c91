"""peled.programs: exported programs stored across processes, and their keys."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from peled import programs
from peled.programs import ProgramStore, stable_description


def affine(static, x, pair):
    """A small pure function in the form the store runs: static first."""
    a, b = pair
    return {"sum": static * x + a, "scaled": b * static}


def test_a_second_store_loads_what_the_first_exported(tmp_path):
    """The first run exports and writes one file; a new store on the folder (a new
    process) loads it, computes the same numbers, and writes nothing."""
    with jax.enable_x64(True):
        x = jnp.linspace(0.0, 1.0, 5)
        pair = (jnp.asarray(2.0), jnp.arange(3.0))
        first = ProgramStore(tmp_path)
        out1 = first.run(affine, 3.0, x, pair)
        assert [e for e, _ in first.events] == ["exported"]
        files = sorted(tmp_path.iterdir())
        assert len(files) == 1 and files[0].suffix == ".jaxexport"
        second = ProgramStore(tmp_path)
        out2 = second.run(affine, 3.0, x, pair)
        assert [e for e, _ in second.events] == ["loaded"]
        assert sorted(tmp_path.iterdir()) == files
        expected = affine(3.0, x, pair)
        for out in (out1, out2):
            assert set(out) == {"sum", "scaled"}
            np.testing.assert_array_equal(out["sum"], expected["sum"])
            np.testing.assert_array_equal(out["scaled"], expected["scaled"])
            assert out["sum"].dtype == jnp.float64


def test_the_key_names_what_the_program_depends_on(tmp_path, monkeypatch):
    """Another static value, argument shape, dtype, weak type or tree structure, or
    another source digest of peled, gives another key; the same inputs the same key
    in a new store."""
    with jax.enable_x64(True):
        store = ProgramStore(tmp_path)

        def key(static, *args):
            leaves, tree = jax.tree_util.tree_flatten(args)
            avals = tuple(programs._abstract(v) for v in leaves)
            return store.key(affine, static, tree, avals)

        one = jnp.ones((), jnp.float64)  # strongly typed, unlike jnp.asarray(1.0)
        x, pair = jnp.zeros(4), (one, jnp.zeros(2))
        base = key(3.0, x, pair)
        assert base == ProgramStore(tmp_path / "other").key(
            affine, 3.0, *_tree_and_avals((x, pair))
        )
        variants = [
            key(4.0, x, pair),
            key(3.0, jnp.zeros(5), pair),
            key(3.0, jnp.zeros(4, jnp.float32), pair),
            key(3.0, x, (1.0, jnp.zeros(2))),  # a Python float is weakly typed
            key(3.0, x, [one, jnp.zeros(2)]),
        ]
        monkeypatch.setattr(programs, "source_digest", lambda: "another peled")
        variants.append(key(3.0, x, pair))
    assert len({base, *variants}) == len(variants) + 1


def _tree_and_avals(args):
    leaves, tree = jax.tree_util.tree_flatten(args)
    return tree, tuple(programs._abstract(v) for v in leaves)


def test_a_damaged_file_is_exported_again(tmp_path):
    """A stored file that does not deserialize is never guessed at: the store exports
    the program afresh and overwrites the file."""
    with jax.enable_x64(True):
        x, pair = jnp.ones(3), (jnp.asarray(0.5), jnp.ones(2))
        ProgramStore(tmp_path).run(affine, 2.0, x, pair)
        (path,) = tmp_path.iterdir()
        path.write_bytes(b"not a program")
        store = ProgramStore(tmp_path)
        out = store.run(affine, 2.0, x, pair)
        assert [e for e, _ in store.events] == ["exported"]
        np.testing.assert_array_equal(out["sum"], 2.0 * x + 0.5)
        assert ProgramStore(tmp_path).run(affine, 2.0, x, pair)["sum"].shape == (3,)


def test_without_a_stable_name_nothing_is_stored(tmp_path):
    """A static argument or function that has no process-independent description (a
    lambda, a local function, an object printed with its address) is run as a plain
    jitted function and nothing is written."""
    store = ProgramStore(tmp_path)

    def local(static, x):
        return static * x

    with jax.enable_x64(True):
        assert float(store.run(local, 2.0, jnp.asarray(3.0))) == 6.0
        out = store.run(affine, _Factor(2.0), jnp.asarray(1.0), (1.0, 1.0))
        assert float(out["scaled"]) == 2.0
    assert store.events == []
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


class _Factor:
    """A hashable static factor whose repr carries its address."""

    def __init__(self, value: float):
        self.value = value

    def __mul__(self, other):
        return self.value * other

    __rmul__ = __mul__


class _Opaque:
    def __call__(self, x):
        return x


def test_stable_description():
    """Functions by module and name, partials and tuples element by element; lambdas,
    local functions and address-bearing reprs refused."""
    assert stable_description(affine).endswith("test_programs.affine")
    assert stable_description((1, "a", None, 2.5)) == "(1, 'a', None, 2.5)"
    part = stable_description(functools.partial(affine, 3.0))
    assert part.startswith("partial(") and "affine" in part
    for bad in (lambda x: x, _Opaque(), object()):
        with pytest.raises(ValueError):
            stable_description(bad)


def test_a_folder_that_cannot_be_written_warns_and_the_run_goes_on(tmp_path):
    """The store's folder lies under a regular file: the export cannot be written, a
    RuntimeWarning names the folder, and the result is computed all the same."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    store = ProgramStore(blocker / "programs")
    with jax.enable_x64(True), pytest.warns(RuntimeWarning, match="could not store"):
        out = store.run(affine, 2.0, jnp.ones(3), (jnp.asarray(0.5), jnp.ones(2)))
    np.testing.assert_array_equal(out["sum"], np.full(3, 2.5))
    assert store.events == []


def shifted(static, x):
    """A second small program, run after :func:`affine`."""
    return x + static


def test_the_next_program_is_loaded_ahead(tmp_path):
    """Programs that ran one after the other are remembered in that order: a later store
    that loads the first begins loading the second in the background, and running it
    takes that load (same numbers)."""
    with jax.enable_x64(True):
        x, pair = jnp.arange(3.0), (jnp.asarray(1.0, jnp.float64), jnp.ones(2))
        first = ProgramStore(tmp_path)
        first.run(affine, 2.0, x, pair)
        first.run(shifted, 5.0, x)
        assert len(list(tmp_path.glob("*.next"))) == 1
        later = ProgramStore(tmp_path)
        later.run(affine, 2.0, x, pair)
        assert len(later._pending) == 1  # the second program, loading ahead
        out = later.run(shifted, 5.0, x)
        assert later._pending == {}
        assert [e for e, _ in later.events] == ["loaded", "loaded"]
        np.testing.assert_array_equal(out, x + 5.0)
