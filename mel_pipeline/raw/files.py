"""Discovering raw files and deciding, before any parsing, whether a file can be read at all.

A file that fails here is quarantined whole: `UnreadableFile` carries one clear message naming
what is wrong. Nothing in this module parses rows.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

SNIFF_BYTES = 64 * 1024
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
SUFFIX_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xml": "xml"}


class UnreadableFile(Exception):
    """The file as a whole cannot be read; the message says why and what to do."""


@dataclass(frozen=True)
class RawFile:
    """A file found under a source's folder."""

    path: Path
    relative_path: str
    format: str
    sha256: str
    size: int


def sha256_of(path: Path) -> str:
    """Content hash, read in blocks so a large file is never held in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class HashCache:
    """SHA-256s of files kept between runs in a JSON file, each under its file's size, inode and change times.

    Hashing every raw file on every refresh, and on every tick of the file sensor, would read
    gigabytes to find one changed file. A file whose size, inode, modification time and status
    change time (which no tool can set back) are all as they were is not read again. Losing the
    cache file, or two processes writing it at once, only costs reading the files again.
    """

    def __init__(self, path: Path):
        self.path = path
        try:
            self.entries: dict[str, list] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}
        self.seen: dict[str, list] = {}

    def sha256(self, path: Path) -> str:
        """The file's content hash, read again only if the file may have changed."""
        status = path.stat()
        stamp = [status.st_size, status.st_ino, status.st_mtime_ns, status.st_ctime_ns]
        key = str(path.resolve())
        entry = self.entries.get(key)
        digest = entry[-1] if entry and entry[:-1] == stamp else sha256_of(path)
        self.seen[key] = [*stamp, digest]
        return digest

    def save(self) -> None:
        """Keep what this process saw (and what others saw), written whole so no reader meets half a file."""
        write_whole(self.path, json.dumps({**self.entries, **self.seen}))


def write_whole(path: Path, text: str) -> None:
    """Write a text file through a temporary file and a rename, so no reader ever meets half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}-{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def discover(folder: Path, raw_root: Path, formats: tuple[str, ...], hashes: HashCache | None = None) -> list[RawFile]:
    """Every regular file in `folder` (not hidden, not a link escaping `raw_root`), sorted by name.

    Paths are reported relative to `raw_root`, e.g. `participants/2024-S1.csv`. Content hashes come
    from `hashes` when given.

    A file whose extension is not one of the source's formats is still returned, with format
    'unsupported', so it is reported rather than silently ignored.
    """
    if not folder.is_dir():
        return []
    root = raw_root.resolve()
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "~$")) or not path.is_file():
            continue
        relative = path.relative_to(raw_root).as_posix()
        if not path.resolve().is_relative_to(root):
            found.append(RawFile(path, relative, "outside", "", 0))
            continue
        file_format = SUFFIX_FORMATS.get(path.suffix.lower(), "unsupported")
        if file_format not in formats:
            file_format = "unsupported"
        digest = hashes.sha256(path) if hashes is not None else sha256_of(path)
        found.append(RawFile(path, relative, file_format, digest, path.stat().st_size))
    return found


ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with a byte-order mark", "utf-16": "UTF-16",
                  "utf-16-le": "UTF-16 (little-endian, without a byte-order mark)",
                  "utf-16-be": "UTF-16 (big-endian, without a byte-order mark)", "cp1252": "Windows-1252"}


@dataclass(frozen=True)
class TextFacts:
    """What a text file's bytes say before it is parsed: its encoding and whether it has blank lines.

    `blank_lines` is true when an empty line comes before the file's last content: DuckDB's CSV
    scan skips such a line without numbering it, so the rows after it would get wrong numbers.
    """

    encoding: str  # a Python codec name: utf-8, utf-8-sig, utf-16, utf-16-le, utf-16-be or cp1252
    blank_lines: bool

    @property
    def note(self) -> str | None:
        """The audit note for an encoding other than plain UTF-8 (a BOM is UTF-8 as well)."""
        if self.encoding in ("utf-8", "utf-8-sig"):
            return None
        return (f"read as {ENCODING_NAMES[self.encoding]}"
                + (" (the file is not UTF-8; Latin-1 text reads the same)" if self.encoding == "cp1252" else ""))


def check_readable(raw: RawFile, formats: tuple[str, ...]) -> TextFacts | None:
    """Raise UnreadableFile if the file is empty, of another format than its name says, or undecodable text.

    Returns the facts of a text file (None for a workbook).
    """
    if raw.format == "outside":
        raise UnreadableFile(f"{raw.relative_path}: a link to a file outside the raw data folder; refusing to read it")
    if raw.format == "unsupported":
        raise UnreadableFile(
            f"{raw.relative_path}: '{raw.path.suffix or 'no extension'}' files are not accepted here; "
            f"save it as one of: {', '.join(formats)}")
    if raw.size == 0:
        raise UnreadableFile(f"{raw.relative_path}: the file is empty (0 bytes); it was not exported or "
                             "uploaded whole: send it again")
    with raw.path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if raw.format == "xlsx":
        if head.startswith(OLE_MAGIC):
            raise UnreadableFile(f"{raw.relative_path}: this is a legacy .xls workbook renamed .xlsx; open it in "
                                 "Excel or LibreOffice and save it as .xlsx")
        if not head.startswith(ZIP_MAGIC):
            raise UnreadableFile(f"{raw.relative_path}: not an Excel .xlsx workbook (it does not start like one)")
        return None
    if head.startswith(ZIP_MAGIC) or head.startswith(OLE_MAGIC):
        raise UnreadableFile(f"{raw.relative_path}: this is a spreadsheet or archive, not {raw.format.upper()} text; "
                             "export it as CSV UTF-8 or give it its real extension")
    utf16 = "utf-16" if head.startswith(UTF16_BOMS) else utf16_without_bom(head) if b"\x00" in head else None
    if utf16:
        if raw.format == "xml":
            raise UnreadableFile(f"{raw.relative_path}: the file is UTF-16 encoded; save it as UTF-8")
        try:
            return TextFacts(utf16, _scan_text(raw, utf16))
        except _DecodeError as error:
            raise UnreadableFile(f"{raw.relative_path}: not valid UTF-16 ({error.where}); save it as 'CSV UTF-8'") from None
    try:
        return TextFacts("utf-8-sig" if head.startswith(UTF8_BOM) else "utf-8", _scan_text(raw, "utf-8"))
    except _DecodeError as not_utf8:
        if raw.format == "xml":
            raise UnreadableFile(f"{raw.relative_path}: not valid UTF-8 ({not_utf8.where}); save it as UTF-8") from None
        # Windows-1252 leaves only five bytes undefined, and text that is valid UTF-8 nearly never fails
        # as UTF-8 by accident, so a file that fails as UTF-8 and reads as Windows-1252 is Windows-1252.
        try:
            return TextFacts("cp1252", _scan_text(raw, "cp1252"))
        except _DecodeError as neither:
            raise UnreadableFile(f"{raw.relative_path}: not valid UTF-8 ({not_utf8.where}) nor Windows-1252 "
                                 f"({neither.where}); save it as 'CSV UTF-8'") from None


def utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' if `head` is UTF-16 text without a byte-order mark, else None.

    Text in the Latin alphabet saved as UTF-16 has a NUL as the high byte of nearly every character
    and never as the low one (NUL characters aside), which neither UTF-8 text nor binary data shows;
    the bytes must also decode to printable text, lines and tabs.
    """
    even = len(head) - len(head) % 2
    for codec, high, low in (("utf-16-le", head[1:even:2], head[0:even:2]), ("utf-16-be", head[0:even:2], head[1:even:2])):
        if low and b"\x00" not in low and high.count(0) >= 0.9 * len(high):
            try:
                text = codecs.getincrementaldecoder(codec)(errors="strict").decode(head[:even])
            except UnicodeDecodeError:
                return None
            return codec if all(character.isprintable() or character in "\t\r\n" for character in text) else None
    return None


