# -*- coding: utf-8 -*-
"""Controller-side loading of `src`: YAML documents, directories, and the content-keyed parse cache."""
from __future__ import annotations

import os

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.spo.security_profiles.plugins.plugin_utils import src_action

DOC = "apiVersion: v1\nkind: SeccompProfile\nmetadata: {name: a}\nspec: {defaultAction: SCMP_ACT_LOG}\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("SPO_SRC_CACHE_DIR", str(directory))
    return directory


def test_unchanged_file_is_served_from_the_cache(tmp_path, cache, monkeypatch):
    path = tmp_path / "p.yaml"
    path.write_text(DOC + "---\n" + DOC.replace("name: a", "name: b"))
    first = src_action.load_path(str(path))
    assert [d["metadata"]["name"] for d in first] == ["a", "b"]
    assert len(os.listdir(cache)) == 1
    # a second load must not parse YAML at all
    monkeypatch.setattr(src_action.yaml, "load_all", lambda *a, **k: pytest.fail("parsed again"))
    assert src_action.load_path(str(path)) == first


def test_changed_file_is_parsed_again(tmp_path, cache):
    path = tmp_path / "p.yaml"
    path.write_text(DOC)
    src_action.load_path(str(path))
    path.write_text(DOC.replace("SCMP_ACT_LOG", "SCMP_ACT_ERRNO"))
    assert src_action.load_path(str(path))[0]["spec"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert len(os.listdir(cache)) == 2


@pytest.mark.parametrize("text", [
    DOC + "created: 2026-11-23\n",             # a YAML date is no JSON value
    DOC.replace("metadata: {name: a}", "metadata: {name: a, 1: one}"),  # a non-string key
])
def test_documents_json_cannot_hold_are_not_cached(tmp_path, cache, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    docs = src_action.load_path(str(path))
    assert docs and not (cache.exists() and os.listdir(cache))


def test_malformed_yaml_fails_naming_the_file_and_is_never_cached(tmp_path, cache):
    path = tmp_path / "bad.yaml"
    path.write_text("kind: [unclosed\n")
    for dummy in range(2):
        with pytest.raises(AnsibleActionFail, match="bad.yaml: malformed YAML"):
            src_action.load_path(str(path))
    assert not (cache.exists() and os.listdir(cache))


def test_empty_cache_dir_setting_disables_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPO_SRC_CACHE_DIR", "")
    path = tmp_path / "p.yaml"
    path.write_text(DOC)
    assert src_action.load_path(str(path))[0]["kind"] == "SeccompProfile"


def test_directory_loads_yaml_files_sorted(tmp_path, cache):
    (tmp_path / "b.yml").write_text(DOC.replace("name: a", "name: b"))
    (tmp_path / "a.yaml").write_text(DOC)
    (tmp_path / "notes.txt").write_text("not yaml")
    assert [d["metadata"]["name"] for d in src_action.load_path(str(tmp_path))] == ["a", "b"]
