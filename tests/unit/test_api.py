# -*- coding: utf-8 -*-
"""module_utils/api.py is the one table of the API's names: it must say what the CRDs in config/crd/bases say."""
from __future__ import annotations

import glob
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.filter.api import api_version as api_version_filter
from ansible_collections.spo.security_profiles.plugins.module_utils import api

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _crds():
    for path in sorted(glob.glob(os.path.join(ROOT, "config", "crd", "bases", "*.yaml"))):
        with open(path, encoding="utf-8") as handle:
            yield os.path.basename(path), yaml.safe_load(handle)


def test_every_crd_is_in_the_table_with_its_group_version_plural_and_scope():
    seen = set()
    for name, crd in _crds():
        spec = crd["spec"]
        kind = api.kind(spec["names"]["kind"])
        storage = [v["name"] for v in spec["versions"] if v.get("storage")]
        assert spec["group"] == api.GROUP, name
        assert (kind.plural, [kind.version], spec["scope"]) == (spec["names"]["plural"], storage, "Namespaced"), name
        assert crd["metadata"]["name"] == "%s.%s" % (kind.plural, api.GROUP), name
        seen.add(kind.kind)
    assert seen == set(api.KINDS), "kinds in the table without a CRD: %s" % sorted(set(api.KINDS) - seen)


def test_the_filter_gives_the_api_version_and_refuses_an_unknown_kind():
    assert api_version_filter("SelinuxProfile") == api.GROUP + "/v1alpha2"
    assert api_version_filter("SeccompProfile") == api.GROUP + "/v1beta1"
    with pytest.raises(AnsibleFilterError, match="'Pod' is not a kind of security-profiles-operator.x-k8s.io"):
        api_version_filter("Pod")


def test_the_group_is_written_once_in_the_engine():
    """Only api.py spells the group; the engine's other files read it from there."""
    spelled = []
    for path in glob.glob(os.path.join(ROOT, "plugins", "module_utils", "**", "*.py"), recursive=True):
        with open(path, encoding="utf-8") as handle:
            if '"%s"' % api.GROUP in handle.read() and not path.endswith(os.path.join("module_utils", "api.py")):
                spelled.append(os.path.relpath(path, ROOT))
    assert spelled == []
