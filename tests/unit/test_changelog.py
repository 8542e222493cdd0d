# -*- coding: utf-8 -*-
"""The changelog is antsibull-changelog's: fragments lint clean and CHANGELOG.md is generated.

Changes go into ``changelogs/fragments/``; ``changelogs/changelog.yaml`` holds the releases and
``antsibull-changelog generate`` writes CHANGELOG.md from it, so the committed CHANGELOG.md must be
exactly what it generates.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import ROOT, VENV_BIN

TOOL = os.path.join(VENV_BIN, "antsibull-changelog")


def _tool() -> str:
    if not os.path.exists(TOOL):
        pytest.skip(reason="needs .venv/bin/antsibull-changelog (requirements.txt; make setup)")
    return TOOL


def _copy(dest: str) -> None:
    """The files git knows (tracked and untracked, not ignored), as hack/sanity.sh copies them."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if os.path.isfile(os.path.join(ROOT, rel)):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), os.path.join(dest, rel))


def _run(cwd: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    return subprocess.run([_tool(), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_changelog_lint_passes():
    proc = _run(ROOT, "lint")
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
    assert os.listdir(os.path.join(ROOT, "changelogs", "fragments")), "no fragments to lint"


def test_changelog_lint_refuses_a_bad_fragment(tmp_path):
    _copy(str(tmp_path))
    with open(tmp_path / "changelogs" / "fragments" / "bad.yml", "w", encoding="utf-8") as handle:
        handle.write("improvements:\n  - not a section antsibull-changelog knows\n")
    proc = _run(str(tmp_path), "lint")
    assert proc.returncode != 0
    assert "bad.yml" in proc.stdout + proc.stderr


def test_changelog_md_is_generated_from_changelog_yaml(tmp_path):
    _copy(str(tmp_path))
    out = str(tmp_path / "generated.md")
    proc = _run(str(tmp_path), "generate", "--output", out, "--output-format", "md")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out, encoding="utf-8") as generated, \
            open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8") as committed:
        assert committed.read() == generated.read(), \
            "CHANGELOG.md is not what antsibull-changelog generates: add a fragment instead of editing it"