class _DecodeError(Exception):
    """The first byte a file's encoding cannot decode, placed by line (as an editor counts) and byte offset."""

    def __init__(self, byte: bytes, line: int, position: int):
        super().__init__(byte, line, position)
        self.where = f"byte 0x{byte.hex()} at line {line}, byte {position}"


def _editor_lines(text: str) -> int:
    """Line breaks in `text` as a text editor counts them: LF, CRLF and a lone CR each end a line."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


BLANK_LINES = ("\n\n", "\n\r\n", "\r\r")


def _first_blank_line(tail: str, text: str) -> int | None:
    """Where the first empty line begins in `tail + text` (`tail`: the previous block's last two characters),
    counted from the start of `text` (negative inside `tail`); None if there is none. The boundary is
    searched apart, so that no block is copied."""
    boundary = tail + text[:2]
    found = [index - len(tail) for index in (boundary.find(pattern) for pattern in BLANK_LINES) if index >= 0]
    found += [index for index in (text.find(pattern) for pattern in BLANK_LINES) if index >= 0]
    return min(found) if found else None


def _line_of_byte(raw: RawFile, encoding: str, position: int) -> int:
    """The line (as an editor counts, from 1) that the byte at `position` is on: the file is read again up
    to it, since only a file that fails to decode needs it."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    line, last, remaining = 1, "", position
    with raw.path.open("rb") as handle:
        while remaining > 0 and (block := handle.read(min(remaining, 1 << 20))):
            remaining -= len(block)
            text = decoder.decode(block)
            # The previous block's last character joins a CR at its end to an LF at this one's start.
            line += _editor_lines(last + text) - _editor_lines(last)
            last = text[-1:] or last
    return line


def _scan_text(raw: RawFile, encoding: str) -> bool:
    """Stream the file through a strict decoder; whether an empty line comes before its last content.

    Raises UnreadableFile on a NUL byte in an 8-bit encoding, or `_DecodeError` on the first byte the
    encoding cannot decode. Lines are counted in the decoded text, so UTF-16 is counted right too.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, text_offset, first_blank, last_content, tail = 0, 0, None, -1, ""
    with raw.path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            if not encoding.startswith("utf-16") and b"\x00" in block:
                position = offset + block.index(b"\x00")
                raise UnreadableFile(f"{raw.relative_path}: binary content (a NUL byte at byte {position}); "
                                     "this is not a text file: export the data as 'CSV UTF-8' or .xlsx")
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError as error:
                position = offset + error.start
                raise _DecodeError(block[error.start:error.start + 1], _line_of_byte(raw, encoding, position),
                                   position) from None
            if first_blank is None:
                blank = _first_blank_line(tail, text)
                first_blank = None if blank is None else text_offset + blank
            content = len(text.rstrip("\r\n"))
            if content:
                last_content = text_offset + content - 1
            tail = text[-2:] if len(text) >= 2 else (tail + text)[-2:]
            text_offset += len(text)
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise UnreadableFile(f"{raw.relative_path}: the file ends in the middle of a character (truncated?)") from None
    return first_blank is not None and first_blank < last_content
