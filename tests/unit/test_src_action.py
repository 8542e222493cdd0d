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
    monkeypatch.setattr(src_action, "load_all", lambda *a, **k: pytest.fail("parsed again"))
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


# ten anchors, each a list of nine aliases of the one before: 342 bytes that stand for ~5*10**8 items
BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    "%s: &%s [%s]\n" % (new, new, ", ".join(["*" + old] * 9)) for old, new in zip("abcdefgh", "bcdefghi"))


def test_alias_bomb_is_refused_quickly_before_it_is_built_or_cached(tmp_path, cache):
    import resource
    import time
    path = tmp_path / "lol.yaml"
    path.write_text(DOC + BILLION_LAUGHS)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(AnsibleActionFail) as info:
        src_action.load_path(str(path))
    assert time.monotonic() - started < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB: nothing was expanded
    assert str(info.value).startswith("src %s: document 0: YAML aliases would expand the document to" % path)
    assert "refused before building it" in str(info.value)
    assert not (cache.exists() and os.listdir(cache))


def test_a_few_shared_blocks_are_still_fine(tmp_path, cache):
    path = tmp_path / "shared.yaml"
    path.write_text(DOC.replace("spec: {defaultAction: SCMP_ACT_LOG}",
                                "spec:\n  defaultAction: SCMP_ACT_LOG\n  syscalls:\n"
                                "  - &rule {action: SCMP_ACT_ALLOW, names: [read, write]}\n  - *rule\n"))
    docs = src_action.load_path(str(path))
    assert docs[0]["spec"]["syscalls"] == [{"action": "SCMP_ACT_ALLOW", "names": ["read", "write"]}] * 2
