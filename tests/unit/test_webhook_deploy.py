# -*- coding: utf-8 -*-
"""What roles/spod applies for the webhook (manifests, certificates with rotation) and the ProfileBinding status."""
from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import bindingstatus, certs, manifests

NS = "security-profiles-operator"
SPOD = {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "SecurityProfilesOperatorDaemon",
        "metadata": {"name": "spod", "namespace": NS}, "spec": {}}
SVC = manifests.NAME
NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)


def spod(**spec):
    return dict(SPOD, spec=spec)


def hooks(config):
    return {h["name"]: h for h in config["webhooks"]}


def test_default_configuration():
    config = manifests.webhook_configuration(SPOD, "Q0E=")
    assert config["metadata"]["labels"] == {"app": "security-profiles-operator"}
    by_name = hooks(config)
    assert list(by_name) == ["binding.spo.io", "recording.spo.io", "runtime-default.spo.io"]
    for hook in by_name.values():
        assert hook["sideEffects"] == "None" and hook["timeoutSeconds"] <= 10 and hook["admissionReviewVersions"] == ["v1"]
        path = hook["clientConfig"]["service"]["path"]
        assert hook["clientConfig"] == {"caBundle": "Q0E=", "service": {"name": SVC, "namespace": NS, "port": 443, "path": path}}
        assert {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [NS]} in \
            hook["namespaceSelector"]["matchExpressions"]
        assert {"key": "name", "operator": "NotIn", "values": ["security-profiles-operator", SVC, "spod"]} in \
            hook["objectSelector"]["matchExpressions"]
    assert by_name["binding.spo.io"]["failurePolicy"] == "Fail"
    assert by_name["runtime-default.spo.io"]["failurePolicy"] == "Ignore"
    assert {"key": "spo.x-k8s.io/enable-binding", "operator": "Exists"} in \
        by_name["binding.spo.io"]["namespaceSelector"]["matchExpressions"]
    assert {"key": "spo.x-k8s.io/enable-runtime-default", "operator": "In", "values": ["true"]} in \
        by_name["runtime-default.spo.io"]["namespaceSelector"]["matchExpressions"]
    assert [r["resources"] for r in by_name["binding.spo.io"]["rules"]] == [["pods"], ["pods/ephemeralcontainers"]]


@pytest.mark.parametrize("spec", [
    {"webhookOptions": [{"name": "binding.spo.io", "failurePolicy": "Ignore",
                         "namespaceSelector": {"matchLabels": {"team": "a"}}, "objectSelector": {"matchLabels": {"x": "y"}}}]},
    {"webhook": {"options": [{"name": "binding.spo.io", "failurePolicy": "Ignore",
                              "namespaceSelector": {"matchLabels": {"team": "a"}}, "objectSelector": {"matchLabels": {"x": "y"}}}]}}])
