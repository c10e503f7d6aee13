"""Model-file containers compared: chainrule's zip of .npy members against safetensors.

    python -m benchmarks.model_files [--repeats 20]

For a small network (3-4-2) and an MNIST-sized one (784-512-512-10, float32), it
times and measures (tracemalloc peak) reading the same arrays and header from:

- ``zip``: the current file, through ``chainrule.io``'s checked reader (directory,
  header, sizes, SHA-256 per array), and the whole ``chainrule.load``;
- ``safetensors``: the same arrays with the JSON header in ``__metadata__``, read by
  the safetensors library (``safetensors.numpy.load_file``) and by a NumPy-only
  reader of the format (what chainrule's core could ship), with and without SHA-256.

Prints a Markdown table (median milliseconds, peak MiB over the arrays' own size).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import struct
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

import chainrule
import chainrule.io as cio
from chainrule import Dense, Network, ReLU, Softmax


def _network(sizes: list[int]) -> Network:
    layers = []
    for units in sizes[1:-1]:
        layers += [Dense(units), ReLU()]
    layers += [Dense(sizes[-1]), Softmax()]
    return Network(layers, loss="categorical_crossentropy", optimizer="adam", seed=0).build(
        sizes[0]
    )


def write_safetensors(path: Path, header: dict, arrays: dict[str, np.ndarray]) -> None:
    """The safetensors format by hand: 8-byte length, JSON, then the raw bytes."""
    table, offset, blobs = {}, 0, []
    codes = {"<f4": "F32", "<f8": "F64", "<i8": "I64"}
    for name, arr in arrays.items():
        data = np.ascontiguousarray(arr).tobytes()
        table[name] = {
            "dtype": codes[arr.dtype.str],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
        blobs.append(data)
    table["__metadata__"] = {"chainrule": json.dumps(header)}
    text = json.dumps(table).encode()
    text += b" " * (-len(text) % 8)  # the format aligns the data to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path: Path, verify: dict[str, str] | None = None):
    """A NumPy-only reader: every size is known from the header before reading."""
    dtypes = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        table = json.loads(f.read(length))
        meta = json.loads(table.pop("__metadata__")["chainrule"])
        arrays = {}
        for name, spec in table.items():
            start, end = spec["data_offsets"]
            f.seek(8 + length + start)
            arr = np.fromfile(f, dtype=dtypes[spec["dtype"]], count=(end - start) // 4)
            arrays[name] = arr.reshape(spec["shape"])
            if verify is not None:
                digest = hashlib.sha256(arr.view(np.uint8)).hexdigest()
                assert digest == verify[name]
    return meta, arrays


def _measure(fn, repeats: int) -> tuple[float, float]:
    """Median milliseconds and the peak MiB traced during one call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times) * 1e3, peak / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    from safetensors.numpy import load_file

    print("| model | parameters | file | reader | ms (median) | peak MiB |")
    print("| --- | ---: | --- | --- | ---: | ---: |")
    for sizes in ([3, 4, 2], [784, 512, 512, 10]):
        net = _network(sizes)
        name = "-".join(map(str, sizes))
        with tempfile.TemporaryDirectory() as folder:
            zpath, spath = Path(folder) / "m.npz", Path(folder) / "m.safetensors"
            net.save(zpath)
            header = cio.read_header(zpath)
            digests = {k: v["sha256"] for k, v in header["arrays"].items()}
            write_safetensors(spath, header, {"params": net.params})

            def zip_arrays(path=zpath):
                with cio._open_archive(path) as zf:
                    head, members = cio._read_and_check_header(zf, path)
                    return {
                        n: cio._read_array(zf, members[f"{n}.npy"], spec, n, path)
                        for n, spec in head["arrays"].items()
                    }

            rows = [
                ("zip (.npz)", "chainrule.io checks + SHA-256", zip_arrays),
                ("zip (.npz)", "whole chainrule.load", lambda p=zpath: chainrule.load(p)),
                ("safetensors", "safetensors.numpy.load_file", lambda p=spath: load_file(p)),
                ("safetensors", "NumPy-only reader", lambda p=spath: read_safetensors(p)),
                (
                    "safetensors",
                    "NumPy-only reader + SHA-256",
                    lambda p=spath, d=digests: read_safetensors(p, d),
                ),
            ]
            sizes_on_disk = {
                "zip (.npz)": zpath.stat().st_size,
                "safetensors": spath.stat().st_size,
            }
            for kind, reader, fn in rows:
                ms, peak = _measure(fn, args.repeats)
                print(
                    f"| {name} | {net.n_params:,} | {kind}, {sizes_on_disk[kind]:,} B | "
                    f"{reader} | {ms:.3f} | {peak:.2f} |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
