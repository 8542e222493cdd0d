# -*- coding: utf-8 -*-
"""molecule scenario ``cluster``: deploy (converge), idempotence, verify, undeploy, on the real cluster."""
from __future__ import annotations

import os
import subprocess

from clusterlib import ROOT, VENV_BIN  # pylint: disable=import-error


def test_molecule_cluster_scenario(kube):
    env = dict(os.environ, SPO_MOLECULE_CLUSTER="1", PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run([os.path.join(ROOT, "hack", "molecule.sh"), "cluster"], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, proc.stdout[-8000:]
    assert "molecule: all scenarios passed (cluster)" in proc.stdout
    from kubernetes import client
    crds = [c.metadata.name for c in client.ApiextensionsV1Api(kube).list_custom_resource_definition().items]
    assert not [c for c in crds if c.endswith("security-profiles-operator.x-k8s.io")]
    kubelet = os.environ.get("CLUSTER_KUBELET_DIR", "/var/lib/kubelet")
    assert not os.path.exists(os.path.join(kubelet, "seccomp", "operator", "security-profiles-operator",
                                           "profile-allow-unsafe.json"))
