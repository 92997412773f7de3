"""No direct identifier and no pseudonym key anywhere a refresh writes or prints.

One `mel run` on the sample, to which a survey export with respondents' names and phones and a
participants file whose rows are rejected for many reasons (with their identifiers on them) are added,
with a distinctive MEL_PSEUDONYM_KEY and its own DAGSTER_HOME. Every name, CURP, phone and email in
the participants and feedback files is then looked for in every table and column of the working
warehouse and of the marts, in the Parquet copies, the Excel workbook, the officers' report and the
Data Docs, the run's output and Dagster's own storage. The search is by whole words, ignoring case:
a name is found when its words appear in a row, in order, anywhere in a value or a page.
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from mel_pipeline.marts.build import rejected_rows_sql
from mel_pipeline.settings import REPO_ROOT, Settings
from mel_pipeline.staging.contract import SOURCES
from mel_pipeline.staging.ingest import ingest_source
from mel_pipeline.warehouse import open_warehouse
from tests.conftest import FIXTURE_AS_OF, settings_for

pytestmark = pytest.mark.slow

KEY = "pseudonym-key-Zq81-never-to-be-printed"
IDENTIFIER_COLUMNS = {"participants": ("full_name", "curp", "phone", "email"),
                      "feedback": ("respondent_name", "respondent_phone")}
SURVEY_WITH_CONTACTS = """\
"datos/proyecto";"datos/grupo_actor";"datos/estado";"contacto/nombre_contacto";"contacto/telefono_contacto";\
"percepcion/mejora_inspeccion";"percepcion/coercion_observada";"percepcion/cumplimiento_empleador";\
"derechos/derechos_conocidos";"_uuid";"_submission_time";"_index"
"MAP";"trabajador";"Puebla";"Herminia Zavaleta Cruz";"+52 222 431 7788";"4";"2";"3";"voto_secreto";\
"5a1f0000-0000-4000-8000-000000000001";"2023-05-02T10:00:00";"1"
"MAP";"sindicato";"Puebla";"Leocadio Villaseñor Paz";"+52 222 431 7789";"2";"4";"2";"";\
"5a1f0000-0000-4000-8000-000000000002";"2023-05-02T11:00:00";"2"
"MAP";"trabajador";"Puebla";"Aurelia Bustamante Ochoa";"no tengo";"3";"3";"3";"";\
"5a1f0000-0000-4000-8000-000000000003";"2023-05-02T12:00:00";"3"
"MAP";"trabajador";"Puebla";"Cirilo Manjarrez Soto";"+52 222 431 7790";"3";"3";"3";"";\
"5a1f0000-0000-4000-8000-000000000004";"2023-05-02T13:00:00"
"NOPE";"trabajador";"Puebla";"Dorotea Quiroga Lemus";"+52 222 431 7791";"5";"1";"1";"";\
"5a1f0000-0000-4000-8000-000000000005";"2023-05-02T14:00:00";"5"
"""
PARTICIPANTS_HEADER = ("proyecto,id_evento,fecha_evento,canal,nombre_completo,curp,telefono,correo,sexo,edad,estado,"
                       "tipo_participante,puntaje_pre,puntaje_post")
REJECTED_PARTICIPANTS = "\n".join([
    PARTICIPANTS_HEADER,
    "MAP,MAP-P-01,2023-03-01,taller,Eufrosina Larrañaga Pinto,LAPE900101MQTRNF0,+52 442 555 0101,"
    "eufrosina.larranaga@example.org,Mujer,31,Querétaro,trabajadora,40,80",
    "MAP,MAP-P-01,2023-03-01,taller,Bonifacio Arellano Tapia,ARTB800101HQTRPN05,+52 442 555 0102,"
    "bonifacio.arellano@example.org,Hombre,7,Querétaro,trabajador,40,80",
    "MAP,MAP-P-01,2023-03-01,taller,Bonifacio Arellano Tapia,ARTB800101HQTRPN05,+52 442 555 0102,"
    "bonifacio.arellano@example.org,Hombre,44,Querétaro,trabajador,40,80",
    "MAP,MAP-P-01,2023-03-01,taller,Graciela Ontiveros Luna,,+52 442 555 0103,graciela@@example,Mujer,29,"
    "Querétaro,trabajadora,40,80,sobra",
    "NOPE,MAP-P-01,2023-03-01,taller,Teodomiro Saucedo Rey,SART700101HQTRPN09,+52 442 555 0104,,Hombre,50,"
    "Querétaro,trabajador,40,80",
    "MAP,MAP-P-01,2031-03-01,taller,Macaria Izquierdo Bravo,IZBM950101MQTZRC03,(442) 555-0105,"
    "macaria.izquierdo@example.org,Mujer,28,Querétaro,trabajadora,40,80",
]) + "\n"
TOKEN = re.compile(r"[\w@.+-]+")


def words(text: str) -> list[str]:
    """Lower-case words, with the punctuation that can end a sentence or lead a phone number trimmed."""
    return [word for word in (token.strip(".-+_") for token in TOKEN.findall(text.lower())) if word]


def as_phrase(text: str) -> str:
    return " ".join(words(text))


class Finder:
    """Finds any of a set of phrases (whole words, in order) in text."""

    def __init__(self, phrases: set[str]):
        self.phrases = {as_phrase(phrase) for phrase in phrases} - {""}
        self.longest = max(len(phrase.split()) for phrase in self.phrases)

    def found_in(self, text: str) -> set[str]:
        tokens = words(text)
        return {phrase for size in range(1, self.longest + 1) for start in range(len(tokens) - size + 1)
                if (phrase := " ".join(tokens[start:start + size])) in self.phrases}


def header_names(path: Path, delimiter: str) -> list[str]:
    """Column names as the readers match them: a survey's group path cut to its last segment."""
    first = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""), delimiter=delimiter))
    return [re.split(r"[/-]", name)[-1] for name in first]


