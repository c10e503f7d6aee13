"""Model files: ``save(model, path)`` and ``load(path)``, versioned and safe.

A model file is a zip archive (an ``.npz`` that ``numpy.load`` can open too) with:

- ``header.json``: UTF-8 JSON, the first member. Always holds ``format``
  (``"chainrule-model"``), ``format_version`` (an integer), ``library_version``,
  ``kind`` (what to rebuild: ``"Network"``, ``"MLPClassifier"``, ...) and ``arrays``
  (for each array its ``dtype``, ``shape`` and the SHA-256 of its bytes); then what
  the model itself wrote: ``architecture`` (a :meth:`Network.get_config`, built only
  from the layer names in :data:`chainrule.layers.LAYERS`), ``dtype``, ``history``,
  and for the estimators and tabular models ``classes``, ``preprocessing``, ...
- ``<name>.npy`` for every array (NumPy's own format, numbers only, no pickles).

Loading never executes anything from the file: no pickle is ever read, the class to
rebuild is looked up in the fixed table :data:`KINDS`, layers in ``LAYERS``. The file
must be a regular file whose first member, ``header.json``, sits at byte 0. Sizes are
checked before anything is read (:data:`MAX_HEADER_BYTES`, :data:`MAX_ARRAYS_BYTES`,
:data:`MAX_COMPRESSION_RATIO`), the whole header against its architecture
(:mod:`chainrule.filecheck`: the keys and arrays the kind may have, every count and
shape) before any array is read, every array's checksum and finiteness after. Anything
wrong raises :class:`ModelFileError` naming the file and the problem.

Saving is atomic: the archive is written to a temporary file in the same folder,
flushed and ``fsync``-ed, then moved over the target with ``os.replace``, so an
interrupted save leaves the old file (or none), never half of one; the temporary files
that killed saves left are removed by the next save to the same name.

A model takes part by implementing two methods::

    def _model_state(self) -> tuple[str, dict, dict[str, np.ndarray]]:
        return kind, header, arrays    # JSON-safe header, arrays of numbers

    @classmethod
    def _from_model_state(cls, header, arrays): ...  # the full header comes back

A scikit-learn Pipeline of known steps is saved through :mod:`chainrule.pipelines`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib
import json
import math
import os
import re
import secrets
import signal
import socket
import stat
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from chainrule._version import __version__
from chainrule.errors import ModelFileError
from chainrule.filecheck import check_arrays, check_header

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "KINDS",
    "MAX_ARRAYS_BYTES",
    "MAX_HEADER_BYTES",
    "ModelFileError",
    "check_savable",
    "load",
    "read_header",
    "save",
]

#: The ``format`` field of every model file.
FORMAT_NAME = "chainrule-model"
#: The format version this library writes; it reads every version up to this one.
FORMAT_VERSION = 1

#: What a model file may rebuild: ``kind`` -> ``"module:Class"``. Nothing else is imported.
KINDS: dict[str, str] = {
    "Network": "chainrule.network:Network",
    "MLPClassifier": "chainrule.estimators:MLPClassifier",
    "MLPRegressor": "chainrule.estimators:MLPRegressor",
    "TabularModel": "chainrule.tabular:TabularModel",
    "Pipeline": "chainrule.pipelines:PipelineFile",  # a scikit-learn Pipeline
}

#: Largest ``header.json`` accepted (bytes, as declared in the zip directory).
MAX_HEADER_BYTES = 16 * 2**20
#: Largest total size of the arrays accepted (bytes).
MAX_ARRAYS_BYTES = 4 * 2**30
#: Most members an archive may have.
MAX_MEMBERS = 1024
#: Largest ``.npy`` header accepted (NumPy writes 128 bytes for the arrays here).
MAX_NPY_HEADER_BYTES = 4096
#: A compressed member may inflate to at most this many times its size (text classes
#: padded with zeros reach ~30); members up to :data:`MAX_INFLATED_BYTES` are exempt.
MAX_COMPRESSION_RATIO = 100
MAX_INFLATED_BYTES = 2**20
#: A save's temporary file whose writer cannot be checked is stale after this (seconds).
STALE_TEMP_SECONDS = 600

_HEADER_MEMBER = "header.json"
_RESERVED = ("format", "format_version", "library_version", "kind", "arrays")
_ARRAY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")
#: dtypes an array may have (little-endian numbers and booleans; text as ``<U``).
_DTYPES = frozenset(
    ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8"]
)
_MAX_TEXT_CHARS = 1024
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same model gives the same bytes
_CHUNK = 1 << 24
# zipfile reads a member through a temporary bytes object per call: small calls keep the
# peak memory of a load near the arrays' own size (3x with one 16 MiB call)
_READ_CHUNK = 1 << 18


# ---------------------------------------------------------------- saving


def save(model: Any, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` as one model file, atomically.

    Parameters
    ----------
    model : Network, MLPClassifier, MLPRegressor, TabularModel or Pipeline
        Any object of a kind in :data:`KINDS` (it implements ``_model_state``), or
        a fitted scikit-learn Pipeline of the steps :mod:`chainrule.pipelines` lists.
    path : str or path-like
        Where to write; an existing file is replaced only once the new one is
        complete and on disk. No extension is added (``.npz`` is a good choice).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> net.save("model.npz")                    # doctest: +SKIP
    >>> net2 = chainrule.load("model.npz")       # doctest: +SKIP
    """
    header_bytes, prepared = _encode(model, path)
    target = Path(path)
    with _ctrl_c_held():
        _atomic_write(target, lambda f: _write_archive(f, header_bytes, prepared))
    return target


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Hold a Ctrl-C that comes during a save; the SIGINT handler in place runs after it.

    KeyboardInterrupt inside :mod:`zipfile`'s code leaves half-made objects: closing
    them raises ValueError in its place, and their ``__del__`` prints a traceback. Only
    in the main thread, and when the handler is a Python function (not SIG_IGN/SIG_DFL).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler):
        yield
        return
    held: list[Any] = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
        if held:
            handler(signal.SIGINT, held[0])


