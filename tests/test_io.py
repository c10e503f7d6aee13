"""Model files (chainrule.io): exact round trips, refusal of every kind of bad file,
atomic saves, and a file written by an earlier version."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import pickle
import signal
import struct
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import chainrule
import chainrule.io as cio
from chainrule import (
    GELU,
    SGD,
    Adam,
    AdamW,
    Dense,
    Dropout,
    ExponentialDecay,
    Identity,
    LeakyReLU,
    ModelFileError,
    Network,
    ReLU,
    RMSprop,
    Sigmoid,
    Softmax,
    StepDecay,
    Tanh,
    TrainingDivergedError,
    filecheck,
)
from helpers import binary_data

# ---------------------------------------------------------------- helpers


def _trained(path=None, epochs=2):
    X, y = binary_data()
    net = Network(
        [Dense(4), ReLU(), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        metrics=["accuracy"],
        seed=0,
    )
    net.fit(X, y, epochs=epochs, batch_size=8, validation_split=0.25)
    if path is not None:
        net.save(path)
    return net


def _members(path):
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("header.json"))
        members = {n: zf.read(n) for n in zf.namelist() if n != "header.json"}
    return header, members


def _write_members(path, header, members):
    """A well-formed zip (valid CRCs) with the given header and members."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        for name, data in members.items():
            zf.writestr(name, data)


def _rewrite(src, dst, change_header=None, change_members=None):
    header, members = _members(src)
    if change_header is not None:
        change_header(header)
    if change_members is not None:
        change_members(members)
    _write_members(dst, header, members)
    return dst


def _npy_bytes(arr, allow_pickle=False):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _refused(path, *words):
    with pytest.raises(ModelFileError) as info:
        chainrule.load(path)
    message = str(info.value)
    assert str(path) in message  # names the file
    for word in words:
        assert word in message, message
    return message


class _Payload:
    """Unpickling this creates a file: proof that code from a file ran."""

    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (open, (self.sentinel, "w"))


# ---------------------------------------------------------------- round trips

_ACTIVATIONS = st.sampled_from(
    [
        lambda d: ReLU(),
        lambda d: Tanh(),
        lambda d: Sigmoid(),
        lambda d: GELU(),
        lambda d: Identity(),
        lambda d: LeakyReLU(d(st.floats(0.01, 0.5))),
        lambda d: Dropout(d(st.floats(0.0, 0.5))),
    ]
)
_OPTIMIZERS = st.sampled_from(
    [
        lambda: "sgd",
        lambda: SGD(0.05, momentum=0.9, nesterov=True),
        lambda: Adam(StepDecay(0.01, step_size=2, gamma=0.5)),
        lambda: AdamW(0.003, weight_decay=0.01),
        lambda: RMSprop(ExponentialDecay(0.01, decay_rate=0.9)),
    ]
)


@st.composite
def networks(draw):
    """A small random network: Dense/activation stack, loss, optimizer, dtype."""
    n_features = draw(st.integers(1, 4))
    layers = []
    for _ in range(draw(st.integers(0, 3))):
        layers.append(
            Dense(
                draw(st.integers(1, 6)),
                use_bias=draw(st.booleans()),
                kernel_initializer=draw(
                    st.sampled_from(["glorot_uniform", "glorot_normal", "he_uniform", "he_normal"])
                ),
            )
        )
        layers.append(draw(_ACTIVATIONS)(draw))
    loss = draw(st.sampled_from(["mse", "binary_crossentropy", "categorical_crossentropy"]))
    if loss == "mse":
        n_out = draw(st.integers(1, 3))
        layers.append(Dense(n_out))
    elif loss == "binary_crossentropy":
        n_out = 1
        layers += [Dense(1), Sigmoid()]
    else:
        n_out = draw(st.integers(2, 4))
        layers += [Dense(n_out), Softmax()]
    net = Network(
        layers,
        loss=loss,
        optimizer=draw(_OPTIMIZERS)(),
        metrics=["accuracy"] if loss != "mse" else ["mae", "r2"],
        l2=draw(st.sampled_from([0.0, 1e-3])),
        seed=draw(st.integers(0, 2**31 - 1)),
        dtype=draw(st.sampled_from(["float32", "float64"])),
    )
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    X = rng.normal(size=(24, n_features))
    if loss == "mse":
        y = rng.normal(size=(24, n_out))
    else:
        y = rng.integers(0, 2 if loss == "binary_crossentropy" else n_out, size=24)
    return net, X, y, draw(st.integers(0, 2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_round_trip_predicts_exactly_the_same(case):
    net, X, y, epochs = case
    if epochs:
        try:
            net.fit(X, y, epochs=epochs, batch_size=8, validation_split=0.25)
        except TrainingDivergedError:
            reject()  # some drawn networks diverge (deep, linear, momentum): no round trip
    else:
        net.build(X.shape[1])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.npz"
        assert net.save(path) == path
        loaded = chainrule.load(path)
        assert sorted(os.listdir(folder)) == ["model.npz"]
    assert type(loaded) is Network
    assert loaded.get_config() == net.get_config()
    assert loaded.params.dtype == net.params.dtype
    np.testing.assert_array_equal(loaded.params, net.params)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    assert loaded.evaluate(X, y) == net.evaluate(X, y)
    if epochs:
        assert loaded.history.history == net.history.history
        assert loaded.history.epoch == net.history.epoch
    else:
        assert loaded.history is None
    # the loaded network trains on, as a fresh network from the same config would
    try:
        loaded.fit(X, y, epochs=1, batch_size=8)
    except TrainingDivergedError:
        pass  # a drawn network that was diverging goes on diverging; its weights stay finite
    assert np.isfinite(loaded.params).all()


def test_round_trip_probabilities_and_header(tmp_path):
    path = tmp_path / "model.npz"
    net = _trained(path)
    X, _ = binary_data(seed=5)
    loaded = chainrule.load(str(path))
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    header = cio.read_header(path)
    assert header["format"] == "chainrule-model"
    assert header["format_version"] == cio.FORMAT_VERSION == 1
    assert header["library_version"] == chainrule.__version__
    assert header["kind"] == "Network"
    assert header["dtype"] == "float32"
    assert header["n_features"] == 3 and header["n_outputs"] == 2
    assert header["n_params"] == net.n_params == 3 * 4 + 4 + 4 * 2 + 2
    assert [layer["class_name"] for layer in header["architecture"]["layers"]] == [
        "Dense",
        "ReLU",
        "Dense",
        "Softmax",
    ]
    assert header["architecture"]["optimizer"]["class_name"] == "adam"
    assert header["history"]["epoch"] == [0, 1]
    assert set(header["history"]["history"]) >= {"loss", "val_loss", "accuracy", "val_accuracy"}
    spec = header["arrays"]["params"]
    assert spec["dtype"] == "<f4" and spec["shape"] == [net.n_params]
    assert len(spec["sha256"]) == 64


def test_file_is_an_npz_numpy_reads_without_pickles(tmp_path):
    path = tmp_path / "model.npz"
    net = _trained(path)
    # the file's order: every weight matrix, then every bias (whatever order the
    # network keeps in memory: its first bias sits before its weights there)
    weights = net.get_weights()
    in_file = np.concatenate([w.ravel() for w in weights[0::2] + weights[1::2]])
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["params"], in_file)
    with zipfile.ZipFile(path) as zf:
        # the training state of an Adam network (chainrule.resume): its two moments and
        # the rows' order
        assert zf.namelist() == [
            "header.json",
            "params.npy",
            "optimizer.m.npy",
            "optimizer.v.npy",
            "training.order.npy",
        ]


def test_same_model_same_bytes(tmp_path):
    net = _trained()
    net.save(tmp_path / "a.npz")
    net.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "model.npz"
    _trained(path, epochs=1)
    net = _trained(epochs=3)
    net.save(path)
    assert chainrule.load(path).history.epoch == [0, 1, 2]
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_extra_arrays_of_every_allowed_dtype_round_trip(tmp_path, monkeypatch):
    """What estimators store beside the parameters (classes as text, integers, ...),
    for a kind whose table of arrays allows them."""
    extra = {
        "classes": np.array(["setosa", "versicolor", "virginica"]),
        "big_endian_fortran": np.arange(6, dtype=">f8").reshape(2, 3).T,
        "ints": np.array([[1, -2], [3, 4]], dtype=np.int64),
        "flags": np.array([True, False]),
        "bytes": np.arange(5, dtype=np.uint8),
        "half": np.array([0.5], dtype=np.float16),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "scalar": np.float64(2.5),
    }

    class WithExtras(Network):
        def _model_state(self):
            kind, header, arrays = super()._model_state()
            return kind, header, {**arrays, **extra}

    net = WithExtras([Dense(2)], loss="mse", optimizer="sgd", seed=0).build(3)
    with pytest.raises(ValueError, match="not used by a Network: \\['big_endian_fortran'"):
        net.save(tmp_path / "m.npz")
    monkeypatch.setitem(filecheck.ARRAYS, "Network", (("params",), tuple(extra)))
    net.save(tmp_path / "m.npz")
    seen = {}
    original = Network._from_model_state.__func__

    def capture(cls, header, arrays):
        seen.update(arrays)
        return original(cls, header, arrays)

    monkeypatch.setattr(Network, "_from_model_state", classmethod(capture))
    loaded = chainrule.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.params, net.params)
    for name, value in extra.items():
        np.testing.assert_array_equal(seen[name], value)
        assert seen[name].shape == np.shape(value)
        assert seen[name].dtype == np.asarray(value).dtype.newbyteorder("<")
    assert seen["params"].flags.writeable


