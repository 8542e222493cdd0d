# -*- coding: utf-8 -*-
"""A tenant's strings are data in the operator: no template in any field of any reconciled kind runs.

As a tenant would, every string of a SecurityProfilesOperatorDaemon (flat and grouped spelling), ProfileBinding and
ProfileRecording that the CRD schema lets through (values, map keys, annotations) is set to a Jinja template: a
``pipe`` lookup that creates ``/tmp/pwned-<n>`` in the operator's pod, or ``{{ 7*7 }}-spo`` (rendered ``49-spo``).
After the operator has reconciled each object, no such file exists in any operator pod and ``49-spo`` appears in
nothing the roles wrote (the objects and their status, the events, the node DaemonSet and webhook objects).
Every string the schema refuses is tried one at a time: the API server refuses it, naming the field.
The documents are made from the served CRD schemas, so a field added later is tried too.
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from clusterlib import GROUP, OPERATOR_NAMESPACE, wait_for  # pylint: disable=import-error
from kubehelp import PLURALS, core, create_obj, custom, delete_obj, get_obj  # pylint: disable=import-error

CANARY_DIR = "/tmp"
CALC = "{{ 7*7 }}-spo"
RENDERED = "49-spo"
# the flat (upstream up to 0.9) and grouped (1.0) spellings of a SPOD may not be mixed (the CRD's CEL rules)
SPOD_GROUPED = ("selinux", "enricher", "webhook", "scheduling", "security")
# valid stand-ins for a string field whose schema refuses the payload
STAND_INS = ("a", "/proc", "1", "")  # "": a field whose pattern takes no template nor these (auditLogPath: unset)


def pipe(n: int, short: bool = False) -> str:
    """A template that creates ``/tmp/pwned-<n>`` when it runs (the short form for fields of 64 characters)."""
    if short:
        return "{{lookup('pipe','touch %s/pwned-%d')}}" % (CANARY_DIR, n)
    return "{{ lookup('ansible.builtin.pipe', 'touch %s/pwned-%d') }}" % (CANARY_DIR, n)


def calc(_n: int, _short: bool = False) -> str:
    return CALC


def crd_schema(kind: str) -> Dict[str, Any]:
    import yaml
    from clusterlib import CRD_DIR  # pylint: disable=import-error
    with open(os.path.join(CRD_DIR, "%s_%s.yaml" % (GROUP, PLURALS[kind][1]))) as handle:
        crd = yaml.safe_load(handle)
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == PLURALS[kind][0]]
    return version["schema"]["openAPIV3Schema"]["properties"]["spec"]


def accepts(schema: Dict[str, Any], value: str) -> bool:
    """Whether a string field's own constraints (pattern, lengths) let ``value`` through."""
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return False
    return len(value) <= schema.get("maxLength", 1 << 30) and len(value) >= schema.get("minLength", 0)


def cel_key_patterns(schema: Dict[str, Any]) -> List[str]:
    """The ``k.matches(r"...")`` patterns of a map's CEL rules (the rules that check its keys)."""
    rules = [v.get("rule", "") for v in schema.get("x-kubernetes-validations") or []]
    return [m.group(1) for rule in rules for m in re.finditer(r'matches\(r"(.*?)"\)', rule)]


