# -*- coding: utf-8 -*-
"""spodspec: the SPOD's grouped 1.0 spelling read into the flat 0.x one, in one place for every reader."""
from __future__ import annotations

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import spodsettings
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodspec import GROUPED, field_name, flat_spec
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook.manifests import Settings


@pytest.mark.parametrize("flat", sorted(GROUPED))
def test_each_grouped_field_reads_as_its_flat_twin(flat):
    group, key = GROUPED[flat]
    spec = {group: {key: ["value"]}}
    assert flat_spec(spec)[flat] == ["value"]
    assert field_name(spec, flat) == "spec.%s.%s" % (group, key)
    assert field_name({flat: 1}, flat) == "spec." + flat


def test_a_group_that_is_no_object_is_an_error_naming_it():
    with pytest.raises(SpoError, match=r"spec\.webhook.*must be an object"):
        flat_spec({"webhook": "yes"}, "SecurityProfilesOperatorDaemon ns/spod")


def test_every_reader_sees_both_spellings_alike():
    flat = {"enableSelinux": True, "allowedSyscalls": ["read"], "staticWebhookConfig": True,
            "webhookOptions": [{"name": "binding.spo.io", "failurePolicy": "Ignore"}]}
    grouped = {"selinux": {"enable": True}, "security": {"allowedSyscalls": ["read"]},
               "webhook": {"staticConfig": True, "options": [{"name": "binding.spo.io", "failurePolicy": "Ignore"}]}}
    for reader in (spodsettings.settings, lambda spod: vars_of(Settings(spod))):
        assert reader(_spod(flat)) == reader(_spod(grouped))


def test_the_webhook_names_the_spelling_the_spod_used_in_its_errors():
    with pytest.raises(SpoError, match=r"spec\.webhook\.staticConfig"):
        Settings(_spod({"webhook": {"staticConfig": "yes"}}))
    with pytest.raises(SpoError, match=r"spec\.staticWebhookConfig"):
        Settings(_spod({"staticWebhookConfig": "yes"}))


def _spod(spec):
    return {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "SecurityProfilesOperatorDaemon",
            "metadata": {"name": "spod", "namespace": "spo"}, "spec": spec}


def vars_of(settings):
    return {name: getattr(settings, name) for name in settings.__slots__}
