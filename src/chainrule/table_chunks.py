"""Table files read a chunk of rows at a time: CSV, compressed CSV and Parquet.

:class:`TableChunks` is a re-iterable source of DataFrames of at most ``chunk_rows``
rows each, for files larger than memory. It reads as :func:`chainrule.readers.read_csv`
does (the delimiter sniffed from the head of the file, Excel's ``sep=;`` line, UTF-8
with or without a byte-order mark or UTF-16, gzip / bzip2 / xz / single-file zip
recognised by their first bytes, Parquet with pyarrow, ``decimal``, ``thousands`` and
``na_values``), so a file read whole and read in chunks gives the same values. Each
chunk's index is the rows' numbers as a spreadsheet shows them (the header is row 1,
the first data row is row 2), so errors name the row wherever it is in the file.
"""

from __future__ import annotations

import codecs
import gzip
import io
import lzma
import os
import re
import zipfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from chainrule._validation import check_positive_int
from chainrule.errors import DataError
from chainrule.preprocessing import _pandas
from chainrule.readers import _MAGIC, _interrupted, _one_line, _sniff, check_marks, delimiter_name

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DEFAULT_CHUNK_ROWS", "TableChunks"]

#: rows per chunk when none is given (``--chunk-rows``): some tens of megabytes of text
DEFAULT_CHUNK_ROWS = 50_000
#: bytes of the (uncompressed) head of a CSV file read to sniff its delimiter
_HEAD_BYTES = 1 << 16


def _open_text_head(path: str, method: str | None) -> bytes:
    """The first bytes of the file's (decompressed) content."""
    if method == "gzip":
        opener: Any = gzip.open
    elif method == "bz2":
        import bz2

        opener = bz2.open
    elif method == "xz":
        opener = lzma.open
    elif method == "zip":
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise DataError(
                    f"{path}: a zip archive of {len(members)} files; a zip holding one CSV "
                    "file is read"
                )
            with archive.open(members[0]) as f:
                return f.read(_HEAD_BYTES)
    else:
        opener = open
    with opener(path, "rb") as f:
        return f.read(_HEAD_BYTES)


