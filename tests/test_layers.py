"""The layers of `mel_pipeline` import one way only, read from the source with `ast`.

A module may import from its own layer and from the layers below it, never from one above: data flows
from raw files through staging and indicators to marts and outputs, and the code follows it. Imports
inside functions count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

from mel_pipeline.settings import REPO_ROOT

PACKAGE = REPO_ROOT / "mel_pipeline"
# Lowest first. `sample` stands beside the flow (only the edge may use it); `defs` and `cli` are the edge.
LAYERS = ["ground", "reference", "raw", "staging", "indicators", "marts", "outputs", "sample", "edge"]
GROUND_MODULES = {"settings", "warehouse", "summaries"}


def layer_of(module: str) -> str:
    """The layer of a dotted module name inside the package ('mel_pipeline.staging.ingest' -> 'staging')."""
    parts = module.split(".")[1:]
    if not parts:
        return "ground"
    head = parts[0]
    if head in GROUND_MODULES:
        return "ground"
    if head in {"defs", "cli"}:
        return "edge"
    assert head in LAYERS, f"{module}: mel_pipeline/{head} is in no layer; add it to tests/test_layers.py"
    return head


def module_name(path: Path) -> str:
    relative = path.relative_to(REPO_ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every `mel_pipeline` module a file imports, wherever the import stands."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mel_pipeline"):
            # `from mel_pipeline import settings` names a module; any other form names one with its module.
            found += ([(node.lineno, f"mel_pipeline.{alias.name}") for alias in node.names]
                      if node.module == "mel_pipeline" else [(node.lineno, node.module)])
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("mel_pipeline")]
    return found


def backward_imports() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = layer_of(module_name(path))
        for line, imported in imported_modules(path):
            other = layer_of(imported)
            if LAYERS.index(other) > LAYERS.index(own) or (other == "sample" and own != "edge" and own != "sample"):
                problems.append(f"{path.relative_to(REPO_ROOT)}:{line} ({own}) imports {imported} ({other})")
    return problems


def test_no_layer_imports_from_a_layer_above_it():
    assert backward_imports() == []


def test_the_layer_rule_sees_a_backward_import_inside_a_function(tmp_path):
    source = tmp_path / "ingest.py"
    source.write_text("def load():\n    from mel_pipeline.indicators.engine import write_catalog\n", encoding="utf-8")
    assert imported_modules(source) == [(2, "mel_pipeline.indicators.engine")]
    assert LAYERS.index(layer_of("mel_pipeline.indicators.engine")) > LAYERS.index(
        layer_of("mel_pipeline.staging.ingest"))


def test_every_module_of_the_package_is_in_a_layer():
    layers = {module_name(path): layer_of(module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert set(layers.values()) == set(LAYERS)
    assert {name for name, layer in layers.items() if layer == "ground"} == {
        "mel_pipeline", "mel_pipeline.settings", "mel_pipeline.warehouse", "mel_pipeline.summaries"}
