"""The survey-export reader on ODK Central's own expected exports, a Kobo-style export and broken files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from mel_pipeline.raw.files import UnreadableFile
from mel_pipeline.raw.survey import read_survey_export

ODK_EXPORTS = Path(__file__).resolve().parents[2] / "shared" / "reference-data" / "survey-exports" / "odk-central"
KOBO_EXPORT = Path(__file__).resolve().parent / "fixtures" / "survey" / "kobo_feedback.csv"
ODK_SUBMISSION_META = ["KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "Status",
                       "ReviewState", "DeviceID", "Edits", "FormVersion"]


def read_odk(name: str) -> pa.Table:
    table, malformed = read_survey_export(ODK_EXPORTS / name, f"feedback/{name}", ",")
    assert malformed == []
    return table


def write(tmp_path: Path, text: str, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_odk_flat_export() -> None:
    table = read_odk("briefcase_01_mytestform.csv")
    assert table.column_names == ["_row_number", "SubmissionDate", "name", "age", "hometown", *ODK_SUBMISSION_META]
    assert table.schema.field("_row_number").type == pa.int64()
    assert {field.type for field in table.schema if field.name != "_row_number"} == {pa.string()}
    assert table.column("_row_number").to_pylist() == [2, 3, 4]
    assert table.to_pylist()[2] == {
        # SubmissionDate was 2018-01-01T00:00:00.000Z: UTC, shown in Mexico City time (UTC-6).
        "_row_number": 4, "SubmissionDate": "2017-12-31T18:00:00", "name": "Chelsea", "age": "38",
        "hometown": "San Francisco, CA", "KEY": "three", "SubmitterID": None, "SubmitterName": None,
        "AttachmentsPresent": "0", "AttachmentsExpected": "0", "Status": None, "ReviewState": None, "DeviceID": None,
        "Edits": "0", "FormVersion": "version",
    }


def test_odk_group_paths_are_shortened_to_the_question_name() -> None:
    table = read_odk("briefcase_11_structuredform.csv")
    assert table.column_names == ["_row_number", "SubmissionDate", "instanceID", "name", "type", "street", "city",
                                  *ODK_SUBMISSION_META]
    assert table.column("instanceID").to_pylist() == ["one", "two", "three"]
    assert table.column("type").to_pylist() == ["Apartment", "Condo", "House"]
    assert table.column("city").to_pylist() == ["Seattle, WA", "Portland, OR", "San Francisco, CA"]
    # The same form exported without group paths reads identically.
    assert read_odk("briefcase_12_structuredform.csv").equals(table)


def test_odk_select_multiple_keeps_the_question_and_drops_its_option_columns() -> None:
    table = read_odk("briefcase_10_selectMultiple.csv")
    assert table.column_names == ["_row_number", "SubmissionDate", "instanceID", "q1", "q2", *ODK_SUBMISSION_META]
    assert table.column("q1").to_pylist() == ["a b", "b"]
    assert table.column("q2").to_pylist() == ["x y z", "m x"]


def test_odk_repeat_child_table_is_read_like_any_export() -> None:
    table = read_odk("briefcase_17_multirepeat-child.csv")
    assert table.column_names == ["_row_number", "name", "age", "PARENT_KEY", "KEY"]
    assert table.column("PARENT_KEY").to_pylist() == ["two", "two", "two", "three"]
    assert table.to_pylist()[3] == {"_row_number": 5, "name": "Candace", "age": "2", "PARENT_KEY": "three",
                                    "KEY": "three/children/child[1]"}


def test_odk_geopoint_components_keep_their_question_name() -> None:
    table = read_odk("briefcase_09_mytestform.csv")
    assert table.column_names[3:8] == ["age", "location_Latitude", "location_Longitude", "location_Altitude",
                                       "location_Accuracy"]
    assert table.column("location_Accuracy").to_pylist() == ["3.14", None, None]


def test_names_differing_only_in_case_keep_their_full_path() -> None:
    table = read_odk("briefcase_19_pathprefix.csv")
    assert table.column_names[:4] == ["_row_number", "SubmissionDate", "name", "children_status"]
    assert table.column("children_status").to_pylist() == ["Living at home"]
    assert table.column("Status").to_pylist() == [None]


def test_kobo_export() -> None:
    table, malformed = read_survey_export(KOBO_EXPORT, "feedback/kobo_feedback.csv", ";")
    assert malformed == []
    assert table.column_names == [
        "_row_number", "start", "end", "proyecto", "grupo_actor", "estado", "nombre", "mejora_inspeccion",
        "derechos_conocidos", "comentario", "_id", "uuid", "submission_time", "_index",
    ]
    assert table.column("estado").to_pylist() == ["Querétaro", "Nuevo León", "Coahuila"]
    assert table.column("derechos_conocidos").to_pylist() == ["libertad_sindical voto_libre", None, "contrato_colectivo"]
    assert table.column("comentario").to_pylist() == ["Mejoró la inspección; hubo más visitas", None,
                                                      'Dijo: "ya votamos"']
    assert table.to_pylist()[0] == {
        "_row_number": 2, "start": "2024-05-14T09:12:00.000-06:00", "end": "2024-05-14T09:20:31.000-06:00",
        "proyecto": "CTR-01", "grupo_actor": "trabajadora", "estado": "Querétaro", "nombre": "José Pérez Núñez",
        "mejora_inspeccion": "4", "derechos_conocidos": "libertad_sindical voto_libre",
        "comentario": "Mejoró la inspección; hubo más visitas", "_id": "101",
        "uuid": "7c1f6e2a-3b5d-4c1e-9a8f-2d4b6e8f0a11", "submission_time": "2024-05-14T09:21:05", "_index": "1",  # 15:21:05 UTC, UTC-6
    }


def test_submission_times_are_mexico_city_local_time_before_semesters_are_assigned(tmp_path: Path) -> None:
    """UTC server times become America/Mexico_City times, daylight saving time (until October 2022) included."""
    kobo = write(tmp_path, "_uuid;_submission_time;_index\n"
                           "a;2024-01-01T05:30:00;1\n"       # 23:30 on 31 December in Mexico City (UTC-6)
                           "b;2022-07-01T04:30:00.250;2\n"   # 23:30:00.25 on 30 June 2022 (UTC-5, summer time)
                           "c;2024-07-01T06:00:00+00:00;3\n"  # midnight: stays in 2024 H2
                           "d;ayer;4\n")                      # not a time: left for validation to report
    table, _ = read_survey_export(kobo, "feedback/kobo.csv", ";")
    assert table.column("submission_time").to_pylist() == [
        "2023-12-31T23:30:00", "2022-06-30T23:30:00.250000", "2024-07-01T00:00:00", "ayer"]
    odk = write(tmp_path, "SubmissionDate,meta-instanceID\n2024-01-01T05:30:00.000Z,uuid:1\n", "odk.csv")
    table, _ = read_survey_export(odk, "feedback/odk.csv", ",")
    assert table.column("SubmissionDate").to_pylist() == ["2023-12-31T23:30:00"]


def test_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffSubmissionDate,meta-instanceID,datos-estado,KEY\n2024-05-01,uuid:1,Sonora,uuid:1\n"
                     .encode("utf-8"))
    table, _ = read_survey_export(path, "feedback/bom.csv", ",")
    assert table.to_pylist() == [{"_row_number": 2, "SubmissionDate": "2024-05-01", "instanceID": "uuid:1",
                                  "estado": "Sonora", "KEY": "uuid:1"}]


def test_rows_with_another_cell_count_are_set_aside_with_their_row_number(tmp_path: Path) -> None:
    text = ('_uuid;datos/estado;comentario\n'
            'a1;Puebla;bien\n'
            'a2;Jalisco;"dos\nlíneas"\n'
            'a3;Sonora;sí;extra\n'
            '\n'
            'a4;Yucatán\n'
            'a5;Oaxaca;\n')
    table, malformed = read_survey_export(write(tmp_path, text), "feedback/messy.csv", ";")
    assert malformed == [(4, "expected 3 cells, found 4"), (6, "expected 3 cells, found 2")]
    assert table.to_pylist() == [
        {"_row_number": 2, "uuid": "a1", "estado": "Puebla", "comentario": "bien"},
        {"_row_number": 3, "uuid": "a2", "estado": "Jalisco", "comentario": "dos\nlíneas"},
        {"_row_number": 7, "uuid": "a5", "estado": "Oaxaca", "comentario": None},
    ]


def test_missing_select_multiple_question_is_rebuilt_from_its_options(tmp_path: Path) -> None:
    odk = "SubmissionDate,g1-q2/m,g1-q2/n,KEY\n2024-05-01,1,1,k1\n2024-05-02,0,0,k2\n2024-05-03,0,true,k3\n"
    table, _ = read_survey_export(write(tmp_path, odk, "odk.csv"), "feedback/odk.csv", ",")
    assert table.column_names == ["_row_number", "SubmissionDate", "q2", "KEY"]
    assert table.column("q2").to_pylist() == ["m n", None, "n"]

    kobo = ("_uuid;datos/estado;derechos/conocidos/voto;derechos/conocidos/contrato\n"
            "u1;Puebla;1;0\nu2;Sonora;;\nu3;Jalisco;1;1\n")
    table, _ = read_survey_export(write(tmp_path, kobo, "kobo.csv"), "feedback/kobo.csv", ";")
    assert table.column_names == ["_row_number", "uuid", "estado", "conocidos"]
    assert table.column("conocidos").to_pylist() == ["voto", None, "voto contrato"]


def test_kobo_group_of_questions_is_not_mistaken_for_options(tmp_path: Path) -> None:
    kobo = "_uuid;perfil/edad;perfil/hijos\nu1;34;1\nu2;51;0\n"
    table, _ = read_survey_export(write(tmp_path, kobo), "feedback/kobo.csv", ";")
    assert table.to_pylist() == [{"_row_number": 2, "uuid": "u1", "edad": "34", "hijos": "1"},
                                 {"_row_number": 3, "uuid": "u2", "edad": "51", "hijos": "0"}]


def test_same_question_name_in_two_groups_keeps_both_full_paths(tmp_path: Path) -> None:
    kobo = "_uuid;trabajador/estado;empresa/estado\nu1;Puebla;Jalisco\n"
    table, _ = read_survey_export(write(tmp_path, kobo), "feedback/kobo.csv", ";")
    assert table.to_pylist() == [{"_row_number": 2, "uuid": "u1", "trabajador_estado": "Puebla",
                                  "empresa_estado": "Jalisco"}]


def test_plain_table_keeps_names_as_written(tmp_path: Path) -> None:
    table, _ = read_survey_export(write(tmp_path, "id,datos/estado,g-q\n1,Puebla,x\n"), "feedback/plain.csv", ",")
    assert table.to_pylist() == [{"_row_number": 2, "id": "1", "datos/estado": "Puebla", "g-q": "x"}]


def test_header_only_file_gives_an_empty_table_with_its_columns(tmp_path: Path) -> None:
    table, malformed = read_survey_export(write(tmp_path, "SubmissionDate;meta-instanceID;g-estado;KEY\n"),
                                          "feedback/empty.csv", ";")
    assert (table.num_rows, malformed) == (0, [])
    assert table.schema == pa.schema([("_row_number", pa.int64()), ("SubmissionDate", pa.string()),
                                      ("instanceID", pa.string()), ("estado", pa.string()), ("KEY", pa.string())])


@pytest.mark.parametrize(("text", "message"), [
    ("", "feedback/bad.csv: no header row; the first line must name the columns"),
    ('a,b\n1,2\n3,"unclosed\n4,5\n', "feedback/bad.csv: unreadable CSV in the record starting at line 3: "
                                       "unexpected end of data"),
    ("id,nombre,nombre\n1,Ana,Eva\n", "feedback/bad.csv: more than one column is named 'nombre'; "
                                      "rename them so that each column can be told apart"),
], ids=["empty", "unclosed-quote", "duplicate-column"])
def test_unreadable_exports(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UnreadableFile) as unreadable:
        read_survey_export(write(tmp_path, text), "feedback/bad.csv", ",")
    assert str(unreadable.value) == message


def test_records_read_in_several_batches_give_the_same_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = ('_uuid;datos/estado;comentario\n'
            'a1;Puebla;bien\n'
            'a2;;"dos\nlíneas"\n'
            '\n'
            'a3;Sonora;sí;extra\n'
            'a4;Jalisco;\n'
            'a5;Yucatán\n'
            'a6;Oaxaca;"con ""comillas"""\n')
    path = write(tmp_path, text)
    expected_rows = [
        {"_row_number": 2, "uuid": "a1", "estado": "Puebla", "comentario": "bien"},
        {"_row_number": 3, "uuid": "a2", "estado": None, "comentario": "dos\nlíneas"},
        {"_row_number": 6, "uuid": "a4", "estado": "Jalisco", "comentario": None},
        {"_row_number": 8, "uuid": "a6", "estado": "Oaxaca", "comentario": 'con "comillas"'},
    ]
    expected_malformed = [(5, "expected 3 cells, found 4"), (7, "expected 3 cells, found 2")]
    in_one_batch = read_survey_export(path, "feedback/batches.csv", ";")
    monkeypatch.setattr("mel_pipeline.raw.survey.BATCH_RECORDS", 1)
    in_batches_of_one = read_survey_export(path, "feedback/batches.csv", ";")
    for table, malformed in (in_one_batch, in_batches_of_one):
        assert table.to_pylist() == expected_rows
        assert malformed == expected_malformed
        assert [column.num_chunks for column in table.columns] == [1, 1, 1, 1]
    assert in_batches_of_one[0].equals(in_one_batch[0])


def test_option_ticks_ignore_case_and_surrounding_blanks(tmp_path: Path) -> None:
    odk = ("SubmissionDate,g-q/a,g-q/b,g-q/c,KEY\n"
           "d1, TRUE ,1\t,yes,k1\n"
           "d2,\u00a01,False,,k2\n"
           "d3,0,,TRUE,k3\n")
    table, _ = read_survey_export(write(tmp_path, odk, "odk.csv"), "feedback/odk.csv", ",")
    assert table.column("q").to_pylist() == ["a b", "a", "c"]

    kobo = "_uuid;d/q/a;d/q/b\nu1; FALSE ;True\nu2;0;\n"
    table, _ = read_survey_export(write(tmp_path, kobo, "kobo.csv"), "feedback/kobo.csv", ";")
    assert table.to_pylist() == [{"_row_number": 2, "uuid": "u1", "q": "b"},
                                 {"_row_number": 3, "uuid": "u2", "q": None}]
