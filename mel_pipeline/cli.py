"""The `mel` command: run the pipeline, check one file, generate data, write the docs, start the UI."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

from mel_pipeline.settings import REPO_ROOT, Settings


def run(args: argparse.Namespace) -> int:
    """Materialize the whole asset graph in this process and print a per-source summary."""
    import dagster as dg

    from mel_pipeline.defs.definitions import defs
    from mel_pipeline.outputs.run_summary import print_run_summary
    from mel_pipeline.warehouse import refresh_lock

    settings = Settings.from_env()
    if settings.uses_development_key:
        print("note: MEL_PSEUDONYM_KEY is not set; using the development key (fine for sample data only)")
    logging.getLogger("dagster").setLevel(logging.WARNING)
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def("full_refresh")  # the job the schedule runs, so runs show one name in the UI
    with refresh_lock(settings):
        result = job.execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            tags={"mel/trigger": "cli"},
        )
    print_run_summary(settings, result)
    return 0 if result.success else 1


def check(args: argparse.Namespace) -> int:
    """Validate one file against a source's contract without loading it; list every problem."""
    from mel_pipeline.staging.checkfile import check_file

    problems, result = check_file(Path(args.file), args.source, Settings.from_env())
    for problem in problems:
        print(problem)
    print(f"{args.file}: {result.rows_read} rows read, {result.rows_loaded} valid, {result.rows_rejected} rejected"
          + (" (file quarantined)" if result.status == "quarantined" else ""))
    return 1 if result.rows_rejected or result.status == "quarantined" else 0


def generate(args: argparse.Namespace) -> int:
    """Write deterministic synthetic data for every source."""
    from mel_pipeline.sample.synthetic import generate as generate_data

    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()):
        if not args.overwrite:
            print(f"{out} is not empty; pass --overwrite to replace its source folders")
            return 2
        from mel_pipeline.staging.contract import SOURCES

        for name in SOURCES:
            shutil.rmtree(out / name, ignore_errors=True)
    reference = REPO_ROOT.parent / "shared" / "reference-data"
    counts = generate_data(out, scale=args.scale, seed=args.seed, sample=args.sample,
                           reference_dir=reference if reference.is_dir() else None)
    for source, rows in counts.items():
        print(f"{source:<18} {rows:>12,} rows")
    return 0


def docs(args: argparse.Namespace) -> int:
    """Write the data contract and the indicator reference sheets as Markdown under docs/."""
    from mel_pipeline.reference.catalogue import load_registry
    from mel_pipeline.reference.catalogue_docs import render_pages
    from mel_pipeline.staging.contract import SOURCES
    from mel_pipeline.staging.contract_doc import render_contract

    out = Path(args.out)
    pages = out / "indicators"
    shutil.rmtree(pages, ignore_errors=True)
    pages.mkdir(parents=True)  # and --out itself, when it does not exist yet
    (out / "data-contract.md").write_text(render_contract(), encoding="utf-8")
    for name, text in render_pages(load_registry(Settings.from_env().indicators_dir, SOURCES)).items():
        (pages / name).write_text(text, encoding="utf-8")
    print(f"wrote {out / 'data-contract.md'} and {pages}/")
    return 0


def ui(args: argparse.Namespace) -> int:
    """Start `dagster dev` (webserver and daemon) on 127.0.0.1 with the repository's DAGSTER_HOME."""
    home = Path(os.environ.get("DAGSTER_HOME", REPO_ROOT / ".dagster_home"))
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    # A shell that started us in the background left SIGINT ignored; dagster dev needs it to stop cleanly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    dagster = Path(sys.executable).with_name("dagster")
    os.execv(str(dagster), [str(dagster), "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
                            "--host", args.host, "--port", str(args.port or Settings.from_env().ui_port)])
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mel` console command."""
    parser = argparse.ArgumentParser(prog="mel", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="materialize every asset on data/raw and print a summary").set_defaults(func=run)
    checker = commands.add_parser("check", help="validate one file without loading it (exit 1 if any row is rejected)")
    checker.add_argument("file")
    checker.add_argument("--source", required=True, help="the source whose contract applies, e.g. indicator_reports")
    checker.set_defaults(func=check)
    generator = commands.add_parser("generate", help="write deterministic synthetic data")
    generator.add_argument("--out", required=True)
    generator.add_argument("--scale", type=float, default=1.0,
                           help="1 = the shipped sample's size; every source grows in proportion (participants, "
                                "feedback, outcomes, MSC stories, CLA log, reported counts) except the projects "
                                "register (one synthetic project per 25 units), the IATI file and the sentinel series")
    generator.add_argument("--seed", type=int, default=20240601)
    generator.add_argument("--sample", action="store_true", help="include the sample's deliberate defects")
    generator.add_argument("--overwrite", action="store_true", help="replace the source folders already in --out")
    generator.set_defaults(func=generate)
    documenter = commands.add_parser("docs", help="write the data contract and indicator sheets as Markdown")
    documenter.add_argument("--out", default=str(REPO_ROOT / "docs"))
    documenter.set_defaults(func=docs)
    server = commands.add_parser("ui", help="start the Dagster UI and daemon")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, help="default: MEL_UI_PORT, else 3000")
    server.set_defaults(func=ui)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
