# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One way to reach the API server for every door: a kubeconfig path, KUBECONFIG, or in-cluster."""
from __future__ import annotations

import os
from typing import Any, Optional


IN_CLUSTER = None  # what kubeconfig_path gives when the pod's service account is the way in


def kubeconfig_path(kubeconfig: Optional[str] = None) -> Optional[str]:
    """The search order of every door: ``kubeconfig``, else ``$KUBECONFIG``, else the pod's service account
    (``IN_CLUSTER``), else ``~/.kube/config``. Gives the kubeconfig's path, or ``IN_CLUSTER``."""
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        return os.path.expanduser(path)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return IN_CLUSTER
    return os.path.expanduser("~/.kube/config")


def api_client(kubeconfig: Optional[str] = None) -> Any:
    """A ``kubernetes.client.ApiClient`` found the way :func:`kubeconfig_path` says."""
    from kubernetes import client, config
    path = kubeconfig_path(kubeconfig)
    if path is IN_CLUSTER:
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    return config.new_client_from_config(config_file=path)
