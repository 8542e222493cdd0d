# -*- coding: utf-8 -*-
"""OLM (v0) in the test cluster, and the operator's catalog for it: ``make olm-install`` / ``make olm-uninstall``.

    .venv/bin/python hack/olm.py images [--import]   build (and import) OLM's and opm's images (and fetch
                                                     helm and OLM's module: the rest works offline)
    .venv/bin/python hack/olm.py manifests           print OLM's manifests as installed here
    .venv/bin/python hack/olm.py install             images, import, CRDs, OLM; waits for the packageserver
    .venv/bin/python hack/olm.py catalog             bundle/ -> bundle + catalog images, a catalog pod and
                                                     the CatalogSource ``security-profiles-operator`` in olm
    .venv/bin/python hack/olm.py uninstall           removes what ``install`` and ``catalog`` created

OLM's manifests are its own chart (``deploy/chart`` of the pinned module
github.com/operator-framework/operator-lifecycle-manager, hack/go_tools.py
PINS) rendered with ``helm template`` and the module's ``deploy/upstream/values.yaml``
as OLM's release does; only these values differ: the images (local builds,
pulled if not present), the opm image of the bundle-unpack jobs, and no fixed
uid for those jobs' pods (``--set-workload-user-id=false``: OpenShift's SCCs
assign the uids), so the ``olm`` namespace enforces Pod Security ``baseline``
(OLM sets ``runAsNonRoot`` on those pods only with its fixed uid). The one
object dropped is the ``operatorhubio-catalog`` CatalogSource (an image from
quay.io: this cluster has no registry).

The catalog: this test cluster has no cluster DNS and no Service routing from
pods, so the catalog image runs as a pod (``opm serve /configs``) and the
CatalogSource names its pod IP (``spec.address``), a grpc source OLM
supports. On OpenShift a CatalogSource names the catalog image in the user's
registry instead (README.md).

Kubernetes calls use ``kubectl``; outside the cluster's network namespace
(no ``CLUSTER_NETNS``) they go through ``$SPO_CLUSTER exec`` (default
../shared/cluster/cluster), which also imports the images.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import go_tools  # noqa: E402  (build tooling next to this file)
import olm_images  # noqa: E402

OLM_NAMESPACE = "olm"
DROPPED_KINDS = {"CatalogSource"}  # operatorhubio-catalog: quay.io, not reachable here
PACKAGE = "security-profiles-operator"
CATALOG = "security-profiles-operator"
GRPC_PORT = 50051
BUNDLE_REPO = "localhost/spo/security-profiles-operator-bundle"
CATALOG_REPO = "localhost/spo/security-profiles-operator-catalog"


class OlmError(Exception):
    """A step failed; the message says which and why."""


def log(message: str) -> None:
    print("olm: " + message, file=sys.stderr, flush=True)


# -- the cluster --------------------------------------------------------------
def cluster_script() -> str:
    return os.environ.get("SPO_CLUSTER") or os.path.join(os.path.dirname(ROOT), "shared", "cluster", "cluster")


def kubectl(*args: str, stdin: Optional[str] = None, check: bool = True) -> subprocess.CompletedProcess:
    """``kubectl ARGS`` against the test cluster (through ``cluster exec`` outside its network namespace)."""
    command = ["kubectl", *args]
    if not os.environ.get("CLUSTER_NETNS") and not os.environ.get("SPO_TEST_KUBECONFIG"):
        command = [cluster_script(), "exec", *command]
    env = dict(os.environ)
    if os.environ.get("SPO_TEST_KUBECONFIG"):
        env["KUBECONFIG"] = os.environ["SPO_TEST_KUBECONFIG"]
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False, env=env)
    if check and done.returncode != 0:
        raise OlmError("kubectl %s failed: %s" % (" ".join(args[:3]), (done.stderr or done.stdout).strip()[-1500:]))
    return done


def import_images(images: Iterable[olm_images.Image]) -> None:
    """``cluster import`` each archive (its names come from the archive: tag and digest reference)."""
    for image in images:
        done = subprocess.run([cluster_script(), "import", image.archive], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise OlmError("cluster import %s failed: %s" % (image.archive, done.stderr.strip()))
        log("imported %s" % " ".join(image.refs))


def wait(what: str, predicate, timeout: float, interval: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise OlmError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def get_json(*args: str) -> Optional[Dict[str, Any]]:
    done = kubectl("get", *args, "-o", "json", check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout)


# -- OLM's manifests ----------------------------------------------------------
def olm_module_dir() -> str:
    pin = go_tools.PINS["olm"]
    done = subprocess.run([go_tools.find_go(), "mod", "download", "-json", "%s@%s" % (pin.module, pin.version)],
                          capture_output=True, text=True, check=False, env=go_tools._go_env())  # pylint: disable=protected-access
    info = json.loads(done.stdout or "{}")
    if done.returncode != 0 or not info.get("Dir"):
        raise OlmError("go mod download %s@%s failed: %s" % (pin.module, pin.version,
                                                             info.get("Error") or done.stderr.strip()))
    return info["Dir"]


def chart_values(olm: olm_images.Image, opm: olm_images.Image) -> Dict[str, Any]:
    """The values this cluster needs beside the module's deploy/upstream/values.yaml: local images, and no
    fixed uid 1001 for bundle-unpack pods (OpenShift's SCCs assign each namespace's uids and refuse 1001)."""
    image = {"ref": olm.tag_ref, "pullPolicy": "IfNotPresent"}
    # the unpack jobs' pods then set no runAsNonRoot (OLM sets it only with that uid), which Pod Security's
    # restricted level requires: the olm namespace enforces baseline (the jobs run in the catalog's namespace)
    catalog = {"image": dict(image), "setWorkloadUserID": False, "opmImageArgs": "--opmImage=" + opm.tag_ref,
               "commandArgs": "--configmapServerImage=" + opm.tag_ref}
    return {"namespace_psa": {"enforceLevel": "baseline"}, "olm": {"image": dict(image)}, "catalog": catalog,
            "package": {"image": dict(image)}}


def render(olm: olm_images.Image, opm: olm_images.Image) -> List[Dict[str, Any]]:
    """OLM's chart rendered by ``helm template`` (CRDs first), the dropped kinds left out."""
    helm = olm_images.tools(["helm"])["helm"]
    module = olm_module_dir()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values:
        yaml.safe_dump(chart_values(olm, opm), values)
        values.flush()
        done = subprocess.run([helm, "template", "olm", os.path.join(module, "deploy", "chart"), "--include-crds",
                               "-f", os.path.join(module, "deploy", "upstream", "values.yaml"), "-f", values.name],
                              capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OlmError("helm template of %s/deploy/chart failed: %s" % (module, done.stderr.strip()))
    docs = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    return [doc for doc in docs if doc.get("kind") not in DROPPED_KINDS]


def split_crds(docs: Sequence[Dict[str, Any]]):
    crds = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
    return crds, [d for d in docs if d.get("kind") != "CustomResourceDefinition"]


def apply(docs: Sequence[Dict[str, Any]]) -> None:
    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=spo-olm", "-f", "-",
            stdin=yaml.safe_dump_all(docs))


