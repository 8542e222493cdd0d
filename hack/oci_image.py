"""OCI image layout archives, written with the standard library only.

Build tooling for ``make images`` (hack/build_image.py), not part of the
collection.  Three pieces:

* :class:`LayerWriter` streams a gzip-compressed tar layer to a file while
  hashing both the uncompressed stream (the layer's ``diff_id``) and the
  compressed one (its blob digest).  Entries get fixed modification times
  and root ownership unless told otherwise, and :func:`add_tree` adds a
  directory in sorted order, so the same input gives the same bytes.
* :func:`write_archive` writes an OCI image layout tar (``oci-layout``,
  ``index.json``, ``blobs/sha256/...``) from a config and cached layers; the
  index names each reference with ``org.opencontainers.image.ref.name`` and
  ``io.containerd.image.name`` (what ``ctr images import`` uses).
* :func:`read_archive` opens such an archive again and checks every digest
  and size; the tests and the import step use it.

Formats: OCI image-spec v1.0 (image-layout.md, manifest.md, config.md,
layer.md).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Dict, Iterable, List, Optional, Sequence, Tuple

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
CONTAINERD_ANNOTATION = "io.containerd.image.name"

# Bumped whenever the bytes a layer is made of change for the same input,
# so cached layers keyed with it are rebuilt.
LAYER_FORMAT = "spo-layer-2"
FIXED_MTIME = 0


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: object) -> bytes:
    """JSON with sorted keys and no spaces: equal objects give equal digests."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class _HashingWriter(io.RawIOBase):
    """Write-through file wrapper counting and hashing what passes."""

    def __init__(self, sink: BinaryIO) -> None:
        super().__init__()
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        view = memoryview(data)
        self.hash.update(view)
        self.size += len(view)
        self.sink.write(view)
        return len(view)


@dataclass(frozen=True)
class Layer:
    """A compressed layer blob on disk and its descriptors."""

    path: str
    digest: str  # sha256 of the gzip blob
    diff_id: str  # sha256 of the uncompressed tar
    size: int  # bytes of the gzip blob
    entries: int = 0

    def to_json(self) -> Dict[str, object]:
        return {"path": self.path, "digest": self.digest, "diff_id": self.diff_id,
                "size": self.size, "entries": self.entries}

    @classmethod
    def from_json(cls, data: Dict[str, object]) -> "Layer":
        return cls(path=str(data["path"]), digest=str(data["digest"]), diff_id=str(data["diff_id"]),
                   size=int(data["size"]), entries=int(data.get("entries", 0)))  # type: ignore[arg-type]


