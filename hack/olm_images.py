# -*- coding: utf-8 -*-
"""The OLM test images, built without a registry (OCI archives, like hack/build_image.py).

* ``localhost/spo/olm:<OLM version>``: OLM's five binaries (olm, catalog,
  package-server, copy-content, cpb; built by hack/go_tools.py from the pinned
  module) in /bin on a minimal base: Debian's busybox-static (the bundle-unpack
  job runs ``/bin/cp`` from OLM's util image).
* ``localhost/spo/opm:<opm version>``: ``opm`` from operator-registry on the
  same base (the unpack job's ``opm alpha bundle extract``).
* a bundle image from a bundle directory (``manifests/``, ``metadata/``) with
  the labels of bundle.Dockerfile, FROM scratch.
* a file-based catalog image: the opm image plus ``/configs`` (what
  ``opm render`` / ``opm init`` give), served by ``opm serve /configs``.

Each image is named by a tag and by its manifest digest
(``repo@sha256:...``): OLM pulls a bundle named by tag always (no registry
here) but by digest only when it is not present, so catalogs name bundles by
digest. Archives and layers are cached by content under
``$SPO_IMAGE_CACHE/olm`` (default /var/cache/spo-images/olm).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import go_tools  # noqa: E402  (build tooling next to this file)
import oci_image  # noqa: E402

OLM_BINARIES = ("olm", "catalog", "package-server", "copy-content", "cpb")
BUSYBOX = "/bin/busybox"
BUSYBOX_PACKAGE = "busybox-static"
BUSYBOX_APPLETS = ("sh", "cp", "ls", "cat")
RECIPE = "olm-images-1"
PATH_ENV = "PATH=/bin:/usr/bin"
NONROOT = "65532"


@dataclass(frozen=True)
class Image:
    """A built archive and the names it carries (a tag and the digest reference)."""
    archive: str
    tag_ref: str
    digest_ref: str
    manifest_digest: str

    @property
    def refs(self) -> List[str]:
        return [self.tag_ref, self.digest_ref]


def cache_dir() -> str:
    root = os.path.join(os.environ.get("SPO_IMAGE_CACHE") or "/var/cache/spo-images", "olm")
    os.makedirs(os.path.join(root, "layers"), exist_ok=True)
    return root


def _sha(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def _file_sha(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def busybox_version() -> str:
    """The Debian version of busybox-static on this machine (the base's content key); an error if absent."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", BUSYBOX_PACKAGE], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0 or not os.access(BUSYBOX, os.X_OK):
        raise RuntimeError("the OLM images' base needs Debian's %s (%s): apt-get install %s"
                           % (BUSYBOX_PACKAGE, BUSYBOX, BUSYBOX_PACKAGE))
    return out.stdout.strip()


def _layer(name: str, fill) -> oci_image.Layer:
    """A cached layer ``name`` (written by ``fill(writer)`` when not cached)."""
    meta = os.path.join(cache_dir(), "layers", name + ".json")
    if os.path.exists(meta):
        with open(meta, encoding="utf-8") as handle:
            layer = oci_image.Layer.from_json(json.load(handle))
        if os.path.exists(layer.path) and os.path.getsize(layer.path) == layer.size:
            return layer
    writer = oci_image.LayerWriter(os.path.join(cache_dir(), "layers", name + ".tar.gz"))
    try:
        fill(writer)
    except BaseException:
        writer.abort()
        raise
    layer = writer.close()
    with open(meta + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(layer.to_json(), handle)
    os.replace(meta + ".tmp", meta)
    return layer


def base_layer() -> oci_image.Layer:
    """busybox-static as /bin/busybox with the applets OLM's pods call, /tmp."""
    def fill(writer: oci_image.LayerWriter) -> None:
        writer.add_file("bin/busybox", BUSYBOX, mode=0o755)
        for applet in BUSYBOX_APPLETS:
            writer.add_symlink("bin/" + applet, "busybox")
        writer.add_dir("tmp", mode=0o1777)
    return _layer("base-%s" % _sha(RECIPE, busybox_version(), oci_image.LAYER_FORMAT), fill)


def binaries_layer(paths: Dict[str, str]) -> oci_image.Layer:
    """The given binaries (name -> built file) in /bin."""
    key = _sha(RECIPE, oci_image.LAYER_FORMAT, *("%s=%s" % (n, _file_sha(p)) for n, p in sorted(paths.items())))

    def fill(writer: oci_image.LayerWriter) -> None:
        for name in sorted(paths):
            writer.add_file("bin/" + name, paths[name], mode=0o755)
    return _layer("bin-" + key, fill)


def files_layer(prefix: str, source: str) -> oci_image.Layer:
    """The files under ``source`` at ``prefix/`` in the image (sorted, fixed times)."""
    entries: List[Tuple[str, str]] = []
    for dirpath, dirs, files in os.walk(source):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(dirpath, name)
            entries.append((os.path.relpath(full, source), _file_sha(full)))
    key = _sha(RECIPE, oci_image.LAYER_FORMAT, prefix, json.dumps(entries))

    def fill(writer: oci_image.LayerWriter) -> None:
        writer.add_dir(prefix)
        for rel, _digest in entries:
            writer.add_file("%s/%s" % (prefix, rel), os.path.join(source, rel), mode=0o644)
    return _layer("files-" + key, fill)


def write_image(repo: str, tag: str, layers: Sequence[oci_image.Layer], *, labels: Dict[str, str],
                cmd: Sequence[str] = (), user: str = NONROOT) -> Image:
    """The archive of an image named ``repo:tag`` and ``repo@<manifest digest>`` (cached by content)."""
    config = oci_image.image_config(layers, env=[PATH_ENV], cmd=list(cmd) or None, user=user, labels=labels)
    manifest = oci_image.manifest_for(config, layers)
    digest = oci_image.sha256_digest(manifest)
    image = Image(archive=os.path.join(cache_dir(), "%s-%s.tar" % (repo.rsplit("/", 1)[-1], digest[7:19])),
                  tag_ref="%s:%s" % (repo, tag), digest_ref="%s@%s" % (repo, digest), manifest_digest=digest)
    if os.path.exists(image.archive):
        try:
            existing = oci_image.read_archive(image.archive, verify_layers=False)
            if existing.manifest_digest == digest and existing.refs == image.refs:
                return image
        except (oci_image.ArchiveError, OSError, ValueError, KeyError):
            pass
    oci_image.write_archive(image.archive, config, layers, image.refs)
    return image


def tools(names: Sequence[str]) -> Dict[str, str]:
    """The pinned Go tools (built once per version by hack/go_tools.py): name -> path."""
    cache = os.environ.get("SPO_TOOLS_CACHE", go_tools.DEFAULT_CACHE)
    paths = go_tools.ensure(list(names), cache, os.path.join(go_tools.ROOT, ".venv", "bin"))
    return dict(zip(names, paths))


def olm_image() -> Image:
    version = go_tools.PINS["olm"].version
    return write_image("localhost/spo/olm", version, [base_layer(), binaries_layer(tools(OLM_BINARIES))],
                       labels={"org.opencontainers.image.title": "operator-lifecycle-manager",
                               "org.opencontainers.image.version": version})


def opm_layers() -> List[oci_image.Layer]:
    return [base_layer(), binaries_layer(tools(["opm"]))]


def opm_image() -> Image:
    version = go_tools.PINS["opm"].version
    return write_image("localhost/spo/opm", version, opm_layers(),
                       labels={"org.opencontainers.image.title": "opm", "org.opencontainers.image.version": version})


def dockerfile_labels(path: str) -> Dict[str, str]:
    """The ``LABEL key=value`` lines of a Dockerfile (bundle.Dockerfile)."""
    labels: Dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("LABEL "):
                key, _sep, value = line[len("LABEL "):].strip().partition("=")
                labels[key.strip()] = value.strip()
    if not labels:
        raise ValueError("%s: no LABEL lines (is it a bundle.Dockerfile?)" % path)
    return labels


def bundle_image(bundle_dir: str, labels: Dict[str, str], repo: str, tag: str) -> Image:
    """``bundle_dir``'s manifests/ and metadata/ at /manifests and /metadata, FROM scratch, with ``labels``."""
    layers = [files_layer("manifests", os.path.join(bundle_dir, "manifests")),
              files_layer("metadata", os.path.join(bundle_dir, "metadata"))]
    return write_image(repo, tag, layers, labels=labels, user="")


def catalog_image(configs_dir: str, repo: str, tag: str) -> Image:
    """A file-based catalog: the opm image plus ``configs_dir`` at /configs, serving it on :50051."""
    return write_image(repo, tag, opm_layers() + [files_layer("configs", configs_dir)],
                       labels={"operators.operatorframework.io.index.configs.v1": "/configs"},
                       cmd=["opm", "serve", "/configs"])
