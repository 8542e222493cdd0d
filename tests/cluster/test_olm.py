# -*- coding: utf-8 -*-
"""OLM (v0) installs, upgrades and removes the operator from its bundle (bundle/), in the real cluster.

The module installs OLM (hack/olm.py: OLM's own chart from the pinned module, local images), builds the
bundle image of bundle/ and a file-based catalog (opm) serving it, and subscribes to it as an admin on
OpenShift would. At the end it removes the operator (undeploy.yml after the CSV) and OLM again, so the other
modules see the cluster as before.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict, List

import pytest
import yaml

from clusterlib import (OPERATOR_NAMESPACE, ROOT, crd_names, delete_crds, delete_namespace, ensure_namespace,  # pylint: disable=import-error
                        expected_seccomp_json, operator_deployed, profile_file, wait_for)
from kubehelp import (BUSYBOX, core, create_obj, get_obj, load_yaml, localhost, playbook, pod_manifest, run_pod,  # pylint: disable=import-error
                      start_pod, wait_status)

sys.path.insert(0, os.path.join(ROOT, "hack"))
import olm  # noqa: E402  pylint: disable=import-error,wrong-import-position

SPEC_NAMESPACE = "my-namespace"
SPEC_PROFILE = "profile-complain-block-high-risk"
SUBSCRIPTION = "security-profiles-operator"
NEXT_VERSION = "0.1.1"


BROKEN = "spo-olm-broken"
BROKEN_MESSAGE = 'Unsupported value: "NotAWebhook"'


def break_csv(csv: Dict[str, Any]) -> None:
    """A CSV the API server refuses: the ClusterServiceVersion schema allows only three webhook types.
    (opm renders it and OLM unpacks and resolves it; the InstallPlan's first step, creating the CSV, fails.
    A missing required string such as ``spec.displayName`` does not do: OLM writes the CSV from its Go type,
    which sends it as "".)"""
    csv["spec"]["webhookdefinitions"] = [{
        "type": "NotAWebhook", "generateName": "broken.spo.example.invalid", "sideEffects": "None",
        "admissionReviewVersions": ["v1"], "deploymentName": "security-profiles-operator"}]


def kget(*args: str) -> Dict[str, Any]:
    return olm.get_json(*args) or {}


def apply(*docs: Dict[str, Any]) -> None:
    olm.apply(list(docs))


def subscribe(source: str = olm.CATALOG, namespace: str = OPERATOR_NAMESPACE) -> None:
    """docs/olm-subscription.yaml (the README's): the namespace, an OperatorGroup targeting it (OwnNamespace)
    and the Subscription; ``namespace`` and ``source`` replaced when given."""
    with open(os.path.join(ROOT, "docs", "olm-subscription.yaml")) as handle:
        docs = yaml.safe_load(handle)["items"]
    for doc in docs:
        if doc["kind"] == "Namespace":
            doc["metadata"]["name"] = namespace
        else:
            doc["metadata"]["namespace"] = namespace
        if doc["kind"] == "OperatorGroup":
            doc["spec"]["targetNamespaces"] = [namespace]
        if doc["kind"] == "Subscription":
            doc["spec"]["source"] = source
    apply(*docs)


def csv_name(version: str) -> str:
    return "security-profiles-operator.v" + version


def base_version() -> str:
    return olm.Bundle(os.path.join(ROOT, "bundle"), "").csv()["spec"]["version"]


def installed_csv(version: str, timeout: float = 300) -> Dict[str, Any]:
    """Waits until the Subscription's InstallPlan completed and the CSV of ``version`` Succeeded."""
    name = csv_name(version)

    def succeeded():
        csv = kget("csv", "-n", OPERATOR_NAMESPACE, name)
        phase = (csv.get("status") or {}).get("phase")
        if phase == "Failed":
            raise AssertionError("CSV %s Failed: %s" % (name, csv["status"].get("message")))
        return csv if phase == "Succeeded" else None
    csv = wait_for(succeeded, timeout, 3.0, "CSV %s Succeeded" % name)

    def subscribed():
        found = kget("subscription", "-n", OPERATOR_NAMESPACE, SUBSCRIPTION)
        return found if (found.get("status") or {}).get("installedCSV") == name else None
    sub = wait_for(subscribed, 60, 2.0, "the Subscription's installedCSV")

    def complete():  # the CSV may succeed a moment before OLM marks its InstallPlan Complete
        plan = kget("installplan", "-n", OPERATOR_NAMESPACE, sub["status"]["installPlanRef"]["name"])
        return plan if (plan.get("status") or {}).get("phase") == "Complete" else None
    plan = wait_for(complete, 60, 2.0, "InstallPlan %s Complete" % sub["status"]["installPlanRef"]["name"])
    assert name in plan["spec"]["clusterServiceVersionNames"]
    return csv


def spod_running(kube) -> bool:
    spod = get_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod")
    if not spod or (spod.get("status") or {}).get("state") != "Running":
        return False
    from kubernetes import client
    ds = client.AppsV1Api(kube).read_namespaced_daemon_set("spod", OPERATOR_NAMESPACE)
    return bool(ds.status.desired_number_scheduled) and ds.status.number_ready == ds.status.desired_number_scheduled


def remove_operator() -> None:
    """What an admin does: delete the Subscription and the CSV (OLM removes the Deployment, RBAC, SAs)."""
    olm.kubectl("delete", "subscription", "-n", OPERATOR_NAMESPACE, SUBSCRIPTION, "--ignore-not-found", check=False)
    olm.kubectl("delete", "csv", "-n", OPERATOR_NAMESPACE, "--all", "--wait=true", "--timeout=120s", check=False)


def leftover_cluster_rbac(namespace: str = OPERATOR_NAMESPACE, owner: str = "ClusterServiceVersion") -> List[str]:
    """The ClusterRoles/Bindings OLM made for an object of ``namespace`` of kind ``owner`` (the CSV's RBAC; the
    OperatorGroup's aggregated admin/edit/view roles; "" for both)."""
    selector = "olm.owner.namespace=" + namespace + (",olm.owner.kind=" + owner if owner else "")
    names = []
    for kind in ("clusterrole", "clusterrolebinding"):
        for item in kget(kind, "-l", selector).get("items", []):
            names.append("%s/%s" % (kind, item["metadata"]["name"]))
    return names


@pytest.fixture(scope="module")
def catalogs(kube, tmp_path_factory):
    """OLM installed; the bundle images and three catalogs: bundle/ as it is, with NEXT_VERSION beside it, and
    a broken one."""
    if not os.access(olm.cluster_script(), os.X_OK):
        pytest.skip(reason="OLM's images are loaded with the test cluster's `cluster import` (%s is missing); "
                           "another cluster needs them in a registry" % olm.cluster_script())
    if operator_deployed(kube):  # an earlier module left the kustomize deployment: OLM installs its own
        playbook("undeploy.yml")
    delete_crds(kube)  # the bundle's CRDs are OLM's to create
    work = str(tmp_path_factory.mktemp("olm"))
    first = olm.operator_catalog(os.path.join(work, "v1"))
    both = olm.operator_catalog(os.path.join(work, "v2"), [base_version(), NEXT_VERSION])
    bad = olm.operator_catalog(os.path.join(work, "broken"), edit=break_csv, suffix="-broken")
    try:
        t0 = time.monotonic()
        olm.install()
        olm.import_images([image for built in (first, both, bad) for image in built["bundles"] + [built["catalog"]]])
        olm.serve_catalog(first["catalog"])
        print("OLM installed and catalog served in %.0f s" % (time.monotonic() - t0))
        yield {"first": first, "both": both, "broken": bad}
    finally:
        if os.environ.get("SPO_TEST_KEEP_DEPLOYED") != "1":
            restore_cluster(kube)


def restore_cluster(kube) -> None:
    """The cluster as the module found it: the operator undeployed, OLM and everything it made removed. Every
    step runs even when one before it failed (a failed test leaves any state); the first error is raised last."""
    errors: List[BaseException] = []

    def step(what: str, func) -> None:
        t0 = time.monotonic()
        try:
            func()
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)
            print("%s FAILED: %s" % (what, exc), file=sys.stderr)
        print("%s in %.1f s" % (what, time.monotonic() - t0), file=sys.stderr)

    # first, while the operator and node agents still run: the SPEC namespace's pods, which hold its profile (in
    # use), then the namespace; deleted with the pods still there, the profile waits for a reconcile that does
    # not come, and undeploy.yml would wait out its timeout (2 min) for it
    step("pods of %s deleted" % SPEC_NAMESPACE, lambda: olm.kubectl(
        "delete", "pods", "-n", SPEC_NAMESPACE, "--all", "--grace-period=0", "--wait=true", "--timeout=60s",
        check=False))
    # and its profiles and bindings released now, while the operator and the node agents run: removing the CSV
    # takes their ServiceAccounts with it, and after that no one could release them (undeploy.yml would wait out
    # its timeout, 2 min, and strip the finalizers)
    step("namespace %s deleted" % SPEC_NAMESPACE, lambda: delete_namespace(kube, SPEC_NAMESPACE, wait=90))
    step("bindings and recordings deleted", lambda: olm.kubectl(
        "delete", "profilebindings,profilerecordings", "--all-namespaces", "--all", "--wait=true", "--timeout=60s",
        check=False))
    step("Subscription and CSV deleted", remove_operator)
    step("undeploy.yml", lambda: playbook("undeploy.yml"))

    def olm_rbac():
        for name in leftover_cluster_rbac(owner="") + leftover_cluster_rbac(BROKEN, owner=""):
            olm.kubectl("delete", name, "--ignore-not-found", check=False)
    step("OLM's cluster RBAC for the operator deleted", olm_rbac)
    step("catalogs removed", lambda: (olm.remove_catalog(), olm.remove_catalog(BROKEN)))
    step("OLM removed", olm.uninstall)
    step("namespace %s deleted" % SPEC_NAMESPACE, lambda: delete_namespace(kube, SPEC_NAMESPACE))
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def broken(kube, catalogs):
    """Proof 5's Subscription to the broken catalog, made before the good install: OLM retries a failing plan
    for a minute (the catalog operator's install-plan retry timeout) before it fails it, and that minute runs
    beside proofs 1-3 instead of before them."""
    olm.serve_catalog(catalogs["broken"]["catalog"], name=BROKEN)
    try:
        subscribe(source=BROKEN, namespace=BROKEN)
        yield BROKEN
    finally:
        olm.kubectl("delete", "subscription,installplan,operatorgroup", "-n", BROKEN, "--all", check=False)
        for name in leftover_cluster_rbac(BROKEN, owner=""):  # the OperatorGroup's roles
            olm.kubectl("delete", name, "--ignore-not-found", check=False)
        olm.remove_catalog(BROKEN)
        delete_namespace(kube, BROKEN)


