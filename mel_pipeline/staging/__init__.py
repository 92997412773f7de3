"""Staging: one contract per source, compiled to validation SQL; loading `stg_*` tables, rejected
rows with reasons and the load audit; person linking; the contract rendered as documentation."""