def test_read_header_does_not_read_arrays(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    _trained(path)

    def fail(*args, **kwargs):
        raise AssertionError("read_header read an array")

    monkeypatch.setattr(cio, "_read_array", fail)
    assert cio.read_header(path)["kind"] == "Network"


def test_save_refuses_what_it_cannot_write(tmp_path):
    unbuilt = Network([Dense(1)], loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match="no weights yet"):
        unbuilt.save(tmp_path / "m.npz")
    with pytest.raises(TypeError, match="_model_state"):
        chainrule.save({"a": 1}, tmp_path / "m.npz")

    class Odd(Network):
        def _model_state(self):
            kind, header, arrays = super()._model_state()
            return kind, header, {**arrays, "junk": np.array([object()], dtype=object)}

    odd = Odd([Dense(1)], loss="mse", optimizer="sgd").build(2)
    with pytest.raises(TypeError, match="no objects"):
        odd.save(tmp_path / "m.npz")

    class Bad(Network):
        def _model_state(self):
            kind, header, arrays = super()._model_state()
            return kind, {**header, "note": {1, 2}}, arrays

    with pytest.raises(TypeError, match="JSON-safe"):
        Bad([Dense(1)], loss="mse", optimizer="sgd").build(2).save(tmp_path / "m.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _trained().save(tmp_path / "no-such-folder" / "m.npz")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- refusals


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        chainrule.load(tmp_path / "nothing.npz")


def _fresh_file(folder: Path, data: bytes) -> Path:
    """``data`` in a new file (rewriting one file thousands of times is slow on ext4)."""
    _fresh_file.count = getattr(_fresh_file, "count", 0) + 1
    path = folder / f"variant-{_fresh_file.count}.npz"
    path.write_bytes(data)
    return path


def test_every_truncation_is_refused(tmp_path):
    good = tmp_path / "model.npz"
    _trained(good)
    data = good.read_bytes()
    for length in range(len(data)):
        with pytest.raises(ModelFileError):
            chainrule.load(_fresh_file(tmp_path, data[:length]))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(data[: len(data) // 2])
    _refused(bad, "truncated or damaged")
    bad.write_bytes(b"")
    _refused(bad, "empty")


def test_every_changed_byte_is_refused_or_harmless(tmp_path):
    """Flip each byte: the load fails with ModelFileError, or the byte was zip
    bookkeeping (a timestamp, a local copy of a size) and the model is unchanged."""
    good = tmp_path / "model.npz"
    net = _trained(good)
    X, _ = binary_data(seed=3)
    expected = net.predict(X)
    data = good.read_bytes()
    refused = 0
    for i in range(len(data)):
        changed = bytearray(data)
        changed[i] ^= 0xFF
        try:
            loaded = chainrule.load(_fresh_file(tmp_path, bytes(changed)))
        except ModelFileError:
            refused += 1
        else:
            np.testing.assert_array_equal(loaded.predict(X), expected)
            assert loaded.get_config() == net.get_config()
    assert refused > 0.9 * len(data)


def test_changed_parameters_fail_the_checksum(tmp_path):
    """A changed array with a recomputed zip CRC is still caught, by the SHA-256."""
    good = tmp_path / "model.npz"
    _trained(good)

    def tamper(members):
        arr = np.load(good)["params"].copy()
        arr[0] += 1.0
        members["params.npy"] = _npy_bytes(arr)

    bad = _rewrite(good, tmp_path / "bad.npz", change_members=tamper)
    _refused(bad, "'params'", "SHA-256")
    # the untampered rewrite loads: the helper itself is sound
    chainrule.load(_rewrite(good, tmp_path / "same.npz"))


def test_newer_format_version_is_refused(tmp_path):
    good = tmp_path / "model.npz"
    _trained(good)

    def newer(header):
        header["format_version"] = 2
        header["library_version"] = "9.0.0"

    bad = _rewrite(good, tmp_path / "newer.npz", change_header=newer)
    _refused(bad, "format version 2", "9.0.0", "up to 1", "Upgrade")
    with pytest.raises(ModelFileError, match="format version 2"):
        cio.read_header(bad)
    for version in ("1", 0, True, None, 1.0):
        bad = _rewrite(
            good, tmp_path / "v.npz", change_header=lambda h, v=version: h.update(format_version=v)
        )
        _refused(bad, "format_version")


def test_unknown_layer_loss_optimizer_or_kind_is_refused(tmp_path):
    good = tmp_path / "model.npz"
    _trained(good)

    def layer(header):
        header["architecture"]["layers"][1] = {
            "class_name": "os.system",
            "config": {"command": "touch pwned"},
        }

    _refused(_rewrite(good, tmp_path / "a.npz", layer), "layer 1", "'os.system'", "Dense")

    def loss(header):
        header["architecture"]["loss"] = "evil"

    _refused(_rewrite(good, tmp_path / "b.npz", loss), "loss 'evil'")

    def optimizer(header):
        header["architecture"]["optimizer"]["class_name"] = "builtins.eval"

    _refused(_rewrite(good, tmp_path / "c.npz", optimizer), "optimizer 'builtins.eval'")

    def kind(header):
        header["kind"] = "subprocess:Popen"

    _refused(_rewrite(good, tmp_path / "d.npz", kind), "unknown kind", "'subprocess:Popen'")

    def bad_config(header):
        header["architecture"]["layers"][0]["config"]["units"] = -3

    _refused(_rewrite(good, tmp_path / "e.npz", bad_config), "architecture is invalid", "units")

    def fewer_features(header):  # 2 inputs need 22 parameters; the file holds 26
        header["n_features"] = 2

    _refused(_rewrite(good, tmp_path / "f.npz", fewer_features), "n_params 26", "22 parameters")

    def more_features(header):  # 5 inputs need 34 parameters: more than the file holds
        header["n_features"] = 5

    _refused(_rewrite(good, tmp_path / "g.npz", more_features), "needs 34 parameters", "only 26")
    assert not Path("pwned").exists()


def test_a_huge_architecture_with_few_parameters_is_refused_before_allocating(tmp_path):
    good = tmp_path / "model.npz"
    _trained(good)

    def huge(header):
        header["n_features"] = 10**9
        header["architecture"]["layers"][0]["config"]["units"] = 10**9

    bad = _rewrite(good, tmp_path / "huge.npz", huge)
    _refused(bad, "needs 1,000,000,003,000,000,002 parameters", "only 26 values")
    with pytest.raises(ModelFileError, match="only 26 values"):
        cio.read_header(bad)

    def tabular(header):  # the check is the loader's, whatever the kind of model
        huge(header)
        header["kind"] = "TabularModel"

    _refused(_rewrite(good, tmp_path / "tab.npz", tabular), "only 26 values")
    for features in (0, "3", True):
        bad = _rewrite(good, tmp_path / "n.npz", lambda h, f=features: h.update(n_features=f))
        _refused(bad, "n_features")

    def history(header):
        header["history"] = ["not", "a", "table"]

    _refused(_rewrite(good, tmp_path / "h.npz", history), "history is not a table")


def test_pickles_are_never_unpickled(tmp_path):
    sentinel = tmp_path / "code-ran"
    payload = pickle.dumps(_Payload(sentinel))
    pickle.loads(payload)  # the payload works: unpickling it runs code
    assert sentinel.exists()
    sentinel.unlink()

    bad = tmp_path / "evil.pkl"
    bad.write_bytes(payload)
    _refused(bad, "pickle", "never reads pickles")
    net_pickle = tmp_path / "net.pkl"
    net_pickle.write_bytes(pickle.dumps(_trained()))
    _refused(net_pickle, "pickle")

    npz = tmp_path / "objects.npz"
    np.savez(npz, a=np.array([_Payload(sentinel)], dtype=object))
    _refused(npz, "no header.json", "a.npy")

    # a model file whose array member is an object array, header claiming numbers
    good = tmp_path / "model.npz"
    _trained(good)
    obj_npy = _npy_bytes(np.array([_Payload(sentinel)], dtype=object), allow_pickle=True)

    assert len(obj_npy) < 26 * 4 + cio.MAX_NPY_HEADER_BYTES  # the size check lets it through
    bad = _rewrite(good, tmp_path / "sneak.npz", None, lambda m: m.update({"params.npy": obj_npy}))
    _refused(bad, "'params'", "object")

    def declare_object(header):
        header["arrays"]["params"]["dtype"] = "|O"

    _refused(_rewrite(good, tmp_path / "o.npz", declare_object), "dtype '|O'")
    assert not sentinel.exists()


def test_other_files_are_refused(tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,target\n1,2,yes\n3,4,no\n")
    _refused(csv, "not a chainrule model file", "text file")
    noise = tmp_path / "noise.bin"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    _refused(noise, "not a chainrule model file")
    npy = tmp_path / "array.npy"
    np.save(npy, np.arange(3.0))
    _refused(npy, ".npy array")
    plain_npz = tmp_path / "plain.npz"
    np.savez(plain_npz, params=np.arange(3.0))
    _refused(plain_npz, "no header.json")
    fake_zip = tmp_path / "fake.npz"
    fake_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    _refused(fake_zip, "truncated or damaged")

    other = tmp_path / "other.npz"
    _write_members(other, {"format": "something-else"}, {})
    _refused(other, "format is 'something-else'")
    _write_members(other, ["not", "a", "dict"], {})
    _refused(other, "format")
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("header.json", b"{not json")
    _refused(other, "not valid JSON")
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("header.json", "[" * 100_000 + "]" * 100_000)
    _refused(other, "not valid JSON")


def test_members_must_match_the_header(tmp_path):
    good = tmp_path / "model.npz"
    _trained(good)
    extra = _rewrite(good, tmp_path / "x.npz", change_members=lambda m: m.update({"x.npy": b""}))
    _refused(extra, "unexpected: ['x.npy']")
    missing = _rewrite(good, tmp_path / "y.npz", change_members=lambda m: m.pop("params.npy"))
    _refused(missing, "missing: ['params.npy']")

    def other_shape(members):
        members["params.npy"] = _npy_bytes(np.zeros(3, np.float32))

    _refused(_rewrite(good, tmp_path / "z.npz", change_members=other_shape), "shape (3,)")

    def far_too_big(members):
        members["params.npy"] = _npy_bytes(np.zeros(3000, np.float32))

    _refused(_rewrite(good, tmp_path / "v.npz", change_members=far_too_big), "12,128 bytes")

    def same_size_other_dtype(members):
        n = json.loads(zipfile.ZipFile(good).read("header.json"))["arrays"]["params"]["shape"]
        members["params.npy"] = _npy_bytes(np.zeros(n, np.int32))

    _refused(_rewrite(good, tmp_path / "w.npz", change_members=same_size_other_dtype), "int32")
    with (
        pytest.warns(UserWarning, match="Duplicate"),
        zipfile.ZipFile(tmp_path / "dup.npz", "w") as zf,
    ):
        zf.writestr("header.json", b"{}")
        zf.writestr("header.json", b"{}")
    _refused(tmp_path / "dup.npz", "twice")


def _set_declared_size(data: bytes, member: str, size: int) -> bytes:
    """Change the uncompressed size the zip's central directory declares for ``member``."""
    name = member.encode()
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_len] == name:
            changed = bytearray(data)
            struct.pack_into("<II", changed, pos + 20, size, size)  # compressed, uncompressed
            return bytes(changed)
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise LookupError(member)


def test_oversized_members_are_refused_before_reading(tmp_path, monkeypatch):
    good = tmp_path / "model.npz"
    _trained(good)
    data = good.read_bytes()
    huge_header = tmp_path / "huge-header.npz"
    huge_header.write_bytes(_set_declared_size(data, "header.json", 2**31))
    huge_array = tmp_path / "huge-array.npz"
    huge_array.write_bytes(_set_declared_size(data, "params.npy", 2**31))

    def shape(header):
        header["arrays"]["params"]["shape"] = [2**40]

    huge_shape = _rewrite(good, tmp_path / "huge-shape.npz", shape)

    def no_reading(*args, **kwargs):
        raise AssertionError("a member was read")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_reading)
    # a declared size past the end of the file: the member would overlap what follows
    _refused(huge_header, "'header.json' overlaps", "2,147,483,689")
    with pytest.raises(ModelFileError, match="overlaps"):
        cio.read_header(huge_header)
    _refused(huge_array, "'params.npy' overlaps")
    monkeypatch.undo()

    _refused(huge_shape, "shape (1099511627776,)", "architecture needs (26,)")

    monkeypatch.setattr(cio, "MAX_HEADER_BYTES", 100)
    _refused(good, "header.json", "over the limit of 100")
    monkeypatch.setattr(cio, "MAX_HEADER_BYTES", 16 * 2**20)
    monkeypatch.setattr(cio, "MAX_ARRAYS_BYTES", 50)
    _refused(good, "more than the limit of 50 bytes")


# ---------------------------------------------------------------- atomic saves


def _fail_midway(exc):
    real = cio._write_archive

    def write(f, header_bytes, arrays):
        real(f, header_bytes, arrays)
        f.seek(len(header_bytes))  # half a file, then the failure
        f.truncate()
        raise exc

    return write


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, exc):
    path = tmp_path / "model.npz"
    old = _trained(path, epochs=1)
    before = path.read_bytes()
    monkeypatch.setattr(cio, "_write_archive", _fail_midway(exc))
    with pytest.raises(type(exc)):
        _trained(epochs=3).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(chainrule.load(path).params, old.params)


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failure_at_fsync_or_replace_cleans_up(tmp_path, monkeypatch, step):
    path = tmp_path / "model.npz"
    _trained(path, epochs=1)
    before = path.read_bytes()
    calls = []

    def fail(*args):
        calls.append(args)
        raise OSError(f"{step} failed")

    monkeypatch.setattr(os, step, fail)
    with pytest.raises(OSError, match=f"{step} failed"):
        _trained(epochs=3).save(path)
    monkeypatch.undo()
    assert calls
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT to itself, which is POSIX")
@pytest.mark.usefixtures("python_sigint")
def test_ctrl_c_inside_zipfile_is_held_until_the_save_is_over(tmp_path, monkeypatch):
    """Regression: a real SIGINT inside zipfile's code (here: as a member is opened for
    writing) left a half-made ZipFile whose close raised ValueError in place of the
    KeyboardInterrupt and whose __del__ printed a traceback. Now the save finishes, then
    KeyboardInterrupt comes."""
    path = tmp_path / "model.npz"
    _trained(path, epochs=1)
    new = _trained(epochs=3)
    real_init, sent = zipfile._ZipWriteFile.__init__, []

    def ctrl_c_while_opening(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # Python runs the handler right here

    monkeypatch.setattr(zipfile._ZipWriteFile, "__init__", ctrl_c_while_opening)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(KeyboardInterrupt):
        new.save(path)
    gc.collect()
    assert sent and unraisable == []
    assert os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(chainrule.load(path).params, new.params)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(cio, "_write_archive", _fail_midway(OSError("no space")))
    with pytest.raises(OSError, match="no space"):
        _trained().save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_save_writes_through_a_temp_file_then_replaces(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((Path(src), Path(dst), Path(src).exists(), os.listdir(tmp_path)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    _trained(path)
    ((src, dst, existed, listing),) = seen
    assert dst == path and src.parent == tmp_path and existed
    assert src.name.startswith(".model.npz.") and src.name.endswith(".tmp")
    assert listing == [src.name]


def test_a_file_written_before_the_one_parameter_order_loads_and_predicts_the_same():
    # tests/data/network-0.1.0.npz was saved by chainrule at commit c56d004, when the
    # first layer's bias came first in memory and files held every weight matrix,
    # then every bias: the order that is now the only one.
    #     X = default_rng(0).normal(size=(60, 3)); y from X; Network([Dense(5), ReLU(),
    #     Dense(4), Tanh(), Dense(3), Softmax()], categorical_crossentropy, adam, seed=0,
    #     float64).fit(X, y, epochs=5, batch_size=16).save(...)
    path = Path(__file__).parent / "data" / "network-0.1.0.npz"
    net = chainrule.load(path)
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [-2.0, 1.0, 0.0]])
    expected = [
        [0.3611705902596265, 0.3969770609402402, 0.24185234880013323],
        [0.2604304080504859, 0.46306870932129707, 0.2765008826282171],
        [0.24818601178872818, 0.4165844660795587, 0.3352295221317131],
    ]
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-14)
    first = net.layers[0]
    np.testing.assert_allclose(
        first.weights[0], [0.2194570181801188, -0.3802807911485568, -0.8108466850150997,
                           -0.8345922915067745, 0.5524267733213718], rtol=1e-15)  # fmt: skip
    assert np.shares_memory(first.bias, net.params)
    assert net.history.epoch == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------- hostile files


def _estimator_file(tmp_path, kind="multilabel"):
    from chainrule import MLPClassifier, MLPRegressor

    X, y = binary_data(n=30)
    if kind == "regressor":
        est = MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
        y = X[:, 0]
    else:
        est = MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
        if kind == "multilabel":
            y = np.stack([y, 1 - y, X[:, 0] > 0], axis=1).astype(int)
        elif kind == "multiclass":
            y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    with pytest.warns(Warning):  # ConvergenceWarning after 5 iterations
        est.fit(X, y)
    path = tmp_path / f"{kind}.npz"
    est.save(path)
    return path, est


def _tabular_file(tmp_path, task="classify"):
    from chainrule.tabular import TabularModel
    from helpers import tabular_frame

    frame = tabular_frame(n=60)
    if task == "regress":
        frame["label"] = frame["a"] * 2.0
    model = TabularModel("label", hidden=[4], epochs=2, task=task).fit(frame)
    path = tmp_path / f"tab-{task}.npz"
    model.save(path)
    return path, model, frame


def _no_array_read(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("an array was read before the header was refused")

    monkeypatch.setattr(cio, "_read_array", fail)


def test_a_class_count_out_of_proportion_is_refused_before_allocating(tmp_path, monkeypatch):
    """The review's 30 KB file: a multilabel classifier claiming 20,000 classes made
    load build np.eye(20000) (6.4 GB). Now the classes must match the outputs."""
    good, est = _estimator_file(tmp_path, "multilabel")
    X = binary_data(n=30)[0]
    np.testing.assert_array_equal(chainrule.load(good).predict(X), est.predict(X))
    assert est.predict(X).shape == (30, 3)
    many = np.arange(20_000)

    def claim(header):
        header["arrays"]["classes"]["shape"] = [20_000]
        header["arrays"]["classes"]["dtype"] = many.dtype.str
        header["arrays"]["classes"]["sha256"] = cio._sha256(many)

    bad = _rewrite(good, tmp_path / "bomb.npz", claim, lambda m: m.update(
        {"classes.npy": _npy_bytes(many)}))  # fmt: skip
    _no_array_read(monkeypatch)
    _refused(bad, "classes (shape (20000,))", "3 outputs", "one class per output")
    for count in (2, 4):  # one too few, one too many

        def other(header, n=count):
            header["arrays"]["classes"]["shape"] = [n]

        _refused(_rewrite(good, tmp_path / f"c{count}.npz", other), f"shape ({count},)")


def test_members_the_kind_does_not_use_are_refused_before_inflating(tmp_path, monkeypatch):
    """An extra deflated array of zeros was inflated (4 GB) before anything refused it."""
    good = tmp_path / "model.npz"
    _trained(good)
    zeros = _npy_bytes(np.zeros(2_000_000, np.uint8))  # 2 MB inflated, ~2 KB deflated

    def declare(header):
        header["arrays"]["junk"] = {
            "dtype": "|u1",
            "shape": [2_000_000],
            "sha256": cio._sha256(np.zeros(2_000_000, np.uint8)),
        }

    bad = tmp_path / "junk.npz"
    header, members = _members(good)
    declare(header)
    with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("header.json", json.dumps(header))
        for name, data in {**members, "junk.npy": zeros}.items():
            zf.writestr(name, data)
    assert bad.stat().st_size < 30_000
    _no_array_read(monkeypatch)
    _refused(bad, "not used by a Network: ['junk']")


def test_the_compression_ratio_is_bounded(tmp_path, monkeypatch):
    net = Network([Dense(500), ReLU(), Dense(2)], loss="mse", optimizer="sgd").build(200)
    net.params[:] = 0.0  # 402 KB of zeros deflate to about 400 bytes
    good = tmp_path / "model.npz"
    net.save(good)
    header, members = _members(good)
    deflated = tmp_path / "deflated.npz"
    with zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("header.json", json.dumps(header))
        zf.writestr("params.npy", members["params.npy"])
    info = zipfile.ZipFile(deflated).getinfo("params.npy")
    assert info.file_size > 500 * info.compress_size
    # under MAX_INFLATED_BYTES (1 MiB) a compressed member loads: np.savez_compressed's way
    np.testing.assert_array_equal(chainrule.load(deflated).params, net.params)
    monkeypatch.setattr(cio, "MAX_INFLATED_BYTES", 100_000)
    _no_array_read(monkeypatch)
    _refused(deflated, "'params.npy'", "more than 100 to 1", "decompression bomb")


@pytest.mark.parametrize(
    "where",
    ["layer", "loss", "optimizer", "optimizer_name", "kind", "schedule", "metrics", "units"],
)
def test_a_list_where_a_name_is_expected_is_a_model_file_error(tmp_path, where):
    """These raised a raw TypeError (unhashable list), reported as an internal bug."""
    good = tmp_path / "model.npz"
    _trained(good)

    def change(header):
        arch = header["architecture"]
        if where == "layer":
            arch["layers"][1]["class_name"] = ["ReLU"]
        elif where == "loss":
            arch["loss"] = ["mse"]
        elif where == "optimizer":
            arch["optimizer"] = ["adam"]
        elif where == "optimizer_name":
            arch["optimizer"]["class_name"] = ["adam"]
        elif where == "kind":
            header["kind"] = ["Network"]
        elif where == "schedule":
            arch["optimizer"]["config"]["learning_rate"] = {"class_name": ["StepDecay"]}
        elif where == "metrics":
            arch["metrics"] = [["accuracy"]]
        else:
            arch["layers"][0]["config"]["units"] = [4]

    _refused(_rewrite(good, tmp_path / "bad.npz", change), "[")


def test_numbers_too_large_for_a_float_are_a_model_file_error(tmp_path):
    """10**400 in the history, a column's mean or scale, the target mean raised a raw
    OverflowError."""
    good = tmp_path / "model.npz"
    _trained(good)

    def history(header):
        header["history"]["history"]["loss"][0] = 10**400

    _refused(_rewrite(good, tmp_path / "h.npz", history), "history of 'loss'")
    tab, _, _ = _tabular_file(tmp_path, "regress")

    def mean(header):
        numeric = header["preprocessing"]["fitted"]["columns"][0]
        numeric["mean"] = 10**400

    _refused(_rewrite(tab, tmp_path / "m.npz", mean), "column 'a'", "mean", "finite number")

    def scale(header):
        header["preprocessing"]["fitted"]["columns"][1]["scale"] = -(10**400)

    _refused(_rewrite(tab, tmp_path / "s.npz", scale), "column 'b'", "scale")

    def target_mean(header):
        header["preprocessing"]["fitted"]["target_mean"] = 10**400

    _refused(_rewrite(tab, tmp_path / "t.npz", target_mean), "target mean")


def test_an_estimator_header_must_agree_with_its_network(tmp_path):
    good, _ = _estimator_file(tmp_path, "multiclass")
    assert type(chainrule.load(good)).__name__ == "MLPClassifier"
    cases = {
        "shadow": (lambda h: h["fitted"].update(predict=1), "unknown ones: ['predict']"),
        "n_features": (lambda h: h["fitted"].update(n_features_in_=7), "n_features_in_ 7"),
        "n_layers": (lambda h: h["fitted"].update(n_layers_=9), "n_layers_ 9"),
        "hidden": (lambda h: h["estimator_params"].update(hidden_layer_sizes=[5]), "Dense', 5"),
        "activation": (lambda h: h["estimator_params"].update(activation="tanh"), "Tanh"),
        "solver": (lambda h: h["estimator_params"].update(solver="evil"), "solver"),
        "param": (lambda h: h["estimator_params"].update(__class__="x"), "__class__"),
        "curve": (lambda h: h["fitted"].update(loss_curve_=["x"]), "loss_curve_"),
        "names": (
            lambda h: h["fitted"].update(feature_names_in_=["a", "a", "b"]),
            "'a' twice",
        ),
        "out": (lambda h: h["fitted"].update(out_activation_="identity"), "should be 'softmax'"),
        "label_type": (lambda h: h.update(label_type="binary"), "do not fit its 3 outputs"),
    }
    for name, (change, words) in cases.items():
        _refused(_rewrite(good, tmp_path / f"{name}.npz", change), words)

    def twice(members):
        members["classes.npy"] = _npy_bytes(np.array([0, 1, 1]))

    def digest(header):
        header["arrays"]["classes"]["sha256"] = cio._sha256(np.array([0, 1, 1]))

    _refused(_rewrite(good, tmp_path / "dup.npz", digest, twice), "same label twice")
    regressor, _ = _estimator_file(tmp_path, "regressor")
    _refused(
        _rewrite(
            regressor, tmp_path / "r.npz", lambda h: h["fitted"].update(out_activation_="exp")
        ),
        "should be 'identity'",
    )


def test_a_tabular_header_must_agree_with_its_network(tmp_path):
    good, model, frame = _tabular_file(tmp_path)
    assert list(chainrule.load(good).predict(frame)) == list(model.predict(frame))
    fitted = lambda h: h["preprocessing"]["fitted"]  # noqa: E731
    columns = lambda h: fitted(h)["columns"]  # noqa: E731
    category = lambda h: next(c for c in columns(h) if c["kind"] == "category")  # noqa: E731
    cases = {
        "hidden": (lambda h: h["settings"].update(hidden="abc"), "hidden", "'abc'"),
        "hidden_size": (lambda h: h["settings"].update(hidden=[5]), "Dense', 5"),
        "best_epoch": (lambda h: h["training"].update(best_epoch="x"), "best_epoch", "'x'"),
        "training_key": (lambda h: h["training"].update(predict=1), "unknown fields"),
        "epochs": (lambda h: h["settings"].update(epochs=-1), "epochs"),
        "activation": (lambda h: h["settings"].update(activation="softmax"), "activation"),
        "setting": (lambda h: h["settings"].update(fit=1), "settings are not"),
        "more_classes": (
            lambda h: (fitted(h).update(classes=["no", "yes", "maybe"]), h.update(
                classes=["no", "yes", "maybe"])),
            "('Dense', 3)",
        ),
        "fewer_classes": (
            lambda h: (fitted(h).update(classes=["no"]), h.update(classes=["no"])),
            "('Dense', 1)",
        ),
        "duplicate_classes": (
            lambda h: (fitted(h).update(classes=["no", "no"]), h.update(classes=["no", "no"])),
            "distinct",
        ),
        "classes_differ": (lambda h: h.update(classes=["yes", "no"]), "preprocessing's classes"),
        "duplicate_categories": (
            lambda h: category(h).update(categories=["red", "red", "blue"]),
            "'red' twice",
        ),
        "duplicate_columns": (lambda h: columns(h)[1].update(name="a"), "'a' twice"),
        "task": (lambda h: h.update(task="regress"), "task"),
    }  # fmt: skip
    for name, (change, *words) in cases.items():
        _refused(_rewrite(good, tmp_path / f"{name}.npz", change), *words)


def test_a_tabular_models_l1_round_trips_and_older_files_load_without_it(tmp_path):
    from chainrule.tabular import TabularModel
    from helpers import tabular_frame

    frame = tabular_frame(n=60)
    model = TabularModel("label", hidden=[4], epochs=2, l1=0.01).fit(frame)
    good = tmp_path / "l1.npz"
    model.save(good)
    loaded = chainrule.load(good)
    assert loaded.l1 == loaded.network_.l1 == 0.01 and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    np.testing.assert_array_equal(loaded.network_.params, model.network_.params)

    # written before TabularModel had l1: neither the settings nor the network name it
    plain, _, _ = _tabular_file(tmp_path)
    old = _rewrite(
        plain,
        tmp_path / "old.npz",
        lambda h: (h["settings"].pop("l1"), h["architecture"].pop("l1", None)),
    )
    assert "l1" not in _members(old)[0]["settings"]
    older = chainrule.load(old)
    assert older.l1 == older.network_.l1 == 0.0 and older.get_config()["l1"] == 0.0

    cases = {
        "negative": (lambda h: h["settings"].update(l1=-1), "l1 must be a finite number >= 0"),
        "text": (lambda h: h["settings"].update(l1="x"), "l1 must be a number >= 0", "'x'"),
        "null": (lambda h: h["settings"].update(l1=None), "l1 must be a number >= 0", "None"),
        "network": (lambda h: h["architecture"].update(l1=-1), "network's l1 -1 is not"),
        "network_text": (lambda h: h["architecture"].update(l1="x"), "its l1 is 'x'"),
        "disagree": (
            lambda h: h["settings"].update(l1=0.5),
            "network's l1 0.01 is not its settings' 0.5",
        ),
        "disagree_l2": (
            lambda h: h["settings"].update(l2=0.5),
            "network's l2 0.0 is not its settings' 0.5",
        ),
    }
    for name, (change, *words) in cases.items():
        _refused(_rewrite(good, tmp_path / f"{name}.npz", change), *words)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused(tmp_path, value):
    good = tmp_path / "model.npz"
    _trained(good)
    params = np.load(good)["params"].copy()
    params[3] = value

    def digest(header):
        header["arrays"]["params"]["sha256"] = cio._sha256(params)

    bad = _rewrite(good, tmp_path / "bad.npz", digest, lambda m: m.update(
        {"params.npy": _npy_bytes(params)}))  # fmt: skip
    _refused(bad, "'params' holds 1 NaN or infinite values")


def test_two_archives_joined_are_refused(tmp_path):
    """zipfile reads the directory at the end: the second model would have loaded."""
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    _trained(first, epochs=1)
    _trained(second, epochs=3)
    joined = tmp_path / "joined.npz"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    _refused(joined, "starting at byte", "two archives joined")
    prefixed = tmp_path / "prefixed.npz"
    prefixed.write_bytes(b"PK\x03\x04" + b"\x00" * 60 + second.read_bytes())
    _refused(prefixed, "not 0")

    header, members = _members(second)
    with zipfile.ZipFile(tmp_path / "order.npz", "w") as zf:
        zf.writestr("params.npy", members["params.npy"])
        zf.writestr("header.json", json.dumps(header))
    _refused(tmp_path / "order.npz", "first member is 'params.npy'")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_is_refused_without_waiting(tmp_path):
    import threading

    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    outcome = []

    def load():
        try:
            chainrule.load(fifo)
        except Exception as exc:  # recorded for the assertion below
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # unblock the reader so the test run does not hang
        with open(fifo, "wb"):
            pass
        worker.join(timeout=5)
        pytest.fail("load() blocked on a FIFO")
    (exc,) = outcome
    assert isinstance(exc, ModelFileError)
    assert "named pipe (FIFO)" in str(exc) and "regular file" in str(exc)
    with pytest.raises(ModelFileError, match="FIFO"):
        cio.read_header(fifo)
    with pytest.raises(IsADirectoryError):
        chainrule.load(tmp_path)


def test_a_save_killed_midway_leaves_a_temp_the_next_save_removes(tmp_path):
    import signal
    import subprocess
    import sys

    target = tmp_path / "model.npz"
    script = f"""
import sys, time
import chainrule.io as cio
from chainrule import Network, Dense
real = cio._write_archive
def write(f, header, arrays):
    real(f, header, arrays)
    f.flush()
    print("written", flush=True)
    time.sleep(60)
cio._write_archive = write
Network([Dense(2)], loss="mse", optimizer="sgd").build(3).save({str(target)!r})
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline().strip() == b"written"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    (left,) = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert left.startswith(".model.npz.")
    _trained(target)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_only_stale_temporary_files_are_swept(tmp_path, monkeypatch):
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = cio._HOST
    names = {
        "dead_writer": f".model.npz.{host}-{gone.pid}-{'a' * 12}.tmp",
        "live_writer": f".model.npz.{host}-{os.getppid()}-{'b' * 12}.tmp",
        "this_process": f".model.npz.{host}-{os.getpid()}-{'c' * 12}.tmp",
        "other_host_fresh": f".model.npz.elsewhere-{gone.pid}-{'d' * 12}.tmp",
        "other_host_old": f".model.npz.elsewhere-{gone.pid}-{'e' * 12}.tmp",
        "legacy_old": ".model.npz.0123456789ab.tmp",
        "legacy_fresh": ".model.npz.ba9876543210.tmp",
        "other_model": f".other.npz.{host}-{gone.pid}-{'f' * 12}.tmp",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"partial")
    old = os.path.getmtime(tmp_path / names["legacy_old"]) - cio.STALE_TEMP_SECONDS - 60
    for key in ("other_host_old", "legacy_old"):
        os.utime(tmp_path / names[key], (old, old))
    _trained(tmp_path / "model.npz")
    kept = {key for key, name in names.items() if (tmp_path / name).exists()}
    assert kept == {
        "live_writer",
        "this_process",
        "other_host_fresh",
        "legacy_fresh",
        "other_model",
    }


def test_a_failed_save_names_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    import errno

    def full(f, header_bytes, arrays):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cio, "_write_archive", full)
    target = tmp_path / "model.npz"
    with pytest.raises(OSError) as info:
        _trained().save(target)
    assert info.value.errno == errno.ENOSPC
    assert str(target) in str(info.value) and "No space left on device" in str(info.value)
    assert ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_check_savable_measures_the_header_without_writing(tmp_path, monkeypatch):
    net = _trained()
    size = cio.check_savable(net)
    net.save(tmp_path / "m.npz")
    assert size == len(zipfile.ZipFile(tmp_path / "m.npz").read("header.json"))
    monkeypatch.setattr(cio, "MAX_HEADER_BYTES", size + 10)
    assert cio.check_savable(net, growth=10) == size
    with pytest.raises(ValueError, match=f"{size + 11:,} bytes, over the limit"):
        cio.check_savable(net, growth=11)
    assert os.listdir(tmp_path) == ["m.npz"]


def test_estimator_and_tabular_files_written_before_the_checks_load_and_predict_the_same():
    # written by chainrule at commit 10f5604, before the header was checked whole:
    #     X = default_rng(0).normal(size=(60, 3)); y = ["ant", "bee", "cat"][...];
    #     MLPClassifier(hidden_layer_sizes=(4,), max_iter=15, early_stopping=True,
    #     random_state=0).fit(X, y).save(...); then a 60-row frame (a: numbers, c: x/y,
    #     t: p/q), TabularModel("t", hidden=[3], epochs=4, impute=True).fit(frame).save(...)
    import pandas as pd

    data = Path(__file__).parent / "data"
    clf = chainrule.load(data / "mlpclassifier-10f5604.npz")
    proba = clf.predict_proba(np.array([[0.5, -1.0, 2.0], [1.5, 1.25, -0.75]]))
    np.testing.assert_allclose(
        proba,
        [[0.030406927610999532, 0.7438479198337857, 0.2257451525552147],
         [0.3965191675342795, 0.38473723142331756, 0.21874360104240292]], rtol=1e-6)  # fmt: skip
    assert list(clf.classes_) == ["ant", "bee", "cat"]
    tab = chainrule.load(data / "tabular-10f5604.npz")
    frame = pd.DataFrame({"a": [0.5, -1.0], "c": ["x", "y"]})
    np.testing.assert_allclose(
        tab.predict_proba(frame),
        [[0.3485678732395172, 0.6514321565628052], [0.10403527319431305, 0.8959647417068481]],
        rtol=1e-6,
    )
    assert list(tab.predict(frame)) == ["q", "q"]


_JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**400), 10**400),
    st.sampled_from([0, 1, -1, 2, 10**9, 0.5, -0.0, float("nan"), float("inf"), ""]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-3, 3) | st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(0, 3), max_size=2),
)


def _paths(value, path=()):
    """Every place in a JSON tree: (path, value)."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:4]):
            yield from _paths(item, (*path, i))


@pytest.fixture(scope="module")
def _good_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    files = [folder / "net.npz"]
    _trained(files[0])
    files.append(_estimator_file(folder, "multiclass")[0])
    files.append(_estimator_file(folder, "regressor")[0])
    files.append(_tabular_file(folder)[0])
    from helpers import pipeline_frame, small_pipeline

    frame, y = pipeline_frame()
    with pytest.warns(Warning):  # ConvergenceWarning after 40 iterations
        chainrule.save(small_pipeline().fit(frame, y), folder / "pipe.npz")
    files.append(folder / "pipe.npz")
    return [(path, *_members(path)) for path in files]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_changed_header_value_loads_or_is_a_model_file_error(_good_files, data):
    """Whatever one value of the header becomes, load raises ModelFileError or gives a
    model; never a raw TypeError, KeyError, OverflowError... (an internal bug to a user)."""
    _, header, members = data.draw(st.sampled_from(_good_files))
    header = json.loads(json.dumps(header))
    places = [p for p, _ in _paths(header) if p and p[0] not in ("arrays", "format")]
    where = data.draw(st.sampled_from(places))
    value = data.draw(_JSON_VALUES)
    target = header
    for key in where[:-1]:
        target = target[key]
    if data.draw(st.booleans()) and isinstance(target, dict):
        del target[where[-1]]
    else:
        target[where[-1]] = value
    with tempfile.TemporaryDirectory() as folder:
        changed = Path(folder) / "changed.npz"
        _write_members(changed, header, members)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # what a changed pipeline makes sklearn say
                chainrule.load(changed)
        except ModelFileError:
            pass


def test_a_concurrent_save_to_the_same_name_is_not_swept(tmp_path, monkeypatch):
    import threading

    target = tmp_path / "model.npz"
    real = cio._write_archive
    writing, go_on = threading.Event(), threading.Event()

    def slow(f, header_bytes, arrays):
        real(f, header_bytes, arrays)
        if threading.current_thread().name == "first":
            writing.set()
            assert go_on.wait(30)

    monkeypatch.setattr(cio, "_write_archive", slow)
    first_net, second_net = _trained(epochs=1), _trained(epochs=2)
    errors = []

    def first():
        try:
            first_net.save(target)
        except BaseException as exc:  # recorded for the assertion below
            errors.append(exc)

    thread = threading.Thread(target=first, name="first")
    thread.start()
    assert writing.wait(30)
    (pending,) = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    second_net.save(target)  # sweeps before writing: the first save's file must stay
    assert pending in os.listdir(tmp_path)
    go_on.set()
    thread.join(30)
    assert errors == []
    assert os.listdir(tmp_path) == ["model.npz"]
    assert chainrule.load(target).history.epoch == [0]  # the first save finished last


def test_overlapping_members_are_refused_before_reading(tmp_path, monkeypatch):
    """Members inside other members (the "better zip bomb") would let a small file
    declare many times its size; every member must end before the next begins."""
    good = tmp_path / "model.npz"
    _trained(good)
    data = bytearray(good.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while data[pos + 46 : pos + 46 + len(b"params.npy")] != b"params.npy":
        pos = data.find(b"PK\x01\x02", pos + 4)
    struct.pack_into("<I", data, pos + 42, 41)  # params.npy "starts" inside header.json
    bad = tmp_path / "overlap.npz"
    bad.write_bytes(bytes(data))

    def no_reading(*args, **kwargs):
        raise AssertionError("a member was read")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_reading)
    _refused(bad, "'header.json' overlaps what follows it", "forged or damaged")
    monkeypatch.undo()
    chainrule.load(good)


# ---------------------------------------------------------------- the training state


def _with_member(name, arr):
    def change(members):
        members[f"{name}.npy"] = _npy_bytes(arr)

    return change


def _with_array(header, name, arr):
    """Describe ``arr`` as array ``name`` in the header (a forger recomputes the hash)."""
    header["arrays"][name] = {
        "dtype": arr.dtype.str,
        "shape": list(arr.shape),
        "sha256": hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest(),
    }


def test_the_file_keeps_the_training_state(tmp_path):
    path = tmp_path / "m.npz"
    net = _trained(path, epochs=3)
    header = cio.read_header(path)
    state = header["training_state"]
    assert state["epoch"] == 3
    assert state["optimizer"] == {
        "iterations": net.optimizer.iterations,
        "learning_rate": net.optimizer.learning_rate,
    }
    assert state["rng"] == net.rng.bit_generator.state
    assert state["callbacks"] == []
    loaded = chainrule.load(path)
    np.testing.assert_array_equal(loaded.optimizer.m, net.optimizer.m)
    np.testing.assert_array_equal(loaded.optimizer.v, net.optimizer.v)
    np.testing.assert_array_equal(loaded._batch_order, net._batch_order)
    assert loaded.optimizer.iterations == net.optimizer.iterations and loaded.epoch == 3
    assert loaded.rng.bit_generator.state == net.rng.bit_generator.state
    # a network that never trained has none: its file is the weights alone
    fresh = Network([Dense(2)], loss="mse", optimizer="adam").build(3)
    fresh.save(tmp_path / "fresh.npz")
    assert "training_state" not in cio.read_header(tmp_path / "fresh.npz")
    with zipfile.ZipFile(tmp_path / "fresh.npz") as zf:
        assert zf.namelist() == ["header.json", "params.npy"]


def _set_state(**changes):
    def change(header):
        header["training_state"].update(changes)

    return change


@pytest.mark.parametrize(
    "change, needle",
    [
        (_set_state(epoch=-1), "training_state epoch must be an integer >= 0"),
        (_set_state(extra=1), "training_state has unknown entries ['extra']"),
        (_set_state(optimizer={"iterations": "7", "learning_rate": 0.1}), "iterations must be"),
        (_set_state(rng={"bit_generator": "MT19937"}), "random generator state is not a PCG64"),
        (
            _set_state(
                rng={
                    "bit_generator": "PCG64",
                    "state": {"state": 2**200, "inc": 1},
                    "has_uint32": 0,
                    "uinteger": 0,
                }
            ),
            "not a PCG64 state",
        ),
        (_set_state(callbacks=[{"key": 3}]), "callback state 0 must be a table"),
        (
            _set_state(callbacks=[{"key": "Monitor", "state": {}}], epoch=[1]),
            "epoch must be an integer",
        ),
    ],
)
def test_a_forged_training_state_is_refused(tmp_path, change, needle):
    good = tmp_path / "good.npz"
    _trained(good)
    _refused(_rewrite(good, tmp_path / "bad.npz", change), "cannot be rebuilt", needle)


def test_forged_training_arrays_are_refused(tmp_path):
    good = tmp_path / "good.npz"
    net = _trained(good)
    n = net._batch_order.size

    def order(arr):
        return lambda header: _with_array(header, "training.order", arr)

    repeated = np.zeros(n, dtype=np.int32)
    bad = _rewrite(
        good, tmp_path / "o.npz", order(repeated), _with_member("training.order", repeated)
    )
    _refused(bad, "training.order is not an order of the rows")
    short_m = np.zeros(3, dtype=np.float32)
    bad = _rewrite(
        good,
        tmp_path / "m.npz",
        lambda header: _with_array(header, "optimizer.m", short_m),
        _with_member("optimizer.m", short_m),
    )
    _refused(
        bad, f"its array 'optimizer.m' has shape (3,); its architecture needs ({net.n_params},)"
    )
    nan_v = np.full(net.n_params, np.nan, dtype=np.float32)
    bad = _rewrite(
        good,
        tmp_path / "v.npz",
        lambda header: _with_array(header, "optimizer.v", nan_v),
        _with_member("optimizer.v", nan_v),
    )
    _refused(bad, f"its array 'optimizer.v' holds {net.n_params} NaN or infinite values")


def test_forged_order_and_callback_arrays_are_refused_without_allocating(tmp_path):
    good = tmp_path / "good.npz"
    net = _trained(good)
    n = net._batch_order.size
    huge = np.arange(n, dtype=np.int64)
    huge[-1] = 2**60  # np.bincount would allocate 8 EiB
    bad = _rewrite(
        good,
        tmp_path / "o.npz",
        lambda header: _with_array(header, "training.order", huge),
        _with_member("training.order", huge),
    )
    _refused(bad, "training.order is not an order of the rows")

    weights = np.zeros(3, dtype=np.float32)

    def callback_state(header):
        header["training_state"]["callbacks"] = [{"key": "EarlyStopping", "state": {}}]
        _with_array(header, "callbacks.0.best_weights", weights)

    bad = _rewrite(
        good, tmp_path / "c.npz", callback_state, _with_member("callbacks.0.best_weights", weights)
    )
    _refused(
        bad,
        f"its array 'callbacks.0.best_weights' has shape (3,); its architecture needs "
        f"({net.n_params},)",
    )

    def no_state(header):
        del header["training_state"]

    _refused(
        _rewrite(good, tmp_path / "n.npz", no_state),
        "belong to a training state, but the header has no training_state",
    )
