"""Marts: the published tables built from indicator results, their disclosure control, their
Great Expectations checks and Data Docs, and their atomic publication to `data/marts/`."""
