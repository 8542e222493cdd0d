# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every field of the SPOD: honoured (and where), or reported when set (and why). Nothing silent.

:data:`FIELDS` names each field of the SPOD's schema, in both spellings (the flat 0.x names and the grouped 1.0
ones), as :class:`Honoured` (what acts on it: the node DaemonSet, the node agent's settings, the webhook, the label
sync) or :class:`Reported` (this edition does not do what it asks). An entry covers the fields under it (a
``daemonResourceRequirements`` object is passed whole to the containers). tests/unit/test_spod_fields.py walks the
CRD's schema and fails on a field without an entry, and checks each ``Honoured`` claim by rendering with and
without the field. An honoured field that has no effect in a given SPOD (``allowedSeccompActions`` without
``allowedSyscalls``) is reported there too.

:func:`report` lists the reported fields a SPOD sets; :func:`condition` and :func:`events` turn that into the
condition ``NotHonoured`` on the SPOD's status and one Warning Event per field (roles/spod writes both).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodsettings import settings

# what acts on an honoured field (tests/unit/test_spod_fields.py renders each to check the claim)
DAEMONSET = "daemonset"        # the node DaemonSet spod (cluster/spod.py)
NODE_AGENT = "node-agent"      # the node agent's settings (cluster/spodsettings.py)
WEBHOOK = "webhook"            # the webhook's Deployment and configuration (webhook/manifests.py)
LABEL_SYNC = "label-sync"      # the label sync's Deployment (labelsync/deployment.py)

CONDITION_TYPE = "NotHonoured"
REASON = "FieldNotHonoured"
APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"
# a field that asks for something when set to any value but these
_UNSET: Tuple[Any, ...] = (None, False, "", [], {})


class Honoured(object):
    """A field ``where`` acts on; ``idle(spod)``, when given, says why a set field has no effect in this SPOD
    (``None``: it has one), and the field is then reported like a :class:`Reported` one."""

    __slots__ = ("where", "idle")

    def __init__(self, where: str, idle: Optional[Callable[[Mapping[str, Any]], Optional[str]]] = None) -> None:
        self.where = where
        self.idle = idle


class Reported(object):
    """A field this edition does not act on: reported when ``asks(value)``, with ``why`` (or ``why_of(facts)``)."""

    __slots__ = ("why", "asks", "why_of")

    def __init__(self, why: str, asks: Optional[Callable[[Any], bool]] = None,
                 why_of: Optional[Callable[["Facts"], str]] = None) -> None:
        self.why = why
        self.asks = asks or (lambda value: value not in _UNSET)
        self.why_of = why_of

    def reason(self, facts: "Facts") -> str:
        return self.why_of(facts) if self.why_of is not None else self.why


class Facts(object):
    """What the node tells about itself: ``apparmor`` True/False (``None``: not known)."""

    __slots__ = ("apparmor",)

    def __init__(self, apparmor: Optional[bool] = None) -> None:
        self.apparmor = apparmor


def apparmor_enabled(path: str = APPARMOR_ENABLED) -> bool:
    """Whether this node's kernel runs AppArmor (its module parameter reads ``Y``; absent: no AppArmor)."""
    try:
        with open(path) as handle:
            return handle.read(16).strip().upper().startswith("Y")
    except OSError:
        return False


def _apparmor_why(facts: Facts) -> str:
    if facts.apparmor is False:
        return "the node's kernel has no AppArmor (%s is absent or not Y); and this edition installs no AppArmor " \
               "profiles" % APPARMOR_ENABLED
    return "this edition installs no AppArmor profiles (there is no AppArmorProfile kind)"


# The eBPF recorder: the bpf-recorder container of the DaemonSet.
_BPF = Honoured(DAEMONSET)
# The JSON enricher (one JSON line per exec of a container), in the log-enricher container; its options (interval,
# file on the node and its rotation) are the container's arguments and the file's directory a hostPath volume.
_JSON = Honoured(DAEMONSET)
_NO_PROFILING = Reported("the daemons serve no profiling data")
_NO_MEMORY_OPT = Reported("the log enricher watches only the pods of its own node already; there is no further "
                          "memory optimisation")