class LayerWriter:
    """A reproducible tar+gzip layer, written to ``path`` as entries are added.

    Parent directories of every entry are added first (mode 0755, root) unless
    they were added explicitly before.  Names are relative (``opt/spo/...``).
    ``mtime=None`` keeps the modification times of files added from disk
    (needed where Python's timestamp-checked .pyc files must stay valid).
    """

    def __init__(self, path: str, level: int = 6, mtime: Optional[int] = FIXED_MTIME) -> None:
        self.path = path
        self.mtime = mtime
        self._tmp = path + ".part"
        self._file = open(self._tmp, "wb")
        self._blob = _HashingWriter(self._file)
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._blob, compresslevel=level, mtime=0)
        self._raw = _HashingWriter(self._gzip)  # type: ignore[arg-type]
        self._tar = tarfile.open(fileobj=self._raw, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
        self._seen: set = set()
        self._inodes: Dict[Tuple[int, int], str] = {}
        self.entries = 0

    # -- entries -----------------------------------------------------------
    def _info(self, name: str, kind: bytes, mode: int, uid: int = 0, gid: int = 0,
              mtime: Optional[float] = None) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode & 0o7777
        info.uid, info.gid = uid, gid
        info.uname = info.gname = ""
        if self.mtime is not None or mtime is None:
            info.mtime = self.mtime or FIXED_MTIME
        else:
            info.mtime = int(mtime)
        return info

    def _parents(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent and parent not in self._seen:
                self.add_dir(parent)

    def _add(self, info: tarfile.TarInfo, fileobj: Optional[BinaryIO] = None) -> None:
        name = info.name.strip("/")
        if not name or name in self._seen:
            return
        info.name = name
        self._parents(name)
        self._seen.add(name)
        self._tar.addfile(info, fileobj)
        self.entries += 1

    def add_dir(self, name: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        self._add(self._info(name, tarfile.DIRTYPE, mode, uid, gid))

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
        info = self._info(name, tarfile.REGTYPE, mode, uid, gid)
        info.size = len(data)
        self._add(info, io.BytesIO(data))

    def add_symlink(self, name: str, target: str, uid: int = 0, gid: int = 0,
                    mtime: Optional[float] = None) -> None:
        info = self._info(name, tarfile.SYMTYPE, 0o777, uid, gid, mtime)
        info.linkname = target
        self._add(info)

    def add_file(self, name: str, source: str, mode: Optional[int] = None, uid: int = 0, gid: int = 0,
                 mtime: Optional[float] = None) -> None:
        """A regular file's content from ``source`` (executable bit kept when ``mode`` is None)."""
        st = os.stat(source)
        if mode is None:
            mode = 0o755 if st.st_mode & 0o111 else 0o644
        info = self._info(name, tarfile.REGTYPE, mode, uid, gid, mtime)
        info.size = st.st_size
        with open(source, "rb") as f:
            self._add(info, f)

    def add_path(self, name: str, source: str) -> None:
        """One filesystem object as it is (type, mode, owner, hard links), mtime fixed."""
        st = os.lstat(source)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            self._add(self._info(name, tarfile.DIRTYPE, mode, st.st_uid, st.st_gid, st.st_mtime))
        elif stat.S_ISLNK(st.st_mode):
            self.add_symlink(name, os.readlink(source), st.st_uid, st.st_gid, st.st_mtime)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self._inodes:
                info = self._info(name, tarfile.LNKTYPE, mode, st.st_uid, st.st_gid, st.st_mtime)
                info.linkname = self._inodes[key]
                self._add(info)
                return
            if st.st_nlink > 1:
                self._inodes[key] = name.strip("/")
            self.add_file(name, source, mode, st.st_uid, st.st_gid, st.st_mtime)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            kind = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info = self._info(name, kind, mode, st.st_uid, st.st_gid, st.st_mtime)
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self._add(info)
        elif stat.S_ISFIFO(st.st_mode):
            self._add(self._info(name, tarfile.FIFOTYPE, mode, st.st_uid, st.st_gid, st.st_mtime))
        # sockets are not representable in a layer: skipped

    def add_tree(self, root: str, prefix: str = "", skip_contents: Sequence[str] = ()) -> None:
        """Everything under ``root`` in sorted order; ``skip_contents`` are
        relative directories kept empty (e.g. ``proc``, ``dev``)."""
        skip = {s.strip("/") for s in skip_contents}

        def walk(rel: str) -> None:
            full = os.path.join(root, rel) if rel else root
            for entry in sorted(os.listdir(full)):
                child = f"{rel}/{entry}" if rel else entry
                src = os.path.join(full, entry)
                name = f"{prefix.strip('/')}/{child}" if prefix.strip("/") else child
                self.add_path(name, src)
                if os.path.isdir(src) and not os.path.islink(src) and child not in skip:
                    walk(child)

        walk("")

    # -- result ------------------------------------------------------------
    def close(self) -> Layer:
        self._tar.close()
        self._gzip.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.path)
        return Layer(path=self.path, digest="sha256:" + self._blob.hash.hexdigest(),
                     diff_id="sha256:" + self._raw.hash.hexdigest(), size=self._blob.size, entries=self.entries)

    def abort(self) -> None:
        try:
            self._file.close()
        finally:
            if os.path.exists(self._tmp):
                os.unlink(self._tmp)


def image_config(layers: Sequence[Layer], *, env: Sequence[str], cmd: Optional[Sequence[str]] = None,
                 entrypoint: Optional[Sequence[str]] = None, workdir: str = "/", user: str = "",
                 labels: Optional[Dict[str, str]] = None, history: Sequence[str] = (),
                 architecture: str = "amd64") -> bytes:
    """The image config blob (config.md); no creation time, so it is reproducible."""
    config: Dict[str, object] = {"Env": list(env), "WorkingDir": workdir}
    if cmd is not None:
        config["Cmd"] = list(cmd)
    if entrypoint is not None:
        config["Entrypoint"] = list(entrypoint)
    if user:
        config["User"] = user
    if labels:
        config["Labels"] = dict(labels)
    return canonical_json({
        "architecture": architecture,
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created_by": h} for h in history],
    })


def manifest_for(config: bytes, layers: Sequence[Layer], annotations: Optional[Dict[str, str]] = None) -> bytes:
    manifest: Dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": sha256_digest(config), "size": len(config)},
        "layers": [{"mediaType": MEDIA_LAYER_GZIP, "digest": layer.digest, "size": layer.size}
                   for layer in layers],
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    return canonical_json(manifest)


def index_for(manifest: bytes, refs: Sequence[str], architecture: str = "amd64") -> bytes:
    """One index entry per reference, all naming the same manifest."""
    entries = [{
        "mediaType": MEDIA_MANIFEST,
        "digest": sha256_digest(manifest),
        "size": len(manifest),
        "platform": {"architecture": architecture, "os": "linux"},
        "annotations": {REF_ANNOTATION: ref, CONTAINERD_ANNOTATION: ref},
    } for ref in refs]
    return canonical_json({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": entries})


def write_archive(out: str, config: bytes, layers: Sequence[Layer], refs: Sequence[str],
                  annotations: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Write the OCI layout tar atomically; returns the manifest and index digests."""
    if not refs:
        raise ValueError("write_archive: at least one reference (refs) is needed")
    manifest = manifest_for(config, layers, annotations)
    index = index_for(manifest, refs)
    tmp = out + ".part"

    def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), mode, FIXED_MTIME
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, FIXED_MTIME
            tar.addfile(info)
        add_bytes(tar, "oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
        add_bytes(tar, "index.json", index)
        add_bytes(tar, "blobs/sha256/" + sha256_digest(config)[7:], config)
        add_bytes(tar, "blobs/sha256/" + sha256_digest(manifest)[7:], manifest)
        written = set()
        for layer in layers:
            if layer.digest in written:
                continue
            written.add(layer.digest)
            info = tarfile.TarInfo("blobs/sha256/" + layer.digest[7:])
            info.size, info.mode, info.mtime = os.path.getsize(layer.path), 0o644, FIXED_MTIME
            if info.size != layer.size:
                raise ValueError(f"layer {layer.path}: size {info.size} differs from its record {layer.size}")
            with open(layer.path, "rb") as f:
                tar.addfile(info, f)
    os.replace(tmp, out)
    return {"manifest": sha256_digest(manifest), "index": sha256_digest(index),
            "config": sha256_digest(config)}


# -- reading back ----------------------------------------------------------
class ArchiveError(ValueError):
    pass


@dataclass
class Archive:
    path: str
    index: Dict[str, object]
    index_digest: str
    manifest: Dict[str, object]
    manifest_digest: str
    config: Dict[str, object]
    refs: List[str]
    layer_members: List[str]  # tar member names of the layer blobs, in order

    def layer_names(self, position: int) -> List[str]:
        """Entry names of one layer (uncompressed on the fly)."""
        with tarfile.open(self.path) as outer:
            blob = outer.extractfile(self.layer_members[position])
            assert blob is not None
            with tarfile.open(fileobj=blob, mode="r|gz") as layer:
                return [m.name for m in layer]

    def all_entries(self) -> Dict[str, tarfile.TarInfo]:
        entries: Dict[str, tarfile.TarInfo] = {}
        with tarfile.open(self.path) as outer:
            for member in self.layer_members:
                blob = outer.extractfile(member)
                assert blob is not None
                with tarfile.open(fileobj=blob, mode="r|gz") as layer:
                    for m in layer:
                        entries[m.name.lstrip("./")] = m
        return entries

    def read_file(self, name: str) -> Optional[bytes]:
        """The content of a regular file of the image (the last layer holding it wins)."""
        found: Optional[bytes] = None
        with tarfile.open(self.path) as outer:
            for member in self.layer_members:
                blob = outer.extractfile(member)
                assert blob is not None
                with tarfile.open(fileobj=blob, mode="r|gz") as layer:
                    for m in layer:
                        if m.name.lstrip("./") == name and m.isfile():
                            data = layer.extractfile(m)
                            found = data.read() if data else b""
        return found


def _blob(tar: tarfile.TarFile, digest: str, what: str) -> bytes:
    if not digest.startswith("sha256:"):
        raise ArchiveError(f"{what}: digest {digest!r} is not sha256")
    try:
        f = tar.extractfile("blobs/sha256/" + digest[7:])
    except KeyError:
        raise ArchiveError(f"{what}: blob {digest} missing from the archive") from None
    assert f is not None
    data = f.read()
    if sha256_digest(data) != digest:
        raise ArchiveError(f"{what}: blob content does not match digest {digest}")
    return data


def read_archive(path: str, verify_layers: bool = True) -> Archive:
    """Open and check an OCI layout archive (digests, sizes, diff_ids)."""
    with tarfile.open(path) as tar:
        names = set(tar.getnames())
        for required in ("oci-layout", "index.json"):
            if required not in names:
                raise ArchiveError(f"{path}: {required} missing")
        layout = json.loads(tar.extractfile("oci-layout").read())  # type: ignore[union-attr]
        if layout.get("imageLayoutVersion") != "1.0.0":
            raise ArchiveError(f"{path}: oci-layout imageLayoutVersion is {layout.get('imageLayoutVersion')!r}")
        index_bytes = tar.extractfile("index.json").read()  # type: ignore[union-attr]
        index = json.loads(index_bytes)
        manifests = index.get("manifests") or []
        if not manifests:
            raise ArchiveError(f"{path}: index.json has no manifests")
        digests = {m["digest"] for m in manifests}
        if len(digests) != 1:
            raise ArchiveError(f"{path}: index.json names {len(digests)} different manifests, expected one")
        refs = []
        for m in manifests:
            ann = m.get("annotations") or {}
            if ann.get(REF_ANNOTATION) != ann.get(CONTAINERD_ANNOTATION) or not ann.get(REF_ANNOTATION):
                raise ArchiveError(f"{path}: index entry {m['digest']} lacks matching ref annotations")
            refs.append(ann[REF_ANNOTATION])
        desc = manifests[0]
        manifest_bytes = _blob(tar, desc["digest"], "manifest")
        if len(manifest_bytes) != desc["size"]:
            raise ArchiveError(f"{path}: manifest size {len(manifest_bytes)} != index size {desc['size']}")
        manifest = json.loads(manifest_bytes)
        if manifest.get("mediaType") != MEDIA_MANIFEST or manifest.get("schemaVersion") != 2:
            raise ArchiveError(f"{path}: manifest mediaType/schemaVersion unexpected")
        config_bytes = _blob(tar, manifest["config"]["digest"], "config")
        if len(config_bytes) != manifest["config"]["size"]:
            raise ArchiveError(f"{path}: config size mismatch")
        config = json.loads(config_bytes)
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        if len(diff_ids) != len(manifest["layers"]):
            raise ArchiveError(f"{path}: {len(manifest['layers'])} layers but {len(diff_ids)} diff_ids")
        members = []
        for i, layer in enumerate(manifest["layers"]):
            member = "blobs/sha256/" + layer["digest"][7:]
            if member not in names:
                raise ArchiveError(f"{path}: layer {i} blob {layer['digest']} missing")
            info = tar.getmember(member)
            if info.size != layer["size"]:
                raise ArchiveError(f"{path}: layer {i} size {info.size} != manifest size {layer['size']}")
            if verify_layers:
                blob_hash, raw_hash = hashlib.sha256(), hashlib.sha256()
                f = tar.extractfile(member)
                assert f is not None
                reader = _TeeReader(f, blob_hash)
                try:
                    with gzip.GzipFile(fileobj=reader, mode="rb") as gz:  # type: ignore[arg-type]
                        for chunk in iter(lambda: gz.read(1 << 20), b""):
                            raw_hash.update(chunk)
                except (EOFError, OSError, zlib.error) as exc:
                    raise ArchiveError(f"{path}: layer {i} ({layer['digest']}) is not valid gzip: {exc}") from None
                if "sha256:" + blob_hash.hexdigest() != layer["digest"]:
                    raise ArchiveError(f"{path}: layer {i} blob does not match digest {layer['digest']}")
                if "sha256:" + raw_hash.hexdigest() != diff_ids[i]:
                    raise ArchiveError(f"{path}: layer {i} uncompressed content does not match diff_id {diff_ids[i]}")
            members.append(member)
    return Archive(path=path, index=index, index_digest=sha256_digest(index_bytes), manifest=manifest,
                   manifest_digest=desc["digest"], config=config, refs=refs, layer_members=members)


class _TeeReader(io.RawIOBase):
    def __init__(self, src: BinaryIO, hasher) -> None:
        super().__init__()
        self.src, self.hasher = src, hasher

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        data = self.src.read(len(buf))
        self.hasher.update(data)
        buf[: len(data)] = data
        return len(data)


def main(argv: Optional[Iterable[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="check an OCI image layout archive")
    parser.add_argument("archive")
    parser.add_argument("--quick", action="store_true", help="skip hashing the layers")
    args = parser.parse_args(list(argv) if argv is not None else None)
    archive = read_archive(args.archive, verify_layers=not args.quick)
    print(json.dumps({"manifest": archive.manifest_digest, "index": archive.index_digest, "refs": archive.refs,
                      "layers": [layer["digest"] for layer in archive.manifest["layers"]]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