def check_savable(model: Any, growth: int = 0) -> int:
    """Check, before a long training run, that ``model`` can be saved: what :func:`save`
    checks, without writing anything.

    Parameters
    ----------
    model : Network, MLPClassifier, MLPRegressor or TabularModel
    growth : int, default=0
        Bytes the header will still grow by (the history of the epochs to come).

    Returns
    -------
    int
        The header's size in bytes now.

    Raises
    ------
    ValueError
        When the header (with ``growth``) would pass :data:`MAX_HEADER_BYTES`, or the
        model holds something a model file cannot.
    """
    header_bytes, _ = _encode(model, None)
    _check_header_size(len(header_bytes) + growth)
    return len(header_bytes)


def _check_header_size(size: int) -> None:
    if size > MAX_HEADER_BYTES:
        raise ValueError(
            f"the model's header would be {size:,} bytes, over the limit of "
            f"{MAX_HEADER_BYTES:,} bytes of a model file; keep large values in arrays"
        )


def _encode(model: Any, path: Any) -> tuple[bytes, dict[str, np.ndarray]]:
    """The checked header (bytes) and arrays :func:`save` writes for ``model``."""
    if _is_sklearn_pipeline(model):
        from chainrule.pipelines import pipeline_state

        kind, state, arrays = pipeline_state(model)
        cls = type(model)
    elif hasattr(model, "_model_state"):
        kind, state, arrays = model._model_state()
        if kind not in KINDS:
            raise ValueError(f"model kind {kind!r} is not one of the known kinds {sorted(KINDS)}")
        cls = _kind_class(kind, path if path is not None else "(the model)")
    else:
        raise TypeError(
            f"model must be one of {sorted(KINDS)} (an object with _model_state); "
            f"received {type(model).__name__}"
        )
    if not isinstance(model, cls):
        raise TypeError(
            f"{type(model).__name__}._model_state() says kind {kind!r}, which loads as "
            f"{KINDS[kind]}; the model is not an instance of it"
        )
    clash = sorted(set(state) & set(_RESERVED))
    if clash:
        raise ValueError(f"the model's header may not set the reserved fields {clash}")

    prepared: dict[str, np.ndarray] = {}
    described: dict[str, dict[str, Any]] = {}
    for name, value in arrays.items():
        arr = _prepare_array(name, value)
        prepared[name] = arr
        described[name] = {
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
            "sha256": _sha256(arr),
        }
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "kind": kind,
        **state,
        "arrays": described,
    }
    try:
        header_bytes = json.dumps(header, indent=1, default=_json_default).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the model's header must be JSON-safe: {exc}") from None
    _check_header_size(len(header_bytes))
    try:
        check_header(json.loads(header_bytes))
    except ValueError as exc:
        raise ValueError(f"cannot save this {kind}: {exc}") from None

    return header_bytes, prepared