def deployment_available(namespace: str, name: str) -> bool:
    obj = get_json("deployment", "-n", namespace, name) or {}
    return any(c.get("type") == "Available" and c.get("status") == "True"
               for c in obj.get("status", {}).get("conditions", []))


def csv_phase(namespace: str, name: str) -> str:
    return ((get_json("csv", "-n", namespace, name) or {}).get("status") or {}).get("phase", "")


def build_olm_images() -> List[olm_images.Image]:
    return [olm_images.olm_image(), olm_images.opm_image()]


def install(timeout: float = 300) -> None:
    olm, opm = build_olm_images()
    import_images([olm, opm])
    crds, rest = split_crds(render(olm, opm))
    t0 = time.monotonic()
    apply(crds)
    kubectl("wait", "--for=condition=Established", "--timeout=120s",
            *["crd/" + d["metadata"]["name"] for d in crds])
    apply(rest)
    for name in ("olm-operator", "catalog-operator"):
        wait("deployment %s/%s available" % (OLM_NAMESPACE, name), lambda n=name: deployment_available(OLM_NAMESPACE, n),
             timeout)
    wait("CSV %s/packageserver Succeeded" % OLM_NAMESPACE,
         lambda: csv_phase(OLM_NAMESPACE, "packageserver") == "Succeeded", timeout)
    log("OLM %s installed in %.0f s" % (go_tools.PINS["olm"].version, time.monotonic() - t0))


def uninstall(timeout: float = 300) -> None:
    """Deletes OLM's objects (the packageserver's APIService first: a dead aggregated API breaks discovery)."""
    olm, opm = build_olm_images()
    crds, rest = split_crds(render(olm, opm))
    kubectl("delete", "apiservice", "v1.packages.operators.coreos.com", "--ignore-not-found", "--wait=true")
    kubectl("delete", "csv", "-n", OLM_NAMESPACE, "packageserver", "--ignore-not-found", "--wait=true", check=False)
    kubectl("delete", "--ignore-not-found", "--wait=true", "--timeout=%ds" % timeout, "-f", "-",
            stdin=yaml.safe_dump_all(list(reversed(rest))))
    kubectl("delete", "--ignore-not-found", "--wait=true", "--timeout=%ds" % timeout, "-f", "-",
            stdin=yaml.safe_dump_all(crds))
    log("OLM removed")


