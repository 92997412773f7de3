"""Reference: what every layer may read, the controlled vocabularies, public reference data and
the indicator catalogue (its sheets under `indicators/<theme>/`, loaded and checked)."""
