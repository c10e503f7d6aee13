"""Reading table files (chainrule.readers.read_csv) as they come: the delimiter sniffed
or forced, decimal commas and thousands separators, BOM and CRLF, UTF-16, compressed CSV
and Parquet, missing-value markers, identifiers kept as text; and the files it refuses
(rows longer than the header, damaged archives, model files), with Ctrl-C inside pandas
still a KeyboardInterrupt."""

from __future__ import annotations

import sys
import warnings

import pandas as pd
import pytest

from chainrule.errors import DataError
from chainrule.readers import delimiter_name, read_csv
from chainrule.tabular import TabularModel
from helpers import tabular_frame

# ---------------------------------------------------------------- read_csv: files as they come


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.mark.parametrize(
    ("sep", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")]
)
def test_read_csv_sniffs_the_delimiter(tmp_path, sep, name):
    text = sep.join(["a", "b", "note"]) + "\n"
    text += sep.join(["1", "2.5", '"x, y; z | w"']) + "\n" + sep.join(["3", "4.5", "v"]) + "\n"
    frame = read_csv(_write(tmp_path / "t.csv", text))
    assert list(frame.columns) == ["a", "b", "note"]
    assert frame["b"].tolist() == [2.5, 4.5] and frame["note"].tolist() == ["x, y; z | w", "v"]
    assert list(frame.index) == [2, 3]  # spreadsheet rows: the header is row 1
    assert frame.attrs["sep"] == sep and frame.attrs["sep_sniffed"]
    assert delimiter_name(sep).startswith(name)


def test_read_csv_forced_and_ambiguous_delimiters(tmp_path):
    both = _write(tmp_path / "both.csv", "a;b|c\n1;2|3\n4;5|6\n")
    with pytest.warns(UserWarning, match=r"split evenly on semicolon and on pipe.*--sep"):
        assert list(read_csv(both).columns) == ["a", "b|c"]
    assert list(read_csv(both, sep="|").columns) == ["a;b", "c"]
    # a comma file whose text holds semicolons is read with commas, silently
    commas = _write(tmp_path / "commas.csv", "a,b;c\n1,2;3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(read_csv(commas).columns) == ["a", "b;c"]
    with pytest.raises(DataError, match=r"looks semicolon-separated.*--sep ';'"):
        read_csv(_write(tmp_path / "semi.csv", "a;b\n1;2\n"), sep=",")
    for bad in ("ab", "", "\n"):
        with pytest.raises(ValueError, match="sep must be one character"):
            read_csv(both, sep=bad)
    with pytest.raises(ValueError, match="decimal and thousands must differ"):
        read_csv(both, decimal=",", thousands=",")


def test_excel_sep_line_names_the_delimiter(tmp_path):
    frame = read_csv(_write(tmp_path / "x.csv", "\ufeffsep=;\r\na;b,c\r\n1;2.5\r\n", "utf-8"))
    assert list(frame.columns) == ["a", "b,c"] and list(frame.index) == [2]
    assert frame.attrs["sep"] == ";" and frame.attrs["sep_sniffed"]


def test_read_csv_bom_crlf_decimal_commas_and_thousands(tmp_path):
    text = "id;price;y\r\n1;1.037,5;a\r\n2;2,25;b\r\n3;-0,5;a\r\n"
    path = _write(tmp_path / "eu.csv", "\ufeff" + text)
    frame = read_csv(path, decimal=",")  # thousands "auto": "."
    assert list(frame.columns) == ["id", "price", "y"]  # no BOM in the first name
    assert frame["price"].tolist() == [1037.5, 2.25, -0.5]
    # without a thousands separator "1.037,5" is not a number: the column stays text
    assert read_csv(path, decimal=",", thousands=None)["price"].tolist()[0] == "1.037,5"
    with pytest.warns(UserWarning, match="decimal commas"):
        assert read_csv(path)["price"].tolist() == ["1.037,5", "2,25", "-0,5"]  # as written
    us = _write(tmp_path / "us.csv", 'n,y\n"1,037",a\n12,b\n')
    assert read_csv(us, thousands=",")["n"].tolist() == [1037, 12]
    assert read_csv(_write(tmp_path / "u16.csv", "\ufeffa\tb\r\n1\t2\r\n", "utf-16-le"))[
        "b"
    ].tolist() == [2]


def test_decimal_commas_read_without_decimal_are_pointed_out(tmp_path):
    # "1.173" would be read as 1.173 where the file means 1173: say how to read it
    path = _write(tmp_path / "eu.csv", "t;n\n12,5;1.173\n-3,25;882\n0,5;2.004\n")
    with pytest.warns(UserWarning, match=r"column\(s\) 't' hold numbers with decimal commas"):
        frame = read_csv(path)
    assert frame["n"].tolist() == [1.173, 882, 2.004]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_csv(path, decimal=",")["n"].tolist() == [1173, 882, 2004]


def test_decimal_points_read_with_thousands_dots_are_pointed_out(tmp_path):
    # the mirror mistake: --decimal , on a file written 0.346 read it as 346, silently
    path = _write(tmp_path / "us.csv", "a,b,n\n0.346,2.02,1\n-1.5,12.25,2\n3.75,0.5,3\n")
    with pytest.warns(UserWarning) as caught:
        frame = read_csv(path, decimal=",")
    assert frame["a"].tolist() == [346, -15, 375]
    assert [str(w.message) for w in caught] == [
        f"{path}: column(s) 'a', 'b' hold numbers with decimal points (such as '0.346'), but "
        "'.' was read as the thousands separator (0.346 as 346); leave --decimal , out if the "
        "file's decimal mark is '.', or give --thousands none"
    ]
    # thousands dots as they are meant (1.173, 12.500), and decimal commas: no warning
    eu = _write(tmp_path / "eu.csv", "n;t\n1.173;0,5\n882;12,25\n12.500;1.037,5\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_csv(eu, decimal=",")["n"].tolist() == [1173, 882, 12500]


@pytest.mark.parametrize("method", ["gzip", "bz2", "xz", "zip"])
def test_read_csv_reads_compressed_files(tmp_path, method):
    import bz2
    import gzip
    import lzma
    import zipfile

    text = "\ufeffa;b\r\n1,5;x\r\n2,5;y\r\n"
    data = text.encode()
    path = tmp_path / f"t.csv.{method}"
    if method == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("t.csv", data)
    else:
        path.write_bytes({"gzip": gzip, "bz2": bz2, "xz": lzma}[method].compress(data))
    frame = read_csv(str(path), decimal=",")
    assert list(frame.columns) == ["a", "b"] and frame["a"].tolist() == [1.5, 2.5]
    assert frame.attrs["compression"] == method and frame.attrs["sep"] == ";"


def test_read_csv_refuses_damaged_archives_and_model_files(tmp_path):
    import gzip

    path = tmp_path / "cut.csv.gz"
    data = gzip.compress(b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(2000)))
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.csv\.gz: a damaged gzip file"):
        read_csv(str(path))
    TabularModel("label", epochs=1).fit(tabular_frame(30)).save(tmp_path / "m.npz")
    with pytest.raises(DataError, match="not a CSV text file"):
        read_csv(str(tmp_path / "m.npz"))
    # a sound zip of two CSV files was called "a damaged zip file (...); compress it again"
    import zipfile

    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("a.csv", "x,y\n1,2\n")
        archive.writestr("b.csv", "x,y\n1,2\n")
    with pytest.raises(DataError) as caught:
        read_csv(str(tmp_path / "two.zip"))
    assert str(caught.value) == (
        f"{tmp_path / 'two.zip'}: this is not a CSV text file (it is a zip archive of 2 "
        "files, such as a model file or a spreadsheet); export the table as CSV (a zip "
        "holding one CSV file is read too)"
    )


def test_read_csv_reads_parquet_and_names_the_extra_without_pyarrow(tmp_path, monkeypatch):
    frame = pd.DataFrame(
        {"when": pd.to_datetime(["2024-01-01", "2024-02-03"]), "x": [1.5, 2.5], "y": ["a", "b"]}
    )
    frame.to_parquet(tmp_path / "t.parquet")
    read = read_csv(str(tmp_path / "t.parquet"))
    pd.testing.assert_frame_equal(read.reset_index(drop=True), frame)
    assert list(read.index) == [2, 3] and read.attrs["format"] == "parquet"
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow fails
    with pytest.raises(DataError, match=r"needs pyarrow.*chainrule\[parquet\]"):
        read_csv(str(tmp_path / "t.parquet"))


def test_a_row_longer_than_the_header_is_refused_not_shifted(tmp_path):
    # every row has a field more than the header: pandas made the first field the index
    path = _write(tmp_path / "extra.csv", "a,b,y\n1,2,3,x\n4,5,6,z\n")
    with pytest.raises(DataError, match=r"line 2 has 4 fields but the header names 3 columns"):
        read_csv(path)
    path = _write(tmp_path / "late.csv", "a,b,y\n1,2,x\n4,5,6,z\n")
    # one row longer (pandas' ParserError) was "not a well-formed CSV file (Error
    # tokenizing data. C error: Expected 3 fields in line 3, saw 4; ..., --sep to choose)"
    with pytest.raises(
        DataError,
        match=r"late\.csv: line 3 has 4 fields but the header names 3 columns "
        r"\(comma-separated\); every row needs one value per column",
    ):
        read_csv(path)
    # a delimiter closing every line, the header's too: no extra column, nothing refused
    frame = read_csv(_write(tmp_path / "closed.csv", "a;b;\n1;2;\n3;4;\n"))
    assert list(frame.columns) == ["a", "b"] and frame["b"].tolist() == [2, 4]


def test_read_csv_na_values_and_text_columns(tmp_path):
    path = _write(tmp_path / "t.csv", "id,t,y\n007,1.5,a\n010,n/a (sensor off),b\n011,?,a\n")
    frame = read_csv(path, na_values=["n/a (sensor off)", "?"], text_columns=["id"])
    assert frame["id"].tolist() == ["007", "010", "011"]
    assert frame["t"].tolist()[0] == 1.5 and frame["t"].isna().tolist() == [False, True, True]


def test_ctrl_c_inside_pandas_reader_is_a_keyboard_interrupt(tmp_path, monkeypatch):
    path = _write(tmp_path / "t.csv", "a,b\n1,2\n")

    def chained(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise pd.errors.ParserError("Calling read(nbytes) on source failed") from None

    monkeypatch.setattr(pd, "read_csv", chained)
    with pytest.raises(KeyboardInterrupt):
        read_csv(path)


@pytest.mark.parametrize("kind", ["csv", "gzip", "zip", "parquet"])
def test_damaged_files_are_data_errors_never_crashes(tmp_path, kind):
    # zlib.error (a damaged deflate stream), pyarrow's KeyError on damaged metadata and
    # csv.Error on a bare carriage return escaped as internal errors
    import gzip
    import io
    import zipfile

    import numpy as np

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=200),
            "d": pd.date_range("2020-01-01", periods=200).strftime("%Y-%m-%d"),
            "y": rng.choice(["p", "q"], 200),
        }
    )
    text = frame.to_csv(index=False).encode()
    if kind == "gzip":
        blob = gzip.compress(text)
    elif kind == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("t.csv", text)
        blob = buffer.getvalue()
    elif kind == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        blob = buffer.getvalue()
    else:
        blob = text
    path = tmp_path / "damaged"
    for trial in range(150):
        data = bytearray(blob)
        if trial % 3 == 0:  # bytes changed
            for i in rng.integers(0, len(data), 3):
                data[i] = rng.integers(0, 256)
        elif trial % 3 == 1:  # cut short
            data = data[: rng.integers(1, len(data))]
        else:  # bytes inserted
            i = rng.integers(0, len(data))
            data[i:i] = bytes(rng.integers(0, 256, 20).astype(np.uint8))
        path.write_bytes(bytes(data))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                read_csv(str(path))
            except DataError:
                pass
