# -*- coding: utf-8 -*-
"""hack/scorecard_image.py: the image scorecard runs its tests in, as one OCI archive (no registry, no Go needed here)."""
from __future__ import annotations

import os
import sys

import yaml

from crd import ROOT

sys.path.insert(0, os.path.join(ROOT, "hack"))
import build_image  # noqa: E402  pylint: disable=import-error,wrong-import-position
import oci_image  # noqa: E402  pylint: disable=import-error,wrong-import-position
import scorecard_image  # noqa: E402  pylint: disable=import-error,wrong-import-position


def _fake_binary(tmp_path, text="#!/bin/sh\necho scorecard\n"):
    path = tmp_path / "scorecard-test"
    path.write_text(text)
    return str(path)


def test_the_archive_is_the_binary_alone_named_as_the_bundle_names_it(tmp_path):
    info = scorecard_image.build(build_image.Cache(str(tmp_path / "cache")), _fake_binary(tmp_path))
    archive = oci_image.read_archive(str(info["archive"]))
    assert archive.refs == info["refs"] == [scorecard_image.reference()]
    entries = {name: entry for name, entry in archive.all_entries().items() if not entry.isdir()}
    assert list(entries) == ["usr/local/bin/scorecard-test"]
    assert entries["usr/local/bin/scorecard-test"].mode == 0o755
    config = archive.config["config"]
    assert config["Entrypoint"] == ["/usr/local/bin/scorecard-test"] and config["User"] == "1001"
    with open(os.path.join(ROOT, "bundle", "tests", "scorecard", "config.yaml")) as handle:
        images = {t["image"] for stage in yaml.safe_load(handle)["stages"] for t in stage["tests"]}
    assert images == {scorecard_image.reference()}


def test_the_same_binary_gives_the_same_archive_and_another_a_new_one(tmp_path):
    cache = build_image.Cache(str(tmp_path / "cache"))
    first = scorecard_image.build(cache, _fake_binary(tmp_path))
    written = os.stat(str(first["archive"])).st_mtime_ns
    again = scorecard_image.build(cache, _fake_binary(tmp_path))
    assert again["manifest_digest"] == first["manifest_digest"]
    assert os.stat(str(again["archive"])).st_mtime_ns == written  # not rewritten
    other = scorecard_image.build(cache, _fake_binary(tmp_path, "#!/bin/sh\necho other\n"))
    assert other["manifest_digest"] != first["manifest_digest"]


def test_the_test_image_is_of_the_operator_sdk_that_makes_the_bundle():
    tools = scorecard_image._go_tools()  # pylint: disable=protected-access
    sdk, test = tools.PINS["operator-sdk"], tools.PINS["scorecard-test"]
    assert (test.module, test.version) == (sdk.module, sdk.version)
    assert scorecard_image.reference().endswith(":" + sdk.version)