_METRICS = Reported("the daemons' metrics endpoints serve plain HTTP inside the pod network without authentication, "
                    "whatever this field says", asks=lambda value: value is not None)
_TYPE_TAG = Reported("the DaemonSet's containers always run as spc_t", asks=lambda value: value not in (None, "", "spc_t"))
_SELINUX_OPTIONS = Reported("the node agent applies the built-in SELinux denylist and System templates; the SPOD's "
                            "SELinux options are not implemented")
_RAW_SELINUX = Reported("RawSelinuxProfiles are installed whenever SELinux is on; they cannot be turned off",
                        asks=lambda value: value is False)
_CUSTOM_TEMPLATES = Reported("the shipped SELinux template blocks cannot be replaced from a ConfigMap")
_LOG_FILTERS = Reported("the log enricher has no line filters; it logs nothing per line (it records profiles and "
                        "counts syscalls in its metrics)")
_LOG_SOURCE = Reported("the log enricher reads auditd's log and the kernel log, both, always",
                       asks=lambda value: value not in (None, "", "auditd"))


def _actions_idle(spod: Mapping[str, Any]) -> Optional[str]:
    if settings(spod).allowed_syscalls is None:
        return "without allowedSyscalls it bounds nothing: it names the actions whose syscalls allowedSyscalls " \
               "bounds (upstream's semantics), not the actions profiles may use"
    return None


_SECCOMP_ACTIONS = Honoured(NODE_AGENT, idle=_actions_idle)
_OCI = Reported("this edition pulls no OCI artifacts (base profiles are the shipped ones and profiles of the "
                "cluster), so there is nothing to verify")

FIELDS: Dict[str, Any] = {
    "spec.verbosity": Honoured(DAEMONSET),
    "spec.enableProfiling": _NO_PROFILING,
    "spec.enableMemoryOptimization": _NO_MEMORY_OPT,
    "spec.enableInsecureMetricsAccess": _METRICS,
    "spec.enableAppArmor": Reported("", why_of=_apparmor_why),
    "spec.hostProcVolumePath": Honoured(DAEMONSET),
    "spec.imagePullSecrets": Honoured(DAEMONSET),
    "spec.daemonResourceRequirements": Honoured(DAEMONSET),
    "spec.enableSelinux": Honoured(DAEMONSET),
    "spec.selinuxTypeTag": _TYPE_TAG,
    "spec.selinuxOptions": _SELINUX_OPTIONS,
    "spec.enableLogEnricher": Honoured(DAEMONSET),
    "spec.logEnricherFilters": _LOG_FILTERS,
    "spec.logEnricherSource": _LOG_SOURCE,
    "spec.enableJsonEnricher": _JSON,
    "spec.jsonEnricherFilters": _JSON,
    "spec.jsonEnricherOptions.auditLogIntervalSeconds": _JSON,
    "spec.jsonEnricherOptions.auditLogPath": _JSON,
    "spec.jsonEnricherOptions.auditLogMaxSize": _JSON,
    "spec.jsonEnricherOptions.auditLogMaxBackups": _JSON,
    "spec.jsonEnricherOptions.auditLogMaxAge": _JSON,
    "spec.enableBpfRecorder": _BPF,
    "spec.tolerations": Honoured(DAEMONSET),
    "spec.affinity": Honoured(DAEMONSET),
    "spec.nodeSelector": Honoured(DAEMONSET),
    "spec.priorityClassName": Honoured(DAEMONSET),
    "spec.staticWebhookConfig": Honoured(WEBHOOK),
    "spec.webhookOptions": Honoured(WEBHOOK),
    "spec.allowedSyscalls": Honoured(NODE_AGENT),
    "spec.allowedSeccompActions": _SECCOMP_ACTIONS,
    "spec.disableOciArtifactSignatureVerification": _OCI,
    "spec.selinux.enable": Honoured(DAEMONSET),
    "spec.selinux.enableRawSelinuxProfiles": _RAW_SELINUX,
    "spec.selinux.typeTag": _TYPE_TAG,
    "spec.selinux.options": _SELINUX_OPTIONS,
    "spec.selinux.customTemplatesConfigMap": _CUSTOM_TEMPLATES,
    "spec.enricher.enableLogEnricher": Honoured(DAEMONSET),
    "spec.enricher.logEnricherFilters": _LOG_FILTERS,
    "spec.enricher.logEnricherSource": _LOG_SOURCE,
    "spec.enricher.enableJsonEnricher": _JSON,
    "spec.enricher.jsonEnricherFilters": _JSON,
    "spec.enricher.jsonEnricherOptions.auditLogIntervalSeconds": _JSON,
    "spec.enricher.jsonEnricherOptions.auditLogPath": _JSON,
    "spec.enricher.jsonEnricherOptions.auditLogMaxSize": _JSON,
    "spec.enricher.jsonEnricherOptions.auditLogMaxBackups": _JSON,
    "spec.enricher.jsonEnricherOptions.auditLogMaxAge": _JSON,
    "spec.enricher.enableBpfRecorder": _BPF,
    "spec.webhook.staticConfig": Honoured(WEBHOOK),
    "spec.webhook.options": Honoured(WEBHOOK),
    "spec.runtimeDefault.allNamespaces": Honoured(WEBHOOK),
    "spec.scheduling.tolerations": Honoured(DAEMONSET),
    "spec.scheduling.affinity": Honoured(DAEMONSET),
    "spec.scheduling.nodeSelector": Honoured(DAEMONSET),
    "spec.scheduling.priorityClassName": Honoured(DAEMONSET),
    "spec.security.allowedSyscalls": Honoured(NODE_AGENT),
    "spec.security.allowedSeccompActions": _SECCOMP_ACTIONS,
    "spec.security.disableOciArtifactSignatureVerification": _OCI,
    "spec.security.allowedIdentityRegexp": _OCI,
    "spec.security.allowedOidcIssuerRegexp": _OCI,
    "spec.podSecurityLabelSync.enable": Honoured(LABEL_SYNC),
    "spec.podSecurityLabelSync.reportOnly": Honoured(LABEL_SYNC),
    "spec.podSecurityLabelSync.source": Honoured(LABEL_SYNC),
}