# -- the operator's bundle and catalog ---------------------------------------
class Bundle:
    """A copy of a bundle directory with its CSV at another version (``replaces`` / ``skipRange`` set)."""

    def __init__(self, source: str, work: str) -> None:
        self.source = source
        self.work = work

    def csv_path(self, root: str) -> str:
        manifests = os.path.join(root, "manifests")
        found = [f for f in sorted(os.listdir(manifests)) if f.endswith(".clusterserviceversion.yaml")]
        if len(found) != 1:
            raise OlmError("%s: want exactly one *.clusterserviceversion.yaml, found %d" % (manifests, len(found)))
        return os.path.join(manifests, found[0])

    def csv(self) -> Dict[str, Any]:
        with open(self.csv_path(self.source), encoding="utf-8") as handle:
            return yaml.safe_load(handle)

    def at_version(self, version: str, replaces: Optional[str] = None, skip_range: Optional[str] = None,
                   edit=None) -> str:
        """A bundle directory (under ``work``) of the same operator at ``version``; ``edit(csv)`` may alter it."""
        import shutil
        target = os.path.join(self.work, "bundle-" + version)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.source, target)
        csv = self.csv()
        name = csv["metadata"]["name"].rsplit(".v", 1)[0]
        csv["metadata"]["name"] = "%s.v%s" % (name, version)
        csv["spec"]["version"] = version
        if replaces:
            csv["spec"]["replaces"] = replaces
        if skip_range:
            csv["metadata"].setdefault("annotations", {})["olm.skipRange"] = skip_range
        if edit:
            edit(csv)
        with open(self.csv_path(target), "w", encoding="utf-8") as handle:
            yaml.safe_dump(csv, handle, sort_keys=False)
        return target


