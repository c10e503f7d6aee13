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
rebuild is looked up in the fixed table :data:`KINDS`, layers in ``LAYERS``. Sizes
are checked before anything is read (:data:`MAX_HEADER_BYTES`,
:data:`MAX_ARRAYS_BYTES`), every array's checksum after. Anything wrong raises
:class:`ModelFileError` naming the file and the problem.

Saving is atomic: the archive is written to a temporary file in the same folder,
flushed and ``fsync``-ed, then moved over the target with ``os.replace``, so an
interrupted save leaves the old file (or none), never half of one.

A model takes part by implementing two methods::

    def _model_state(self) -> tuple[str, dict, dict[str, np.ndarray]]:
        return kind, header, arrays    # JSON-safe header, arrays of numbers

    @classmethod
    def _from_model_state(cls, header, arrays): ...  # the full header comes back

When the header has ``architecture`` (a Network config) and ``n_features``, the
loader also checks, before anything is built, that the file's arrays hold at least
as many values as that architecture has parameters: a small file cannot make the
loader allocate terabytes.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import re
import secrets
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from chainrule._version import __version__
from chainrule.errors import ModelFileError
from chainrule.layers import LAYERS, layer_from_config
from chainrule.losses import LOSSES
from chainrule.optimizers import OPTIMIZERS, SCHEDULES
from chainrule.resume import array_names

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "KINDS",
    "MAX_ARRAYS_BYTES",
    "MAX_HEADER_BYTES",
    "ModelFileError",
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
}

#: Largest ``header.json`` accepted (bytes, as declared in the zip directory).
MAX_HEADER_BYTES = 16 * 2**20
#: Largest total size of the arrays accepted (bytes).
MAX_ARRAYS_BYTES = 4 * 2**30
#: Most members an archive may have.
MAX_MEMBERS = 1024
#: Largest ``.npy`` header accepted (NumPy writes 128 bytes for the arrays here).
MAX_NPY_HEADER_BYTES = 4096

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


# ---------------------------------------------------------------- saving


def save(model: Any, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` as one model file, atomically.

    Parameters
    ----------
    model : Network, MLPClassifier, MLPRegressor or TabularModel
        Any object of a kind in :data:`KINDS` (it implements ``_model_state``).
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
    if not hasattr(model, "_model_state"):
        raise TypeError(
            f"model must be one of {sorted(KINDS)} (an object with _model_state); "
            f"received {type(model).__name__}"
        )
    kind, state, arrays = model._model_state()
    if kind not in KINDS:
        raise ValueError(f"model kind {kind!r} is not one of the known kinds {sorted(KINDS)}")
    cls = _kind_class(kind, path)
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
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise ValueError(
            f"the model's header is {len(header_bytes):,} bytes, over the limit of "
            f"{MAX_HEADER_BYTES:,}; keep large values in arrays"
        )
    _check_architecture(header, lambda problem: ValueError(f"cannot save: {problem}"))

    target = Path(path)
    _atomic_write(target, lambda f: _write_archive(f, header_bytes, prepared))
    return target


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
    """Run ``write(file)`` on a temporary file next to ``target``, then move it over."""
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot save to {str(target)!r}: folder {str(folder)!r} does not exist"
        )
    tmp = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
    # O_EXCL: never follow or clobber anything; 0o666 lets the umask decide the mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


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
    cls = _kind_class(header["kind"], path)
    try:
        return cls._from_model_state(header, arrays)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
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


def _open_archive(path: Any) -> zipfile.ZipFile:
    path_str = os.fspath(path)
    with open(path_str, "rb") as f:  # FileNotFoundError / IsADirectoryError as they are
        start = f.read(8)
    if not start:
        raise ModelFileError(path, "the file is empty")
    if not start.startswith(b"PK\x03\x04"):
        raise ModelFileError(path, f"it is not a chainrule model file ({_guess_kind(start)})")
    try:
        return zipfile.ZipFile(path_str, "r")
    except Exception as exc:  # BadZipFile, NotImplementedError, struct.error, ... on damage
        raise ModelFileError(
            path, f"the archive is truncated or damaged ({exc}); save the model again"
        ) from None


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
    if kind not in KINDS:
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
    _check_architecture(header, lambda problem: ModelFileError(path, problem))
    _check_architecture_size(header, path)


def _check_architecture_size(header: dict[str, Any], path: Any) -> None:
    """Refuse an architecture needing more parameters than the file's arrays hold.

    So that a small file cannot make the loader allocate terabytes: layers are
    built for their shapes only (nothing is allocated) from ``n_features``.
    """
    arch = header.get("architecture")
    if arch is None or "n_features" not in header:
        return
    n_features = header["n_features"]
    if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
        raise ModelFileError(path, f"its n_features {n_features!r} is not a positive integer")
    width, needed = n_features, 0
    try:
        for config in arch["layers"]:
            layer = layer_from_config(config)
            width = layer.build(width, None, np.float32)
            needed += sum(math.prod(shape) for _, shape in layer.param_shapes())
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"its architecture is invalid: {exc}") from None
    state = set(array_names(header["arrays"]))  # the optimizer's moments are not weights
    stored = sum(
        math.prod(spec["shape"]) for name, spec in header["arrays"].items() if name not in state
    )
    if needed > stored:
        raise ModelFileError(
            path,
            f"its architecture needs {needed:,} parameters for {n_features} input features, "
            f"but its arrays hold only {stored:,} values",
        )


def _check_architecture(header: dict[str, Any], error) -> None:
    """Refuse layer, loss and optimizer names outside the fixed registries."""
    arch = header.get("architecture")
    if arch is None:
        return
    if not isinstance(arch, dict) or not isinstance(arch.get("layers"), list):
        raise error("its 'architecture' is not a network description with a list of layers")
    for i, layer in enumerate(arch["layers"]):
        name = layer.get("class_name") if isinstance(layer, dict) else None
        if name not in LAYERS:
            raise error(
                f"layer {i} of its architecture is {name!r}, not a known layer; "
                f"known layers are {sorted(LAYERS)}"
            )
        if not isinstance(layer.get("config", {}), dict):
            raise error(f"layer {i} of its architecture has an invalid config")
    if "loss" in arch and arch["loss"] not in LOSSES:
        raise error(f"its loss {arch['loss']!r} is unknown; known losses are {sorted(LOSSES)}")
    opt = arch.get("optimizer")
    if opt is not None and (not isinstance(opt, dict) or opt.get("class_name") not in OPTIMIZERS):
        found = opt.get("class_name") if isinstance(opt, dict) else opt
        raise error(
            f"its optimizer {found!r} is unknown; known optimizers are {sorted(OPTIMIZERS)}"
        )
    rate = (opt.get("config") or {}).get("learning_rate") if opt is not None else None
    schedules = {cls.__name__ for cls in SCHEDULES.values()}
    if isinstance(rate, dict) and rate.get("class_name") not in schedules:
        raise error(
            f"its learning-rate schedule {rate.get('class_name')!r} is unknown; known "
            f"schedules are {sorted(schedules)}"
        )


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
                n = member.readinto(view[got : got + _CHUNK])
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
