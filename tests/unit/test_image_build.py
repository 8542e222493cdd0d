"""`make images`: the OCI archive writer (hack/oci_image.py) and the image it builds.

The writer tests need nothing but Python.  The image tests run hack/build-image.sh
(warm: about a second; cold: mmdebstrap, under a minute with a near mirror) and check
the archive the way containerd reads it: index -> manifest -> config and layers, every
digest and diff_id, the reference annotations, and the files the pods need.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HACK = os.path.join(ROOT, "hack")
IMAGE = "localhost/spo/security-profiles-operator"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HACK, name + ".py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


oci = _load("oci_image")


# -- the writer ---------------------------------------------------------------------------
def _tree(root: str) -> None:
    os.makedirs(os.path.join(root, "usr/bin"))
    os.makedirs(os.path.join(root, "etc"))
    with open(os.path.join(root, "usr/bin/tool"), "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(os.path.join(root, "usr/bin/tool"), 0o755)
    with open(os.path.join(root, "etc/conf"), "w") as f:
        f.write("a=1\n")
    os.link(os.path.join(root, "etc/conf"), os.path.join(root, "etc/conf.hard"))
    os.symlink("tool", os.path.join(root, "usr/bin/alias"))


def _layer(tmp_path, name: str, src: str):
    writer = oci.LayerWriter(str(tmp_path / name))
    writer.add_tree(src)
    writer.add_bytes("opt/app/run", b"#!/bin/sh\n", mode=0o755)
    return writer.close()


def test_layer_is_reproducible_and_keeps_types(tmp_path):
    src = str(tmp_path / "tree")
    _tree(src)
    first = _layer(tmp_path, "a.tar.gz", src)
    os.utime(os.path.join(src, "etc/conf"), (1, 12345))  # mtimes are fixed in the layer
    second = _layer(tmp_path, "b.tar.gz", src)
    assert (first.digest, first.diff_id, first.size) == (second.digest, second.diff_id, second.size)
    with tarfile.open(first.path, "r:gz") as t:
        members = {m.name: m for m in t.getmembers()}
    names = list(members)
    # parents come before children, siblings in sorted order
    assert names.index("opt") < names.index("opt/app") < names.index("opt/app/run")
    assert names.index("etc/conf") < names.index("etc/conf.hard")
    assert members["usr/bin/tool"].mode == 0o755 and members["etc/conf"].mode & 0o777 == 0o644
    assert members["usr/bin/alias"].issym() and members["usr/bin/alias"].linkname == "tool"
    assert members["etc/conf.hard"].islnk() and members["etc/conf.hard"].linkname == "etc/conf"
    assert {m.mtime for m in members.values()} == {oci.FIXED_MTIME}
    assert {(m.uid, m.gid) for m in members.values()} == {(0, 0)}


def test_archive_round_trip_and_corruption(tmp_path):
    src = str(tmp_path / "tree")
    _tree(src)
    layer = _layer(tmp_path, "l.tar.gz", src)
    config = oci.image_config([layer], env=["PATH=/usr/bin"], cmd=["/usr/bin/tool"], workdir="/")
    refs = ["localhost/x/y:abc", "localhost/x/y:dev"]
    out = str(tmp_path / "img.tar")
    digests = oci.write_archive(out, config, [layer], refs)
    archive = oci.read_archive(out)
    assert archive.refs == refs
    assert archive.manifest_digest == digests["manifest"]
    assert archive.index_digest == digests["index"]
    assert archive.config["rootfs"]["diff_ids"] == [layer.diff_id]
    assert archive.config["config"]["Cmd"] == ["/usr/bin/tool"]
    for entry in archive.index["manifests"]:
        assert entry["annotations"][oci.REF_ANNOTATION] == entry["annotations"][oci.CONTAINERD_ANNOTATION]
        assert entry["platform"] == {"architecture": "amd64", "os": "linux"}
    assert "usr/bin/tool" in archive.layer_names(0)
    # the same inputs give the same archive bytes
    out2 = str(tmp_path / "img2.tar")
    oci.write_archive(out2, config, [layer], refs)
    with open(out, "rb") as a, open(out2, "rb") as b:
        assert a.read() == b.read()

    # a damaged layer blob is found
    bad = str(tmp_path / "bad.tar")
    with tarfile.open(out) as t, tarfile.open(bad, "w") as w:
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else None
            if data is not None and m.name == archive.layer_members[0]:
                data = data[:-9] + bytes([data[-9] ^ 0xFF]) + data[-8:]
            w.addfile(m, None if data is None else __import__("io").BytesIO(data))
    with pytest.raises(oci.ArchiveError, match="layer 0"):
        oci.read_archive(bad)


def test_write_archive_needs_a_reference(tmp_path):
    with pytest.raises(ValueError, match="refs"):
        oci.write_archive(str(tmp_path / "x.tar"), b"{}", [], [])


# -- the inputs ---------------------------------------------------------------------------
def _pins(path: str) -> dict:
    pins = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, sep, version = line.partition("==")
                assert sep, f"{path}: {line!r} is not pinned with =="
                assert version, f"{path}: {line!r} is not pinned with =="
                pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_image_requirements_use_the_project_pins():
    image = _pins(os.path.join(ROOT, "images/requirements-image.txt"))
    project = _pins(os.path.join(ROOT, "requirements.txt"))
    for name in ("kubernetes", "pyyaml", "ansible-core", "ansible-runner", "cryptography"):
        assert name in image, f"images/requirements-image.txt lacks {name}"
    wrong = {n: (v, project.get(n)) for n, v in image.items() if project.get(n) != v}
    assert not wrong, f"pins differing from requirements.txt (image, project): {wrong}"


def test_image_packages_cover_the_daemons():
    with open(os.path.join(ROOT, "images/packages.txt")) as f:
        packages = {line.split("#")[0].strip() for line in f} - {""}
    assert {"python3", "python3-venv", "libseccomp2", "semodule-utils", "policycoreutils", "secilc",
            "ca-certificates", "bpftrace"} <= packages


# -- the image ----------------------------------------------------------------------------
CACHE = os.environ.get("SPO_IMAGE_CACHE") or "/var/cache/spo-images"


def _base_cached() -> bool:
    return os.path.isdir(os.path.join(CACHE, "layers")) and any(
        n.startswith("base-") and n.endswith(".json") for n in os.listdir(os.path.join(CACHE, "layers")))


def _build() -> dict:
    proc = subprocess.run([os.path.join(HACK, "build-image.sh"), "--json", "--cache", CACHE],
                          capture_output=True, text=True, timeout=1800, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def built():
    if os.geteuid() != 0 and not _base_cached():
        pytest.skip(reason="building the image's Debian base needs root (mmdebstrap --mode=root) and none is cached")
    if os.geteuid() == 0 and not shutil.which("mmdebstrap") and not shutil.which("apt-get") and not _base_cached():
        pytest.skip(reason="neither mmdebstrap nor apt-get to install it, and no cached base layer")
    if not os.access(os.path.dirname(CACHE) if not os.path.exists(CACHE) else CACHE, os.W_OK):
        pytest.skip(reason=f"image cache {CACHE} is not writable (set SPO_IMAGE_CACHE)")
    info = _build()
    return info, oci.read_archive(info["archive"])


@pytest.mark.slow
def test_archive_is_valid_and_named(built):
    info, archive = built
    tag = archive.manifest_digest[7:19]
    assert info["tag"] == tag
    assert archive.refs == [f"{IMAGE}:{tag}", f"{IMAGE}:dev"]
    assert info["refs"] == archive.refs
    assert len(archive.manifest["layers"]) == 3  # base, project, ansible-operator
    for layer in archive.manifest["layers"]:
        assert layer["mediaType"] == oci.MEDIA_LAYER_GZIP
    config = archive.config["config"]
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["PATH"].split(":")[:2] == ["/opt/spo/bin", "/opt/spo/venv/bin"]
    assert env["ANSIBLE_COLLECTIONS_PATH"] == "/opt/spo/collections"
    # upstream's ansible-operator image: HOME and working dir /opt/ansible, uid 1001 (so runAsNonRoot pods start
    # anywhere); the node daemons' DaemonSet sets runAsUser 0 (images/README.md)
    assert env["HOME"] == "/opt/ansible"
    assert config["WorkingDir"] == "/opt/ansible"
    assert config["User"] == "1001"
    assert archive.config["architecture"] == "amd64" and archive.config["os"] == "linux"


@pytest.mark.slow
def test_image_holds_the_commands_and_the_runtime(built):
    archive = built[1]
    entries = archive.all_entries()
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert {"spo-node-agent", "spo-selinuxd", "spo-enricher", "spo-pss", "spo-webhook"} <= set(scripts)
    for command in scripts:
        member = entries.get(f"opt/spo/bin/{command}")
        assert member is not None and member.isfile(), f"/opt/spo/bin/{command} missing"
        assert member.mode & 0o111 == 0o111
    coll = "opt/spo/collections/ansible_collections"
    for path in ("opt/spo/venv/bin/python3", "usr/bin/python3", "usr/sbin/semodule", "usr/bin/secilc",
                 "usr/lib/x86_64-linux-gnu/libseccomp.so.2", "etc/ssl/certs/ca-certificates.crt",
                 f"{coll}/kubernetes/core/MANIFEST.json",
                 f"{coll}/spo/security_profiles/galaxy.yml",
                 f"{coll}/spo/security_profiles/plugins/module_utils/seccomp/engine.py",
                 f"{coll}/spo/security_profiles/spo_cli/selinuxd.py",
                 "opt/spo/lib/spo_cli", "opt/spo/venv/lib/python3.11/site-packages/spo.pth"):
        assert path in entries, f"/{path} missing from the image"
    site = "opt/spo/venv/lib/python3.11/site-packages"
    for package in ("kubernetes", "yaml", "ansible", "ansible_runner", "cryptography"):
        assert f"{site}/{package}/__init__.py" in entries, f"{package} missing from /opt/spo/venv"
    assert entries["opt/spo/home"].mode & 0o1777 == 0o1777
    # operator-sdk's ansible-operator and what it needs, where upstream's base image has them
    operator = entries["usr/local/bin/ansible-operator"]
    assert operator.isfile() and operator.mode & 0o111 == 0o111 and operator.size > 10 << 20
    assert entries["opt/ansible/watches.yaml"].linkname == \
        "../spo/collections/ansible_collections/spo/security_profiles/watches.yaml"
    assert (entries["opt/ansible"].uid, entries["opt/ansible"].gid) == (1001, 0)
    assert entries["opt/ansible"].mode & 0o770 == 0o770
    dist = [n for n in entries if n.startswith("opt/spo/lib/") and n.endswith(".dist-info/entry_points.txt")]
    assert len(dist) == 1
    assert "[ansible_runner.plugins]\nhttp = spo_cli.runner_http" in archive.read_file(dist[0]).decode()
    assert not any(n.startswith(f"{coll}/spo/security_profiles/tests/") for n in entries)


@pytest.mark.slow
def test_second_build_is_warm_and_reuses_the_base(built):
    info, archive = built
    t0 = time.monotonic()
    again = _build()
    elapsed = time.monotonic() - t0
    assert elapsed < 60, f"a build with a cached base took {elapsed:.0f} s"
    second = oci.read_archive(again["archive"], verify_layers=False)
    # the Debian+venv layer is reused as is; the project layer changes only with the files
    assert second.manifest["layers"][0] == archive.manifest["layers"][0]
    if second.config["config"]["Labels"]["io.spo.project-key"] == archive.config["config"]["Labels"]["io.spo.project-key"]:
        assert second.manifest_digest == archive.manifest_digest