@pytest.fixture(scope="module")
def installed(kube, catalogs, broken):  # pylint: disable=unused-argument,redefined-outer-name
    """Proof 1's state: the operator installed through OLM, the SPEC profile Installed on the node."""
    t0 = time.monotonic()
    subscribe()
    csv = installed_csv(base_version())
    took = time.monotonic() - t0
    print("Subscription -> CSV %s Succeeded, InstallPlan Complete in %.0f s" % (csv["metadata"]["name"], took))
    ensure_namespace(kube, SPEC_NAMESPACE)
    return {"kube": kube, "csv": csv, "catalogs": catalogs}


def test_install_from_catalog_runs_operator_and_enforces_spec_profile(installed):
    kube = installed["kube"]
    csv = installed["csv"]
    from kubernetes import client
    dep = client.AppsV1Api(kube).read_namespaced_deployment("security-profiles-operator", OPERATOR_NAMESPACE)
    owners = [(o.kind, o.name) for o in dep.metadata.owner_references or []]
    assert ("ClusterServiceVersion", csv["metadata"]["name"]) in owners, owners
    wait_for(lambda: spod_running(kube), 240, 3.0, "SPOD Running with every node's agent ready")
    doc = load_yaml("tests/unit/fixtures/spec-seccompprofile.yaml")
    create_obj(kube, doc)
    obj = wait_status(kube, "SeccompProfile", SPEC_NAMESPACE, SPEC_PROFILE, "Installed", 90)
    assert obj["status"]["localhostProfile"] == "operator/%s/%s.json" % (SPEC_NAMESPACE, SPEC_PROFILE)
    with open(profile_file(SPEC_NAMESPACE, SPEC_PROFILE), "rb") as handle:
        assert handle.read() == expected_seccomp_json(doc)
    log = run_pod(kube, SPEC_NAMESPACE, "echo hello-from-profile; unshare -r true; echo unshare-rc=$?",
                  seccomp=localhost(SPEC_NAMESPACE, SPEC_PROFILE))
    assert "hello-from-profile" in log
    assert "Operation not permitted" in log and "unshare-rc=1" in log, log
    # unconfined, the same command is allowed: the profile made the difference
    log = run_pod(kube, SPEC_NAMESPACE, "unshare -r true; echo unshare-rc=$?", seccomp={"type": "Unconfined"})
    assert "unshare-rc=0" in log, log


