# -*- coding: utf-8 -*-
"""The collection tarball, built with the real ``ansible-galaxy collection build``.

The project's files (as git knows them) are copied to a temporary tree, the caches and build
outputs a working checkout accumulates are planted in it, and the tarball built from it must hold
what a user of the collection runs and none of the development, test or build files.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile

import pytest

from conftest import ROOT, VENV_BIN

# Top-level entries of the tarball: what a user of the collection needs (MANIFEST.json and
# FILES.json are written by ansible-galaxy).
USER_TOP = {
    "MANIFEST.json", "FILES.json", "README.md", "COPYING", "CHANGELOG.md", "changelogs",
    "plugins", "roles", "playbooks", "profiles", "config", "meta", "docs", "spo_cli",
    "pyproject.toml", "watches.yaml",
}

# Files a user's run reads (the roles copy spo_cli and module_utils files, deploy.yml applies
# config/default, the operator reads watches.yaml).
USER_FILES = [
    "meta/runtime.yml", "changelogs/changelog.yaml", "config/default/kustomization.yaml",
    "spo_cli/selinuxd.py", "plugins/module_utils/selinux/selinuxd.py", "playbooks/deploy.yml",
    "profiles/seccomp/log-enricher-trace.yaml",
]

# What a checkout accumulates: test caches, tool state, build outputs.
PLANTED = [
    ".hypothesis/examples/0/1", ".pytest_cache/v/cache/nodeids", "tests/output/junit.xml",
    ".collections/ansible_collections/x/y/README.md", ".venv/bin/python3", ".ansible/tmp/x",
    ".cache/pip/x", "native/build/lib/spo_linecut.so", "spo_linecut.cpython-311.so",
    "spo-security_profiles-0.0.9.tar.gz", "changelogs/.plugin-cache.yaml",
    "plugins/module_utils/.hypothesis/x", "build/lib/x.py",
]

# Development, test and build files that must stay out.
DEV_PREFIXES = (
    "tests/", "molecule/", "hack/", "images/", "native/", "bundle/", "inventory/",
    "changelogs/fragments/", ".",
)
DEV_FILES = {"Makefile", "ansible.cfg", "requirements.txt", "bundle.Dockerfile", "PROJECT"}


def _source_tree(dest: str) -> None:
    """Copy the files git knows (tracked and untracked, not ignored), as hack/sanity.sh does."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel))


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    galaxy = os.path.join(VENV_BIN, "ansible-galaxy")
    if not os.path.exists(galaxy):
        pytest.skip(reason="needs .venv/bin/ansible-galaxy (make setup)")
    if shutil.which("git") is None or not os.path.exists(os.path.join(ROOT, ".git")):
        pytest.skip(reason="needs git and a checkout to list the project's files")
    src = str(tmp_path_factory.mktemp("src"))
    out = str(tmp_path_factory.mktemp("out"))
    _source_tree(src)
    for rel in PLANTED:
        path = os.path.join(src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("planted\n")
    subprocess.run([galaxy, "collection", "build", "--output-path", out, src],
                   check=True, capture_output=True)
    (built,) = os.listdir(out)
    with tarfile.open(os.path.join(out, built)) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    return names, manifest


def test_tarball_top_level_is_what_users_need(tarball):
    names = tarball[0]
    assert {n.split("/", 1)[0] for n in names} == USER_TOP


def test_tarball_holds_every_plugin_role_and_playbook(tarball):
    names = tarball[0]
    wanted = list(USER_FILES)
    for folder in ("plugins", "roles", "playbooks", "profiles", "spo_cli"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, folder)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            wanted += [os.path.relpath(os.path.join(dirpath, f), ROOT)
                       for f in filenames if not f.endswith((".pyc", ".pyo"))]
    missing = sorted(set(wanted) - set(names))
    assert not missing, "not in the tarball: %s" % missing


def test_tarball_leaves_out_caches_builds_and_development_files(tarball):
    names = tarball[0]
    leaked = [n for n in names
              if n.startswith(DEV_PREFIXES) or n in DEV_FILES or "/." in "/" + n
              or n.endswith((".so", ".tar.gz", ".pyc")) or "__pycache__" in n]
    assert not leaked, "development or cache files in the tarball: %s" % leaked
    assert not [n for n in names if n in PLANTED]


def test_manifest_declares_kubernetes_core(tarball):
    manifest = tarball[1]
    deps = manifest["collection_info"]["dependencies"]
    assert set(deps) == {"kubernetes.core"}
    spec = deps["kubernetes.core"]
    # the version the pinned `ansible` brings (and the image installs) satisfies the range
    from ansible.galaxy.dependency_resolution.versioning import meets_requirements
    installed = subprocess.run(
        [os.path.join(VENV_BIN, "python"), "-c",
         "import json, ansible_collections.kubernetes.core as m, os;"
         "print(json.load(open(os.path.join(list(m.__path__)[0], 'MANIFEST.json')))"
         "['collection_info']['version'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert meets_requirements(installed, spec), (installed, spec)
    assert not meets_requirements("7.0.0", spec)
