"""Table files to DataFrames: :func:`read_csv`, as files come.

CSV text in any of the usual dialects (delimiter sniffed among comma, semicolon, tab and
pipe; UTF-8 with or without a byte-order mark, or UTF-16; any line ends; decimal commas
and thousands separators on request), compressed CSV (gzip, bzip2, xz, a zip holding one
file) and Parquet (with pyarrow, the ``parquet`` extra). pandas parses everything; this
module picks its options, reads the file once (a pipe works) and turns what goes wrong
into a :class:`~chainrule.errors.DataError` naming the file and the line.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import itertools
import lzma
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chainrule.errors import DataError
from chainrule.preprocessing import _pandas

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DELIMITERS", "check_marks", "delimiter_name", "read_csv"]

#: the delimiters :func:`read_csv` tries, in order of preference when several fit
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe ('|')"}
#: how a compressed or binary file starts: its first bytes -> what it is
_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
    b"PAR1": "parquet",
}


def delimiter_name(sep: str) -> str:
    """``","`` -> ``"comma"``, ``"\\t"`` -> ``"tab"``; other characters quoted."""
    return _DELIMITER_NAMES.get(sep, repr(sep))


def _interrupted(exc: BaseException) -> bool:
    """True when ``exc`` is, or was raised while handling, a KeyboardInterrupt (pandas'
    C reader turns one into "Calling read(nbytes) on source failed")."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _sniff(text: str) -> tuple[str, list[str]]:
    """The delimiter of a CSV text, and the other candidates that fit as well.

    Each of :data:`DELIMITERS` splits the first 100 records of the text (quotes
    respected); a candidate fits when the header splits into more than one field and
    every record has as many fields as the header. The best fit has the largest share
    of such records, then the most fields, then comes first in :data:`DELIMITERS`.
    Nothing splits the header: a one-column file, read with commas.
    """
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    scores = []
    for rank, sep in enumerate(DELIMITERS):
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=sep, skipinitialspace=True)
        try:
            counts = [len(record) for record in itertools.islice(reader, 100) if record]
        except csv.Error:  # not this delimiter's dialect (a stray quote): pandas will say
            continue
        if not counts or counts[0] < 2:
            continue
        share = sum(count == counts[0] for count in counts) / len(counts)
        scores.append((share, counts[0], -rank, sep))
    if not scores:
        return ",", []
    scores.sort(reverse=True)
    best = scores[0]
    also = [s[3] for s in scores[1:] if s[0] == 1.0 and best[0] == 1.0]
    return best[3], also


def _decompress(path: str, data: bytes, method: str) -> bytes:
    """The bytes inside a gzip, bz2, xz or single-file zip archive."""
    if method == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [
                m for m in archive.infolist() if not m.is_dir() and "__MACOSX" not in m.filename
            ]
            if len(members) == 1 and not members[0].filename.endswith(".npy"):
                return archive.read(members[0])
        raise DataError(
            f"{path}: this is not a CSV text file (it is a zip archive of "
            f"{len(members)} files, such as a model file or a spreadsheet); export the "
            "table as CSV (a zip holding one CSV file is read too)"
        )
    module = {"gzip": gzip, "bz2": bz2, "xz": lzma}[method]
    return module.decompress(data)


