"""A CSV file's bytes to text, its delimiter, and its records counted apart from the csv module.

Encodings. Given (`files: {name: {encoding: ...}}`), the file must decode with
it, or the import stops naming the line. Otherwise, in this order:

1. a byte order mark: UTF-8, UTF-16 or UTF-32 (LE or BE);
2. valid UTF-8 (ASCII included): UTF-8;
3. otherwise the two encodings an export that is not UTF-8 is nearly always in,
   each taken only where the text it gives looks like that kind of text:
   - Windows-1252 (Excel on Western Windows; a superset of Latin-1 for text, as
     Latin-1's 0x80-0x9F are control characters no export holds): it decodes,
     and no three non-ASCII characters stand in a row (accented letters sit
     among plain ones; GBK's two bytes a character read as runs of them);
   - GB18030 (Excel on Chinese Windows; a superset of GBK and GB2312): it
     decodes, and every character outside ASCII is Chinese or CJK/general
     punctuation;
   exactly one of them: that one, said in the report; both or neither: the
   import stops and asks for `encoding:` (nothing is guessed). UTF-16 without
   a byte order mark (NUL bytes in the text) is refused the same way.

Delimiters. Given, or the one of `,` `;` tab `|` found in the header line
(outside quotes); when several are, the one that splits the first rows into
the header's number of values; a tie stops the import and asks for `delimiter:`.
"""

from __future__ import annotations

import codecs
import csv
import re

from sanlun.importer.mapping import MappingError

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32", "cp1252": "Windows-1252"}
NAMES |= {"gb18030": "GB18030", "gbk": "GBK", "latin-1": "Latin-1", "iso8859-1": "Latin-1"}
DELIMITERS = (",", ";", "\t", "|")
SNIFF_ROWS = 50
# Outside ASCII, what a Chinese export holds: CJK symbols, kana, ideographs, fullwidth forms,
# general punctuation (“ ” … —), the middle dot and a few signs GB2312 has.
_CHINESE = re.compile(
    r"[\u00b7\u00d7\u00f7\u2010-\u206f\u2100-\u22ff\u2460-\u24ff\u2500-\u257f\u25a0-\u26ff"
    r"\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]"
)
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]{3}")
_QUOTED = re.compile(r'"(?:[^"]|"")*"')
# A line with its end, as a text file opened with newline="" reads it (\r\n, \r or \n): the csv
# module's lines, read from the text without an io.StringIO of it (four bytes a character once read).
LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


class FileError(MappingError):
    """A file cannot be read right (encoding, delimiter, quoting, no rows): the import stops
    before anything is written, with a message saying what to set."""


def codec_name(codec: str) -> str:
    """A codec as the report says it (`cp1252`: Windows-1252)."""
    return NAMES.get(codecs.lookup(codec).name, codec)


_name = codec_name


def decode(name: str, data: bytes, encoding: str | None) -> tuple[str, str, list[tuple[str, int]]]:
    """The text, the encoding it was read in, and notes for the report."""
    text, codec, notes = decode_codec(name, data, encoding)
    return text, _name(codec), notes


def decode_codec(name: str, data: bytes, encoding: str | None) -> tuple[str, str, list[tuple[str, int]]]:
    """`decode`, with the codec that reads the file again as Python names it (`utf-8-sig`, `cp1252`)."""
    notes: list[tuple[str, int]] = []
    if encoding is not None:
        codec = codecs.lookup(encoding).name
        if codec == "utf-8":
            codec = "utf-8-sig"  # a BOM is not text
        text = _strict(name, data, codec, f"the mapping's encoding {encoding}")
        if codecs.lookup(codec).name not in ("utf-8", "utf-8-sig"):
            notes.append((f"read as {_name(codec)} (the mapping's encoding)", 1))
    else:
        codec, text, why = _detect(name, data)
        if why:
            notes.append((why, 1))
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise FileError(
            f"{name} holds NUL characters: UTF-16 without a byte order mark? set `encoding:` "
            f"(utf-16-le or utf-16-be) for it in the mapping's files"
        )
    return text, codec, notes


