"""The IATI reader on the standard's own examples, a hand-written file and hostile or broken XML."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pytest

from mel_pipeline.raw.files import UnreadableFile
from mel_pipeline.raw.iati import decimal_value, read_iati

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "reference-data" / "iati" / "examples"
ANNOTATED = EXAMPLES / "IATI-Extra-Documentation_activity-standard-example-annotated.xml"
RESULTS_TEST = EXAMPLES / "IATI-Schemas_should-pass_24-results.xml"
SHORT_TITLE = "Treatment: timely detection and quality treatment of cases"
DOTS_TITLE = "Number of new smear positive cases detected under DOTS. (Case detection rate under DOTS)"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "activity.xml"
    path.write_text(text, encoding="utf-8")
    return path


def test_columns_and_types() -> None:
    table = read_iati(ANNOTATED, "iati/annotated.xml")
    assert table.schema.names == [
        "_row_number", "iati_identifier", "result_index", "result_type", "result_title", "aggregation_status",
        "indicator_index", "indicator_ref", "indicator_title", "measure", "ascending", "element",
        "period_start", "period_end", "value_text", "value", "disaggregation",
    ]
    assert table.schema.field("_row_number").type == pa.int64()
    assert {field.type for field in table.schema if field.name != "_row_number"} == {pa.string()}


def test_standard_example_gives_baseline_target_and_actual_disaggregated_by_sex_and_age() -> None:
    rows = read_iati(ANNOTATED, "iati/annotated.xml").to_pylist()
    common = {
        "iati_identifier": "AA-AAA-123456789-ABC123", "result_index": "1", "result_type": "1",
        "result_title": "Result title", "aggregation_status": "1", "indicator_index": "1",
        "indicator_ref": "3429", "indicator_title": "Indicator title", "measure": "1", "ascending": "1",
        "disaggregation": "age=adult;sex=female",
    }
    assert rows == [
        {"_row_number": 371, **common, "element": "baseline", "period_start": "2012-01-01", "period_end": None,
         "value_text": "10", "value": "10"},
        {"_row_number": 396, **common, "element": "target", "period_start": "2013-01-01", "period_end": "2013-03-31",
         "value_text": "10", "value": "10"},
        {"_row_number": 416, **common, "element": "actual", "period_start": "2013-01-01", "period_end": "2013-03-31",
         "value_text": "11", "value": "11"},
    ]


def test_schema_results_test_file_row_count_and_elements() -> None:
    # 13 results: 4 have no baseline or period; the "everything" result has two indicators of
    # 1 baseline + 2 periods x (target + actual) = 10 rows; the other 8 give 1, 1, 2, 1, 1, 1, 1, 2.
    table = read_iati(RESULTS_TEST, "iati/24-results.xml")
    assert table.num_rows == 20
    assert table.column("result_index").to_pylist() == (
        ["3"] * 10 + ["6", "7", "8", "8", "9", "10", "11", "12", "13", "13"])
    assert table.column("element").to_pylist().count("baseline") == 4
    assert table.column("element").to_pylist().count("target") == 8
    assert table.column("element").to_pylist().count("actual") == 8
    assert table.column("value").to_pylist() == [None] * 18 + ["110", "111"]


def test_text_value_is_kept_as_written_and_baseline_without_iso_date_has_no_period() -> None:
    first = read_iati(RESULTS_TEST, "iati/24-results.xml").to_pylist()[0]
    assert first == {
        "_row_number": 62, "iati_identifier": None, "result_index": "3", "result_type": "output",
        "result_title": "Supportive Environment:Health Systems Strengthening", "aggregation_status": "false",
        "indicator_index": "1", "indicator_ref": None,
        "indicator_title": "Number and % of public laboratories enabled to perform sputum tests",
        "measure": "NDP", "ascending": "true", "element": "baseline", "period_start": None, "period_end": None,
        "value_text": "N=35;P=55", "value": None, "disaggregation": "total",
    }


def test_dimension_disaggregated_target_and_second_indicator() -> None:
    rows = read_iati(RESULTS_TEST, "iati/24-results.xml").to_pylist()
    assert rows[18] == {
        "_row_number": 342, "iati_identifier": None, "result_index": "13", "result_type": "output",
        "result_title": SHORT_TITLE, "aggregation_status": "false", "indicator_index": "1", "indicator_ref": "B1",
        "indicator_title": DOTS_TITLE, "measure": "Unit", "ascending": "true", "element": "target",
        "period_start": "2009-01-01", "period_end": "2009-12-31", "value_text": "110", "value": "110",
        "disaggregation": "xxx=yyyy",
    }
    assert (rows[19]["element"], rows[19]["disaggregation"], rows[19]["_row_number"]) == ("actual", "xxx=yyy", 347)
    assert (rows[9]["indicator_index"], rows[9]["element"], rows[9]["period_start"], rows[9]["value_text"]) == (
        "2", "actual", "2010-01-01", "N=43;P=58")


HAND_WRITTEN = """<?xml version="1.0" encoding="UTF-8"?>
<iati-activities version="2.03">
 <iati-activity>
  <iati-identifier>US-GOV-1-IL-35000</iati-identifier>
  <result type="2" aggregation-status="0">
   <title><narrative>  Sindicatos legitimados  </narrative><narrative xml:lang="en">Unions</narrative></title>
   <indicator>
    <title><narrative>Contratos legitimados</narrative></title>
    <baseline year="2021" value="1,200"/>
    <baseline year="2022" iso-date="2022-01-01" value="-3.5"><dimension name="sexo" value="mujer"/></baseline>
    <period>
     <period-start iso-date="2023-01-01"/>
     <period-end iso-date="2023-12-31"/>
     <target value="40"><dimension name="sexo" value="mujer"/><dimension name="estado" value="Puebla"/></target>
     <target value="60"><dimension name="sexo" value="hombre"/><dimension name="estado" value="Puebla"/></target>
     <actual value=" 37 "/>
    </period>
   </indicator>
  </result>
 </iati-activity>
 <iati-activity>
  <iati-identifier>US-GOV-1-IL-36000</iati-identifier>
  <result type="1">
   <indicator measure="2" ascending="0"><reference vocabulary="99" code="CAP-01"/><reference code="X"/></indicator>
   <indicator measure="2" ascending="0">
    <reference vocabulary="99" code="CAP-02"/>
    <period><period-start iso-date="2024-01-01"/><period-end iso-date="2024-06-30"/><actual/></period>
   </indicator>
  </result>
 </iati-activity>