def _read_parquet(path: str, data: bytes) -> pd.DataFrame:
    pd = _pandas()
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet files needs pyarrow; install it with "
            "pip install 'chainrule[parquet]' (or save the table as CSV)"
        ) from None
    try:
        return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
    except Exception as exc:  # pyarrow on a damaged file: ArrowInvalid, KeyError, ...
        if _interrupted(exc):
            raise KeyboardInterrupt from exc
        raise DataError(f"{path}: not a readable Parquet file ({_one_line(exc)})") from None


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _first_long_line(text: str, sep: str) -> tuple[int, int, int]:
    """``(line, fields, header_fields)`` of the first record with more fields than the header."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)
    header = None
    try:
        for record in reader:
            if not record:
                continue
            if header is None:
                header = len(record)
            elif len(record) > header:
                return reader.line_num, len(record), header
    except csv.Error:
        pass
    return 0, 0, header or 0


#: a number written with a decimal comma, perhaps with dots between thousands: 1.037,5
_DECIMAL_COMMA = r"^[-+]?(\d{1,3}(\.\d{3})+|\d+),\d+$"


def _hint_decimal_commas(path: str, frame: pd.DataFrame) -> None:
    """Warn when text columns hold numbers with decimal commas (``12,5``), read without
    ``decimal=","``: the file's numbers with thousands dots (``1.173``) were then read
    as decimals, silently wrong."""
    columns = []
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind in "biufcmM":
            continue
        text = column.dropna().astype(str).str.strip()
        if len(text) and text.str.match(_DECIMAL_COMMA).mean() >= 0.8:
            columns.append(name)
    if columns:
        example = frame[columns[0]].dropna().iloc[0]
        warnings.warn(
            f"{path}: column(s) {', '.join(map(repr, columns[:5]))} hold numbers with "
            f"decimal commas (such as {example!r}); read the file with --decimal , "
            "(decimal=','), which also reads '.' as the thousands separator (1.037,5)",
            UserWarning,
            stacklevel=4,
        )


#: a number whose dot cannot separate thousands (2.02, 0.346, 1234.5): a decimal point
_DECIMAL_POINT = r"^[-+]?\d+\.\d+$"
_THOUSANDS_DOTS = r"^[-+]?[1-9]\d{0,2}(\.\d{3})+$"


def _hint_decimal_points(path: str, text: str, sep: str, frame: pd.DataFrame, decimal: str):
    """Warn when the numbers of a column were read with "." as the thousands separator
    (``--decimal ,`` makes it so) but are written with decimal points (``2.02``,
    ``0.346``): pandas then reads ``0.346`` as 346, silently wrong."""
    pd = _pandas()
    numeric = [name for name in frame.columns if frame[name].dtype.kind in "iuf"]
    if not numeric:
        return
    try:  # the first rows as written
        raw = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, nrows=1000, index_col=False,
            skipinitialspace=True, usecols=numeric,
        )  # fmt: skip
    except Exception:  # only a hint: the table itself was read
        return
    columns = []
    for name in numeric:
        values = raw[name].dropna().str.strip()
        dotted = values[values.str.match(_DECIMAL_POINT)]
        if len(dotted) and (~dotted.str.match(_THOUSANDS_DOTS)).sum() >= 0.5 * len(values):
            columns.append((name, dotted[~dotted.str.match(_THOUSANDS_DOTS)].iloc[0]))
    if columns:
        names = ", ".join(repr(name) for name, _ in columns[:5])
        example = columns[0][1]
        warnings.warn(
            f"{path}: column(s) {names} hold numbers with decimal points (such as "
            f"{example!r}), but '.' was read as the thousands separator ({example} as "
            f"{float(example.replace('.', '')):g}); leave --decimal {decimal} out if the "
            "file's decimal mark is '.', or give --thousands none",
            UserWarning,
            stacklevel=4,
        )


def read_csv(
    path: str,
    *,
    sep: str | None = None,
    decimal: str = ".",
    thousands: str | None = "auto",
    na_values: Sequence[str] = (),
    text_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """The rows of a table file as a DataFrame (index = row numbers, the header is row 1).

    Reads CSV text (UTF-8, with or without a byte-order mark; any line ends),
    compressed CSV (gzip ``.gz``, bzip2 ``.bz2``, xz ``.xz``, a zip holding one CSV
    file), recognised by its first bytes, and Parquet files (with pyarrow, the
    ``parquet`` extra). The file is read once (so a pipe such as ``<(command)`` works)
    and parsed by pandas.

    Parameters
    ----------
    path : str
    sep : str or None, default=None
        The delimiter; None sniffs it among comma, semicolon, tab and pipe (the one
        every record of the first 100 splits into as many fields as the header), unless
        the first line is Excel's ``sep=;``, which names it.
        What was used is in ``frame.attrs["sep"]``.
    decimal : str, default="."
        The decimal mark of numbers, "." or "," (``3,14``).
    thousands : str or None, default="auto"
        The thousands separator inside numbers (``1.037,5``); "auto" means "." when
        ``decimal`` is "," (the European convention) and none otherwise.
    na_values : sequence of str, default=()
        Values that mean "missing", besides pandas' own (empty, ``NA``, ``n/a``,
        ``NaN``, ``null``, ...), such as ``"n/a (sensor off)"`` or ``"?"``.
    text_columns : sequence of str, default=()
        Columns read as text exactly as written (identifiers such as ``007``).

    Raises
    ------
    DataError
        For a file that is missing, empty, binary, not UTF-8, not well-formed CSV
        (a record with more fields than the header, named by its line), with a
        repeated column name or no data rows; the message starts with the path.
    KeyboardInterrupt
        When interrupted while reading, also when pandas reports the interruption as
        another error.
    """
    try:
        return _read_table(
            path,
            sep=sep,
            decimal=decimal,
            thousands=thousands,
            na_values=na_values,
            text_columns=text_columns,
        )
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if _interrupted(exc):
            raise KeyboardInterrupt from exc
        raise


def check_marks(sep: str | None, decimal: str, thousands: str | None) -> str | None:
    """The thousands separator :func:`read_csv` uses ("auto" resolved), after checking
    that ``sep``, ``decimal`` and ``thousands`` are single characters that differ.

    Raises
    ------
    ValueError
        Naming the setting, what was expected and what was received.
    """
    if thousands == "auto":
        thousands = "." if decimal == "," else None
    for name, mark in (("sep", sep), ("decimal", decimal), ("thousands", thousands)):
        if mark is not None and (not isinstance(mark, str) or len(mark) != 1 or mark in "\r\n"):
            raise ValueError(f"{name} must be one character such as ';'; received {mark!r}")
    if decimal == thousands:
        raise ValueError(
            f"decimal and thousands must differ; both are {decimal!r} "
            "(--decimal , --thousands . for 1.037,5)"
        )
    if sep is not None and sep in (decimal, thousands) and sep != ",":
        raise ValueError(
            f"sep {sep!r} is also the decimal or thousands mark; numbers could not be told "
            "from the fields"
        )
    return thousands


def _read_table(path, *, sep, decimal, thousands, na_values, text_columns) -> pd.DataFrame:
    pd = _pandas()
    thousands = check_marks(sep, decimal, thousands)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a folder, not a CSV file")
    with open(path, "rb") as f:
        data = f.read()
    if not data.strip():
        raise DataError(
            f"{path}: the file is empty; expected a CSV file with a header row and data rows"
        )
    method = next((m for magic, m in _MAGIC.items() if data.startswith(magic)), None)
    if method == "parquet":
        frame = _read_parquet(path, data)
        used = {"format": "parquet"}
    else:
        if method is not None:
            try:
                data = _decompress(path, data, method)
            except DataError:  # a sound zip of several files: said as it is
                raise
            except (
                OSError,
                EOFError,
                ValueError,
                NotImplementedError,
                lzma.LZMAError,
                zipfile.BadZipFile,
                zlib.error,
            ) as exc:
                raise DataError(
                    f"{path}: a damaged {method} file ({_one_line(exc)}); compress it again"
                ) from None
        frame, used = _parse_csv(path, data, sep, decimal, thousands, na_values, text_columns)
        if method is not None:
            used["compression"] = method
    if frame.shape[0] == 0:
        raise DataError(
            f"{path}: the file has a header ({', '.join(map(str, frame.columns))}) but no data rows"
        )
    frame.index = pd.RangeIndex(2, frame.shape[0] + 2)
    frame.attrs.update(used)
    return frame


def _parse_csv(path, data, sep, decimal, thousands, na_values, text_columns):
    pd = _pandas()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16, as spreadsheets export
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
        start = data[:8192]
        if b"\x00" in start:
            raise DataError(
                f"{path}: this is not a CSV text file (it holds binary data, such as a model "
                "file or a spreadsheet); export the table as CSV"
            )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV"
        ) from None
    del data
    if not text.strip():
        raise DataError(
            f"{path}: the file is empty; expected a CSV file with a header row and data rows"
        )
    forced = sep is not None
    also: list[str] = []
    declared = re.match(r"sep=(.)\r?\n", text)
    if declared:  # Excel's first line "sep=;" names the delimiter (and Excel hides it)
        text = text[declared.end() :]
        sep = sep or declared.group(1)
    elif not forced:
        sep, also = _sniff(text)
    options = {
        "sep": sep,
        "decimal": decimal,
        "thousands": thousands,
        "na_values": list(na_values),
        "skipinitialspace": True,
    }
    try:
        with warnings.catch_warnings():
            # index_col=False: a record longer than the header is refused below, never
            # shifted into an index
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                index_col=False,
                dtype={name: str for name in text_columns} or None,
                **options,
            )
        # the header as written: pandas renames a second 'a' to 'a.1'
        header = pd.read_csv(
            io.StringIO(text), header=None, nrows=1, dtype=str, sep=sep, skipinitialspace=True
        ).iloc[0]
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path}: no columns found; expected a CSV file with a header row and data rows"
        ) from None
    except (pd.errors.ParserWarning, pd.errors.ParserError) as exc:
        # every record longer than the header (a warning), or some (an error)
        line, fields, names = _first_long_line(text, sep)
        if line:
            raise DataError(
                f"{path}: line {line} has {fields} fields but the header names {names} "
                f"columns ({delimiter_name(sep)}-separated); every row needs one value per "
                "column (a trailing delimiter, a delimiter inside a value without quotes, "
                "or a column name missing from the header?): fix the file"
            ) from None
        if isinstance(exc, pd.errors.ParserWarning):  # something else: as pandas said
            raise DataError(f"{path}: not a well-formed CSV file ({_one_line(exc)})") from None
        problem = _one_line(exc)
        raise DataError(
            f"{path}: not a well-formed CSV file ({problem}; read as "
            f"{delimiter_name(sep)}-separated{'' if forced else ', --sep to choose'})"
        ) from None
    # a delimiter at the end of every line (as some exports write) makes a column
    # with no name and no values: not a column of the table
    blank = [
        column
        for column, name in zip(frame.columns, header, strict=False)
        if not isinstance(name, str) and frame[column].isna().all()
    ]
    frame = frame.drop(columns=blank)
    names = [str(name) for name in header if isinstance(name, str)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(
            f"{path}: the header names the column {', '.join(map(repr, repeated))} more than "
            "once; give each column its own name"
        )
    if frame.shape[1] == 1:
        name = str(frame.columns[0])
        for other in DELIMITERS:
            if other != sep and other in name:
                raise DataError(
                    f"{path}: the header {name!r} looks {delimiter_name(other)}-separated, "
                    f"but the file was read as {delimiter_name(sep)}-separated; leave --sep "
                    f"out to sniff the delimiter, or give --sep '{other}'"
                )
    if decimal == ".":
        _hint_decimal_commas(path, frame)
    if thousands == ".":
        _hint_decimal_points(path, text, sep, frame, decimal)
    if also and sep != ",":
        warnings.warn(
            f"{path}: the rows split evenly on {delimiter_name(sep)} and on "
            f"{' and '.join(map(delimiter_name, also))}; read as "
            f"{delimiter_name(sep)}-separated (--sep to choose)",
            UserWarning,
            stacklevel=4,
        )
    return frame, {"format": "csv", "sep": sep, "sep_sniffed": not forced}