def entry(path: str) -> Optional[Any]:
    """The entry that covers ``path`` (itself or its nearest listed ancestor), or None."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        found = FIELDS.get(".".join(parts[:end]))
        if found is not None:
            return found
    return None


def _lookup(spod: Mapping[str, Any], path: str) -> Any:
    value: Any = spod
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def report(spod: Optional[Mapping[str, Any]], facts: Optional[Facts] = None) -> List[Tuple[str, str]]:
    """``(field, why)`` for every reported field the SPOD sets, in the table's order."""
    facts = facts or Facts()
    found: List[Tuple[str, str]] = []
    for path, item in FIELDS.items():
        if isinstance(item, Reported):
            value = _lookup(spod or {}, path)
            if item.asks(value):
                found.append((path, item.reason(facts)))
        elif item.idle is not None and _lookup(spod or {}, path) not in _UNSET:
            why = item.idle(spod or {})
            if why:
                found.append((path, why))
    return found


def condition(items: List[Tuple[str, str]]) -> Dict[str, Any]:
    """The condition ``NotHonoured``: True naming each field and why, False when every field set is honoured.

    It changes only when what is reported changes (no generation in it), so its Events are not repeated.
    """
    cond: Dict[str, Any] = {"type": CONDITION_TYPE}
    if items:
        cond.update(status="True", reason=REASON,
                    message="; ".join("%s: %s" % (path, why) for path, why in items)[:4096])
    else:
        cond.update(status="False", reason="AllFieldsHonoured", message="every field this SPOD sets is honoured")
    return cond


def events(items: List[Tuple[str, str]]) -> List[Dict[str, str]]:
    """One Warning Event per reported field."""
    return [{"type": "Warning", "reason": REASON, "message": "%s is not honoured: %s" % (path, why)}
            for path, why in items]


def field_report(spod: Optional[Mapping[str, Any]], facts: Optional[Facts] = None) -> Dict[str, Any]:
    """What roles/spod writes: ``condition``, ``events`` and ``fields`` (the reported paths)."""
    items = report(spod, facts)
    return {"condition": condition(items), "events": events(items), "fields": [p for p, _w in items]}