def atoms(rules: List[Dict[str, Any]]) -> set:
    """Rules as (group, resource, name, verb) / (url, verb) atoms: equal grants compare equal however split."""
    out = set()
    for rule in rules or []:
        for verb in rule.get("verbs", []):
            for url in rule.get("nonResourceURLs", []):
                out.add(("url", url, verb))
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    for name in rule.get("resourceNames") or ["*any*"]:
                        out.add((group, resource, name, verb))
    return out


def config_grants() -> Dict[tuple, set]:
    """(service account, "cluster"|"namespace") -> atoms: what config/rbac binds to each account."""
    docs = []
    rbac = os.path.join(ROOT, "config", "rbac")
    for entry in sorted(os.listdir(rbac)):
        if entry.endswith(".yaml") and entry != "kustomization.yaml":
            with open(os.path.join(rbac, entry)) as handle:
                docs += [d for d in yaml.safe_load_all(handle) if d]
    roles = {(d["kind"], d["metadata"]["name"]): d.get("rules", []) for d in docs if d["kind"] in ("Role", "ClusterRole")}
    grants: Dict[tuple, set] = {}
    for doc in docs:
        if doc["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        scope = "cluster" if doc["kind"] == "ClusterRoleBinding" else "namespace"
        for subject in doc["subjects"]:
            key = (subject["name"], scope)
            grants.setdefault(key, set()).update(atoms(roles[(doc["roleRef"]["kind"], doc["roleRef"]["name"])]))
    return grants


def cluster_grants(accounts) -> Dict[tuple, set]:
    """The same from the cluster: every (Cluster)RoleBinding naming one of ``accounts`` of the operator's
    namespace, anywhere, and the rules of the role it binds. Other namespaces would show as their own scope."""
    grants: Dict[tuple, set] = {}
    bindings = [("cluster", b) for b in kget("clusterrolebinding").get("items", [])]
    bindings += [("namespace" if b["metadata"]["namespace"] == OPERATOR_NAMESPACE else "namespace " +
                  b["metadata"]["namespace"], b) for b in kget("rolebinding", "--all-namespaces").get("items", [])]
    for scope, binding in bindings:
        for subject in binding.get("subjects") or []:
            if subject.get("kind") != "ServiceAccount" or subject.get("namespace") != OPERATOR_NAMESPACE \
                    or subject["name"] not in accounts:
                continue
            ref = binding["roleRef"]
            if ref["kind"] == "ClusterRole":
                role = kget("clusterrole", ref["name"])
            else:
                role = kget("role", "-n", binding["metadata"]["namespace"], ref["name"])
            grants.setdefault((subject["name"], scope), set()).update(atoms(role.get("rules", [])))
    return grants


def secrets_outside(grants: Dict[tuple, set]) -> List[str]:
    """The grants that reach Secrets beyond the operator's namespace: any cluster-scoped or other namespace's
    rule on secrets (or on every resource) of the core group."""
    return sorted("%s (%s): %s" % (account, scope, "/".join(atom)) for (account, scope), value in grants.items()
                  if scope != "namespace" for atom in value
                  if atom[0] in ("", "*") and len(atom) == 4 and atom[1] in ("secrets", "*"))


def test_olm_grants_what_config_rbac_grants(installed):
    """Proof 3: install modes, RBAC and owned CRDs of the installed CSV. The Roles/ClusterRoles bound to the
    operator's service accounts, listed from the cluster, are exactly config/rbac's (OwnNamespace: OLM keeps the
    namespaced ``permissions`` in the operator's namespace), and no account reads Secrets anywhere else."""
    csv = installed["csv"]
    supported = [m["type"] for m in csv["spec"]["installModes"] if m["supported"]]
    assert supported == ["OwnNamespace"]
    group = kget("operatorgroup", "-n", OPERATOR_NAMESPACE, "security-profiles-operator")
    assert group["status"]["namespaces"] == [OPERATOR_NAMESPACE]
    owned = sorted(c["name"] for c in csv["spec"]["customresourcedefinitions"]["owned"])
    assert owned == sorted(crd_names())
    want = config_grants()
    accounts = {account for account, _scope in want}
    got = cluster_grants(accounts)
    report = {"%s (%s)" % key: sorted("/".join(a) for a in value) for key, value in got.items()}
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "spo-olm-granted.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(report, handle, width=200)
    diff = []
    for key in sorted(set(want) | set(got)):
        diff += ["%s (%s): OLM grants more: %s" % (key + (a,)) for a in sorted(got.get(key, set()) - want.get(key, set()))]
        diff += ["%s (%s): OLM grants less: %s" % (key + (a,)) for a in sorted(want.get(key, set()) - got.get(key, set()))]
    assert diff == [], "\n".join(diff) + "\n(all OLM granted: %s)" % path
    assert secrets_outside(got) == []
    # what the API server decides, for every account: Secrets of another namespace are refused
    for account in sorted(accounts):
        done = olm.kubectl("auth", "can-i", "get", "secrets", "-n", SPEC_NAMESPACE, "--as",
                           "system:serviceaccount:%s:%s" % (OPERATOR_NAMESPACE, account), check=False)
        assert done.stdout.strip() == "no", (account, done.stdout, done.stderr)
    # each cluster-wide grant is an object OLM made for this CSV (owner labels), none left from another install
    for kind in ("clusterrole", "clusterrolebinding"):
        for item in kget(kind, "-l", "olm.owner.namespace=%s,olm.owner.kind=ClusterServiceVersion"
                         % OPERATOR_NAMESPACE).get("items", []):
            assert item["metadata"]["labels"]["olm.owner"] == csv["metadata"]["name"]


def node_state(kube) -> Dict[str, Any]:
    """What must survive an upgrade or a reinstall: the SPEC profile (object and node file), the binding."""
    profile = get_obj(kube, "SeccompProfile", SPEC_NAMESPACE, SPEC_PROFILE) or {}
    binding = get_obj(kube, "ProfileBinding", SPEC_NAMESPACE, BINDING) or {}
    with open(profile_file(SPEC_NAMESPACE, SPEC_PROFILE), "rb") as handle:
        data = handle.read()
    return {"profile": (profile["metadata"]["uid"], profile["metadata"]["generation"], profile["status"]["status"]),
            "binding": (binding["metadata"]["uid"], binding["metadata"]["generation"]), "file": data}


def pod_state(kube, name: str):
    pod = core(kube).read_namespaced_pod(name, SPEC_NAMESPACE)
    return pod.metadata.uid, pod.status.phase, [c.restart_count for c in pod.status.container_statuses]


BINDING = "busybox-to-spec-profile"


def bound_profile(kube) -> Any:
    """The seccomp profile the API server (the webhook) gives a busybox container without one (a dry run);
    None while the webhook is not serving yet."""
    from kubernetes.client.rest import ApiException
    try:
        pod = core(kube).create_namespaced_pod(SPEC_NAMESPACE, pod_manifest("probe", "true"), dry_run="All")
    except ApiException as exc:
        if exc.status >= 500:  # failed calling webhook: its Service or pods are not there yet
            return None
        raise
    context = pod.spec.containers[0].security_context
    profile = context.seccomp_profile if context else None
    return {"type": profile.type, "localhostProfile": profile.localhost_profile} if profile else None


def test_upgrade_in_place_keeps_profiles_bindings_files_and_pods(installed):
    """Proof 2: the catalog gains NEXT_VERSION (same code, replaces the first, skipRange): OLM upgrades in
    place; the profile, its node file and a binding survive, a pod under the profile runs on undisturbed."""
    kube = installed["kube"]
    want = localhost(SPEC_NAMESPACE, SPEC_PROFILE)
    # the namespace opts in to bindings (the webhook's label), the binding is applied before the upgrade
    core(kube).patch_namespace(SPEC_NAMESPACE, {"metadata": {"labels": {"spo.x-k8s.io/enable-binding": "true"}}})
    create_obj(kube, {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "ProfileBinding",
                      "metadata": {"name": BINDING, "namespace": SPEC_NAMESPACE},
                      "spec": {"profileRef": {"kind": "SeccompProfile", "name": SPEC_PROFILE}, "image": BUSYBOX}})
    wait_for(lambda: bound_profile(kube) == want, 90, 1.0, "the binding applied by the webhook (dry run)")
    start_pod(kube, SPEC_NAMESPACE, "under-profile", seccomp=want)
    before, pod_before = node_state(kube), pod_state(kube, "under-profile")
    t0 = time.monotonic()
    olm.serve_catalog(installed["catalogs"]["both"]["catalog"])
    csv = installed_csv(NEXT_VERSION)
    print("catalog with %s served -> its CSV Succeeded in %.0f s" % (NEXT_VERSION, time.monotonic() - t0))
    assert csv["spec"]["replaces"] == csv_name(base_version())
    wait_for(lambda: kget("csv", "-n", OPERATOR_NAMESPACE, csv_name(base_version())) == {}, 120, 2.0,
             "the replaced CSV removed (upgraded in place, not installed beside it)")
    wait_for(lambda: spod_running(kube), 240, 3.0, "SPOD Running after the upgrade")
    print("upgrade done, SPOD Running, in %.0f s" % (time.monotonic() - t0))
    assert node_state(kube) == before
    assert pod_state(kube, "under-profile") == pod_before
    # the binding still applies after the upgrade: a busybox pod without a profile of its own gets it
    wait_for(lambda: bound_profile(kube) == want, 60, 1.0, "the binding applied by the webhook (dry run)")
    log = run_pod(kube, SPEC_NAMESPACE, "unshare -r true; echo unshare-rc=$?")
    assert "Operation not permitted" in log and "unshare-rc=1" in log, log
    installed["state"] = before


def test_broken_bundle_fails_install_plan_and_leaves_nothing(broken):  # pylint: disable=redefined-outer-name
    """Proof 5: a catalog whose bundle's CSV does not validate: the InstallPlan fails with OLM's message, none of
    its steps created anything, and nothing of the operator exists in its namespace or cluster-wide for it."""
    def failed_plan():
        for plan in kget("installplan", "-n", broken).get("items", []):
            phase = (plan.get("status") or {}).get("phase")
            if phase == "Failed":
                return plan
            if phase == "Complete":
                raise AssertionError("the broken bundle's InstallPlan completed: %s" % plan["status"])
        return None
    try:
        plan = wait_for(failed_plan, 240, 2.0, "the broken bundle's InstallPlan Failed")
    except AssertionError as exc:
        seen = {"subscription": kget("subscription", "-n", broken, SUBSCRIPTION).get("status"),
                "installplans": [p.get("status") for p in kget("installplan", "-n", broken).get("items", [])],
                "unpack jobs": [j.get("status") for j in kget("job", "-n", olm.OLM_NAMESPACE).get("items", [])]}
        raise AssertionError("%s\nwhat OLM shows: %s" % (exc, json.dumps(seen, indent=1)[:6000])) from exc
    messages = " ".join(c.get("message", "") for c in plan["status"].get("conditions", []))
    print("InstallPlan %s: %s" % (plan["metadata"]["name"], messages))
    assert BROKEN_MESSAGE in messages, plan["status"]
    steps = [(step["resource"]["kind"], step["resource"]["name"], step["status"]) for step in plan["status"]["plan"]]
    assert steps[0][0] == "ClusterServiceVersion", steps
    assert [step for step in steps if step[2] == "Created"] == [], steps  # no CRD, no RBAC, no account
    assert kget("csv", "-n", broken).get("items") == []
    assert kget("deployment", "-n", broken).get("items") == []
    assert [sa["metadata"]["name"] for sa in kget("serviceaccount", "-n", broken).get("items", [])
            if sa["metadata"]["name"] not in ("default", "builder", "deployer", "pipeline")] == []
    assert leftover_cluster_rbac(broken) == []


def test_remove_keeps_profiles_and_reinstall_picks_them_up(installed):
    """Proof 4: deleting the Subscription and CSV stops the operator; the CRDs, profiles and node files stay
    (OLM does not delete CRDs); subscribing again picks them up with no change."""
    kube = installed["kube"]
    before = node_state(kube)
    version = kget("subscription", "-n", OPERATOR_NAMESPACE, SUBSCRIPTION)["status"]["installedCSV"].rsplit(".v", 1)[1]
    remove_operator()
    from kubernetes import client
    wait_for(lambda: not client.AppsV1Api(kube).list_namespaced_deployment(
        OPERATOR_NAMESPACE, label_selector="name=security-profiles-operator").items, 120, 2.0,
        "the operator's Deployment removed with its CSV")
    wait_for(lambda: not core(kube).list_namespaced_pod(
        OPERATOR_NAMESPACE, label_selector="name=security-profiles-operator").items, 120, 2.0,
        "the operator's pods gone")
    from clusterlib import missing_crds  # pylint: disable=import-error
    assert missing_crds(kube) == []
    assert node_state(kube) == before
    subscribe()
    installed_csv(version)
    wait_for(lambda: spod_running(kube), 240, 3.0, "SPOD Running after the reinstall")
    wait_status(kube, "SeccompProfile", SPEC_NAMESPACE, SPEC_PROFILE, "Installed", 60)
    assert node_state(kube) == before
    assert pod_state(kube, "under-profile")[1] == "Running"
    # OLM made the accounts anew: the node agents roll onto them (their pod template carries the account's uid),
    # so they work again: a profile made after the reinstall is installed on the node
    account = core(kube).read_namespaced_service_account("spod", OPERATOR_NAMESPACE)
    wait_for(lambda: ((client.AppsV1Api(kube).read_namespaced_daemon_set("spod", OPERATOR_NAMESPACE).spec.template
                       .metadata.annotations or {}).get("spo.x-k8s.io/service-account-uid") == account.metadata.uid),
             120, 2.0, "the node DaemonSet's pod template to name the new account's uid")
    doc = {"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
           "metadata": {"name": "after-reinstall", "namespace": SPEC_NAMESPACE},
           "spec": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read"]}]}}
    create_obj(kube, doc)
    wait_status(kube, "SeccompProfile", SPEC_NAMESPACE, "after-reinstall", "Installed", 180)
