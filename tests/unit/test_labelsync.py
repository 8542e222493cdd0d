# -*- coding: utf-8 -*-
"""Label sync decisions (pure): workload levels, namespace management and label ownership, the
apply body, OpenShift's SCC -> Pod Security mapping (on MicroShift's own SCCs), the Deployment."""
from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import deployment, namespaces as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import scc, workloads as wl

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def _template(kind, spec, **extra):
    pod = {"metadata": {}, "spec": spec}
    bodies = {"Pod": {"spec": spec},
              "Deployment": {"spec": {"template": pod}}, "ReplicaSet": {"spec": {"template": pod}},
              "StatefulSet": {"spec": {"template": pod}}, "DaemonSet": {"spec": {"template": pod}},
              "ReplicationController": {"spec": {"template": pod}}, "Job": {"spec": {"template": pod}},
              "CronJob": {"spec": {"jobTemplate": {"spec": {"template": pod}}}}}
    obj = dict(bodies[kind], metadata={"name": "w", "namespace": "n"}, **extra)
    return obj


RESTRICTED_SPEC = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                   "containers": [{"name": "c", "image": "i", "securityContext": {
                       "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}
BASELINE_SPEC = {"containers": [{"name": "c", "image": "i"}]}
PRIVILEGED_SPEC = {"containers": [{"name": "c", "image": "i", "securityContext": {"privileged": True}}]}


@pytest.mark.parametrize("kind", [r.kind for r in wl.RESOURCES])
@pytest.mark.parametrize("spec, level", [(RESTRICTED_SPEC, "restricted"), (BASELINE_SPEC, "baseline"),
                                         (PRIVILEGED_SPEC, "privileged")])
def test_every_workload_kind_is_judged(kind, spec, level):
    summary = wl.summarize(kind, _template(kind, spec))
    assert summary.level == level
    if level == "privileged":
        assert summary.why == 'privileged (container "c" must not set securityContext.privileged=true)'
    if level == "baseline":
        assert summary.why.startswith("allowPrivilegeEscalation != false")


def test_what_does_not_count():
    # a finished pod counts: the API server checks every pod it lists when the enforce label changes
    for phase in ("Succeeded", "Failed"):
        assert wl.summarize("Pod", dict(_template("Pod", PRIVILEGED_SPEC), status={"phase": phase})).level == "privileged"
    old = _template("ReplicaSet", PRIVILEGED_SPEC)
    old["spec"]["replicas"] = 0
    assert wl.summarize("ReplicaSet", old).level == "privileged"  # not owned: counts
    old["metadata"]["ownerReferences"] = [{"kind": "Deployment", "name": "d", "controller": True}]
    assert wl.summarize("ReplicaSet", old) is None  # an old revision of a Deployment
    broken = {"metadata": {"name": "b", "namespace": "n"}, "spec": {"template": {"spec": {"containers": "x"}}}}
    summary = wl.summarize("Deployment", broken)
    assert summary.level == "privileged" and summary.why.startswith("cannot be judged")


def test_namespace_level_is_the_most_privileged():
    sums = [wl.Summary("Deployment", "n", "a", "baseline", "x"), wl.Summary("Pod", "n", "b", "restricted", ""),
            wl.Summary("Job", "n", "z", "baseline", "y")]
    level, needing = wl.namespace_level(sums)
    assert level == "baseline" and [s.name for s in needing] == ["a", "z"]
    assert wl.namespace_level([])[0] == "restricted"
    sums.append(wl.Summary("CronJob", "n", "c", "privileged", "p"))
    assert wl.namespace_level(sums)[0] == "privileged"


def _ns(name="team", labels=None, managers=(), annotations=None, phase="Active"):
    fields = []
    for manager, keys in managers:
        fields.append({"manager": manager, "operation": "Apply",
                       "fieldsV1": {"f:metadata": {"f:labels": {"f:" + key: {} for key in keys}}}})
    return {"metadata": {"name": name, "labels": dict(labels or {}), "annotations": dict(annotations or {}),
                         "managedFields": fields}, "status": {"phase": phase}}


@pytest.mark.parametrize("name, labels, want", [
    ("team", {}, True),
    ("team", {ns.OPENSHIFT_SYNC_LABEL: "false"}, False),
    ("team", {ns.OPENSHIFT_SYNC_LABEL: "false", ns.SYNC_LABEL: "true"}, True),
    ("team", {ns.SYNC_LABEL: "false"}, False),
    ("default", {}, False), ("kube-system", {}, False), ("openshift-dns", {}, False), ("openshift", {}, False),
    ("openshift-dns", {ns.OPENSHIFT_SYNC_LABEL: "true"}, True), ("kube-public", {ns.SYNC_LABEL: "true"}, True),
    ("kubernetes-apps", {}, True),
])
def test_which_namespaces_are_managed(name, labels, want):
    assert ns.managed(_ns(name, labels))[0] is want


def test_terminating_namespaces_are_left_alone():
    assert ns.managed(_ns(phase="Terminating")) == (False, "terminating")


def test_plan_sets_free_labels_and_annotations():
    result = ns.plan(_ns(), "baseline", "Deployment a needs baseline")
    labels = result.body["metadata"]["labels"]
    want = {ns.PREFIX + m: "baseline" for m in ns.MODES}
    want.update({ns.PREFIX + m + "-version": "latest" for m in ns.MODES})
    assert labels == want
    assert result.body["metadata"]["annotations"] == {ns.MINIMUM_ANNOTATION: "baseline",
                                                      ns.REASON_ANNOTATION: "Deployment a needs baseline"}
    assert not result.force and len(result.changes) == 6 and result.minimum_changed


def test_plan_never_overwrites_another_managers_label():
    enforce = ns.PREFIX + "enforce"
    namespace = _ns(labels={enforce: "privileged"}, managers=[("kubectl-label", [enforce])])
    result = ns.plan(namespace, "restricted", "r")
    assert enforce not in result.body["metadata"]["labels"]
    assert result.foreign == {enforce: ["kubectl-label"]}
    assert "left alone (owned by another field manager): pod-security.kubernetes.io/enforce (kubectl-label)" in \
        ns.event_message("team", "restricted", "r", result, False)


def test_plan_is_empty_when_nothing_changes():
    labels = {key: ("restricted" if key in ns.LEVEL_LABELS else "latest") for key in ns.ALL_LABELS}
    done = _ns(labels=labels, managers=[(ns.FIELD_MANAGER, ns.ALL_LABELS)],
               annotations={ns.MINIMUM_ANNOTATION: "restricted", ns.REASON_ANNOTATION: "r"})
    assert ns.plan(done, "restricted", "r").body is None
    assert ns.plan(done, "restricted", "other reason").body is not None


def test_openshift_syncer_labels_are_adopted_only_when_it_is_opted_out():
    labels = {key: ("restricted" if key in ns.LEVEL_LABELS else "latest") for key in ns.ALL_LABELS}
    syncer = ("pod-security-admission-label-synchronization-controller", ns.ALL_LABELS)
    theirs = _ns(labels=labels, managers=[syncer])
    assert set(ns.plan(theirs, "privileged", "p").foreign) == set(ns.ALL_LABELS)
    handed = _ns(labels=dict(labels, **{ns.OPENSHIFT_SYNC_LABEL: "false", ns.SYNC_LABEL: "true"}),
                 managers=[syncer])
    result = ns.plan(handed, "privileged", "p")
    assert result.force and not result.foreign
    assert result.body["metadata"]["labels"][ns.PREFIX + "enforce"] == "privileged"
    # the same value: shared ownership is fine, no forced apply needed
    assert not ns.plan(handed, "restricted", "p").force


def test_report_only_changes_no_label():
    enforce = ns.PREFIX + "enforce"
    result = ns.plan(_ns(), "privileged", "p", report_only=True)
    assert "labels" not in result.body["metadata"] and not result.changes
    ours = _ns(labels={enforce: "baseline"}, managers=[(ns.FIELD_MANAGER, [enforce])])
    kept = ns.plan(ours, "privileged", "p", report_only=True)
    assert kept.body["metadata"]["labels"] == {enforce: "baseline"}  # kept as is (leaving it out would delete it)
    assert "report only" in ns.event_message("team", "privileged", "p", kept, True)


def test_managed_fields_as_raw_json_are_read():
    namespace = {"metadata": {"name": "x", "managedFields": [
        {"manager": "m", "fieldsV1": '{"f:metadata":{"f:labels":{"f:pod-security.kubernetes.io/warn":{}}}}'}]}}
    assert ns.label_managers(namespace) == {"pod-security.kubernetes.io/warn": {"m"}}


# ------------------------------------------------------------------ OpenShift SCCs
def _sccs():
    with open(os.path.join(FIXTURES, "labelsync-microshift-sccs.yaml")) as handle:
        return {item["metadata"]["name"]: item for item in yaml.safe_load(handle)["items"]}


NS_OBJ = {"metadata": {"name": "team", "annotations": {scc.UID_RANGE_ANNOTATION: "1000680000/10000"}}}


@pytest.mark.parametrize("name, level", [
    ("anyuid", "baseline"), ("hostaccess", "privileged"), ("hostmount-anyuid", "privileged"),
    ("hostnetwork", "privileged"), ("hostnetwork-v2", "privileged"), ("nonroot", "baseline"),
    ("nonroot-v2", "restricted"), ("privileged", "privileged"), ("restricted", "baseline"),
    ("restricted-v2", "restricted"), ("restricted-v3", "restricted"),
])
def test_microshift_sccs_map_as_openshift_maps_them(name, level):
    assert scc.scc_level(_sccs()[name], NS_OBJ) == level


def test_scc_parts():
    base = dict(_sccs()["restricted-v2"])
    assert scc.scc_level(dict(base, seccompProfiles=["*"]), NS_OBJ) == "privileged"
    assert scc.scc_level(dict(base, seccompProfiles=[]), NS_OBJ) == "baseline"
    assert scc.scc_level(dict(base, seccompProfiles=["localhost/x.json"]), NS_OBJ) == "restricted"
    assert scc.scc_level(dict(base, allowedUnsafeSysctls=["kernel.msg*"]), NS_OBJ) == "privileged"
    assert scc.scc_level(dict(base, volumes=["nfs"]), NS_OBJ) == "baseline"
    assert scc.scc_level(dict(base, seLinuxContext={"type": "RunAsAny"}), NS_OBJ) == "privileged"
    assert scc.scc_level(dict(base, seLinuxContext={"type": "MustRunAs", "seLinuxOptions": {"type": "spc_t"}}),
                         NS_OBJ) == "privileged"
    assert scc.scc_level(dict(base, allowedCapabilities=["SYS_ADMIN"]), NS_OBJ) == "privileged"
    assert scc.scc_level(dict(base, allowedCapabilities=["CHOWN"]), NS_OBJ) == "baseline"
    zero = {"metadata": {"name": "z", "annotations": {scc.UID_RANGE_ANNOTATION: "0-1000"}}}
    assert scc.scc_level(base, zero) == "baseline"
    assert scc.scc_level(dict(base, runAsUser={"type": "MustRunAs", "uid": 1000}), NS_OBJ) == "restricted"
    with pytest.raises(SpoError, match="unknown volume type 'floppy'"):
        scc.scc_level(dict(base, volumes=["floppy"]), NS_OBJ)
    with pytest.raises(SpoError, match="uid-range annotation, which is missing"):
        scc.scc_level(base, {"metadata": {"name": "bare"}})


def test_rbac_rules_allow_use():
    assert scc.rules_allow_use([{"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"],
                                 "verbs": ["use"], "resourceNames": ["privileged"]}], "privileged")
    assert not scc.rules_allow_use([{"apiGroups": ["security.openshift.io"],
                                     "resources": ["securitycontextconstraints"], "verbs": ["use"],
                                     "resourceNames": ["anyuid"]}], "privileged")
    assert scc.rules_allow_use([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], "privileged")
    assert not scc.rules_allow_use([{"apiGroups": ["security.openshift.io"],
                                     "resources": ["securitycontextconstraints"], "verbs": ["get"]}], "x")


def _binding(namespace, role_kind, role, subjects):
    return scc.binding_of({"metadata": {"name": "b", "namespace": namespace},
                           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
                           "subjects": subjects})


def test_namespace_level_from_service_accounts():
    sccs = list(_sccs().values())
    roles = {"/system:openshift:scc:restricted-v2": [{"apiGroups": ["security.openshift.io"], "verbs": ["use"],
                                                      "resources": ["securitycontextconstraints"],
                                                      "resourceNames": ["restricted-v2"]}],
             "/system:openshift:scc:privileged": [{"apiGroups": ["security.openshift.io"], "verbs": ["use"],
                                                   "resources": ["securitycontextconstraints"],
                                                   "resourceNames": ["privileged"]}],
             "team/use-anyuid": [{"apiGroups": ["security.openshift.io"], "verbs": ["use"],
                                  "resources": ["securitycontextconstraints"], "resourceNames": ["anyuid"]}]}
    everyone = _binding("", "ClusterRole", "system:openshift:scc:restricted-v2",
                        [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:authenticated"}])
    assert scc.namespace_level(NS_OBJ, ["default"], sccs, roles, [everyone])[0] == "restricted"
    anyuid = _binding("team", "Role", "use-anyuid", [{"kind": "ServiceAccount", "name": "app"}])
    assert scc.namespace_level(NS_OBJ, ["default"], sccs, roles, [everyone, anyuid])[0] == "restricted"
    level, why = scc.namespace_level(NS_OBJ, ["default", "app"], sccs, roles, [everyone, anyuid])
    assert (level, why) == ("baseline", "service account app may use SCC anyuid (role team/use-anyuid)")
    # a binding in another namespace gives nothing here; a cluster binding to the SA does
    elsewhere = _binding("other", "ClusterRole", "system:openshift:scc:privileged",
                         [{"kind": "ServiceAccount", "name": "app", "namespace": "team"}])
    assert scc.namespace_level(NS_OBJ, ["app"], sccs, roles, [everyone, elsewhere])[0] == "restricted"
    cluster = _binding("", "ClusterRole", "system:openshift:scc:privileged",
                       [{"kind": "ServiceAccount", "name": "app", "namespace": "team"}])
    assert scc.namespace_level(NS_OBJ, ["app"], sccs, roles, [everyone, cluster])[0] == "privileged"
    # the SCC's own users list
    direct = [dict(s, users=["system:serviceaccount:team:app"]) if s["metadata"]["name"] == "hostaccess" else s
              for s in sccs]
    assert scc.namespace_level(NS_OBJ, ["app"], direct, roles, [everyone]) == (
        "privileged", "SCC hostaccess lists service account app")
    # no decision: no service accounts, no uid range
    assert scc.namespace_level(NS_OBJ, [], sccs, roles, [everyone]) is None
    assert scc.namespace_level({"metadata": {"name": "team"}}, ["default"], sccs, roles, [everyone]) is None
    # user subjects do not count
    assert _binding("team", "Role", "use-anyuid", [{"kind": "User", "name": "system:serviceaccount:team:app"}]) \
        is None


# ------------------------------------------------------------------ the Deployment
SPOD = {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "SecurityProfilesOperatorDaemon",
        "metadata": {"name": "spod", "namespace": "security-profiles-operator", "uid": "u-1"}, "spec": {}}


def test_settings_and_deployment():
    assert deployment.settings(SPOD) == (False, False, "auto")
    spod = dict(SPOD, spec={"podSecurityLabelSync": {"enable": True, "reportOnly": True, "source": "scc"}})
    assert deployment.settings(spod) == (True, True, "scc")
    dep = deployment.deployment(spod, "img:1")
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert dep["metadata"]["namespace"] == "security-profiles-operator" and dep["metadata"]["name"] == "spo-label-sync"
    assert pod["serviceAccountName"] == "spo-label-sync" and container["image"] == "img:1"
    assert {"name": "LABEL_SYNC_REPORT_ONLY", "value": "true"} in container["env"]
    assert {"name": "LABEL_SYNC_SOURCE", "value": "scc"} in container["env"]
    assert dep["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert dep["spec"]["strategy"] == {"type": "Recreate"}


def test_deployment_is_restricted():
    from ansible_collections.spo.security_profiles.plugins.module_utils.pss.evaluate import evaluate
    assert evaluate(deployment.deployment(SPOD), "restricted").allowed


@pytest.mark.parametrize("value, message", [
    ("yes", "spec.podSecurityLabelSync: must be an object"),
    ({"enable": "yes"}, "spec.podSecurityLabelSync.enable: must be true or false"),
    ({"source": "pods"}, "spec.podSecurityLabelSync.source: must be one of auto, workloads, scc"),
    ({"enabled": True}, "unknown field(s) enabled"),
])
def test_bad_settings_name_the_spod_and_field(value, message):
    with pytest.raises(SpoError) as err:
        deployment.settings(dict(SPOD, spec={"podSecurityLabelSync": value}))
    assert "SecurityProfilesOperatorDaemon security-profiles-operator/spod" in str(err.value)
    assert message in str(err.value)


def test_filters():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.spo.security_profiles.plugins.filter.labelsync import FilterModule
    filters = FilterModule().filters()
    assert filters["labelsync_settings"](SPOD) == {"enable": False, "report_only": False, "source": "auto"}
    assert filters["labelsync_deployment"](SPOD, "img:2")["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "img:2"
    with pytest.raises(AnsibleFilterError, match="labelsync_settings: .*must be an object"):
        filters["labelsync_settings"](dict(SPOD, spec={"podSecurityLabelSync": []}))