def identifiers_in(raw: Path) -> set[str]:
    """Every name, CURP, phone and email, as written, in the identifier columns of the person files.

    Only values shaped like one count (a name of two words or more, a phone of 8 digits or more, an
    email with @, a CURP of 10 characters or more): a phone cell that reads 'no tengo' is not a phone.
    """
    shapes = {"full_name": lambda value: len(words(value)) >= 2, "respondent_name": lambda value: len(words(value)) >= 2,
              "curp": lambda value: len(value) >= 10, "email": lambda value: "@" in value,
              "phone": lambda value: len(re.sub(r"\D", "", value)) >= 8,
              "respondent_phone": lambda value: len(re.sub(r"\D", "", value)) >= 8}
    found = set()
    for source, columns in IDENTIFIER_COLUMNS.items():
        spellings = {}
        for name in columns:
            column = SOURCES[source].schema(FIXTURE_AS_OF).columns[name]
            spellings.update({spelling: name for spelling in [name, *column.metadata["aliases"]]})
        for path in sorted((raw / source).glob("*.csv")):
            text = path.read_text(encoding="utf-8-sig")
            first_line = text.split("\n", 1)[0]
            delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
            positions = {index: spellings[name.strip().lower()]
                         for index, name in enumerate(header_names(path, delimiter)) if name.strip().lower() in spellings}
            for row in list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))[1:]:
                found |= {row[index].strip() for index, column in positions.items()
                          if index < len(row) and shapes[column](row[index].strip())}
    return found


def with_phone_digits(identifiers: set[str]) -> set[str]:
    """The identifiers, and each phone also as its digits and its last ten digits (how it is normalised)."""
    digits = {re.sub(r"\D", "", value) for value in identifiers if "@" not in value and re.search(r"\d{3}", value)}
    return identifiers | {number for value in digits if len(value) >= 8 for number in (value, value[-10:])}


