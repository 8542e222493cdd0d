# -*- coding: utf-8 -*-
"""Where a daemon's API requests go: each request counted by verb and the resource its path names."""
from __future__ import annotations

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import resource_of


@pytest.mark.parametrize("path, resource", [
    ("/apis/g/v1/namespaces/n/seccompprofiles/p/status", "seccompprofiles/status"),
    ("/apis/g/v1/namespaces/n/seccompprofiles/p", "seccompprofiles"),
    ("/apis/g/v1/namespaces/n/securityprofilenodestatuses", "securityprofilenodestatuses"),
    ("/apis/g/v1/seccompprofiles", "seccompprofiles"),
    ("/api/v1/nodes", "nodes"),
    ("/api/v1/namespaces/x/pods?watch=1", "pods"),
    ("/api/v1/namespaces/foo", "namespaces"),
    ("/version", "version"),
    ("", "-"),
])
def test_a_request_is_counted_under_the_resource_its_path_names(path, resource):
    assert resource_of(path) == resource