def opm(*args: str) -> str:
    done = subprocess.run([olm_images.tools(["opm"])["opm"], *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OlmError("opm %s failed: %s" % (" ".join(args[:2]), done.stderr.strip()[-1500:]))
    return done.stdout


def file_based_catalog(bundles: Sequence[Dict[str, str]], out_dir: str, package: str = PACKAGE,
                       channel: str = "stable") -> str:
    """``out_dir/<package>/catalog.yaml``: ``opm init`` (the package), one channel, ``opm render`` of each
    bundle directory with its image reference. ``bundles``: dicts of dir, image, name, replaces, skipRange."""
    package_blob = yaml.safe_load(opm("init", package, "--default-channel=" + channel, "--output=yaml"))
    blobs: List[Dict[str, Any]] = [package_blob]
    entries = []
    rendered = []
    for bundle in bundles:
        docs = [d for d in yaml.safe_load_all(opm("render", bundle["dir"], "--output=yaml")) if d]
        for doc in docs:
            if doc.get("schema") == "olm.bundle":
                doc["image"] = bundle["image"]
        rendered += docs
        entry = {"name": bundle["name"]}
        if bundle.get("replaces"):
            entry["replaces"] = bundle["replaces"]
        if bundle.get("skipRange"):
            entry["skipRange"] = bundle["skipRange"]
        entries.append(entry)
    blobs.append({"schema": "olm.channel", "package": package, "name": channel, "entries": entries})
    target = os.path.join(out_dir, package)
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "catalog.yaml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump_all(blobs + rendered, handle, sort_keys=False)
    opm("validate", out_dir)
    return out_dir


def catalog_pod(name: str, namespace: str, image: str) -> Dict[str, Any]:
    """A pod serving a catalog image (``opm serve``), restricted Pod Security, read-only root."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"spo.x-k8s.io/olm-catalog": name}},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "registry", "image": image, "imagePullPolicy": "IfNotPresent",
                # no --cache-dir: opm builds its cache in a fresh directory under $TMPDIR (an emptyDir); a
                # given empty one fails its integrity check unless the image was built with a cache
                "command": ["opm", "serve", "/configs", "--port=%d" % GRPC_PORT],
                "ports": [{"name": "grpc", "containerPort": GRPC_PORT}],
                "readinessProbe": {"grpc": {"port": GRPC_PORT}, "periodSeconds": 2},
                "resources": {"requests": {"cpu": "10m", "memory": "50Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def pod_ready_ip(namespace: str, name: str) -> str:
    obj = get_json("pod", "-n", namespace, name) or {}
    status = obj.get("status", {})
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
    return status.get("podIP", "") if ready else ""


def serve_catalog(image: olm_images.Image, name: str = CATALOG, namespace: str = OLM_NAMESPACE,
                  timeout: float = 120) -> str:
    """(Re)starts the catalog pod ``name`` on ``image`` and points the CatalogSource ``name`` at its IP."""
    kubectl("delete", "pod", "-n", namespace, name, "--ignore-not-found", "--wait=true")
    kubectl("create", "-f", "-", stdin=json.dumps(catalog_pod(name, namespace, image.digest_ref)))
    address = "%s:%d" % (wait("catalog pod %s/%s ready" % (namespace, name), lambda: pod_ready_ip(namespace, name),
                              timeout), GRPC_PORT)
    source = {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "CatalogSource",
              "metadata": {"name": name, "namespace": namespace},
              "spec": {"sourceType": "grpc", "address": address, "displayName": name,
                       "publisher": "spo.security_profiles"}}
    apply([source])
    wait("CatalogSource %s/%s READY" % (namespace, name), lambda: catalog_ready(namespace, name), timeout)
    return address


def catalog_ready(namespace: str, name: str) -> bool:
    obj = get_json("catalogsource", "-n", namespace, name) or {}
    return ((obj.get("status") or {}).get("connectionState") or {}).get("lastObservedState") == "READY"


def remove_catalog(name: str = CATALOG, namespace: str = OLM_NAMESPACE) -> None:
    kubectl("delete", "catalogsource", "-n", namespace, name, "--ignore-not-found", check=False)
    kubectl("delete", "pod", "-n", namespace, name, "--ignore-not-found", "--wait=true", check=False)


def operator_catalog(work: str, versions: Sequence[str] = (), edit=None, suffix: str = "") -> Dict[str, Any]:
    """Bundle images of bundle/ (at ``versions``, each replacing the one before; default: as it is; ``edit(csv)``
    alters each CSV) and the catalog image naming them by digest. Returns the images and channel entries."""
    bundle = Bundle(os.path.join(ROOT, "bundle"), work)
    labels = olm_images.dockerfile_labels(os.path.join(ROOT, "bundle.Dockerfile"))
    base_version = bundle.csv()["spec"]["version"]
    versions = list(versions) or [base_version]
    prefix = bundle.csv()["metadata"]["name"].rsplit(".v", 1)[0]
    entries, images, previous = [], [], None
    for version in versions:
        replaces = "%s.v%s" % (prefix, previous) if previous else None
        skip_range = ">=%s <%s" % (previous, version) if previous else None
        as_is = version == base_version and previous is None and edit is None
        directory = bundle.source if as_is else bundle.at_version(version, replaces, skip_range, edit)
        image = olm_images.bundle_image(directory, labels, BUNDLE_REPO, "v%s%s" % (version, suffix))
        images.append(image)
        entries.append({"dir": directory, "image": image.digest_ref, "name": "%s.v%s" % (prefix, version),
                        "replaces": replaces, "skipRange": skip_range})
        previous = version
    configs = file_based_catalog(entries, os.path.join(work, "configs-%s%s" % ("-".join(versions), suffix)))
    catalog = olm_images.catalog_image(configs, CATALOG_REPO, "v%s%s" % (versions[-1], suffix))
    return {"bundles": images, "catalog": catalog, "entries": entries}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("action", choices=["images", "manifests", "install", "catalog", "uninstall"])
    parser.add_argument("--import", dest="do_import", action="store_true", help="images: import them too")
    args = parser.parse_args(argv)
    try:
        if args.action == "images":
            images = build_olm_images()
            olm_images.tools(["helm"])  # and what install needs later, perhaps offline: helm, the module
            olm_module_dir()
            if args.do_import:
                import_images(images)
            for image in images:
                print(image.archive)
        elif args.action == "manifests":
            olm, opm_image = build_olm_images()
            print(yaml.safe_dump_all(render(olm, opm_image), sort_keys=False), end="")
        elif args.action == "install":
            install()
        elif args.action == "catalog":
            with tempfile.TemporaryDirectory(prefix="spo-olm-") as work:
                built = operator_catalog(work)
                import_images(built["bundles"] + [built["catalog"]])
                print(serve_catalog(built["catalog"]))
        elif args.action == "uninstall":
            remove_catalog()
            uninstall()
    except (OlmError, go_tools.ToolError, OSError, ValueError, RuntimeError) as exc:
        log(str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
