# -*- coding: utf-8 -*-
"""Load the Pod Security corpus (see README.md): cases, policies and the recorded API server texts."""
from __future__ import annotations

import copy
import glob
import json
import os
from typing import Any, Dict, List, NamedTuple, Tuple

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "expected.json")
IMAGE = "docker.io/library/busybox:local"
DEFAULT_POLICIES = ("baseline:latest", "restricted:latest")


class Case(NamedTuple):
    name: str
    obj: Dict[str, Any]
    policies: Tuple[str, ...]
    source: str


def _fill_images(spec: Dict[str, Any]) -> None:
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or ():
            container.setdefault("image", IMAGE)
            container.setdefault("imagePullPolicy", "Never")
    if not spec.get("containers"):
        spec["containers"] = [{"name": "app", "image": IMAGE, "imagePullPolicy": "Never"}]


def _pod_spec(obj: Dict[str, Any]) -> Dict[str, Any]:
    kind = obj["kind"]
    if kind == "Pod":
        return obj["spec"]
    if kind == "PodTemplate":
        return obj["template"]["spec"]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def load_cases() -> List[Case]:
    cases: List[Case] = []
    seen = set()
    for path in sorted(glob.glob(os.path.join(HERE, "*.yaml"))):
        with open(path, encoding="utf-8") as handle:
            entries = yaml.safe_load(handle) or []
        for entry in entries:
            name = entry["name"]
            assert name not in seen, "duplicate case %s in %s" % (name, path)
            seen.add(name)
            if "object" in entry:
                obj = copy.deepcopy(entry["object"])
            else:
                pod = copy.deepcopy(entry["pod"])
                obj = {"apiVersion": "v1", "kind": "Pod", "metadata": pod.get("metadata") or {},
                       "spec": pod.get("spec") or {}}
            obj.setdefault("metadata", {})["name"] = name
            _fill_images(_pod_spec(obj))
            cases.append(Case(name, obj, tuple(entry.get("policies") or DEFAULT_POLICIES), os.path.basename(path)))
    return cases


def key(case: str, policy: str) -> str:
    return "%s@%s" % (case, policy)


def load_expected() -> Dict[str, str]:
    if not os.path.exists(EXPECTED):
        return {}
    with open(EXPECTED, encoding="utf-8") as handle:
        return json.load(handle)


def save_expected(expected: Dict[str, str]) -> None:
    tmp = EXPECTED + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(expected, handle, indent=1, sort_keys=True, ensure_ascii=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, EXPECTED)
