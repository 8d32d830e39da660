"""Reading a CSV file of any kind: its encoding, its rows with the line each starts on, its cells.
What a row means is its kind's (accounts_app.imports.accounts, .activities)."""

import codecs
import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from core.errors import Invalid
from core.text import FORMULA_STARTS


def cell(row: Mapping, column: str) -> str:
    """A row's cell, stripped ("" for an absent column)."""
    value = row.get(column)
    value = "" if value is None else str(value).strip()
    # Undo our own export's neutralisation, so an exported file imports unchanged.
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        value = value[1:]
    return value


class Unreadable(Invalid):
    """The file's bytes are not text in an encoding Accord reads."""


UNREADABLE = (
    "Accord cannot read this file: it is not a CSV text file in UTF-8, UTF-16 or Windows-1252 "
    "(a spreadsheet's own format, or text in another encoding). Save the file as UTF-8 CSV "
    '(in Excel: File, Save As, "CSV UTF-8 (Comma delimited)") and upload it again.'
)
# Control characters other than tab, line feed and carriage return never occur in a CSV
# file someone typed; they mean binary data, or UTF-16 read without its byte order mark.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DECODE_STEP = 1 << 20


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether all of `data` decodes, in steps so that no second copy of the file is made.
    Raises Unreadable if it decodes to control characters."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    view = memoryview(data)
    try:
        for start in range(0, len(data), _DECODE_STEP):
            text = decoder.decode(view[start : start + _DECODE_STEP])
            if _CONTROL.search(text):
                raise Unreadable(UNREADABLE)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


# Kana and the common CJK ideographs; half-width katakana are what Windows-1252's accented
# capitals (0xA1-0xDF) read as in Shift-JIS.
_JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")
_HALFWIDTH_KANA = re.compile("[\uff61-\uff9f]")


def _reads_as_japanese(data: bytes) -> bool:
    """Whether `data` is Shift-JIS (the default of Japanese Windows and Excel) rather than
    Windows-1252: all of it decodes as Shift-JIS to kana or kanji, and to no half-width kana.
    Most Shift-JIS bytes are valid Windows-1252 too, so without this a file of Japanese names
    would import as mojibake ("株式会社" as "Š”Ž®‰ïŽÐ"), while Windows-1252 text with accented
    letters almost never decodes as Shift-JIS."""
    decoder = codecs.getincrementaldecoder("cp932")(errors="strict")
    view = memoryview(data)
    japanese = False
    try:
        for start in range(0, len(data), _DECODE_STEP):
            text = decoder.decode(view[start : start + _DECODE_STEP])
            if _HALFWIDTH_KANA.search(text):
                return False
            japanese = japanese or bool(_JAPANESE.search(text))
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return japanese


def detect_encoding(data: bytes) -> str:
    """The encoding to read `data` with. In this order: a byte order mark (UTF-8, UTF-16 LE or
    BE) decides; otherwise UTF-8 if every byte sequence is valid UTF-8 (text in Windows-1252
    with any letter beyond ASCII almost never is); otherwise Windows-1252, unless it reads as
    Shift-JIS Japanese. Anything else, and any file decoding to control characters (binary
    data, UTF-16 without a byte order mark), raises Unreadable."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp1252"]
    for encoding in candidates:
        if _decodes(data, encoding):
            if encoding == "cp1252" and _reads_as_japanese(data):
                break
            return encoding
    raise Unreadable(UNREADABLE)


def open_text(data: bytes, encoding: str) -> io.TextIOWrapper:
    """The file as text, decoded as it is read."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")


@dataclass
class CsvRow:
    line: int  # the line the row starts on, as a spreadsheet numbers them (header = 1)
    cells: dict  # column → cell
    problem: str | None = None  # a problem with the row's shape


class CsvRows:
    """A CSV file's rows, read one at a time from a text stream, with the line each starts on:
    blank lines are skipped (but counted), a quoted cell may span lines, short rows are padded
    with empty cells. `headers` and `header_line` are known once the first row is asked for
    (or after `read_header()`)."""

    def __init__(self, stream) -> None:
        self._reader = csv.reader(stream)
        self._previous_end = 0
        self.headers: list[str] = []
        self.header_line = 1

    def _records(self):
        reader = self._reader
        for record in reader:
            start, self._previous_end = self._previous_end + 1, reader.line_num
            if any(cell.strip() for cell in record):
                yield start, record

    def read_header(self) -> list[str]:
        for start, record in self._records():
            self.headers, self.header_line = [normalise_header(h) for h in record], start
            break
        return self.headers

    def __iter__(self):
        headers = self.headers
        width = len(headers)
        for start, record in self._records():
            problem = None
            if any(cell.strip() for cell in record[width:]):
                problem = f"this line has {len(record)} cells but the header has {width} columns."
            cells = (record + [""] * width)[:width]
            yield CsvRow(start, dict(zip(headers, cells, strict=True)), problem)

    @property
    def next_line(self) -> int:
        """The line after the last one read (where a record the CSV reader refused starts)."""
        return self._previous_end + 1


def normalise_header(header) -> str:
    return str(header or "").strip().lower().replace(" ", "_").lstrip("\ufeff")


@dataclass
class RowResult:
    values: dict = field(default_factory=dict)  # what the row says, only the cells given
    errors: dict = field(default_factory=dict)  # column → plain-language message