class TableChunks:
    """The rows of a table file, ``chunk_rows`` at a time: ``for frame in TableChunks(...)``.

    Every ``iter()`` reads the file again from its start (one pass per epoch).

    Parameters
    ----------
    path : str
        A CSV file (plain, ``.gz``, ``.bz2``, ``.xz`` or a zip of one file, recognised
        by its first bytes) or a Parquet file.
    chunk_rows : int, default=50000
        Most rows per chunk (the last chunk may have fewer).
    sep, decimal, thousands, na_values
        As :func:`chainrule.readers.read_csv` (``sep=None`` sniffs the delimiter from
        the first 64 KiB; ``thousands="auto"`` is "." with ``decimal=","``).
    text_columns : sequence of str, default=()
        Columns read as text exactly as written (CSV only; Parquet columns keep their
        types).

    Attributes
    ----------
    format : {"csv", "parquet"}
    compression : str or None
    sep : str or None
        The delimiter used (CSV).
    sep_sniffed : bool
        Whether it was sniffed (not given).
    columns : list of str
        The header's column names.

    Raises
    ------
    DataError
        For a missing, empty, binary or damaged file, naming it; a malformed record
        met while reading names its line.
    """

    def __init__(
        self,
        path: str,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        *,
        sep: str | None = None,
        decimal: str = ".",
        thousands: str | None = "auto",
        na_values: Sequence[str] = (),
        text_columns: Sequence[str] = (),
    ) -> None:
        self.path = path
        self.chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
        self.thousands = check_marks(sep, decimal, thousands)
        self.decimal = decimal
        self.na_values = list(na_values)
        self.text_columns = list(text_columns)
        if not os.path.exists(path):
            raise DataError(f"{path}: no such file")
        if os.path.isdir(path):
            raise DataError(f"{path}: is a folder, not a CSV file")
        with open(path, "rb") as f:
            magic = f.read(8)
        if not magic.strip():
            raise DataError(
                f"{path}: the file is empty; expected a CSV file with a header row and data rows"
            )
        method = next((m for start, m in _MAGIC.items() if magic.startswith(start)), None)
        self.format = "parquet" if method == "parquet" else "csv"
        self.compression = None if method == "parquet" else method
        self.sep, self.sep_sniffed, self.skip_lines = sep, False, 0
        if self.format == "parquet":
            self.columns = self._parquet_columns()
        else:
            self._resolve_csv(sep)

    # ------------------------------------------------------------ CSV

    def _resolve_csv(self, sep: str | None) -> None:
        """The encoding, the delimiter and the header, from the head of the file."""
        try:
            head = _open_text_head(self.path, self.compression)
        except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
            raise DataError(
                f"{self.path}: a damaged {self.compression} file ({_one_line(exc)}); "
                "compress it again"
            ) from None
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            self.encoding = "utf-16"
        else:
            self.encoding = "utf-8-sig"
            if b"\x00" in head[:8192]:
                raise DataError(
                    f"{self.path}: this is not a CSV text file (it holds binary data, such as "
                    "a model file or a spreadsheet); export the table as CSV"
                )
        # a multi-byte character may be cut at the end of the head: decode what is whole
        text = codecs.getincrementaldecoder(self.encoding)(errors="strict").decode(head)
        declared = re.match(r"sep=(.)\r?\n", text)
        if declared:  # Excel's first line "sep=;" names the delimiter
            self.skip_lines = 1
            text = text[declared.end() :]
            sep = sep or declared.group(1)
        elif sep is None:
            sep, _ = _sniff(text)
            self.sep_sniffed = True
        self.sep = sep
        pd = _pandas()
        try:
            header = pd.read_csv(
                io.StringIO(text), header=None, nrows=1, dtype=str, sep=sep, skipinitialspace=True
            ).iloc[0]
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            raise DataError(
                f"{self.path}: no columns found; expected a CSV file with a header row and "
                "data rows"
            ) from None
        names = [str(name) for name in header]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise DataError(
                f"{self.path}: the header names the column {', '.join(map(repr, repeated))} "
                "more than once; give each column its own name"
            )
        self.columns = names

    def _csv_frames(self) -> Iterator[pd.DataFrame]:
        pd = _pandas()
        reader = pd.read_csv(
            self.path,
            sep=self.sep,
            decimal=self.decimal,
            thousands=self.thousands,
            na_values=self.na_values,
            skipinitialspace=True,
            index_col=False,
            encoding=self.encoding,
            compression=self.compression,
            skiprows=self.skip_lines,
            dtype={name: str for name in self.text_columns} or None,
            chunksize=self.chunk_rows,
        )
        with reader:
            while True:
                try:
                    frame = next(reader)
                except StopIteration:
                    return
                except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
                    if _interrupted(exc):
                        raise KeyboardInterrupt from exc
                    raise DataError(
                        f"{self.path}: not a well-formed CSV file ({_one_line(exc)}; read as "
                        f"{delimiter_name(self.sep)}-separated)"
                    ) from None
                yield frame

    # ------------------------------------------------------------ Parquet

    def _parquet_file(self):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataError(
                f"{self.path}: reading Parquet files needs pyarrow; install it with "
                "pip install 'chainrule[parquet]' (or save the table as CSV)"
            ) from None
        try:
            return pq.ParquetFile(self.path)
        except Exception as exc:  # pyarrow on a damaged file: ArrowInvalid, OSError, ...
            raise DataError(
                f"{self.path}: not a readable Parquet file ({_one_line(exc)})"
            ) from None

    def _parquet_columns(self) -> list[str]:
        return [str(name) for name in self._parquet_file().schema_arrow.names]

    def _parquet_frames(self) -> Iterator[pd.DataFrame]:
        parquet = self._parquet_file()
        for batch in parquet.iter_batches(batch_size=self.chunk_rows):
            yield batch.to_pandas()

    # ------------------------------------------------------------ chunks

    def __iter__(self) -> Iterator[pd.DataFrame]:
        """The chunks in order; each indexed by its rows' numbers (first data row: 2)."""
        pd = _pandas()
        frames = self._parquet_frames() if self.format == "parquet" else self._csv_frames()
        row = 2
        seen = False
        for frame in frames:
            frame.index = pd.RangeIndex(row, row + len(frame))
            frame.columns = [str(c) for c in frame.columns]
            row += len(frame)
            if len(frame):
                seen = True
                yield frame
        if not seen:
            raise DataError(
                f"{self.path}: the file has a header ({', '.join(self.columns)}) but no data rows"
            )

    def __repr__(self) -> str:
        return f"TableChunks({self.path!r}, chunk_rows={self.chunk_rows})"
