# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the spod role applies for the webhook, from the SPOD (pure functions; the role adds no logic).

* Deployment ``security-profiles-operator-webhook`` (2 replicas, spread over nodes when it can, HTTPS readiness
  and liveness probes, restricted security context), its PodDisruptionBudget (minAvailable 1) and Service
  (443 -> 9443), in the operator's namespace, run as the service account of the same name (config/rbac).
* MutatingWebhookConfiguration ``spo-mutating-webhook-configuration`` (label ``app: security-profiles-operator``,
  so that undeploying removes it first) with three webhooks, called in this order:

  ============================  ===============================  =====================================  ========
  name                          path                             namespaces (opt-in label)              failure
  ============================  ===============================  =====================================  ========
  ``binding.spo.io``            ``/mutate-v1-pod-binding``       ``spo.x-k8s.io/enable-binding``        Fail
  ``recording.spo.io``          ``/mutate-v1-pod-recording``     ``spo.x-k8s.io/enable-recording``      Fail
  ``runtime-default.spo.io``    ``/mutate-v1-pod-runtime-default`` ``spo.x-k8s.io/enable-runtime-default`` Ignore
  ============================  ===============================  =====================================  ========

  A label opts in when present and not ``"false"`` (binding, recording: upstream's ``Exists``) or when
  ``"true"`` (runtime default; with the SPOD's ``runtimeDefault.allNamespaces``: every namespace not labelled
  ``"false"``). The SPOD's ``webhookOptions`` (grouped: ``webhook.options``) set ``failurePolicy``,
  ``namespaceSelector`` and ``objectSelector`` per webhook name; whatever they say, the operator's namespace and
  the operator's and webhook's own pods are never matched (an expression is added to each selector).
* ``sideEffects: None``, ``timeoutSeconds`` :data:`TIMEOUT_SECONDS`, ``admissionReviewVersions: [v1]``.
* Certificates: ``cert_provider(apis)`` picks cert-manager (``cert-manager.io/v1`` Certificate served), OpenShift's
  service CA (``operator.openshift.io/v1`` ServiceCA served) or the operator's own CA (``certs``). With
  cert-manager an Issuer and a Certificate are added and the configuration is annotated
  ``cert-manager.io/inject-ca-from``; with the service CA the Service asks for the serving Secret and the
  configuration for the CA bundle (``service.beta.openshift.io/*``); with the own CA, ``caBundle`` is set.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spod import spod_ref
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodspec import field_name, flat_spec
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import admission, runtimedefault

Obj = Dict[str, Any]

NAME = "security-profiles-operator-webhook"
CONFIG_NAME = "spo-mutating-webhook-configuration"
CERT_SECRET = NAME + "-cert"
CA_SECRET = NAME + "-ca"
SERVICE_ACCOUNT = NAME
PORT = 9443
TIMEOUT_SECONDS = 5
REPLICAS = 2
CERT_DIR = "/etc/spo/webhook-tls"
APP_LABELS = {"app": "security-profiles-operator"}
POD_LABELS = {"app": "security-profiles-operator", "name": NAME}
OPERATOR_POD_NAMES = ["security-profiles-operator", NAME, "spod"]

OWN_CA, CERT_MANAGER, SERVICE_CA = "operator", "cert-manager", "service-ca"

BINDING_LABEL = "spo.x-k8s.io/enable-binding"
RECORDING_LABEL = "spo.x-k8s.io/enable-recording"
RUNTIME_DEFAULT_LABEL = runtimedefault.LABEL

# name, path, opt-in label, default failure policy, rules
WEBHOOKS = (
    ("binding.spo.io", admission.BINDING, BINDING_LABEL, "Fail",
     [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "Namespaced"},
      {"operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/ephemeralcontainers"],
       "scope": "Namespaced"}]),
    ("recording.spo.io", admission.RECORDING, RECORDING_LABEL, "Fail",
     [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "Namespaced"}]),
    ("runtime-default.spo.io", admission.RUNTIME_DEFAULT, RUNTIME_DEFAULT_LABEL, "Ignore",
     [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "Namespaced"}]),
)
WEBHOOK_NAMES = tuple(w[0] for w in WEBHOOKS)
KUBE_SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"]


class Settings(object):
    """The SPOD's webhook settings, from either spelling."""

    __slots__ = ("static", "options", "all_namespaces", "verbosity", "image_pull_secrets", "namespace")

    def __init__(self, spod: Mapping[str, Any]) -> None:
        if not isinstance(spod, Mapping):
            raise SpoError("must be an object", "SecurityProfilesOperatorDaemon")
        ref = spod_ref(spod)
        self.namespace = (spod.get("metadata") or {}).get("namespace") or ""
        if not self.namespace:
            raise SpoError("is required", ref, "metadata.namespace")
        raw = spod.get("spec") or {}
        if not isinstance(raw, Mapping):
            raise SpoError("must be an object", ref, "spec")
        spec = flat_spec(raw, ref)
        static = spec.get("staticWebhookConfig")
        if static is not None and not isinstance(static, bool):
            raise SpoError("must be true or false, got %r" % (static,), ref, field_name(raw, "staticWebhookConfig"))
        self.static = bool(static)
        options = spec.get("webhookOptions")
        field = field_name(raw, "webhookOptions")
        self.options: Dict[str, Obj] = {}
        if options is not None and not isinstance(options, list):
            raise SpoError("must be a list", ref, field)
        for index, option in enumerate(options or []):
            where = "%s[%d]" % (field, index)
            if not isinstance(option, Mapping) or not isinstance(option.get("name"), str):
                raise SpoError("must be an object with a name", ref, where)
            if option["name"] not in WEBHOOK_NAMES:
                raise SpoError("names no webhook of the operator (one of %s), got %r"
                               % (", ".join(WEBHOOK_NAMES), option["name"]), ref, where + ".name")
            policy = option.get("failurePolicy")
            if policy is not None and policy not in ("Fail", "Ignore"):
                raise SpoError("must be Fail or Ignore, got %r" % (policy,), ref, where + ".failurePolicy")
            for key in ("namespaceSelector", "objectSelector"):
                if option.get(key) is not None and not isinstance(option.get(key), Mapping):
                    raise SpoError("must be a label selector (an object)", ref, "%s.%s" % (where, key))
            self.options[option["name"]] = dict(option)
        runtime = spec.get("runtimeDefault")
        if runtime is not None and not isinstance(runtime, Mapping):
            raise SpoError("must be an object", ref, "spec.runtimeDefault")
        all_ns = (runtime or {}).get("allNamespaces", False)
        if all_ns is not None and not isinstance(all_ns, bool):
            raise SpoError("must be true or false, got %r" % (all_ns,), ref, "spec.runtimeDefault.allNamespaces")
        self.all_namespaces = bool(all_ns)
        level = spec.get("verbosity", 0)
        self.verbosity = level if isinstance(level, int) and not isinstance(level, bool) and level in (0, 1) else 0
        pulls = spec.get("imagePullSecrets") or []
        self.image_pull_secrets = copy.deepcopy(pulls) if isinstance(pulls, list) else []


def cert_provider(apis: Optional[Mapping[str, Any]]) -> str:
    """Who issues the serving certificate, from API discovery (``kubernetes.core.k8s_cluster_info``'s ``apis``:
    ``{"group/version": {Kind: ...}}``; a list of ``group/version`` strings works too)."""
    apis = apis or {}

    def served(group_version: str, kind: str) -> bool:
        if isinstance(apis, Mapping):
            kinds = apis.get(group_version)
            return isinstance(kinds, Mapping) and kind in kinds
        return group_version in apis

    if served("cert-manager.io/v1", "Certificate"):
        return CERT_MANAGER
    if served("operator.openshift.io/v1", "ServiceCA"):
        return SERVICE_CA
    return OWN_CA


def _meta(name: str, namespace: Optional[str] = None, annotations: Optional[Dict[str, str]] = None) -> Obj:
    meta: Obj = {"name": name, "labels": dict(APP_LABELS)}
    if namespace:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = annotations
    return meta


def deployment(spod: Mapping[str, Any], image: str) -> Obj:
    s = Settings(spod)
    if not isinstance(image, str) or not image:
        raise SpoError("the webhook image must be a non-empty string", spod_ref(spod))
    probe = {"httpGet": {"scheme": "HTTPS", "path": "/readyz", "port": PORT}, "periodSeconds": 5, "failureThreshold": 2,
             "timeoutSeconds": 2}
    container = {
        "name": "webhook", "image": image, "imagePullPolicy": "IfNotPresent",
        "command": ["spo-webhook"],
        "args": ["--port", str(PORT), "--cert-dir", CERT_DIR, "--verbosity", str(s.verbosity)],
        "env": [{"name": "OPERATOR_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": [{"name": "https", "containerPort": PORT, "protocol": "TCP"}],
        "readinessProbe": probe,
        "livenessProbe": {"httpGet": {"scheme": "HTTPS", "path": "/healthz", "port": PORT}, "periodSeconds": 10,
                          "failureThreshold": 6, "initialDelaySeconds": 10, "timeoutSeconds": 2},
        "resources": {"requests": {"cpu": "20m", "memory": "48Mi"}, "limits": {"memory": "192Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tls", "mountPath": CERT_DIR, "readOnly": True}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    pod_spec: Obj = {
        "serviceAccountName": SERVICE_ACCOUNT,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "tls", "secret": {"secretName": CERT_SECRET, "defaultMode": 0o444}},
                    {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}],
        "terminationGracePeriodSeconds": 15,
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": dict(POD_LABELS)},
                                                "topologyKey": "kubernetes.io/hostname"}}]}},
    }
    if s.image_pull_secrets:
        pod_spec["imagePullSecrets"] = s.image_pull_secrets
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(NAME, s.namespace),
        "spec": {"replicas": REPLICAS, "selector": {"matchLabels": dict(POD_LABELS)},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                 "template": {"metadata": {"labels": dict(POD_LABELS)}, "spec": pod_spec}},
    }


def service(spod: Mapping[str, Any], provider: str = OWN_CA) -> Obj:
    s = Settings(spod)
    annotations = {"service.beta.openshift.io/serving-cert-secret-name": CERT_SECRET} if provider == SERVICE_CA else None
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(NAME, s.namespace, annotations),
            "spec": {"selector": dict(POD_LABELS),
                     "ports": [{"name": "https", "port": 443, "targetPort": PORT, "protocol": "TCP"}]}}


def pdb(spod: Mapping[str, Any]) -> Obj:
    s = Settings(spod)
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta(NAME, s.namespace),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": dict(POD_LABELS)}}}


def cert_manager_objects(spod: Mapping[str, Any]) -> List[Obj]:
    """A self-signed Issuer and the Certificate whose Secret the webhook pods mount (cert-manager only)."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.webhook.certs import service_dns_names
    s = Settings(spod)
    return [{"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": _meta(NAME + "-issuer", s.namespace),
             "spec": {"selfSigned": {}}},
            {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": _meta(NAME, s.namespace),
             "spec": {"secretName": CERT_SECRET, "dnsNames": service_dns_names(NAME, s.namespace)[:2],
                      "issuerRef": {"kind": "Issuer", "name": NAME + "-issuer"},
                      "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}}}]


def _with_exclusion(selector: Optional[Mapping[str, Any]], requirement: Obj) -> Obj:
    out = copy.deepcopy(dict(selector or {}))
    expressions = list(out.get("matchExpressions") or [])
    if requirement not in expressions:
        expressions.append(requirement)
    out["matchExpressions"] = expressions
    return out


def _namespace_selector(label: str, settings: Settings) -> Obj:
    if label == RUNTIME_DEFAULT_LABEL:
        if settings.all_namespaces:
            return {"matchExpressions": [{"key": label, "operator": "NotIn", "values": ["false"]},
                                         {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                          "values": list(KUBE_SYSTEM_NAMESPACES)}]}
        return {"matchExpressions": [{"key": label, "operator": "In", "values": ["true"]}]}
    return {"matchExpressions": [{"key": label, "operator": "Exists"},
                                 {"key": label, "operator": "NotIn", "values": ["false"]}]}


def webhook_configuration(spod: Mapping[str, Any], ca_bundle: str = "", provider: str = OWN_CA) -> Obj:
    """The MutatingWebhookConfiguration (``ca_bundle``: base64 PEM, used with the own CA)."""
    s = Settings(spod)
    not_operator_ns = {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [s.namespace]}
    not_operator_pods = {"key": "name", "operator": "NotIn", "values": list(OPERATOR_POD_NAMES)}
    hooks = []
    for name, path, label, policy, rules in WEBHOOKS:
        option = s.options.get(name, {})
        client: Obj = {"service": {"name": NAME, "namespace": s.namespace, "path": path, "port": 443}}
        if provider == OWN_CA and ca_bundle:
            client["caBundle"] = ca_bundle
        hooks.append({
            "name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "timeoutSeconds": TIMEOUT_SECONDS, "failurePolicy": option.get("failurePolicy") or policy,
            "matchPolicy": "Equivalent", "reinvocationPolicy": "Never", "clientConfig": client,
            "rules": copy.deepcopy(rules),
            "namespaceSelector": _with_exclusion(option.get("namespaceSelector") or _namespace_selector(label, s),
                                                 not_operator_ns),
            "objectSelector": _with_exclusion(option.get("objectSelector"), not_operator_pods),
        })
    annotations = None
    if provider == CERT_MANAGER:
        annotations = {"cert-manager.io/inject-ca-from": "%s/%s" % (s.namespace, NAME)}
    elif provider == SERVICE_CA:
        annotations = {"service.beta.openshift.io/inject-cabundle": "true"}
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": _meta(CONFIG_NAME, None, annotations), "webhooks": hooks}


def tls_secrets(spod: Mapping[str, Any], tls: Mapping[str, Any]) -> List[Obj]:
    """The CA Secret and the serving Secret holding what ``certs.ensure`` returned."""
    s = Settings(spod)
    return [{"apiVersion": "v1", "kind": "Secret", "metadata": _meta(CA_SECRET, s.namespace), "type": "Opaque",
             "data": dict(tls["ca"])},
            {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(CERT_SECRET, s.namespace),
             "type": "kubernetes.io/tls", "data": dict(tls["tls"])}]


def objects(spod: Mapping[str, Any], image: str, provider: str = OWN_CA) -> List[Obj]:
    """Everything but the webhook configuration and the Secrets, in the order to apply."""
    out = cert_manager_objects(spod) if provider == CERT_MANAGER else []
    return out + [service(spod, provider), pdb(spod), deployment(spod, image)]
