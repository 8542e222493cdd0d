# -*- coding: utf-8 -*-
"""Atomic writes of node files: one file, a batch (flushed with one syncfs), stale temporary files, and a
batch that fails part way (nothing renamed, nothing left behind)."""
from __future__ import annotations

import os

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.host import nodefs


@pytest.mark.parametrize("count", [1, nodefs.SYNCFS_FROM - 1, nodefs.SYNCFS_FROM, 200])
def test_batch_written_and_stale_temps_removed(tmp_path, count):
    stale = tmp_path / ".p0000.json.abc123.tmp"   # what a killed writer of p0000.json left
    other = tmp_path / ".unrelated.json.abc123.tmp"
    stale.write_bytes(b"half")
    other.write_bytes(b"not ours to remove")
    (tmp_path / "p0000.json").write_bytes(b"old")
    items = [(str(tmp_path / ("p%04d.json" % i)), b"{\"n\": %d}" % i) for i in range(count)]
    nodefs.atomic_write_many(items, mode=0o640)
    for path, data in items:
        assert open(path, "rb").read() == data
        assert os.stat(path).st_mode & 0o777 == 0o640
    assert not stale.exists() and other.exists()
    assert sorted(os.listdir(tmp_path)) == sorted([".unrelated.json.abc123.tmp"] + [os.path.basename(item[0]) for item in items])


def test_failed_batch_renames_nothing_and_leaves_no_temp(tmp_path):
    (tmp_path / "p0000.json").write_bytes(b"old")
    items = [(str(tmp_path / ("p%04d.json" % i)), b"new") for i in range(nodefs.SYNCFS_FROM)]
    items.append((str(tmp_path / "missing-dir" / "x.json"), b"new"))
    with pytest.raises(OSError):
        nodefs.atomic_write_many(items)
    assert os.listdir(tmp_path) == ["p0000.json"]
    assert (tmp_path / "p0000.json").read_bytes() == b"old"