def database_texts(connection: duckdb.DuckDBPyConnection, where: str = "") -> dict[str, list[str]]:
    """Every distinct value of every column of every table, as text, by 'table.column'."""
    texts = {}
    for table, column in connection.execute(
            f"SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal {where}").fetchall():
        texts[f"{table}.{column}"] = [value for (value,) in connection.execute(
            f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{table}" WHERE "{column}" IS NOT NULL').fetchall()]
    return texts


def duckdb_file_texts(path: Path) -> dict[str, list[str]]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return database_texts(connection)
    finally:
        connection.close()


def sqlite_texts(path: Path) -> list[str]:
    """Every text value in every table of a SQLite file (Dagster's run, event and schedule storage)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        texts = []
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for row in connection.execute(f'SELECT * FROM "{table}"').fetchall():
                texts += [value if isinstance(value, str) else value.decode("utf-8", "ignore")
                          for value in row if isinstance(value, (str, bytes))]
        return texts
    finally:
        connection.close()


@dataclass
class Run:
    """A finished refresh: its folder, its raw input and what it printed."""

    root: Path
    raw: Path
    output: str

    @property
    def marts(self) -> Path:
        return self.root / "marts"


@pytest.fixture(scope="module")
def run(tmp_path_factory, sample_raw) -> Run:
    root = tmp_path_factory.mktemp("privacy")
    raw = root / "raw"
    shutil.copytree(sample_raw, raw)
    (raw / "feedback" / "encuesta_con_contactos.csv").write_text(SURVEY_WITH_CONTACTS, encoding="utf-8")
    (raw / "participants" / "MAP_2023_con_rechazos.csv").write_text(REJECTED_PARTICIPANTS, encoding="utf-8")
    (root / "dagster").mkdir()
    environment = {**os.environ, "MEL_RAW_DIR": str(raw), "MEL_WAREHOUSE": str(root / "warehouse" / "mel.duckdb"),
                   "MEL_MARTS_DIR": str(root / "marts"), "MEL_AS_OF": "2025-12-31", "MEL_PSEUDONYM_KEY": KEY,
                   "DAGSTER_HOME": str(root / "dagster"), "DAGSTER_DISABLE_TELEMETRY": "true",
                   "GX_ANALYTICS_ENABLED": "false"}
    completed = subprocess.run([sys.executable, "-m", "mel_pipeline.cli", "run"], cwd=REPO_ROOT, env=environment,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return Run(root, raw, completed.stdout + completed.stderr)


@pytest.fixture(scope="module")
def finder(run) -> Finder:
    return Finder(with_phone_digits(identifiers_in(run.raw)))


def leaks(finder: Finder, texts: dict[str, list[str]]) -> dict[str, set[str]]:
    """For each place, the identifiers found in it."""
    found = {place: set().union(*(finder.found_in(text) for text in values)) for place, values in texts.items()}
    return {place: phrases for place, phrases in found.items() if phrases}


def test_the_input_really_holds_identifiers_and_the_search_finds_them_there(run, finder):
    written = Finder(identifiers_in(run.raw))
    assert len(written.phrases) > 5000
    assert {"herminia zavaleta cruz", "52 222 431 7788", "eufrosina.larranaga@example.org"} <= written.phrases
    raw_texts = {path.name: [path.read_text(encoding="utf-8")] for source in IDENTIFIER_COLUMNS
                 for path in (run.raw / source).glob("*.csv")}
    assert set().union(*leaks(written, raw_texts).values()) == written.phrases
    assert written.phrases < finder.phrases


def test_the_run_loaded_the_people_files_and_rejected_the_planted_rows(run):
    connection = duckdb.connect(str(run.root / "warehouse" / "mel.duckdb"), read_only=True)
    try:
        audit = dict(connection.execute("SELECT file, rows_rejected FROM load_audit WHERE file IN "
                                        "('feedback/encuesta_con_contactos.csv', 'participants/MAP_2023_con_rechazos.csv')"
                                        ).fetchall())
    finally:
        connection.close()
    assert audit == {"feedback/encuesta_con_contactos.csv": 3, "participants/MAP_2023_con_rechazos.csv": 6}


def test_no_identifier_in_any_table_of_the_working_warehouse(run, finder):
    assert leaks(finder, duckdb_file_texts(run.root / "warehouse" / "mel.duckdb")) == {}


def test_no_identifier_in_any_table_of_the_marts(run, finder):
    assert leaks(finder, duckdb_file_texts(run.marts / "mel.duckdb")) == {}


def test_no_identifier_in_the_parquet_copies(run, finder):
    files = sorted((run.marts / "parquet").glob("*.parquet"))
    assert len(files) == 9
    connection = duckdb.connect()
    for path in files:
        connection.execute(f"CREATE TABLE \"{path.stem}\" AS SELECT * FROM read_parquet('{path}')")
    assert leaks(finder, database_texts(connection)) == {}


def test_no_identifier_in_the_excel_workbook(run, finder):
    workbook = load_workbook(run.marts / "mel_marts.xlsx", read_only=True)
    texts = {sheet.title: [str(value) for row in sheet.iter_rows(values_only=True) for value in row
                           if value is not None] for sheet in workbook.worksheets}
    workbook.close()
    assert sorted(texts) == ["contents", *sorted(path.stem for path in (run.marts / "parquet").glob("*.parquet"))]
    assert leaks(finder, texts) == {}


def test_no_identifier_in_the_report_or_the_data_docs(run, finder):
    pages = sorted((run.marts / "report").rglob("*.html")) + sorted((run.marts / "quality").rglob("*.html"))
    assert run.marts / "report" / "index.html" in pages
    texts = {str(page.relative_to(run.marts)): [html.unescape(page.read_text(encoding="utf-8"))] for page in pages}
    assert leaks(finder, texts) == {}


def test_no_identifier_in_the_run_output_or_dagster_storage(run, finder):
    texts = {"output": [run.output]}
    for path in sorted((run.root / "dagster").rglob("*")):
        if path.is_file():
            texts[str(path)] = sqlite_texts(path) if path.suffix == ".db" else [path.read_text("utf-8", "ignore")]
    assert any(path.endswith(".db") for path in texts)
    assert leaks(finder, texts) == {}


def test_the_pseudonym_key_is_nowhere_in_what_the_run_wrote_or_printed(run):
    assert KEY not in run.output
    holding = []
    for path in sorted(run.root.rglob("*")):
        if not path.is_file() or path.is_relative_to(run.raw):
            continue
        contents = [path.read_bytes()]
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as workbook:
                contents += [workbook.read(name) for name in workbook.namelist()]
        if any(KEY.encode() in content for content in contents):
            holding.append(path)
    # Compressed storage could hide it from a byte search: read the databases back as text too.
    for database in [run.root / "warehouse" / "mel.duckdb", run.marts / "mel.duckdb"]:
        if any(KEY in value for values in duckdb_file_texts(database).values() for value in values):
            holding.append(database)
    assert holding == []


def test_an_identifier_typed_into_the_wrong_column_is_not_kept_or_published(tmp_path, sample_raw):
    raw = tmp_path / "raw"
    shutil.copytree(sample_raw / "projects", raw / "projects")
    (raw / "participants").mkdir()
    (raw / "participants" / "columns_swapped.csv").write_text("\n".join([
        PARTICIPANTS_HEADER,
        "MAP,MAP-S-01,2023-03-01,taller,Mujer,,+52 442 555 0199,,Filomena Cárdenas Ruelas,31,Querétaro,trabajadora,40,80",
        "MAP,MAP-S-01,2023-03-01,taller,Hombre,,,,Hombre,anacleto.ibarra@example.org,Querétaro,trabajador,40,80",
    ]) + "\n", encoding="utf-8")
    finder = Finder({"Filomena Cárdenas Ruelas", "anacleto.ibarra@example.org"})
    settings = settings_for(tmp_path, raw, as_of=FIXTURE_AS_OF, pseudonym_key=KEY)
    with open_warehouse(settings) as connection:
        ingest_source(connection, settings, "projects")
        ingest_source(connection, settings, "participants")
        kept = database_texts(connection, "AND table_name = 'rejected_rows'")
        published = {"published rejected_rows": [str(row) for row in connection.execute(rejected_rows_sql()).fetchall()]}
    assert leaks(finder, kept) == {} and leaks(finder, published) == {}


def test_the_settings_never_show_the_pseudonym_key():
    settings = Settings.from_env(pseudonym_key=KEY)
    assert KEY not in repr(settings) and KEY not in str(settings)