</iati-activities>
"""


def test_hand_written_file(tmp_path: Path) -> None:
    table = read_iati(write(tmp_path, HAND_WRITTEN), "iati/hand.xml")
    assert table.column("_row_number").to_pylist() == [9, 10, 14, 15, 16, 27]
    assert table.column("element").to_pylist() == ["baseline", "baseline", "target", "target", "actual", "actual"]
    assert table.column("disaggregation").to_pylist() == [
        "total", "sexo=mujer", "estado=Puebla;sexo=mujer", "estado=Puebla;sexo=hombre", "total", "total"]
    assert table.column("value_text").to_pylist() == ["1,200", "-3.5", "40", "60", " 37 ", None]
    # "1,200" is twelve hundred with a thousands separator.
    assert table.column("value").to_pylist() == ["1200", "-3.5", "40", "60", "37", None]
    assert table.column("period_start").to_pylist() == [None, "2022-01-01", "2023-01-01", "2023-01-01", "2023-01-01",
                                                        "2024-01-01"]
    first, last = table.to_pylist()[0], table.to_pylist()[-1]
    assert (first["result_title"], first["measure"], first["ascending"], first["indicator_ref"]) == (
        "Sindicatos legitimados", "1", "1", None)
    assert (last["iati_identifier"], last["result_index"], last["indicator_index"], last["indicator_ref"],
            last["measure"], last["ascending"], last["aggregation_status"], last["result_title"]) == (
        "US-GOV-1-IL-36000", "1", "2", "CAP-02", "2", "0", None, None)


def test_empty_activity_file_gives_an_empty_table(tmp_path: Path) -> None:
    table = read_iati(write(tmp_path, '<iati-activities version="2.03"/>'), "iati/empty.xml")
    assert table.num_rows == 0
    assert table.num_columns == 17


XXE = """<?xml version="1.0"?>
<!DOCTYPE iati-activities [
  <!ENTITY secret SYSTEM "file:///etc/passwd">
]>
<iati-activities><iati-activity><iati-identifier>&secret;</iati-identifier></iati-activity></iati-activities>
"""
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE iati-activities [\n <!ENTITY lol0 "lol">\n'
    + "".join(f' <!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">\n' for level in range(1, 10))
    + ']>\n<iati-activities><iati-activity><iati-identifier>&lol9;</iati-identifier></iati-activity></iati-activities>\n'
)
DTD_REFUSED = ("iati/hostile.xml: line 2 declares a DTD (<!DOCTYPE ...>); DTDs and entities are refused because they "
               "enable XXE and entity-expansion attacks, and IATI files never need them")


@pytest.mark.parametrize("text", [XXE, BILLION_LAUGHS,
                                  '<?xml version="1.0"?>\n<!DOCTYPE iati-activities SYSTEM "http://example.invalid/x.dtd">'
                                  '\n<iati-activities/>\n'],
                         ids=["xxe", "billion-laughs", "external-dtd"])
def test_dtds_are_refused_before_anything_is_expanded_or_fetched(tmp_path: Path, text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(UnreadableFile) as refused:
        read_iati(write(tmp_path, text), "iati/hostile.xml")
    assert time.perf_counter() - started < 1
    assert str(refused.value) == DTD_REFUSED


def test_truncated_file(tmp_path: Path) -> None:
    first_100_lines = "".join(RESULTS_TEST.read_text(encoding="utf-8").splitlines(keepends=True)[:100])
    with pytest.raises(UnreadableFile) as unreadable:
        read_iati(write(tmp_path, first_100_lines), "iati/cut.xml")
    assert str(unreadable.value) == ("iati/cut.xml: not well-formed XML at line 101, column 0: no element found "
                                     "(truncated or damaged file?)")


def test_mismatched_tag_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match=r"^iati/bad\.xml: not well-formed XML at line 4, column 4: mismatched tag"):
        read_iati(write(tmp_path, "<iati-activities>\n <iati-activity>\n  <result>\n  </indicator>\n"), "iati/bad.xml")


def test_other_root_is_not_iati(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile) as unreadable:
        read_iati(write(tmp_path, '<?xml version="1.0"?>\n<iati-organisations version="2.03"/>\n'), "iati/org.xml")
    assert str(unreadable.value) == ("iati/org.xml: the root element is <iati-organisations>, not <iati-activities>; "
                                     "this is not an IATI activity file")


@pytest.mark.parametrize("written, number", [
    ("50,000", "50000"), ("1,234,567", "1234567"), ("1.234.567", "1234567"),   # thousands separators
    ("12254,1", "12254.1"), ("0,5", "0.5"),                                     # decimal commas
    ("1.234,5", "1234.5"), ("1,234.5", "1234.5"), ("1.234.567,25", "1234567.25"),
    ("1.234", "1.234"), (" 42 ", "42"), ("-3.5", "-3.5"), (".5", ".5"),      # plain decimals as written
    ("2015:<3%", None), ("null", None), ("12,5%", None), ("1,23,4", None), ("1,234.567,8", None), (None, None),
])
def test_a_publishers_way_of_writing_a_number_gives_its_plain_decimal(written, number):
    assert decimal_value(written) == number


def test_null_as_a_value_is_no_value(tmp_path: Path) -> None:
    rows = read_iati(write(tmp_path, HAND_WRITTEN.replace('value=" 37 "', 'value="null"')), "iati/hand.xml").to_pylist()
    assert [(row["value_text"], row["value"]) for row in rows if row["element"] == "actual"] == [(None, None), (None, None)]
