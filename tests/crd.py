# -*- coding: utf-8 -*-
"""CRD checks that stand in for an API server (none can run on these machines).

* :func:`check_crd` deserialises a CRD into the kubernetes client's real
  ``V1CustomResourceDefinition`` model (required fields and types of the
  apiextensions.k8s.io/v1 API) and applies the structural-schema rules the
  API server enforces on ``openAPIV3Schema`` (every node typed;
  ``properties`` and ``additionalProperties`` never together; metadata
  left to the server).
* :func:`object_schema` returns a version's schema as the server applies it
  with strict field validation (kubectl's default): unknown fields are
  errors, so every object node with ``properties`` (or with no field list at
  all, whose fields the server would prune) gets ``additionalProperties:
  false`` for jsonschema.
* :func:`schema_for` finds the CRD serving a manifest's apiVersion and kind;
  :func:`validation_errors` lists what strict validation reports for it.
"""
from __future__ import annotations

import copy
import glob
import json
import os
from typing import Any, Dict, List, Tuple

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRD_DIR = os.path.join(ROOT, "config", "crd", "bases")
GROUP = "security-profiles-operator.x-k8s.io"


def load_crd(name: str) -> Dict[str, Any]:
    with open(os.path.join(CRD_DIR, name)) as handle:
        return yaml.safe_load(handle)


def crd_files() -> List[str]:
    return sorted(f for f in os.listdir(CRD_DIR) if f.endswith(".yaml"))


def _structural_errors(node: Any, path: str, errors: List[str], root: bool = False) -> None:
    if not isinstance(node, dict):
        return
    if "properties" in node and "additionalProperties" in node:
        errors.append("%s: properties and additionalProperties are mutually exclusive" % path)
    open_node = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string")
    if "type" not in node and not open_node:
        errors.append("%s: every schema node needs a type" % path)
    if node.get("type") == "array" and "items" not in node:
        errors.append("%s: an array needs items" % path)
    if node.get("x-kubernetes-int-or-string") and "type" in node:
        errors.append("%s: x-kubernetes-int-or-string excludes type" % path)
    if node.get("x-kubernetes-list-type") == "map":
        keys = node.get("x-kubernetes-list-map-keys") or []
        item = node.get("items") or {}
        if not keys:
            errors.append("%s: x-kubernetes-list-type map needs x-kubernetes-list-map-keys" % path)
        missing = [k for k in keys if k not in (item.get("required") or []) and "default" not in (item.get("properties") or {}).get(k, {})]
        if missing:
            errors.append("%s: list map keys must be required or defaulted: %s" % (path, ", ".join(missing)))
    for key, child in (node.get("properties") or {}).items():
        if root and key == "metadata" and set(child) - {"type"}:
            errors.append("%s.metadata: only type: object is allowed at the root" % path)
        _structural_errors(child, "%s.%s" % (path, key), errors)
    if isinstance(node.get("items"), dict):
        _structural_errors(node["items"], path + "[]", errors)
    if isinstance(node.get("additionalProperties"), dict):
        _structural_errors(node["additionalProperties"], path + "{}", errors)


def check_crd(crd: Dict[str, Any]) -> List[str]:
    """Errors an API server would report for this CRD (empty when it would accept it)."""
    from kubernetes import client

    errors: List[str] = []
    try:
        client.ApiClient().deserialize(json.dumps(crd), "V1CustomResourceDefinition", "application/json")
    except (ValueError, TypeError) as exc:
        errors.append("not a valid apiextensions.k8s.io/v1 CustomResourceDefinition: %s" % exc)
    if crd.get("apiVersion") != "apiextensions.k8s.io/v1" or crd.get("kind") != "CustomResourceDefinition":
        errors.append("apiVersion/kind must be apiextensions.k8s.io/v1 CustomResourceDefinition")
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    if crd.get("metadata", {}).get("name") != "%s.%s" % (names.get("plural"), spec.get("group")):
        errors.append("metadata.name must be <plural>.<group>")
    if sum(1 for v in spec.get("versions", []) if v.get("storage")) != 1:
        errors.append("exactly one version must be the storage version")
    for version in spec.get("versions", []):
        schema = version.get("schema", {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            errors.append("%s: openAPIV3Schema missing" % version.get("name"))
            continue
        _structural_errors(schema, version["name"], errors, root=True)
    return errors


def _strict(node: Any) -> None:
    if isinstance(node, dict):
        if (node.get("type") == "object" and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        for child in (node.get("properties") or {}).values():
            _strict(child)
        if isinstance(node.get("items"), dict):
            _strict(node["items"])
        if isinstance(node.get("additionalProperties"), dict):
            _strict(node["additionalProperties"])


def object_schema(crd: Dict[str, Any], version: str) -> Dict[str, Any]:
    """The version's schema with strict field validation, for jsonschema."""
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            schema = copy.deepcopy(entry["schema"]["openAPIV3Schema"])
            _strict(schema)
            # metadata is validated by the server itself, not by the CRD schema
            schema.setdefault("properties", {})["metadata"] = {"type": "object"}
            return schema
    raise KeyError(version)


def served_crds() -> Dict[Tuple[str, str], Tuple[Dict[str, Any], str]]:
    """(apiVersion, kind) -> (CRD, version name) for every served version of config/crd/bases."""
    served: Dict[Tuple[str, str], Tuple[Dict[str, Any], str]] = {}
    for name in crd_files():
        crd = load_crd(name)
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                served[("%s/%s" % (crd["spec"]["group"], version["name"]), crd["spec"]["names"]["kind"])] = (crd, version["name"])
    return served


def schema_for(doc: Dict[str, Any]) -> Dict[str, Any]:
    """The strict schema the server applies to ``doc`` (KeyError when no CRD serves its apiVersion/kind)."""
    crd, version = served_crds()[(doc.get("apiVersion"), doc.get("kind"))]
    return object_schema(crd, version)


def validation_errors(doc: Dict[str, Any]) -> List[str]:
    """What strict validation against the serving CRD's schema reports for ``doc`` (empty: accepted)."""
    import jsonschema

    try:
        schema = schema_for(doc)
    except KeyError:
        return ["no CRD serves %s %s" % (doc.get("apiVersion"), doc.get("kind"))]
    validator = jsonschema.Draft202012Validator(schema)
    return sorted("%s: %s" % (".".join(str(p) for p in error.absolute_path) or "<root>", error.message)
                  for error in validator.iter_errors(doc))


def manifests(*patterns: str) -> List[Tuple[str, Dict[str, Any]]]:
    """(path relative to the project, document) of every YAML document matching ``patterns`` (under ROOT)."""
    found: List[Tuple[str, Dict[str, Any]]] = []
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            with open(path) as handle:
                found.extend((os.path.relpath(path, ROOT), doc) for doc in yaml.safe_load_all(handle) if doc)
    return found