class Filler(object):
    """A document with every property present, every string (value or map key) holding a payload where the
    schema takes it, and the strings the schema refuses listed as (path, field name, "value" or "key")."""

    def __init__(self, payload) -> None:
        self.payload = payload
        self.count = 0
        self.templated: List[str] = []
        self.refused: List[Tuple[Tuple[Any, ...], str, str]] = []

    def fill(self, schema: Dict[str, Any], path: Tuple[Any, ...]) -> Any:
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if schema.get("x-kubernetes-int-or-string") or schema.get("anyOf"):
            return self._string(dict(schema, type="string"), path)
        if kind == "boolean":
            return False
        if kind in ("integer", "number"):
            return max(1, schema.get("minimum", 1))
        if kind == "array":
            return [self.fill(schema.get("items") or {"type": "string"}, path + (0,))]
        if kind == "object" or "properties" in schema or "additionalProperties" in schema:
            out: Dict[str, Any] = {}
            for key, child in (schema.get("properties") or {}).items():
                out[key] = self.fill(child, path + (key,))
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                # a hostile value under a plain key, and a hostile key with that (valid) value
                out[STAND_INS[0]] = self.fill(extra, path + (STAND_INS[0],))
                key = self._key(schema, path)
                if key != STAND_INS[0]:
                    out[key] = copy.deepcopy(out[STAND_INS[0]])
            return out
        return self._string(schema, path)

    def _payloads(self) -> List[str]:
        """The payload, its short form, and the short form under a path (for a field that takes a path)."""
        self.count += 1
        return [self.payload(self.count, False), self.payload(self.count, True),
                "/proc/" + self.payload(self.count, True)]

    def _key(self, schema: Dict[str, Any], path: Tuple[Any, ...]) -> str:
        for key in self._payloads():
            if all(re.search(p, key) for p in cel_key_patterns(schema)):
                self.templated.append(field_name(path) + "{key}")
                return key
        self.refused.append((path, field_name(path), "key"))
        return STAND_INS[0]

    def _string(self, schema: Dict[str, Any], path: Tuple[Any, ...]) -> str:
        for value in self._payloads():
            if accepts(schema, value):
                self.templated.append(field_name(path))
                return value
        self.refused.append((path, field_name(path), "value"))
        return next(v for v in STAND_INS if accepts(schema, v))


def field_name(path: Tuple[Any, ...]) -> str:
    """``spec.imagePullSecrets[0].name`` for ("spec", "imagePullSecrets", 0, "name")."""
    out = ""
    for part in path:
        out += "[%d]" % part if isinstance(part, int) else ("." if out else "") + part
    return out


def set_at(doc: Dict[str, Any], path: Tuple[Any, ...], value: Any) -> Dict[str, Any]:
    doc = copy.deepcopy(doc)
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return doc


def documents(kind: str, payload, name: str) -> Iterator[Tuple[Dict[str, Any], Filler]]:
    """The hostile documents of ``kind`` (two for the SPOD: its flat and its grouped spelling)."""
    spec_schema = crd_schema(kind)
    variants = [None]
    if kind == "SecurityProfilesOperatorDaemon":
        variants = ["flat", "grouped"]
    for variant in variants:
        schema = copy.deepcopy(spec_schema)
        if variant:
            props = schema["properties"]
            for key in list(props):
                if (key in SPOD_GROUPED) != (variant == "grouped"):
                    del props[key]
        filler = Filler(payload)
        spec = filler.fill(schema, ("spec",))
        annotations = {"spo.x-k8s.io/hostile": payload(0), "spo.x-k8s.io/calc": CALC}
        suffix = "-" + variant if variant else ""
        doc = {"apiVersion": "%s/%s" % (GROUP, PLURALS[kind][0]), "kind": kind,
               "metadata": {"name": name + suffix, "annotations": annotations}, "spec": spec}
        yield doc, filler


def operator_pods(kube) -> List[str]:
    pods = core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="app=security-profiles-operator,name=security-profiles-operator")
    return [p.metadata.name for p in pods.items if p.status.phase == "Running"]


