"""The Dagster layer: assets, checks, jobs, schedules and sensors wired around the plain library."""
