"""Raw: finding the files of each source under `data/raw/` and reading their bytes into text rows
(CSV, Excel, survey exports, IATI XML), with encodings, hashes and locks."""