def test_options_both_spellings(spec):
    hook = hooks(manifests.webhook_configuration(spod(**spec)))["binding.spo.io"]
    assert hook["failurePolicy"] == "Ignore"
    assert hook["namespaceSelector"] == {"matchLabels": {"team": "a"}, "matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [NS]}]}
    assert hook["objectSelector"]["matchLabels"] == {"x": "y"} and len(hook["objectSelector"]["matchExpressions"]) == 1
    assert hooks(manifests.webhook_configuration(spod(**spec)))["recording.spo.io"]["failurePolicy"] == "Fail"


def test_runtime_default_all_namespaces_and_static():
    hook = hooks(manifests.webhook_configuration(spod(runtimeDefault={"allNamespaces": True})))["runtime-default.spo.io"]
    assert {"key": "spo.x-k8s.io/enable-runtime-default", "operator": "NotIn", "values": ["false"]} in \
        hook["namespaceSelector"]["matchExpressions"]
    assert manifests.Settings(spod(staticWebhookConfig=True)).static
    assert manifests.Settings(spod(webhook={"staticConfig": True})).static


@pytest.mark.parametrize("spec,field", [
    ({"webhookOptions": [{"name": "nope.spo.io"}]}, "spec.webhookOptions[0].name"),
    ({"webhook": {"options": [{"name": "binding.spo.io", "failurePolicy": "Sometimes"}]}}, "spec.webhook.options[0].failurePolicy"),
    ({"webhookOptions": {"name": "x"}}, "spec.webhookOptions"),
    ({"runtimeDefault": {"allNamespaces": "yes"}}, "spec.runtimeDefault.allNamespaces"),
    ({"staticWebhookConfig": "true"}, "spec.staticWebhookConfig")])
def test_bad_settings_name_the_field(spec, field):
    with pytest.raises(SpoError) as err:
        manifests.webhook_configuration(spod(**spec))
    assert err.value.field == field and "spod" in str(err.value)


def test_deployment_service_pdb():
    deploy = manifests.deployment(spod(imagePullSecrets=[{"name": "pull"}]), "img:1")
    assert deploy["spec"]["replicas"] >= 2
    pod = deploy["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "img:1" and container["command"] == ["spo-webhook"]
    assert container["readinessProbe"]["httpGet"] == {"scheme": "HTTPS", "path": "/readyz", "port": 9443}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False and pod["securityContext"]["runAsNonRoot"]
    assert pod["serviceAccountName"] == SVC and pod["imagePullSecrets"] == [{"name": "pull"}]
    assert pod["volumes"][0]["secret"]["secretName"] == manifests.CERT_SECRET
    service = manifests.service(SPOD)
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": 9443, "protocol": "TCP"}]
    assert service["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"] == manifests.pdb(SPOD)["spec"]["selector"]["matchLabels"]
    assert manifests.pdb(SPOD)["spec"]["minAvailable"] == 1


def test_cert_providers():
    assert manifests.cert_provider({"v1": {"Pod": {}}}) == manifests.OWN_CA
    assert manifests.cert_provider({"cert-manager.io/v1": {"Certificate": {}}}) == manifests.CERT_MANAGER
    assert manifests.cert_provider({"operator.openshift.io/v1": {"ServiceCA": {}}}) == manifests.SERVICE_CA
    config = manifests.webhook_configuration(SPOD, "ignored", manifests.SERVICE_CA)
    assert config["metadata"]["annotations"] == {"service.beta.openshift.io/inject-cabundle": "true"}
    assert all("caBundle" not in h["clientConfig"] for h in config["webhooks"])
    assert manifests.service(SPOD, manifests.SERVICE_CA)["metadata"]["annotations"] == {
        "service.beta.openshift.io/serving-cert-secret-name": manifests.CERT_SECRET}
    objs = manifests.objects(SPOD, "img", manifests.CERT_MANAGER)
    assert [o["kind"] for o in objs] == ["Issuer", "Certificate", "Service", "PodDisruptionBudget", "Deployment"]
    assert manifests.webhook_configuration(SPOD, "", manifests.CERT_MANAGER)["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "%s/%s" % (NS, SVC)}


# ------------------------------------------------------------------------------------------ certificates
def load(b64):
    return x509.load_pem_x509_certificate(base64.b64decode(b64))


def test_certificates_made_kept_and_valid():
    first = certs.ensure(None, None, SVC, NS, NOW)
    assert first["rotated"] == ["CA: no CA yet", "serving certificate: no serving certificate yet"]
    cert, ca = load(first["tls"]["tls.crt"]), load(first["ca"]["ca.crt"])
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert "%s.%s.svc" % (SVC, NS) in sans
    again = certs.ensure(first["ca"], first["tls"], SVC, NS, NOW + datetime.timedelta(days=100))
    assert again["rotated"] == [] and again["ca"] == first["ca"] and again["tls"] == first["tls"]


def test_serving_certificate_renewed_before_expiry_and_on_new_names():
    first = certs.ensure(None, None, SVC, NS, NOW)
    later = NOW + datetime.timedelta(days=certs.CERT_DAYS - certs.CERT_RENEW_DAYS + 1)
    renewed = certs.ensure(first["ca"], first["tls"], SVC, NS, later)
    assert renewed["rotated"] and renewed["rotated"][0].startswith("serving certificate: the serving certificate expires")
    assert renewed["ca"] == first["ca"] and renewed["tls"]["tls.crt"] != first["tls"]["tls.crt"]
    moved = certs.ensure(first["ca"], first["tls"], SVC, "elsewhere", NOW)
    assert moved["rotated"] and "names" in moved["rotated"][0]


def test_ca_rotation_keeps_the_old_ca_in_the_bundle():
    first = certs.ensure(None, None, SVC, NS, NOW)
    later = NOW + datetime.timedelta(days=certs.CA_DAYS - certs.CA_RENEW_DAYS + 1)
    rotated = certs.ensure(first["ca"], first["tls"], SVC, NS, later)
    assert rotated["rotated"][0].startswith("CA: the CA expires") and "not signed by the current CA" in rotated["rotated"][1]
    bundle = base64.b64decode(rotated["ca_bundle"])
    assert bundle.count(b"BEGIN CERTIFICATE") == 2 and base64.b64decode(first["ca"]["ca.crt"]) in bundle
    load(rotated["tls"]["tls.crt"]).verify_directly_issued_by(load(rotated["ca"]["ca.crt"]))
    # once the old CA has expired it leaves the bundle
    expired = certs.ensure(rotated["ca"], rotated["tls"], SVC, NS, later + datetime.timedelta(days=certs.CA_RENEW_DAYS + 1))
    assert base64.b64decode(expired["ca_bundle"]).count(b"BEGIN CERTIFICATE") == 1


def test_garbage_secrets_are_replaced():
    out = certs.ensure({"ca.crt": "bm90IGEgY2VydA==", "ca.key": "!!"}, {"tls.crt": "eA=="}, SVC, NS, NOW)
    assert out["rotated"] == ["CA: the CA could not be read", "serving certificate: the serving certificate could not be read"]


# ------------------------------------------------------------------------------------------ binding status
def binding(kind="SeccompProfile", name="p", image="busybox:local"):
    return {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "ProfileBinding",
            "metadata": {"name": "b", "namespace": "apps"},
            "spec": {"profileRef": {"kind": kind, "name": name}, "image": image}}


def conditions(result):
    return {c["type"]: c for c in result["conditions"]}


def test_binding_status_ready_and_workloads():
    profile = {"metadata": {"name": "p"}, "status": {"status": "Installed", "localhostProfile": "operator/apps/p.json"}}
    sc = {"seccompProfile": {"type": "Localhost", "localhostProfile": "operator/apps/p.json"}}

    def mk(name, phase, securitycontext):
        container = {"name": "c", "image": "busybox:local"}
        if securitycontext:
            container["securityContext"] = securitycontext
        return {"metadata": {"name": name, "namespace": "apps"}, "spec": {"containers": [container]},
                "status": {"phase": phase}}
    pods = [mk("on", "Running", sc), mk("done", "Succeeded", sc), mk("off", "Running", None)]
    result = bindingstatus.status(binding(), profile, pods)
    assert result["activeWorkloads"] == ["apps/on"]
    cond = conditions(result)
    assert cond["Ready"]["status"] == "True" and cond["PodSecurityBaseline"]["status"] == "True"


@pytest.mark.parametrize("profile,reason,text", [
    (None, "ProfileNotFound", "SeccompProfile apps/p does not exist: pods are admitted"),
    ({"metadata": {"name": "p"}, "status": {"status": "Pending"}}, "ProfileNotInstalled", "is Pending, not Installed"),
    ({"metadata": {"name": "p"}}, "ProfileNotInstalled", "is not reported yet"),
    ({"metadata": {"name": "p", "deletionTimestamp": "x"}}, "ProfileDeleting", "being deleted")])
def test_binding_status_not_ready(profile, reason, text):
    ready = conditions(bindingstatus.status(binding(), profile, []))["Ready"]
    assert ready["status"] == "False" and ready["reason"] == reason and text in ready["message"]


def test_selinux_binding_below_baseline():
    profile = {"metadata": {"name": "errorlogger"}, "status": {"status": "Installed", "usage": "errorlogger_apps.process"}}
    result = bindingstatus.status(binding("SelinuxProfile", "errorlogger"), profile, [],
                                  {"pod-security.kubernetes.io/enforce": "baseline"})
    cond = conditions(result)["PodSecurityBaseline"]
    assert cond["status"] == "False" and cond["reason"] == "ViolatesBaseline"
    assert 'would violate PodSecurity "baseline:latest": seLinuxOptions' in cond["message"]
    assert 'type "errorlogger_apps.process"' in cond["message"] and "enforces baseline" in cond["message"]
    star = conditions(bindingstatus.status(binding("SelinuxProfile", "errorlogger", "*"), profile, []))
    assert star["PodSecurityBaseline"]["status"] == "False" and "enforces" not in star["PodSecurityBaseline"]["message"]
