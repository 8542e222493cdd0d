"""The image operator-sdk scorecard runs its tests in, built without a registry.

    .venv/bin/python hack/scorecard_image.py [--import] [--cluster SCRIPT] [--json]

``localhost/spo/scorecard-test:<operator-sdk version>``: the ``scorecard-test``
command (the basic and olm suites) of the pinned operator-sdk module
(hack/go_tools.py, ``images/scorecard-test`` of that module), as upstream's
quay.io/operator-framework/scorecard-test image of the same version has it at
/usr/local/bin/scorecard-test, running as uid 1001. The binary is static, so
the image is that one file: no base layer. bundle/tests/scorecard/config.yaml
(from config/scorecard) names this reference.

Written with hack/oci_image.py into the cache of ``make images``
(``$SPO_IMAGE_CACHE``, default /var/cache/spo-images, under its lock) as
``archives/scorecard-test-<version>.tar``; ``--import`` loads it into the test
cluster as hack/build_image.py does (skipped when containerd already has it).
"""
from __future__ import annotations

import argparse
import fcntl
import importlib.util
import json
import os
import sys
import time
from typing import Dict, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import build_image  # noqa: E402  (build tooling next to this file)
import oci_image  # noqa: E402

IMAGE = "localhost/spo/scorecard-test"
TOOL = "scorecard-test"
BINARY = "usr/local/bin/scorecard-test"
UID = "1001"
RECIPE = "scorecard-1"


def _go_tools():
    spec = importlib.util.spec_from_file_location("spo_go_tools", os.path.join(HERE, "go_tools.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference() -> str:
    """The image reference: the pinned operator-sdk version is its tag."""
    return "%s:%s" % (IMAGE, _go_tools().PINS[TOOL].version)


def scorecard_test_binary() -> str:
    tools = _go_tools()
    try:
        [path] = tools.ensure([TOOL], os.environ.get("SPO_TOOLS_CACHE", tools.DEFAULT_CACHE),
                              os.path.join(ROOT, ".venv", "bin"))
    except (tools.ToolError, OSError) as exc:
        build_image.die(str(exc))
    return path


def build(cache: "build_image.Cache", binary: str) -> Dict[str, object]:
    """Write the archive (unless an identical one is there) and return what hack/build_image.py's import needs."""
    ref = reference()
    name = "scorecard-test-%s-%s" % (build_image.sha256_file(binary)[:16], oci_image.LAYER_FORMAT)
    layer = cache.load_layer(name)
    if layer is None:
        writer = oci_image.LayerWriter(cache.path("layers", name + ".tar.gz"))
        try:
            writer.add_file(BINARY, binary, mode=0o755)
        except BaseException:
            writer.abort()
            raise
        layer = writer.close()
        cache.save_layer(name, layer)
    config = oci_image.image_config(
        [layer], env=["PATH=/usr/local/bin:/usr/bin:/bin"], entrypoint=["/" + BINARY], user=UID,
        labels={"org.opencontainers.image.title": "scorecard-test",
                "org.opencontainers.image.version": ref.rsplit(":", 1)[1],
                "io.spo.recipe": RECIPE},
        history=["scorecard-test of operator-sdk %s (hack/go_tools.py)" % ref.rsplit(":", 1)[1]])
    manifest = oci_image.manifest_for(config, [layer])
    archive = cache.path("archives", "scorecard-test-%s.tar" % ref.rsplit(":", 1)[1])
    digests = None
    if os.path.exists(archive):
        try:
            existing = oci_image.read_archive(archive, verify_layers=False)
            if existing.manifest_digest == oci_image.sha256_digest(manifest) and existing.refs == [ref]:
                digests = {"manifest": existing.manifest_digest, "index": existing.index_digest}
        except (oci_image.ArchiveError, OSError, ValueError, KeyError):
            digests = None
    if digests is None:
        digests = oci_image.write_archive(archive, config, [layer], [ref])
    return {"archive": archive, "refs": [ref], "manifest_digest": digests["manifest"],
            "index_digest": digests["index"], "size": os.path.getsize(archive)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--import", dest="do_import", action="store_true", help="import the image into the test cluster")
    parser.add_argument("--cluster", default=os.environ.get("CLUSTER") or "/work/shared/cluster/cluster",
                        help="the cluster script (default: $CLUSTER or /work/shared/cluster/cluster)")
    parser.add_argument("--cache", default=os.environ.get("SPO_IMAGE_CACHE") or "/var/cache/spo-images",
                        help="cache directory (default: $SPO_IMAGE_CACHE or /var/cache/spo-images)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    args = parser.parse_args(argv)
    started = time.monotonic()
    binary = scorecard_test_binary()
    cache = build_image.Cache(args.cache)
    with open(cache.path(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        info = build(cache, binary)
        if args.do_import:
            build_image.import_image(args.cluster, info)
    info["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(info, indent=2) if args.json else "%s: %s (%.1f MB) in %s s" % (
        info["refs"][0], info["archive"], int(info["size"]) / 1e6, info["seconds"]))  # type: ignore[index]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
