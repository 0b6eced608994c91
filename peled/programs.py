"""Compiled programs kept across processes: ``jax.export`` of the sweep's pieces.

JAX's persistent compilation cache keys an executable by its lowered program, so a
process that wants a cached executable must first trace and lower the Python function
again: for the chunked sweep of the disorder-aware default device that was ~10 s of the
~22 s a cached ``peled simulate`` took on 2 cores (docs/numerics/performance.md,
"Compilation cache"). A :class:`ProgramStore` keeps the lowered program itself,
serialized with ``jax.export`` (StableHLO), under a key that names everything the
lowering depends on; a later process deserializes it (milliseconds) and calls it, and
only the compilation step remains, which the persistent cache then answers.

The key (SHA-256) covers: the function's module and qualified name; the static argument
(described by the module and name of its functions, never by memory addresses); the
tree structure of the arguments with its static fields (the device's layer count,
statistics and mobility tags, image force); each argument's shape, dtype and weak
type; the jax and jaxlib versions, the backend, the float64 flag, the default matmul
precision and the dtype promotion mode; and a digest of
every Python source file of the ``peled`` package, so any change of peled's code makes a
new key rather than reusing a stale program. A stored file that cannot be read or
deserialized is replaced by a fresh export; the program is never guessed. A folder that
cannot be written gives a warning and the run goes on with the program in memory. The
files hold pickled tree structures: like JAX's own cache, the folder is trusted, and is
the user's own.

The sweep's pieces always run in the same order, so the store remembers which program
ran after which (``<key>.next``); loading one begins loading its successors in two
background threads, and the chunked sweep's two large executables (~1 s each on 2
cores) load side by side.

The CLI turns the store on beside its compilation cache
(:func:`peled.runtime.enable_compilation_cache`, which a Python user may call too); the
Python API runs without it otherwise, or with :func:`use_store`. Files are written
atomically (temporary file, then ``os.replace``), so a concurrent or interrupted run
never leaves half a program.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import os
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jaxlib

from peled.io import atomic_path

#: format of a stored file; part of the key, so a change of layout never misreads one
FORMAT = 1


@functools.cache
def source_digest() -> str:
    """SHA-256 [hex] over the relative path and bytes of every ``*.py`` file of the
    ``peled`` package (read once per process)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def stable_description(obj: Any) -> str:
    """A description of a static argument that is the same in every process: functions
    by module and qualified name, dataclasses field by field, tuples element by element;
    anything whose ``repr`` would carry a memory address raises ``ValueError`` (the
    caller then runs the function without the store)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return repr(obj)
    if isinstance(obj, functools.partial):
        args = ", ".join(stable_description(a) for a in obj.args)
        kw = ", ".join(f"{k}={stable_description(v)}" for k, v in sorted(obj.keywords.items()))
        return f"partial({stable_description(obj.func)}, {args}; {kw})"
    if callable(obj) and hasattr(obj, "__qualname__") and hasattr(obj, "__module__"):
        if "<lambda>" in obj.__qualname__ or "<locals>" in obj.__qualname__:
            raise ValueError(f"no stable name for {obj!r}")
        return f"{obj.__module__}.{obj.__qualname__}"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = ", ".join(
            f"{f.name}={stable_description(getattr(obj, f.name))}"
            for f in dataclasses.fields(obj)
        )
        return f"{type(obj).__module__}.{type(obj).__qualname__}({fields})"
    if isinstance(obj, (tuple, list)):
        return "(" + ", ".join(stable_description(x) for x in obj) + ")"
    text = repr(obj)
    if " at 0x" in text:
        raise ValueError(f"no stable description for {text}")
    return text


def _abstract(leaf: Any) -> jax.ShapeDtypeStruct:
    """The abstract value of one argument leaf, weak type included (a Python scalar is
    weakly typed, as under ``jax.jit``)."""
    # jax.typeof where it exists (newer jax), jax.core.get_aval before it
    aval = jax.typeof(leaf) if hasattr(jax, "typeof") else jax.core.get_aval(leaf)
    return jax.ShapeDtypeStruct(aval.shape, aval.dtype, weak_type=aval.weak_type)


class ProgramStore:
    """Exported programs of jitted functions, stored in ``directory`` (module docstring).

    :meth:`run` ``(fn, static, *args)`` returns what ``fn(static, *args)`` returns,
    computed by the program stored for this key, exported (and stored) on first use.
    Each program is loaded once per process and then called like a jitted function.
    """

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self._loaded: dict[tuple, tuple[Callable, Any]] = {}
        #: what the store did, per key: "loaded" or "exported" (for tests and reports)
        self.events: list[tuple[str, str]] = []
        # programs being loaded ahead in background threads, by key (see _prefetch_chain)
        self._pending: dict[str, concurrent.futures.Future] = {}
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._last_key: str | None = None

    def forget(self) -> None:
        """Drop the programs loaded in this process (the files stay)."""
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._loaded.clear()

    def key(self, fn: Callable, static: Any, in_tree: Any, avals: tuple) -> str:
        """The SHA-256 [hex] naming the program of ``fn`` for these arguments."""
        parts = [
            f"format {FORMAT}",
            stable_description(fn),
            stable_description(static),
            str(in_tree),
            repr([(a.shape, str(a.dtype), a.weak_type) for a in avals]),
            f"jax {jax.__version__} jaxlib {jaxlib.__version__}",
            f"backend {jax.default_backend()} x64 {jax.config.jax_enable_x64}",
            # the settings that change what tracing produces
            f"matmul {jax.config.jax_default_matmul_precision}"
            f" promotion {jax.config.jax_numpy_dtype_promotion}",
            source_digest(),
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def run(self, fn: Callable, static: Any, *args: Any) -> Any:
        """``fn(static, *args)`` by the stored program (``static`` hashable, part of the
        key; ``args`` a pytree of arrays and scalars)."""
        leaves, in_tree = jax.tree_util.tree_flatten(args)
        avals = tuple(_abstract(x) for x in leaves)
        memo = (fn, static, in_tree, avals)
        if memo not in self._loaded:
            try:
                key = self.key(fn, static, in_tree, avals)
            except ValueError:
                # no stable key: run it as a plain jitted function, nothing stored
                return _jitted(fn)(static, *args)
            self._loaded[memo] = self._load(key) or self._export(key, fn, static, in_tree, avals)
            self._remember_successor(key)
        call, out_tree = self._loaded[memo]
        return jax.tree_util.tree_unflatten(out_tree, call(*leaves))

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.jaxexport"

    def _load(self, key: str) -> tuple[Callable, Any] | None:
        """The program of ``key`` from its file (or from a load begun ahead), compiled;
        None when there is no readable file."""
        future = self._pending.pop(key, None)
        loaded = future.result() if future is not None else _compile_file(self._path(key))
        if loaded is None:
            return None
        self.events.append(("loaded", key))
        self._prefetch_chain(key)
        return loaded

    def _successor_path(self, key: str) -> Path:
        return self.directory / f"{key}.next"

    def _remember_successor(self, key: str) -> None:
        """Record that ``key`` ran right after the previous program of this process (the
        sweep's pieces run in a fixed order), so a later process can load it ahead."""
        previous, self._last_key = self._last_key, key
        if previous is None or previous == key:
            return
        path = self._successor_path(previous)
        try:
            if path.is_file() and path.read_text() == key:
                return
            self._write_file(path, key.encode())
        except OSError:
            pass  # only a lost head start; the program itself is stored

    def _prefetch_chain(self, key: str, depth: int = 8) -> None:
        """Begin loading the programs that ran after ``key`` last time (``<key>.next``,
        followed up to ``depth`` links) in two background threads: loading an
        executable from JAX's cache releases the interpreter, so the chunked sweep's two
        large programs load side by side (~1 s saved on 2 cores)."""
        seen = {key}
        for _ in range(depth):
            try:
                key = self._successor_path(key).read_text().strip()
            except OSError:
                return
            if key in seen or key in self._pending or not self._path(key).is_file():
                return
            seen.add(key)
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=2, thread_name_prefix="peled-program-load"
                )
            # the worker thread lowers under this thread's float64 setting (peled's
            # entry points enable it with a thread-local context)
            self._pending[key] = self._pool.submit(
                _compile_file, self._path(key), bool(jax.config.jax_enable_x64)
            )

    def _export(
        self, key: str, fn: Callable, static: Any, in_tree: Any, avals: tuple
    ) -> tuple[Callable, Any]:
        box: list[Any] = []
        exported = jax.export.export(jax.jit(_flat_function(fn, static, in_tree, box)))(*avals)
        out_tree = box[0]
        payload = pickle.dumps((bytes(exported.serialize()), out_tree))
        try:
            self._write(key, payload)
        except OSError as err:
            # a cache that cannot be written costs the next run its time, not this
            # run its result: say so and go on with the program in memory
            warnings.warn(
                f"peled could not store a compiled program in {self.directory} ({err}); "
                "the next run traces it again",
                RuntimeWarning,
                stacklevel=3,
            )
        else:
            self.events.append(("exported", key))
        return _compiled(exported), out_tree

    def _write(self, key: str, payload: bytes) -> None:
        """Write ``payload`` as the file of ``key``."""
        self._write_file(self._path(key), payload)

    @staticmethod
    def _write_file(path: Path, payload: bytes) -> None:
        """Write ``payload`` to ``path`` atomically (:func:`peled.io.atomic_path`): a
        reader sees the whole file or none."""
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(payload)


