"""mel-pipeline: grantees' monitoring data in, CAMEL indicators and published marts out.

The packages are layers, and data flows down this list; a module imports only from its own layer
or the ones above it in the list (tests/test_layers.py checks this):

- `settings`, `warehouse`, `summaries`: the ground floor every layer stands on;
- `reference`: vocabularies, public reference data and the indicator catalogue;
- `raw`: finding files in `data/raw/` and reading their bytes into rows;
- `staging`: one contract per source, compiled to validation SQL, loaded into `stg_*`;
- `indicators`: the engine that runs `indicators/<theme>/*.sql` into indicator results;
- `marts`: the published tables, their disclosure control, expectations and publication;
- `outputs`: what people read from the published marts (report, workbook, run summary).

`sample` generates the shipped synthetic data, outside the flow of real data. `defs` is the thin
Dagster edge and `cli` the `mel` command; both may use every layer.
"""
