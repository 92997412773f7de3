"""The generated documents are current, and every source's schema is well formed."""

import datetime as dt

import pytest

from mel_pipeline.cli import main
from mel_pipeline.reference.catalogue import load_registry
from mel_pipeline.reference.catalogue_docs import render_pages
from mel_pipeline.settings import REPO_ROOT
from mel_pipeline.staging.contract import SOURCES
from mel_pipeline.staging.contract_doc import render_contract
from mel_pipeline.staging.validation import compile_validation


def test_the_committed_contract_document_is_current():
    committed = (REPO_ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    assert committed == render_contract(), "run `make docs` and commit docs/"


def test_the_committed_indicator_pages_are_current():
    pages = render_pages(load_registry(REPO_ROOT / "indicators", SOURCES))
    folder = REPO_ROOT / "docs" / "indicators"
    committed = {path.name: path.read_text(encoding="utf-8") for path in folder.glob("*.md")}
    assert committed == pages, "run `make docs` and commit docs/indicators/"


def test_mel_docs_creates_an_output_folder_that_does_not_exist(tmp_path, capsys):
    out = tmp_path / "not" / "yet" / "docs"
    assert main(["docs", "--out", str(out)]) == 0
    assert (out / "data-contract.md").read_text(encoding="utf-8") == render_contract()
    assert sorted(path.name for path in (out / "indicators").iterdir()) == sorted(
        render_pages(load_registry(REPO_ROOT / "indicators", SOURCES)))


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_schema_compiles_to_sql(name):
    source = SOURCES[name]
    schema = source.schema(dt.date(2025, 12, 31))
    query = compile_validation(source, schema, "raw", "key", set())
    assert query.output_columns[-2:] == [("_source_file", "VARCHAR"), ("_row_number", "BIGINT")]
    assert all(col.metadata.get("kind") for col in schema.columns.values())