def _strict(name: str, data: bytes, codec: str, what: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileError(f"{name} line {line}: not {what} (byte {exc.start}: {exc.reason})") from None


def _detect(name: str, data: bytes) -> tuple[str, str, str | None]:
    for bom, codec in BOMS:
        if data.startswith(bom):
            text = _strict(name, data, codec, _name(codec) + " (its byte order mark says so)")
            return (
                codec,
                text,
                "UTF-8 byte order mark removed"
                if codec == "utf-8-sig"
                else f"read as {_name(codec)} (byte order mark)",
            )
    try:
        return "utf-8", data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        not_utf8 = data[: exc.start].count(b"\n") + 1
    fits = {codec: read for codec in ("cp1252", "gb18030") if (read := _looks_like(data, codec)) is not None}
    ask = f"set `encoding:` for {name} in the mapping's files (cp1252, gb18030, latin-1, ...)"
    if len(fits) == 1:
        codec, read = fits.popitem()
        return codec, read, f"not UTF-8 (line {not_utf8}): read as {_name(codec)} (detected; set `encoding:` to choose)"
    if fits:
        raise FileError(f"{name} is not UTF-8 (line {not_utf8}) and reads as Windows-1252 and as GB18030 alike: {ask}")
    raise FileError(f"{name} is not UTF-8 (line {not_utf8}), nor plainly Windows-1252 or GB18030: {ask}")


def _looks_like(data: bytes, codec: str) -> str | None:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    if codec == "cp1252":
        return None if _NON_ASCII_RUN.search(text) else text
    if all(_CHINESE.match(c) for c in text if not c.isascii()):
        return text
    return None


def sniff(name: str, text: str) -> str:
    """The delimiter of `text` (see the module's doc), or FileError asking for one."""
    end = re.search(r"\r\n|\r|\n", text)
    header = _QUOTED.sub("", text[: end.start()] if end else text)
    found = [d for d in DELIMITERS if d in header]
    if len(found) <= 1:
        return found[0] if found else ","
    scores = {d: _fit(text, d) for d in found}
    best = max(scores.values())
    winners = [d for d, score in scores.items() if score == best]
    if len(winners) == 1:
        return winners[0]
    shown = " and ".join(repr(d) for d in winners)
    raise FileError(
        f"{name}: the header and rows split by {shown} alike: set `delimiter:` for it in the mapping's files"
    )


def _fit(text: str, delimiter: str) -> float:
    """The share of the first rows that have the header's number of values under `delimiter`."""
    reader = csv.reader((m.group() for m in LINE.finditer(text)), delimiter=delimiter)
    try:
        width = len(next(reader))
        rows = [len(r) for _, r in zip(range(SNIFF_ROWS), reader, strict=False) if r]
    except (StopIteration, csv.Error):
        return 0.0
    return sum(n == width for n in rows) / len(rows) if rows else 0.0


def count_records(name: str, text: str, delimiter: str) -> int:
    """The records of `text`, counted by their ends outside quotes (RFC 4180, with the csv module's
    leniency: a quote inside an unquoted value is a character): a second count of the rows,
    which does not use the csv module. FileError for a quote never closed."""
    d = re.escape(delimiter)
    value = rf'(?:"(?:[^"]|"")*"[^{d}\r\n]*|[^"{d}\r\n][^{d}\r\n]*|)'
    record = re.compile(rf"{value}(?:{d}{value})*(?:\r\n|\r|\n|\Z)")
    count, at, end = 0, 0, len(text)
    while at < end:
        m = record.match(text, at)
        if m is None or m.end() == at:
            line = len(re.findall(r"\r\n|\r|\n", text[:at])) + 1
            raise FileError(f"{name}: a quote in the record from line {line} is never closed")
        count += 1
        at = m.end()
    return count