def canaries_in_operator(kube) -> List[str]:
    found = []
    for pod in operator_pods(kube):
        proc = subprocess.run(["kubectl", "exec", "-n", OPERATOR_NAMESPACE, pod, "-c", "manager", "--", "python3", "-c",
                               "import glob; print('\\n'.join(glob.glob('%s/pwned*')))" % CANARY_DIR],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        assert proc.returncode == 0, proc.stdout
        found += ["%s:%s" % (pod, line) for line in proc.stdout.split() if line]
    return found


def reconciled(kube, kind: str, namespace: str, name: str) -> bool:
    """The operator has finished a run for the object (a condition carries its ansibleResult)."""
    obj = get_obj(kube, kind, namespace, name) or {}
    return any("ansibleResult" in c for c in (obj.get("status") or {}).get("conditions") or [])


def refusal(kube, doc: Dict[str, Any], namespace: str) -> str:
    from kubernetes.client.rest import ApiException
    try:
        create_obj(kube, doc, namespace)
    except ApiException as exc:
        assert exc.status == 422, exc.body
        return exc.body
    delete_obj(kube, doc["kind"], namespace, doc["metadata"]["name"])
    return ""


def everything_written(kube, namespaces: List[str]) -> str:
    """The objects of the API group, the events, and the DaemonSets, Deployments, Services and webhook
    configurations the spod role writes, as one JSON text."""
    from kubernetes import client
    api = client.ApiClient().sanitize_for_serialization
    parts: List[Any] = []
    for namespace in namespaces:
        for version, plural in PLURALS.values():
            parts += custom(kube).list_namespaced_custom_object(GROUP, version, namespace, plural)["items"]
        parts += [api(e) for e in core(kube).list_namespaced_event(namespace).items]
    apps = client.AppsV1Api(kube)
    parts += [api(d) for d in apps.list_namespaced_daemon_set(OPERATOR_NAMESPACE).items]
    parts += [api(d) for d in apps.list_namespaced_deployment(OPERATOR_NAMESPACE).items]
    parts += [api(s) for s in core(kube).list_namespaced_service(OPERATOR_NAMESPACE).items]
    parts += [api(w) for w in client.AdmissionregistrationV1Api(kube).list_mutating_webhook_configuration().items]
    return json.dumps(parts, default=str)


KINDS = ["SecurityProfilesOperatorDaemon", "ProfileBinding", "ProfileRecording"]


def test_hostile_strings_are_data_in_every_reconciled_kind(operator, namespace):
    kube = operator
    assert operator_pods(kube), "no running operator pod"
    assert canaries_in_operator(kube) == []
    created = []
    templated = {}
    for kind in KINDS:
        for payload, label in ((pipe, "pipe"), (calc, "calc")):
            for doc, filler in documents(kind, payload, "hostile-%s-%s" % (kind.lower()[:12], label)):
                create_obj(kube, doc, namespace)
                created.append((kind, doc["metadata"]["name"]))
                templated[(kind, doc["metadata"]["name"])] = filler.templated
    for kind, name in created:
        wait_for(lambda k=kind, n=name: reconciled(kube, k, namespace, n), 180, 2.0,
                 "the operator to reconcile %s %s/%s" % (kind, namespace, name))
    assert canaries_in_operator(kube) == [], "a tenant's template ran in the operator (fields: %s)" % templated
    written = everything_written(kube, [namespace, OPERATOR_NAMESPACE])
    assert RENDERED not in written
    # the templates reached the operator as they were written (the test did put them there)
    assert pipe(0) in written and CALC in written
    for kind, name in created:  # the ProfileRecording's finalizer runs its role once more
        delete_obj(kube, kind, namespace, name)
    for kind, name in created:
        wait_for(lambda k=kind, n=name: get_obj(kube, k, namespace, n) is None, 120, 2.0, "%s %s to go" % (kind, name))
    assert canaries_in_operator(kube) == [], "a tenant's template ran in the operator's finalizer run"


@pytest.mark.parametrize("kind", KINDS)
def test_strings_the_schema_refuses_are_refused_by_the_api_server_naming_the_field(kube, namespace, kind):
    tried = 0
    for doc, filler in documents(kind, pipe, "refused-" + kind.lower()[:12]):
        for path, field, what in filler.refused:
            if what == "key":
                bad = set_at(doc, path, {pipe(99): "a"})
            else:
                bad = set_at(doc, path, pipe(99))
            body = refusal(kube, bad, namespace)
            assert body, "%s %s took %r" % (kind, field, pipe(99))
            assert field in body, (field, body[:600])
            tried += 1
    if kind == "ProfileBinding":
        assert tried >= 2  # spec.image and spec.profileRef.name