def _is_sklearn_pipeline(model: Any) -> bool:
    cls = type(model)
    return cls.__name__ == "Pipeline" and cls.__module__ == "sklearn.pipeline"


def _prepare_array(name: Any, value: Any) -> np.ndarray:
    if not isinstance(name, str) or not _ARRAY_NAME.match(name) or name == "header":
        raise ValueError(
            f"array names must be 1-100 letters, digits, '_', '.', '-' (not 'header'); "
            f"received {name!r}"
        )
    arr = np.asarray(value)
    if arr.dtype.kind in "biufU":  # stored little-endian and C-ordered, whatever the machine
        arr = arr.astype(arr.dtype.newbyteorder("<"), order="C", copy=False)
    if not _dtype_allowed(arr.dtype.str):
        raise TypeError(
            f"array {name!r} has dtype {arr.dtype}; model files hold numbers, booleans "
            "and short text only (no objects). Convert it, or put it in the header."
        )
    return arr


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-safe")


def _sha256(arr: np.ndarray) -> str:
    digest = hashlib.sha256()
    flat = arr.reshape(-1).view(np.uint8) if arr.size else np.empty(0, np.uint8)
    for start in range(0, flat.size, _CHUNK):
        digest.update(flat[start : start + _CHUNK])
    return digest.hexdigest()


def _write_archive(f, header_bytes: bytes, arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo(_HEADER_MEMBER, _ZIP_TIME), header_bytes)
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", _ZIP_TIME)
            info.file_size = arr.nbytes + MAX_NPY_HEADER_BYTES  # picks zip64 when large
            with zf.open(info, "w") as member:
                np.lib.format.write_array_header_1_0(
                    member, np.lib.format.header_data_from_array_1_0(arr)
                )
                flat = arr.reshape(-1).view(np.uint8) if arr.size else np.empty(0, np.uint8)
                for start in range(0, flat.size, _CHUNK):
                    member.write(flat[start : start + _CHUNK])


def _atomic_write(target: Path, write) -> None:
    """Run ``write(file)`` on a temporary file next to ``target``, then move it over.

    The temporary file is ``.NAME.HOST-PID-RANDOM.tmp``; the temporary files of saves
    to the same name that were killed (``kill -9``, a power cut) are removed first
    (:func:`_sweep_stale_temps`). An OSError (disk full, read-only folder) names
    ``target``, not the temporary file.
    """
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot save to {str(target)!r}: folder {str(folder)!r} does not exist"
        )
    _sweep_stale_temps(target)
    tmp = folder / f".{target.name}.{_HOST}-{os.getpid()}-{secrets.token_hex(6)}.tmp"
    try:
        # O_EXCL: never follow or clobber anything; 0o666 lets the umask decide the mode
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise _naming(exc, target) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise _naming(exc, target) from exc
        raise
    _fsync_folder(folder)


def _naming(exc: OSError, target: Path) -> OSError:
    """``exc`` reworded to name the file being saved (not its temporary file)."""
    reason = exc.strerror or str(exc)
    message = f"cannot save the model to {str(target)!r}: {reason}"
    return OSError(exc.errno, message) if exc.errno is not None else OSError(message)


#: This machine in temporary files' names (a writer's pid means something only here).
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:16] or "host"
_TEMP_NAME = re.compile(r"^(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[0-9a-f]{12}$")


