"""Reading IATI 2.03 activity files: results flattened to one row per baseline, target or actual.

Only parsing and flattening belong here. Cells are kept as written in the file (text), so that
normalising codes and booleans and judging values stays with the validator and the data contract.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element, TreeBuilder
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import AttributesImpl

import defusedxml.sax
import pyarrow as pa
from defusedxml import DefusedXmlException, DTDForbidden

from mel_pipeline.raw.files import UnreadableFile

IATI_ROOT = "iati-activities"
MEASURED_ELEMENTS = ("target", "actual")
DEFAULT_MEASURE = "1"  # unit, per the IATI 2.03 schema
DEFAULT_ASCENDING = "1"
PLAIN_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
# How real publishers write numbers in @value, although the schema asks for a plain xsd:decimal: with
# thousands separators (50,000 or 1.234.567), a decimal comma (12254,1), or both (1.234,5 and 1,234.5).
THOUSANDS = re.compile(r"[+-]?\d{1,3}(?P<separator>[,.])\d{3}(?:(?P=separator)\d{3})*")
DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
GROUPED_WITH_DECIMALS = re.compile(r"[+-]?\d{1,3}(?P<group>[,.])\d{3}(?:(?P=group)\d{3})*(?!(?P=group))[,.]\d+")
NO_VALUE = {"null", "none", "n/a", "na", "-"}
# Far beyond any IATI activity file (elements nest about 8 deep, narratives run to a few thousand
# characters): past either limit a file is refused as it streams in, before it fills memory.
MAX_DEPTH = 64
MAX_TEXT_CHARS = 1_000_000
COLUMNS = (
    "iati_identifier", "result_index", "result_type", "result_title", "aggregation_status",
    "indicator_index", "indicator_ref", "indicator_title", "measure", "ascending", "element",
    "period_start", "period_end", "value_text", "value", "disaggregation",
)
SCHEMA = pa.schema([pa.field("_row_number", pa.int64()), *(pa.field(name, pa.string()) for name in COLUMNS)])

Row = dict[str, str | int | None]


class _NotIati(Exception):
    """Stops the parse at the first element when it is not `iati-activities`."""


class _Oversized(Exception):
    """Stops the parse at an element nested deeper than MAX_DEPTH or a text longer than MAX_TEXT_CHARS."""


class _LineNumberedTree(ContentHandler):
    """Builds an ElementTree from SAX events and remembers the line each element starts on.

    ElementTree's parsers do not expose line numbers; SAX does, through defusedxml's hardened expat
    reader, so the file is parsed once, safely, with positions kept.
    """

    def __init__(self) -> None:
        super().__init__()
        self.builder = TreeBuilder()
        self.lines: dict[Element, int] = {}
        self.root_seen = False
        self.depth = 0
        self.text_length = 0

    def current_line(self) -> int | None:
        return self._locator.getLineNumber() if self._locator is not None else None

    def startElement(self, name: str, attrs: AttributesImpl) -> None:
        if not self.root_seen and name != IATI_ROOT:
            raise _NotIati(name)
        self.root_seen = True
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Oversized(f"elements nested more than {MAX_DEPTH} deep")
        self.text_length = 0
        self.lines[self.builder.start(name, dict(attrs))] = self.current_line()

    def endElement(self, name: str) -> None:
        self.depth -= 1
        self.text_length = 0
        self.builder.end(name)

    def characters(self, content: str) -> None:
        self.text_length += len(content)
        if self.text_length > MAX_TEXT_CHARS:
            raise _Oversized(f"a text longer than {MAX_TEXT_CHARS:,} characters")
        self.builder.data(content)


def read_iati(path: Path, relative_path: str) -> pa.Table:
    """Flatten every result/indicator baseline, period target and period actual to one row.

    `_row_number` is the line of the baseline, target or actual element. Several baselines, or several
    targets/actuals in one period (each with its own dimensions), give one row each; an indicator with
    neither baseline nor period gives none. Raises UnreadableFile for malformed or truncated XML, any
    DTD or entity declaration (refused before anything is expanded, so XXE and entity bombs are inert),
    a root other than `iati-activities`, elements nested deeper than MAX_DEPTH and a text longer than
    MAX_TEXT_CHARS.
    """
    root, lines = _parse(path, relative_path)
    rows = [row for activity in root.findall("iati-activity") for row in _activity_rows(activity, lines)]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _parse(path: Path, relative_path: str) -> tuple[Element, dict[Element, int]]:
    handler = _LineNumberedTree()
    try:
        with path.open("rb") as handle:
            defusedxml.sax.parse(handle, handler, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except _NotIati as error:
        raise UnreadableFile(f"{relative_path}: the root element is <{error}>, not <{IATI_ROOT}>; "
                             "this is not an IATI activity file") from None
    except _Oversized as error:
        raise UnreadableFile(f"{relative_path}: {error} at line {handler.current_line()}; no IATI activity file "
                             "holds that, so it is refused before it fills memory") from None
    except DTDForbidden:
        raise UnreadableFile(
            f"{relative_path}: line {handler.current_line()} declares a DTD (<!DOCTYPE ...>); DTDs and entities are "
            "refused because they enable XXE and entity-expansion attacks, and IATI files never need them") from None
    except DefusedXmlException as error:
        raise UnreadableFile(f"{relative_path}: unsafe XML refused at line {handler.current_line()}: {error}") from None
    except SAXParseException as error:
        raise UnreadableFile(
            f"{relative_path}: not well-formed XML at line {error.getLineNumber()}, column {error.getColumnNumber()}: "
            f"{error.getMessage()} (truncated or damaged file?)") from None
    return handler.builder.close(), handler.lines


def _activity_rows(activity: Element, lines: dict[Element, int]) -> Iterator[Row]:
    identifier = _text(activity.find("iati-identifier"))
    for result_index, result in enumerate(activity.findall("result"), start=1):
        for indicator_index, indicator in enumerate(result.findall("indicator"), start=1):
            context: Row = {
                "iati_identifier": identifier,
                "result_index": str(result_index),
                "result_type": _attribute(result, "type"),
                "result_title": _text(result.find("title/narrative")),
                "aggregation_status": _attribute(result, "aggregation-status"),
                "indicator_index": str(indicator_index),
                "indicator_ref": _attribute(indicator.find("reference"), "code"),
                "indicator_title": _text(indicator.find("title/narrative")),
                "measure": _attribute(indicator, "measure") or DEFAULT_MEASURE,
                "ascending": _attribute(indicator, "ascending") or DEFAULT_ASCENDING,
            }
            for baseline in indicator.findall("baseline"):
                yield _measured_row(context, baseline, lines, _attribute(baseline, "iso-date"), None)
            for period in indicator.findall("period"):
                start = _attribute(period.find("period-start"), "iso-date")
                end = _attribute(period.find("period-end"), "iso-date")
                for measured in period:
                    if measured.tag in MEASURED_ELEMENTS:
                        yield _measured_row(context, measured, lines, start, end)


def _measured_row(context: Row, measured: Element, lines: dict[Element, int],
                  period_start: str | None, period_end: str | None) -> Row:
    value_text = measured.get("value")
    dimensions = sorted((dimension.get("name", ""), dimension.get("value", ""))
                        for dimension in measured.findall("dimension"))
    return {
        "_row_number": lines[measured],
        **context,
        "element": measured.tag,
        "period_start": period_start,
        "period_end": period_end,
        "value_text": None if value_text is None or value_text.strip().lower() in NO_VALUE else value_text,
        "value": decimal_value(value_text),
        "disaggregation": ";".join(f"{name}={value}" for name, value in dimensions) or "total",
    }


def decimal_value(text: str | None) -> str | None:
    """The plain decimal a publisher's @value means, or None when it is not a number.

    A plain decimal is taken as it is. A comma, or a dot used more than once, followed by groups of
    exactly three digits separates thousands ("50,000" is fifty thousand, as in English-locale
    spreadsheets; "1.234.567"); a comma followed by other digits is a decimal comma
    ("12254,1"); a grouped number ends in the other mark's decimals ("1.234,5", "1,234.5"). Anything
    else with words or symbols in it ("2015:<3%") is no number: it stays in value_text only.
    """
    if text is None:
        return None
    text = text.strip()
    if PLAIN_DECIMAL.fullmatch(text):
        return text  # as the schema asks: "1.234" is one point two three four
    if THOUSANDS.fullmatch(text):
        return re.sub(r"[,.]", "", text)
    if DECIMAL_COMMA.fullmatch(text):
        return text.replace(",", ".")
    grouped = GROUPED_WITH_DECIMALS.fullmatch(text)
    if grouped:
        group = grouped.group("group")
        decimal = "." if group == "," else ","
        return text.replace(group, "").replace(decimal, ".")
    return None


def _attribute(element: Element | None, name: str) -> str | None:
    """The attribute as written; an empty attribute counts as absent."""
    return (element.get(name) or None) if element is not None else None


def _text(element: Element | None) -> str | None:
    """Element text without the surrounding layout whitespace; empty counts as absent."""
    return ((element.text or "").strip() or None) if element is not None else None