def _compiled(exported: Any) -> Callable:
    """An exported program compiled for its own argument types (the executable comes
    from JAX's persistent cache when it is there), called with the flat leaves."""
    compiled = jax.jit(exported.call).lower(*exported.in_avals).compile()

    def call(*leaves):
        # a Python scalar leaf becomes an array of the program's dtype (the compiled
        # program takes strongly typed arrays)
        return compiled(
            *(
                x if isinstance(x, jax.Array) and not x.weak_type else jnp.asarray(x, a.dtype)
                for x, a in zip(leaves, exported.in_avals, strict=True)
            )
        )

    return call


def _compile_file(path: Path, x64: bool | None = None) -> tuple[Callable, Any] | None:
    """(compiled program, output tree) of a stored file; None when it is missing or
    cannot be read or deserialized (the caller exports the program afresh). ``x64``:
    the float64 setting to lower under (None: the calling thread's)."""
    try:
        blob, out_tree = pickle.loads(path.read_bytes())
        exported = jax.export.deserialize(bytearray(blob))
    except Exception:  # noqa: BLE001 - missing, unreadable or stale file: export afresh
        return None
    if x64 is None:
        return _compiled(exported), out_tree
    with jax.enable_x64(x64):
        return _compiled(exported), out_tree


@functools.cache
def _jitted(fn: Callable) -> Callable:
    """``fn`` compiled with its first argument static."""
    return jax.jit(fn, static_argnums=0)


def _flat_function(fn: Callable, static: Any, in_tree: Any, box: list) -> Callable:
    """``fn(static, *args)`` as a function of the flat argument leaves returning flat
    output leaves; the output tree structure is put into ``box`` when it is traced."""

    def flat(*leaves):
        out = fn(static, *jax.tree_util.tree_unflatten(in_tree, leaves))
        out_leaves, out_tree = jax.tree_util.tree_flatten(out)
        box[:] = [out_tree]
        return out_leaves

    return flat


_ACTIVE: ProgramStore | None = None


def use_store(directory: str | os.PathLike[str] | None) -> ProgramStore | None:
    """Make the process run the chunked sweep's pieces from a :class:`ProgramStore` in
    ``directory`` (None: no store). Returns the store in use."""
    global _ACTIVE
    _ACTIVE = None if directory is None else ProgramStore(directory)
    return _ACTIVE


def active_store() -> ProgramStore | None:
    """The store set by :func:`use_store`, or None."""
    return _ACTIVE


__all__ = ["ProgramStore", "active_store", "source_digest", "stable_description", "use_store"]
