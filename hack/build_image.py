"""``make images``: the project's one container image, built without a registry.

    localhost/spo/security-profiles-operator:<content hash>  (and :dev)

Two layers, each cached by content under ``$SPO_IMAGE_CACHE``
(default /var/cache/spo-images, outside the checkout so clean clones reuse it):

1. base: Debian bookworm (mmdebstrap --variant=minbase) with images/packages.txt,
   a venv at /opt/spo/venv with images/requirements-image.txt (wheels fetched
   on the host with the project's pip, installed offline in the chroot), the
   kubernetes.core collection from the project's .venv, the ``spo`` user
   (uid 65532), upstream's ansible-operator user ``ansible`` (uid 1001, group
   0) and its HOME /opt/ansible (the image's user, HOME and working dir).  Key: the recipe version, the package
   list, the requirements, the kubernetes.core version.
2. project: the collection's files (tracked and new, not ignored) at
   /opt/spo/collections/ansible_collections/spo/security_profiles, the
   commands of pyproject.toml's [project.scripts] in /opt/spo/bin, hash-checked
   .pyc files and the audit parser's C speed-up.  Key: the files' content.
3. operator: operator-sdk's ``ansible-operator`` (built from its Go module at the
   pin of hack/go_tools.py) at /usr/local/bin and ``/opt/ansible/watches.yaml``
   (a link to the collection's), as upstream's ansible-operator base image has
   them.  Key: the binary.

The archive (OCI image layout tar) is written to ``$CACHE/archives``; the tag is
the manifest digest's first 12 hex digits.  ``--import`` loads it into the test
cluster (``cluster import ARCHIVE REF`` per tag), skipped for a tag whose
digest containerd already has.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from typing import Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import oci_image  # noqa: E402  (build tooling next to this file)

IMAGE = "localhost/spo/security-profiles-operator"
SUITE = "bookworm"
MIRRORS = [
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
]
# Bump when the base recipe below changes in a way the inputs do not show.
BASE_RECIPE = "base-2"
PROJECT_RECIPE = "project-2"
OPERATOR_RECIPE = "operator-2"
# operator-sdk's Ansible operator runtime: pinned in hack/go_tools.py, run as upstream's image runs it
OPERATOR_TOOL = "ansible-operator"
OPERATOR_HOME = "opt/ansible"
OPERATOR_UID = 1001

SPO = "opt/spo"
VENV = "/opt/spo/venv"
COLLECTIONS = "opt/spo/collections"
COLLECTION = COLLECTIONS + "/ansible_collections/spo/security_profiles"
K8S_CORE = COLLECTIONS + "/ansible_collections/kubernetes/core"
PY_TAG = "python3.11"
UID = 65532
# What of the checkout goes into the image (ansible-galaxy's view of the collection,
# without tests, docs and build tooling).
PROJECT_PATHS = ["plugins", "roles", "profiles", "playbooks", "config", "meta", "spo_cli",
                 "watches.yaml", "galaxy.yml", "README.md", "COPYING", "CHANGELOG.md", "requirements.txt"]
PYC_DIRS = ("spo_cli/", "plugins/module_utils/")
DOC_EXCLUDES = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/lintian/*",
                "/usr/share/locale/*"]
DOC_INCLUDES = ["/usr/share/doc/*/copyright"]

ENV = [
    "PATH=/opt/spo/bin:/opt/spo/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/opt/ansible",
    "VIRTUAL_ENV=/opt/spo/venv",
    "ANSIBLE_COLLECTIONS_PATH=/opt/spo/collections",
    "ANSIBLE_PYTHON_INTERPRETER=/opt/spo/venv/bin/python3",
    "ANSIBLE_LOCAL_TEMP=/tmp/.ansible-local",
    "ANSIBLE_REMOTE_TEMP=/tmp/.ansible-remote",
    "PYTHONUNBUFFERED=1",
    "LANG=C.UTF-8",
]
CMD = ["/bin/sh", "-c", "echo 'security-profiles-operator image: run one of ansible-operator run, spo-node-agent, "
       "spo-selinuxd, spo-enricher, spo-pss, spo-webhook (see /opt/spo/bin)'"]


def log(msg: str) -> None:
    print(f"images: {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> "None":
    log(msg)
    raise SystemExit(1)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_list(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [line.split("#", 1)[0].strip() for line in f if line.split("#", 1)[0].strip()]


def run(cmd: Sequence[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), check=True, **kw)


class Cache:
    def __init__(self, root: str) -> None:
        self.root = root
        for sub in ("base", "layers", "archives", "wheels", "native"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def load_layer(self, name: str) -> Optional[oci_image.Layer]:
        meta = self.path("layers", name + ".json")
        if not os.path.exists(meta):
            return None
        with open(meta, encoding="utf-8") as f:
            layer = oci_image.Layer.from_json(json.load(f))
        if not os.path.exists(layer.path) or os.path.getsize(layer.path) != layer.size:
            return None
        return layer

    def save_layer(self, name: str, layer: oci_image.Layer) -> None:
        meta = self.path("layers", name + ".json")
        with open(meta + ".tmp", "w", encoding="utf-8") as f:
            json.dump(layer.to_json(), f)
        os.replace(meta + ".tmp", meta)

    def prune(self, keep: Sequence[str], pattern_dir: str, prefix: str, count: int = 4) -> None:
        """Keep the ``count`` newest entries with ``prefix`` (and everything in ``keep``)."""
        d = self.path(pattern_dir)
        entries = sorted((e for e in os.listdir(d) if e.startswith(prefix)),
                         key=lambda e: os.path.getmtime(os.path.join(d, e)), reverse=True)
        for e in entries[count:]:
            if any(k in e for k in keep):
                continue
            full = os.path.join(d, e)
            if os.path.isdir(full):
                shutil.rmtree(full, ignore_errors=True)
            else:
                os.unlink(full)


# -- base layer ---------------------------------------------------------------
def k8s_core_source() -> str:
    out = subprocess.run([os.path.join(ROOT, ".venv/bin/python"), "-c",
                          "import ansible_collections.kubernetes.core as m; print(list(m.__path__)[0])"],
                         capture_output=True, text=True, check=False)
    path = out.stdout.strip()
    if out.returncode != 0 or not os.path.isfile(os.path.join(path, "MANIFEST.json")):
        die("kubernetes.core not found in .venv (it comes with requirements.txt's `ansible`): run `make setup`")
    return path


def base_key(packages: List[str], requirements: str, k8s_core: str) -> str:
    with open(os.path.join(k8s_core, "MANIFEST.json"), encoding="utf-8") as f:
        k8s_version = json.load(f)["collection_info"]["version"]
    h = hashlib.sha256()
    for part in [BASE_RECIPE, SUITE, *MIRRORS, *DOC_EXCLUDES, *DOC_INCLUDES, "\n".join(sorted(packages)),
                 sha256_file(requirements), k8s_version, *ENV]:
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def ensure_mmdebstrap() -> None:
    if shutil.which("mmdebstrap"):
        return
    if os.geteuid() != 0:
        die("mmdebstrap is not installed and installing it needs root (apt-get install mmdebstrap)")
    log("installing mmdebstrap (Debian package)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-qq"], env=env)
    run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "--no-install-recommends",
         "mmdebstrap"], env=env, stdout=subprocess.DEVNULL)


def fetch_wheels(cache: Cache, requirements: str) -> str:
    """Wheels of the pinned requirements, built/downloaded on the host once."""
    wheels = cache.path("wheels", sha256_file(requirements)[:16])
    if os.path.exists(os.path.join(wheels, ".complete")):
        return wheels
    log("fetching wheels of images/requirements-image.txt")
    os.makedirs(wheels, exist_ok=True)
    res = subprocess.run([os.path.join(ROOT, ".venv/bin/python"), "-m", "pip", "wheel", "-q",
                          "--disable-pip-version-check", "--no-deps", "-r", requirements, "-w", wheels],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        die("pip wheel -r images/requirements-image.txt failed:\n" + (res.stderr or res.stdout)[-2000:])
    shutil.copy(requirements, os.path.join(wheels, "requirements-image.txt"))
    open(os.path.join(wheels, ".complete"), "w").close()
    return wheels


def build_rootfs(cache: Cache, key: str, packages: List[str], requirements: str, k8s_core: str) -> str:
    final = cache.path("base", key, "rootfs")
    if os.path.exists(cache.path("base", key, ".complete")):
        return final
    if os.geteuid() != 0:
        die("building the Debian base layer needs root (mmdebstrap --mode=root)")
    ensure_mmdebstrap()
    wheels = fetch_wheels(cache, requirements)
    tmp = cache.path("base", key, "rootfs.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)
    os.makedirs(os.path.dirname(tmp), exist_ok=True)
    hooks = [
        f'mkdir -p "$1/tmp/wheels" && cp -a {wheels}/. "$1/tmp/wheels/"',
        f'chroot "$1" python3 -m venv --system-site-packages {VENV}',
        f'chroot "$1" {VENV}/bin/python -m pip install -q --no-index --no-cache-dir --disable-pip-version-check '
        f'--find-links /tmp/wheels -r /tmp/wheels/requirements-image.txt',
        f'chroot "$1" {VENV}/bin/python -m pip check',
        'rm -rf "$1/tmp/wheels"',
    ]
    cmd = ["mmdebstrap", "--mode=root", "--variant=minbase", "--format=directory", "-q",
           "--include=" + ",".join(packages), "--aptopt=Acquire::Retries \"3\"",
           *[f"--dpkgopt=path-exclude={p}" for p in DOC_EXCLUDES],
           *[f"--dpkgopt=path-include={p}" for p in DOC_INCLUDES],
           *[f"--customize-hook={h}" for h in hooks],
           SUITE, tmp, *MIRRORS]
    log(f"building the Debian base (mmdebstrap {SUITE} minbase, {len(packages)} packages + venv); takes minutes")
    t0 = time.monotonic()
    # the host's pip settings (index, find-links) mean nothing inside the chroot
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = "/dev/null"
    run(cmd, env=env)
    finish_rootfs(tmp, k8s_core)
    os.replace(tmp, final)
    open(cache.path("base", key, ".complete"), "w").close()
    log(f"base root file system ready in {time.monotonic() - t0:.0f} s")
    return final


def finish_rootfs(rootfs: str, k8s_core: str) -> None:
    """The parts of the base that are files, not packages."""
    def p(rel: str) -> str:
        return os.path.join(rootfs, rel.lstrip("/"))

    with open(p("etc/passwd"), "a+", encoding="utf-8") as f:
        f.seek(0)
        if f":{UID}:" not in f.read():
            f.write(f"spo:x:{UID}:{UID}:security-profiles-operator:/opt/spo/home:/usr/sbin/nologin\n")
    with open(p("etc/group"), "a+", encoding="utf-8") as f:
        f.seek(0)
        if f":{UID}:" not in f.read():
            f.write(f"spo:x:{UID}:\n")
    with open(p("etc/passwd"), "a+", encoding="utf-8") as f:
        f.seek(0)
        if f":{OPERATOR_UID}:" not in f.read():
            # upstream's ansible-operator image user: uid 1001, group 0, HOME /opt/ansible
            f.write(f"ansible:x:{OPERATOR_UID}:0:ansible-operator:/{OPERATOR_HOME}:/usr/sbin/nologin\n")
    # its HOME as upstream's: owned by 1001, group 0 writable (OpenShift's random uids are in group 0); the
    # Deployment mounts an emptyDir on .ansible (read-only root)
    for d in (OPERATOR_HOME, OPERATOR_HOME + "/.ansible", OPERATOR_HOME + "/.ansible/tmp"):
        os.makedirs(p(d), exist_ok=True)
        os.chown(p(d), OPERATOR_UID, 0)
        os.chmod(p(d), 0o775)
    for d in ("opt/spo/bin", "opt/spo/lib", "opt/spo/home", COLLECTIONS + "/ansible_collections"):
        os.makedirs(p(d), exist_ok=True)
    # HOME: writable by uid 65532 and by any uid OpenShift assigns (sticky, like /tmp)
    os.chmod(p("opt/spo/home"), 0o1777)
    os.makedirs(p("opt/spo/home/.ansible/tmp"), exist_ok=True)
    for d in ("opt/spo/home/.ansible", "opt/spo/home/.ansible/tmp"):
        os.chmod(p(d), 0o1777)
    site = p(f"opt/spo/venv/lib/{PY_TAG}/site-packages")
    with open(os.path.join(site, "spo.pth"), "w", encoding="utf-8") as f:
        # spo_cli (a symlink the project layer puts in /opt/spo/lib) and the collections,
        # so `ansible_collections.spo.security_profiles...` imports work for the daemons
        f.write("/opt/spo/lib\n/opt/spo/collections\n")
    dest = p(K8S_CORE)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(k8s_core, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"))
    # apt's caches and logs: not needed at run time, and they carry timestamps
    for d in ("var/cache/apt", "var/lib/apt/lists", "var/log/apt"):
        for e in os.listdir(p(d)) if os.path.isdir(p(d)) else []:
            full = os.path.join(p(d), e)
            if os.path.isfile(full) or os.path.islink(full):
                os.unlink(full)
    for f in ("var/log/dpkg.log", "var/log/alternatives.log", "var/cache/ldconfig/aux-cache"):
        if os.path.exists(p(f)):
            os.unlink(p(f))


def base_layer(cache: Cache) -> Tuple[oci_image.Layer, str]:
    packages = read_list(os.path.join(ROOT, "images/packages.txt"))
    requirements = os.path.join(ROOT, "images/requirements-image.txt")
    k8s_core = k8s_core_source()
    key = base_key(packages, requirements, k8s_core)
    name = f"base-{key}-{oci_image.LAYER_FORMAT}"
    layer = cache.load_layer(name)
    if layer:
        return layer, key
    rootfs = build_rootfs(cache, key, packages, requirements, k8s_core)
    log("packing the base layer")
    t0 = time.monotonic()
    writer = oci_image.LayerWriter(cache.path("layers", name + ".tar.gz"), mtime=None)
    try:
        # real mtimes: the venv's and Debian's .pyc files are checked against them
        writer.add_tree(rootfs, skip_contents=["proc", "sys", "dev", "run", "tmp", "var/tmp"])
    except BaseException:
        writer.abort()
        raise
    layer = writer.close()
    cache.save_layer(name, layer)
    log(f"base layer {layer.size / 1e6:.1f} MB packed in {time.monotonic() - t0:.0f} s")
    return layer, key


# -- project layer ------------------------------------------------------------
def project_files() -> List[str]:
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                          "--", *PROJECT_PATHS], capture_output=True, check=True).stdout
    files = set()
    for rel in out.decode().split("\0"):
        if not rel or "__pycache__" in rel or rel.endswith(".pyc"):
            continue
        full = os.path.join(ROOT, rel)
        if os.path.islink(full) or os.path.isfile(full):
            files.add(rel)
    return sorted(files)


def _project() -> Dict[str, object]:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return dict(tomllib.load(f).get("project", {}))


def entry_points() -> Dict[str, str]:
    return dict(_project().get("scripts", {}))  # type: ignore[call-overload]


def plugin_entry_points() -> Dict[str, Dict[str, str]]:
    """pyproject.toml's [project.entry-points] (ansible-runner's event emitter plugin)."""
    return {group: dict(eps) for group, eps in dict(_project().get("entry-points", {})).items()}  # type: ignore[call-overload]


def dist_info(groups: Dict[str, Dict[str, str]]) -> Dict[str, bytes]:
    """A dist-info for /opt/spo/lib (on sys.path), so importlib.metadata finds the entry points there."""
    project = _project()
    name, version = str(project.get("name", "spo")), str(project.get("version", "0"))
    base = "opt/spo/lib/%s-%s.dist-info" % (name.replace("-", "_"), version)
    lines: List[str] = []
    for group in sorted(groups):
        lines.append("[%s]" % group)
        lines.extend("%s = %s" % (key, groups[group][key]) for key in sorted(groups[group]))
        lines.append("")
    return {base + "/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)).encode(),
            base + "/entry_points.txt": "\n".join(lines).encode(),
            base + "/top_level.txt": b"spo_cli\n"}


def project_key(files: List[str], scripts: Dict[str, str]) -> str:
    h = hashlib.sha256()
    for part in [PROJECT_RECIPE, oci_image.LAYER_FORMAT, sys.version.split()[0], json.dumps(scripts, sort_keys=True),
                 json.dumps(plugin_entry_points(), sort_keys=True)]:
        h.update(part.encode() + b"\0")
    for rel in files + ["native/spo_linecut.c"]:
        full = os.path.join(ROOT, rel)
        if not os.path.lexists(full):
            continue
        if os.path.islink(full):
            digest, mode = "link:" + os.readlink(full), "l"
        else:
            digest, mode = sha256_file(full), "x" if os.stat(full).st_mode & 0o111 else "f"
        h.update(f"{rel}\0{mode}\0{digest}\0".encode())
    return h.hexdigest()[:16]


def build_linecut(cache: Cache) -> Optional[str]:
    """The audit parser's optional C speed-up for the image's Python 3.11 (None if not buildable)."""
    src = os.path.join(ROOT, "native/spo_linecut.c")
    if not os.path.exists(src) or sys.version_info[:2] != (3, 11):
        return None
    import sysconfig

    out = cache.path("native", f"spo_linecut-{sha256_file(src)[:16]}.so")
    if os.path.exists(out):
        return out
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        log("no C compiler: the image's audit parser runs in pure Python")
        return None
    res = subprocess.run([cc, "-O2", "-Wall", "-shared", "-fPIC", "-I", sysconfig.get_paths()["include"],
                          src, "-o", out + ".tmp"], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        log("spo_linecut did not build (pure Python parser in the image): " + res.stderr.strip()[-300:])
        return None
    os.replace(out + ".tmp", out)
    return out


def script_text(target: str) -> bytes:
    module, func = target.split(":", 1)
    return (f"#!{VENV}/bin/python3\n"
            "import sys\n"
            f"from {module} import {func}\n"
            "if __name__ == '__main__':\n"
            f"    sys.exit({func}())\n").encode()


def checked_pyc(src: str, image_path: str) -> Optional[bytes]:
    """A hash-checked .pyc (valid whatever the file's mtime; None if it does not compile)."""
    with tempfile.NamedTemporaryFile(suffix=".pyc") as tmp:
        try:
            py_compile.compile(src, cfile=tmp.name, dfile="/" + image_path, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
        except py_compile.PyCompileError:
            return None
        with open(tmp.name, "rb") as f:
            return f.read()


def project_layer(cache: Cache) -> Tuple[oci_image.Layer, str]:
    files = project_files()
    scripts = entry_points()
    key = project_key(files, scripts)
    name = f"project-{key}"
    layer = cache.load_layer(name)
    if layer:
        return layer, key
    t0 = time.monotonic()
    linecut = build_linecut(cache)
    writer = oci_image.LayerWriter(cache.path("layers", name + ".tar.gz"))
    try:
        for d in ("opt", SPO, COLLECTIONS, COLLECTIONS + "/ansible_collections",
                  COLLECTIONS + "/ansible_collections/spo", "opt/spo/bin", "opt/spo/lib"):
            writer.add_dir(d)
        pycs: Dict[str, bytes] = {}
        for rel in files:
            full = os.path.join(ROOT, rel)
            target = f"{COLLECTION}/{rel}"
            if os.path.islink(full):
                writer.add_symlink(target, os.readlink(full))
                continue
            writer.add_file(target, full)
            if rel.endswith(".py") and rel.startswith(PYC_DIRS):
                pyc = checked_pyc(full, target)
                if pyc is not None:
                    d, base = os.path.split(target)
                    pycs[f"{d}/__pycache__/{base[:-3]}.cpython-311.pyc"] = pyc
        for path in sorted(pycs):
            writer.add_bytes(path, pycs[path])
        writer.add_symlink("opt/spo/lib/spo_cli", "../collections/ansible_collections/spo/security_profiles/spo_cli")
        writer.add_symlink("opt/spo/watches.yaml",
                           "collections/ansible_collections/spo/security_profiles/watches.yaml")
        if linecut:
            writer.add_file("opt/spo/lib/spo_linecut.cpython-311-x86_64-linux-gnu.so", linecut, mode=0o755)
        for cmd in sorted(scripts):
            writer.add_bytes(f"opt/spo/bin/{cmd}", script_text(scripts[cmd]), mode=0o755)
        for path, data in sorted(dist_info(plugin_entry_points()).items()):
            writer.add_bytes(path, data)
    except BaseException:
        writer.abort()
        raise
    layer = writer.close()
    cache.save_layer(name, layer)
    log(f"project layer ({len(files)} files) {layer.size / 1e6:.2f} MB in {time.monotonic() - t0:.1f} s")
    return layer, key


# -- operator layer -------------------------------------------------------------
def operator_binary() -> str:
    """ansible-operator at hack/go_tools.py's pin (built from its Go module once per version, then cached)."""
    import go_tools  # noqa: E402  (build tooling next to this file)

    cache = os.environ.get("SPO_TOOLS_CACHE", go_tools.DEFAULT_CACHE)
    try:
        return go_tools.ensure([OPERATOR_TOOL], cache, os.path.join(ROOT, ".venv", "bin"))[0]
    except (go_tools.ToolError, OSError) as exc:
        die(f"{OPERATOR_TOOL}: {exc}")
        raise


def operator_layer(cache: Cache) -> Tuple[oci_image.Layer, str]:
    binary = operator_binary()
    h = hashlib.sha256()
    for part in [OPERATOR_RECIPE, oci_image.LAYER_FORMAT, sha256_file(binary)]:
        h.update(part.encode() + b"\0")
    key = h.hexdigest()[:16]
    name = f"operator-{key}"
    layer = cache.load_layer(name)
    if layer:
        return layer, key
    t0 = time.monotonic()
    writer = oci_image.LayerWriter(cache.path("layers", name + ".tar.gz"))
    try:
        writer.add_dir("usr")
        writer.add_dir("usr/local")
        writer.add_dir("usr/local/bin")
        writer.add_file(f"usr/local/bin/{OPERATOR_TOOL}", binary, mode=0o755)
        writer.add_dir("opt")
        writer.add_dir(OPERATOR_HOME, mode=0o775, uid=OPERATOR_UID, gid=0)  # as the base has it
        writer.add_symlink(f"{OPERATOR_HOME}/watches.yaml",
                           "../spo/collections/ansible_collections/spo/security_profiles/watches.yaml")
    except BaseException:
        writer.abort()
        raise
    layer = writer.close()
    cache.save_layer(name, layer)
    log(f"operator layer ({OPERATOR_TOOL}) {layer.size / 1e6:.1f} MB in {time.monotonic() - t0:.1f} s")
    return layer, key


# -- image ----------------------------------------------------------------------
def galaxy_version() -> str:
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("version:"):
                return line.split(":", 1)[1].strip()
    return "0.0.0"


def build(cache: Cache) -> Dict[str, object]:
    base, bkey = base_layer(cache)
    proj, pkey = project_layer(cache)
    oper, okey = operator_layer(cache)
    layers = [base, proj, oper]
    config = oci_image.image_config(
        layers, env=ENV, cmd=CMD, workdir="/" + OPERATOR_HOME, user=str(OPERATOR_UID),
        labels={"org.opencontainers.image.title": "security-profiles-operator",
                "org.opencontainers.image.description": "spo.security_profiles: operator runner and node daemons",
                "org.opencontainers.image.version": galaxy_version(),
                "org.opencontainers.image.licenses": "GPL-3.0-or-later",
                "io.spo.base-key": bkey, "io.spo.project-key": pkey, "io.spo.operator-key": okey},
        history=[f"Debian {SUITE} minbase + images/packages.txt + /opt/spo/venv (base {bkey})",
                 f"collection spo.security_profiles + commands (project {pkey})",
                 f"{OPERATOR_TOOL} + /{OPERATOR_HOME}/watches.yaml (operator {okey})"])
    manifest = oci_image.manifest_for(config, layers)
    tag = oci_image.sha256_digest(manifest)[7:19]
    refs = [f"{IMAGE}:{tag}", f"{IMAGE}:dev"]
    archive = cache.path("archives", f"security-profiles-operator-{tag}.tar")
    digests = None
    if os.path.exists(archive):
        try:
            existing = oci_image.read_archive(archive, verify_layers=False)
            if existing.manifest_digest == oci_image.sha256_digest(manifest) and existing.refs == refs:
                digests = {"manifest": existing.manifest_digest, "index": existing.index_digest}
        except (oci_image.ArchiveError, OSError, ValueError, KeyError):
            digests = None
    if digests is None:
        digests = oci_image.write_archive(archive, config, layers, refs)
    link = cache.path("security-profiles-operator-dev.tar")
    if os.path.realpath(link) != os.path.realpath(archive):
        tmp_link = link + ".tmp"
        if os.path.lexists(tmp_link):
            os.unlink(tmp_link)
        os.symlink(os.path.relpath(archive, cache.root), tmp_link)
        os.replace(tmp_link, link)
    os.utime(archive)
    info = {"archive": archive, "refs": refs, "tag": tag, "manifest_digest": digests["manifest"],
            "index_digest": digests["index"], "size": os.path.getsize(archive),
            "layers": [base.size, proj.size, oper.size]}
    with open(cache.path("latest.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    os.replace(cache.path("latest.json.tmp"), cache.path("latest.json"))
    cache.prune([tag], "archives", "security-profiles-operator-")
    cache.prune([pkey], "layers", "project-", count=8)
    cache.prune([okey], "layers", "operator-", count=4)
    return info


# -- import ---------------------------------------------------------------------
def cluster_digests(cluster: str, ref: str) -> Optional[str]:
    """The digest containerd (namespace k8s.io) has for ``ref``; None if absent or unknown."""
    env_out = subprocess.run([cluster, "env"], capture_output=True, text=True, check=False)
    state = None
    for line in env_out.stdout.splitlines():
        if line.startswith("export CLUSTER_STATE="):
            state = line.split("=", 1)[1].strip()
    if not state or not shutil.which("ctr"):
        return None
    res = subprocess.run(["ctr", "--address", os.path.join(state, "containerd/containerd.sock"), "-n", "k8s.io",
                          "images", "ls", f"name=={ref}"], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        return None
    for line in res.stdout.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 3 and cols[0] == ref:
            return cols[2]
    return None


def import_image(cluster: str, info: Dict[str, object]) -> None:
    if not os.access(cluster, os.X_OK):
        die(f"--cluster {cluster}: not an executable cluster script")
    known = {info["manifest_digest"], info["index_digest"]}
    for ref in info["refs"]:  # type: ignore[union-attr]
        have = cluster_digests(cluster, str(ref))
        if have in known:
            log(f"{ref}: the cluster already has {have}; import skipped")
            continue
        t0 = time.monotonic()
        run([cluster, "import", str(info["archive"]), str(ref)], stdout=subprocess.DEVNULL)
        log(f"{ref}: imported into the cluster in {time.monotonic() - t0:.1f} s")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="build-image.sh", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--import", dest="do_import", action="store_true",
                        help="import the image into the test cluster (both tags)")
    parser.add_argument("--cluster", default=os.environ.get("CLUSTER") or "/work/shared/cluster/cluster",
                        help="the cluster script (default: $CLUSTER or /work/shared/cluster/cluster)")
    parser.add_argument("--cache", default=os.environ.get("SPO_IMAGE_CACHE") or "/var/cache/spo-images",
                        help="cache directory (default: $SPO_IMAGE_CACHE or /var/cache/spo-images)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    args = parser.parse_args(argv)

    t0 = time.monotonic()
    try:
        cache = Cache(args.cache)
    except PermissionError as exc:
        die(f"cache directory {args.cache}: {exc.strerror} (set SPO_IMAGE_CACHE to a writable directory)")
    with open(cache.path(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        info = build(cache)
        if args.do_import:
            import_image(args.cluster, info)
    info["seconds"] = round(time.monotonic() - t0, 1)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"archive: {info['archive']} ({int(info['size']) / 1e6:.1f} MB)")  # type: ignore[call-overload]
        for ref in info["refs"]:  # type: ignore[union-attr]
            print(f"ref: {ref}")
        print(f"digest: {info['manifest_digest']}")
        print(f"built in {info['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
