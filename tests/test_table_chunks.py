"""TableChunks: a table file read in chunks equals the same file read whole."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from chainrule.errors import DataError
from chainrule.readers import read_csv
from chainrule.table_chunks import DEFAULT_CHUNK_ROWS, TableChunks


def _frame(n: int = 103, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n).round(4),
            "b": rng.integers(0, 9, n),
            "name": rng.choice(["x", "y", "z w"], n),
        }
    )


def _joined(table: TableChunks) -> pd.DataFrame:
    return pd.concat(list(table))


@pytest.mark.parametrize("chunk_rows", [1, 10, 103, 1000])
def test_chunks_joined_equal_the_file_read_whole(tmp_path, chunk_rows):
    path = tmp_path / "t.csv"
    _frame().to_csv(path, index=False)
    table = TableChunks(str(path), chunk_rows)
    chunks = list(table)
    assert [len(c) for c in chunks[:-1]] == [chunk_rows] * (len(chunks) - 1)
    assert sum(len(c) for c in chunks) == 103
    joined = pd.concat(chunks)
    whole = read_csv(str(path))
    pd.testing.assert_frame_equal(joined, whole, check_dtype=False)
    assert joined.index[0] == 2 and joined.index[-1] == 104  # spreadsheet row numbers
    assert table.columns == ["a", "b", "name"] and table.format == "csv"
    assert next(iter(table)).equals(chunks[0])  # every iter() reads the file again


def test_default_chunk_rows():
    assert DEFAULT_CHUNK_ROWS == 50_000


def test_sniffed_delimiter_decimal_comma_and_na_values(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("x;y;z\n1.037,5;a;?\n2,25;b;3\n-0,5;?;4\n", encoding="utf-8")
    table = TableChunks(str(path), 2, decimal=",", na_values=["?"])
    assert table.sep == ";" and table.sep_sniffed
    joined = _joined(table)
    whole = read_csv(str(path), decimal=",", na_values=["?"])
    pd.testing.assert_frame_equal(joined, whole, check_dtype=False)
    assert joined["x"].tolist() == [1037.5, 2.25, -0.5]
    assert joined["y"].isna().tolist() == [False, False, True]


def test_excel_sep_line_bom_and_text_columns(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffsep=|\nid|v\n007|1\n010|2\n".encode())
    table = TableChunks(str(path), 1, text_columns=["id"])
    assert table.sep == "|" and not table.sep_sniffed and table.columns == ["id", "v"]
    joined = _joined(table)
    assert joined["id"].tolist() == ["007", "010"] and joined.index.tolist() == [2, 3]


def test_gzip_and_parquet_read_in_chunks(tmp_path):
    frame = _frame(57)
    gz = tmp_path / "t.csv.gz"
    with gzip.open(gz, "wt") as f:
        frame.to_csv(f, index=False)
    table = TableChunks(str(gz), 10)
    assert table.compression == "gzip"
    pd.testing.assert_frame_equal(_joined(table), read_csv(str(gz)), check_dtype=False)
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow")
    pq = tmp_path / "t.parquet"
    frame.to_parquet(pq)
    table = TableChunks(str(pq), 10)
    assert table.format == "parquet" and table.columns == ["a", "b", "name"]
    chunks = list(table)
    assert [len(c) for c in chunks] == [10] * 5 + [7]
    pd.testing.assert_frame_equal(pd.concat(chunks), read_csv(str(pq)))


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_bad_chunk_rows_is_refused_naming_it(tmp_path, bad):
    path = tmp_path / "t.csv"
    _frame().to_csv(path, index=False)
    with pytest.raises((ValueError, TypeError), match="chunk_rows"):
        TableChunks(str(path), bad)


def test_missing_empty_and_header_only_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        TableChunks(str(tmp_path / "nope.csv"))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="the file is empty"):
        TableChunks(str(empty))
    header = tmp_path / "header.csv"
    header.write_text("a,b\n")
    with pytest.raises(DataError, match=r"header \(a, b\) but no data rows"):
        list(TableChunks(str(header)))
    repeated = tmp_path / "rep.csv"
    repeated.write_text("a,a\n1,2\n")
    with pytest.raises(DataError, match="'a' more than once"):
        TableChunks(str(repeated))


def test_a_malformed_record_in_a_later_chunk_names_its_line(tmp_path):
    path = tmp_path / "bad.csv"
    lines = ["a,b"] + [f"{i},{i}" for i in range(30)] + ["1,2,3"] + ["4,5"]
    path.write_text("\n".join(lines) + "\n")
    table = TableChunks(str(path), 10)
    with pytest.raises(DataError, match=r"bad\.csv: not a well-formed CSV file .*line 32"):
        list(table)


@pytest.mark.parametrize("kind", ["utf-16", "bz2", "xz", "zip", "crlf"])
def test_every_file_kind_the_reader_takes_is_read_in_chunks(tmp_path, kind):
    import bz2
    import lzma
    import zipfile

    text = pd.DataFrame({"a": np.arange(25) / 3, "b": ["é", "ü"] * 12 + ["x"]}).to_csv(index=False)
    path = tmp_path / f"t.{kind}"
    if kind == "utf-16":
        path.write_bytes(text.encode("utf-16"))
    elif kind == "bz2":
        path.write_bytes(bz2.compress(text.encode()))
    elif kind == "xz":
        path.write_bytes(lzma.compress(text.encode()))
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("t.csv", text)
    else:
        path.write_bytes(text.replace("\n", "\r\n").encode())
    joined = _joined(TableChunks(str(path), 4))
    pd.testing.assert_frame_equal(joined, read_csv(str(path)), check_dtype=False)
    assert joined["b"].iloc[-1] == "x" and len(joined) == 25
