# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One way to reach the API server for every door: a kubeconfig path, KUBECONFIG, or in-cluster."""
from __future__ import annotations

import os
from typing import Any, Optional


def api_client(kubeconfig: Optional[str] = None) -> Any:
    """A ``kubernetes.client.ApiClient``: ``kubeconfig``, else ``$KUBECONFIG``, else the pod's service account,
    else ``~/.kube/config``."""
    from kubernetes import client, config
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        return config.new_client_from_config(config_file=os.path.expanduser(path))
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    return config.new_client_from_config()
