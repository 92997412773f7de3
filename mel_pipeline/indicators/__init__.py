"""Indicators: the engine that runs each indicator sheet's SQL over the staging tables into
`indicator_results`, recomputing only what changed."""