def _sweep_stale_temps(target: Path) -> None:
    """Remove what killed saves to ``target`` left: ``.NAME.*.tmp`` files of a writer
    that is gone.

    A temporary file is stale when it names this machine and a process id that no
    longer runs, or, when its writer cannot be checked (another machine, an older
    name, no ``os.kill``), when it has not changed for :data:`STALE_TEMP_SECONDS`.
    A concurrent save (a live writer, a fresh file) is never touched; two sweeps
    racing each other both succeed.
    """
    prefix, suffix = f".{target.name}.", ".tmp"
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    now = time.time()
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        middle = name[len(prefix) : -len(suffix)]
        path = target.parent / name
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        match = _TEMP_NAME.match(middle)
        if match and match["host"] == _HOST and os.name == "posix":
            stale = not _pid_alive(int(match["pid"]))
        else:
            stale = now - info.st_mtime > STALE_TEMP_SECONDS
        if stale:
            try:
                os.unlink(path)
            except OSError:
                pass


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (POSIX: signal 0 checks, sends nothing)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:
        return False  # no process has that number
    except OSError:
        return True  # it exists under another user, or cannot be asked: keep its file
    return True


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); skipped where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------- loading


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The checked JSON header of a model file, without reading its arrays.

    Everything but the arrays' contents is verified (format, version, kind,
    architecture, member sizes), so ``chainrule inspect`` can trust what it shows.

    Raises
    ------
    ModelFileError
        When the file is not a model file this library can read.
    """
    with _open_archive(path) as zf:
        header, _ = _read_and_check_header(zf, path)
    return header


def load(path: str | os.PathLike) -> Any:
    """Rebuild the model saved in ``path``: a Network, estimator or tabular model.

    The file is checked completely before anything is built: its structure, format
    and version, the kind of model and its layers (known names only), the declared
    sizes (before reading), and every array's SHA-256. Nothing in the file is
    executed.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    object
        An instance of the class :data:`KINDS` names for the file's ``kind``; it
        predicts exactly what the saved model did.

    Raises
    ------
    ModelFileError
        (a ValueError) for a file that is truncated, changed, of a newer format,
        naming an unknown kind or layer, too large, or not a model file at all.
    FileNotFoundError
        When ``path`` does not exist.
    """
    with _open_archive(path) as zf:
        header, members = _read_and_check_header(zf, path)
        arrays = {
            name: _read_array(zf, members[f"{name}.npy"], spec, name, path)
            for name, spec in header["arrays"].items()
        }
    try:
        check_arrays(header, arrays)
    except ValueError as exc:
        raise ModelFileError(path, str(exc)) from None
    cls = _kind_class(header["kind"], path)
    try:
        return cls._from_model_state(header, arrays)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(
            path, f"the {header['kind']} it describes cannot be rebuilt: {exc}"
        ) from None


def _kind_class(kind: str, path: Any) -> type:
    module_name, _, class_name = KINDS[kind].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelFileError(
            path, f"it holds a {kind}, which needs {module_name} (not available: {exc})"
        ) from None
    return getattr(module, class_name)


@contextlib.contextmanager
def _open_archive(path: Any) -> Iterator[zipfile.ZipFile]:
    f = _open_regular_file(path)
    with f:
        start = f.read(8)
        if not start:
            raise ModelFileError(path, "the file is empty")
        if not start.startswith(b"PK\x03\x04"):
            raise ModelFileError(path, f"it is not a chainrule model file ({_guess_kind(start)})")
        f.seek(0)
        try:
            zf = zipfile.ZipFile(f, "r")
        except Exception as exc:  # BadZipFile, NotImplementedError, struct.error, ... on damage
            raise ModelFileError(
                path, f"the archive is truncated or damaged ({exc}); save the model again"
            ) from None
        with zf:
            yield zf


def _open_regular_file(path: Any):
    """``path`` opened for reading, refusing a FIFO, device or socket before reading.

    Opened without blocking (a FIFO with no writer would wait forever), then checked
    on the open descriptor, so what is read is what was checked.
    """
    path_str = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path_str, flags)  # FileNotFoundError as it is
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", path_str)
        if not stat.S_ISREG(mode):
            what = (
                "a named pipe (FIFO)"
                if stat.S_ISFIFO(mode)
                else "a device"
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket"
                if stat.S_ISSOCK(mode)
                else "not a regular file"
            )
            raise ModelFileError(path, f"it is {what}; a model file must be a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _guess_kind(start: bytes) -> str:
    if start[:1] == b"\x80" and len(start) > 1 and start[1] <= 5:
        return (
            "it is a Python pickle; chainrule never reads pickles, since loading one can "
            "run any code. Save models with model.save(path)"
        )
    if start.startswith(b"\x93NUMPY"):
        return "it is a single .npy array, without the header a model file needs"
    if start[:2] == b"\x1f\x8b":
        return "it is gzip-compressed"
    try:
        text = start.decode("utf-8")
    except UnicodeDecodeError:
        return "it does not start like a zip archive"
    if text.isprintable() or "\n" in text or "," in text:
        return "it looks like a text file, such as a CSV, not a saved model"
    return "it does not start like a zip archive"


def _read_and_check_header(zf: zipfile.ZipFile, path: Any):
    """Check the archive's directory and the header; return the header and the members."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ModelFileError(path, f"the archive has {len(infos)} members (at most {MAX_MEMBERS})")
    if infos and infos[0].header_offset != 0:
        # the zip directory (at the end) describes an archive that starts later: the
        # file holds something before it, such as a first archive the second was
        # appended to. Which would be the model? Neither.
        raise ModelFileError(
            path,
            f"its zip directory describes an archive starting at byte "
            f"{infos[0].header_offset:,}, not 0: the file holds data before it (two "
            "archives joined into one file?)",
        )
    _check_layout(zf, infos, path)
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.filename in members:
            raise ModelFileError(path, f"the archive holds {info.filename!r} twice")
        if info.flag_bits & 0x1:
            raise ModelFileError(path, f"member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(path, f"member {info.filename!r} uses an unsupported compression")
        members[info.filename] = info
    if _HEADER_MEMBER not in members:
        names = ", ".join(sorted(members)[:5]) or "none"
        raise ModelFileError(
            path,
            f"it has no {_HEADER_MEMBER} (members: {names}); it is a zip or .npz archive "
            "but not a chainrule model file",
        )
    if infos[0].filename != _HEADER_MEMBER:
        raise ModelFileError(
            path, f"its first member is {infos[0].filename!r}, not {_HEADER_MEMBER}"
        )
    size = members[_HEADER_MEMBER].file_size
    if size > MAX_HEADER_BYTES:
        raise ModelFileError(
            path, f"its {_HEADER_MEMBER} is {size:,} bytes, over the limit of {MAX_HEADER_BYTES:,}"
        )
    try:
        raw = zf.read(_HEADER_MEMBER)
    except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError, ... on damage
        raise ModelFileError(path, f"its {_HEADER_MEMBER} is damaged ({exc})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(path, f"its {_HEADER_MEMBER} is not valid JSON ({exc})") from None
    _check_header(header, path)
    _check_members(header, members, path)
    return header, members


def _check_layout(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], path: Any) -> None:
    """Members one after another, none inside another, all before the directory: so the
    bytes read add up to at most the file's size (overlapping members, as in the
    "better zip bomb", would let a small file declare many times its size)."""
    ordered = sorted(infos, key=lambda info: info.header_offset)
    limits = [info.header_offset for info in ordered[1:]] + [getattr(zf, "start_dir", None)]
    for info, limit in zip(ordered, limits, strict=True):
        end = info.header_offset + 30 + len(info.orig_filename.encode()) + info.compress_size
        if limit is not None and end > limit:
            raise ModelFileError(
                path,
                f"its member {info.filename!r} overlaps what follows it (it ends at byte "
                f"{end:,}, after byte {limit:,}); the archive is forged or damaged",
            )


def _check_header(header: Any, path: Any) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise ModelFileError(
            path, f"its header's format is {found!r}, not {FORMAT_NAME!r}; not a model file"
        )
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(path, f"its format_version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"it has format version {version}, written by chainrule "
            f"{header.get('library_version', '?')}; this chainrule ({__version__}) reads "
            f"versions up to {FORMAT_VERSION}. Upgrade: pip install -U chainrule",
        )
    kind = header.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ModelFileError(
            path, f"it holds an unknown kind of model {kind!r}; known kinds are {sorted(KINDS)}"
        )
    arrays = header.get("arrays")
    if not isinstance(arrays, dict):
        raise ModelFileError(path, "its header has no 'arrays' table")
    for name, spec in arrays.items():
        if not _ARRAY_NAME.match(name) or name == "header":
            raise ModelFileError(path, f"it names an array {name!r}, which is not allowed")
        if not isinstance(spec, dict):
            raise ModelFileError(path, f"array {name!r} has no description")
        dtype, shape, digest = spec.get("dtype"), spec.get("shape"), spec.get("sha256")
        if not isinstance(dtype, str) or not _dtype_allowed(dtype):
            raise ModelFileError(
                path, f"array {name!r} has dtype {dtype!r}; only numbers and text are allowed"
            )
        if (
            not isinstance(shape, list)
            or len(shape) > 32
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d for d in shape)
        ):
            raise ModelFileError(path, f"array {name!r} has an invalid shape {shape!r}")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ModelFileError(path, f"array {name!r} has no valid SHA-256")
    try:
        check_header(header)
    except ValueError as exc:
        raise ModelFileError(path, str(exc)) from None
    except (TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # check_header raises ValueError; anything else is a case it does not foresee
        raise ModelFileError(path, f"its header is malformed ({exc!r})") from None


def _dtype_allowed(dtype: str) -> bool:
    if dtype in _DTYPES:
        return True
    match = re.fullmatch(r"<U(\d{1,4})", dtype)
    return match is not None and 1 <= int(match.group(1)) <= _MAX_TEXT_CHARS


def _nbytes(spec: dict[str, Any]) -> int:
    return math.prod(spec["shape"]) * np.dtype(spec["dtype"]).itemsize


def _check_members(header: dict[str, Any], members: dict[str, zipfile.ZipInfo], path) -> None:
    """Declared sizes against the header's shapes, before any array is read."""
    expected = {f"{name}.npy" for name in header["arrays"]} | {_HEADER_MEMBER}
    extra = sorted(set(members) - expected)
    missing = sorted(expected - set(members))
    if extra or missing:
        raise ModelFileError(
            path,
            f"its members do not match its header (missing: {missing or 'none'}; "
            f"unexpected: {extra or 'none'})",
        )
    total = 0
    for name, spec in header["arrays"].items():
        nbytes = _nbytes(spec)
        total += nbytes
        if total > MAX_ARRAYS_BYTES:
            raise ModelFileError(
                path, f"its arrays add up to more than the limit of {MAX_ARRAYS_BYTES:,} bytes"
            )
        info = members[f"{name}.npy"]
        if not nbytes + 10 <= info.file_size <= nbytes + MAX_NPY_HEADER_BYTES:
            raise ModelFileError(
                path,
                f"member {info.filename!r} is {info.file_size:,} bytes, but array {name!r} "
                f"of shape {tuple(spec['shape'])} and dtype {spec['dtype']} needs "
                f"{nbytes:,} bytes of data; the file is damaged",
            )
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise ModelFileError(path, f"member {info.filename!r} has inconsistent sizes")
        if info.file_size > max(MAX_INFLATED_BYTES, MAX_COMPRESSION_RATIO * info.compress_size):
            raise ModelFileError(
                path,
                f"member {info.filename!r} would inflate {info.compress_size:,} bytes to "
                f"{info.file_size:,} (more than {MAX_COMPRESSION_RATIO} to 1): refused as a "
                "decompression bomb; chainrule writes its arrays uncompressed",
            )


def _read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, spec: dict, name: str, path):
    dtype = np.dtype(spec["dtype"])
    shape = tuple(spec["shape"])
    nbytes = _nbytes(spec)
    try:
        with zf.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                read = np.lib.format.read_array_header_1_0
            elif version == (2, 0):
                read = np.lib.format.read_array_header_2_0
            else:
                raise ValueError(f"unsupported .npy version {version}")
            npy_shape, fortran, npy_dtype = read(member, max_header_size=MAX_NPY_HEADER_BYTES)
            if npy_dtype.hasobject or npy_dtype != dtype or tuple(npy_shape) != shape:
                raise ValueError(
                    f"it holds dtype {npy_dtype} and shape {tuple(npy_shape)}, but the header "
                    f"declares {dtype} and {shape}"
                )
            if member.tell() + nbytes != info.file_size:
                raise ValueError("its size does not match its shape")
            buffer = bytearray(nbytes)
            view = memoryview(buffer)
            got = 0
            while got < nbytes:
                n = member.readinto(view[got : got + _READ_CHUNK])
                if not n:
                    raise ValueError("it ends early")
                got += n
            if member.read(1):
                raise ValueError("it has bytes after the data")
    except ValueError as exc:
        raise ModelFileError(path, f"array {name!r} is damaged: {exc}") from None
    except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError, OSError
        raise ModelFileError(
            path, f"array {name!r} is damaged or truncated ({type(exc).__name__}: {exc})"
        ) from None
    arr = np.frombuffer(buffer, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    if _sha256(np.ascontiguousarray(arr)) != spec["sha256"]:
        raise ModelFileError(
            path, f"array {name!r} does not match its SHA-256: the file was changed or damaged"
        )
    return arr
