# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API's names, in one place: the group, each kind's served version, plural and scope, the SPOD's name.

Everything that names an object of this API reads it here (roles through the ``api_version`` filter);
``tests/unit/test_api.py`` keeps it equal to the CRDs in ``config/crd/bases``.
"""
from __future__ import annotations

from typing import Dict, NamedTuple

GROUP = "security-profiles-operator.x-k8s.io"


class Kind(NamedTuple):
    """One kind of the API: where the API server serves it (all kinds are namespaced)."""
    kind: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return GROUP + "/" + self.version


SECCOMP_PROFILE = Kind("SeccompProfile", "v1beta1", "seccompprofiles")
SELINUX_PROFILE = Kind("SelinuxProfile", "v1alpha2", "selinuxprofiles")
RAW_SELINUX_PROFILE = Kind("RawSelinuxProfile", "v1alpha2", "rawselinuxprofiles")
PROFILE_BINDING = Kind("ProfileBinding", "v1alpha1", "profilebindings")
PROFILE_RECORDING = Kind("ProfileRecording", "v1alpha1", "profilerecordings")
NODE_STATUS = Kind("SecurityProfileNodeStatus", "v1alpha1", "securityprofilenodestatuses")
SPOD = Kind("SecurityProfilesOperatorDaemon", "v1alpha1", "securityprofilesoperatordaemons")

KINDS: Dict[str, Kind] = {
    k.kind: k for k in (SECCOMP_PROFILE, SELINUX_PROFILE, RAW_SELINUX_PROFILE, PROFILE_BINDING, PROFILE_RECORDING,
                        NODE_STATUS, SPOD)}
# The one SPOD the operator reconciles, in the operator's namespace.
SPOD_NAME = "spod"


def kind(name: str) -> Kind:
    """The :class:`Kind` called ``name``; ``KeyError`` naming the known kinds when there is none."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError("%r is not a kind of %s (one of: %s)" % (name, GROUP, ", ".join(sorted(KINDS)))) from None


def api_version(name: str) -> str:
    """``apiVersion`` of the kind called ``name``: ``security-profiles-operator.x-k8s.io/<version>``."""
    return kind(name).api_version
