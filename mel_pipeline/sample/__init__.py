"""Sample: the deterministic synthetic generator behind `data/raw/`, outside the flow of real data."""
