"""Discovering raw files: content hashes remembered between runs, read again whenever a file may have changed."""

import os

from mel_pipeline.readers import files
from mel_pipeline.readers.files import HashCache, discover, sha256_of


def test_a_file_is_hashed_again_only_when_it_may_have_changed(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    (raw / "targets").mkdir(parents=True)
    kept, edited = raw / "targets" / "a.csv", raw / "targets" / "b.csv"
    kept.write_text("x,y\n1,2\n")
    edited.write_text("x,y\n3,4\n")
    cache = tmp_path / "hashes.json"
    read = []
    monkeypatch.setattr(files, "sha256_of", lambda path: read.append(path.name) or sha256_of(path))

    def hashes() -> dict[str, str]:
        cached = HashCache(cache)
        found = {file.relative_path: file.sha256 for file in discover(raw / "targets", raw, ("csv",), cached)}
        cached.save()
        return found

    first = hashes()
    stamp = edited.stat()
    edited.write_text("x,y\n5,6\n")  # the same size, and the old modification time put back
    os.utime(edited, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    second = hashes()
    cache.write_text("{not json")
    third = hashes()
    assert read == ["a.csv", "b.csv", "b.csv", "a.csv", "b.csv"]
    assert first["targets/a.csv"] == second["targets/a.csv"] == third["targets/a.csv"] == sha256_of(kept)
    assert first["targets/b.csv"] != second["targets/b.csv"] == third["targets/b.csv"] == sha256_of(edited)
