# -*- coding: utf-8 -*-
"""The node agent's metrics: text exposition and the served endpoint (prometheus_client)."""
from __future__ import annotations


def test_metrics_text_and_endpoint():
    import socket
    import urllib.request
    from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import metrics
    m = metrics.AgentMetrics(lambda: 7.0)
    m.seccomp.inc(operation="update")
    m.seccomp.inc(operation="update")
    m.seccomp_errors.inc(reason="InvalidProfile")
    text = m.render()
    assert 'security_profiles_operator_seccomp_profile_total{operation="update"} 2' in text
    assert 'security_profiles_operator_seccomp_profile_error_total{reason="InvalidProfile"} 1' in text
    assert "# TYPE security_profiles_operator_selinux_profile_total counter" in text
    assert "security_profiles_operator_node_agent_api_requests 7" in text
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = metrics.serve(port, {"/metrics": m.route}, host="127.0.0.1")
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as resp:
            assert resp.status == 200 and resp.read().decode() == m.render()
        request = urllib.request.Request("http://127.0.0.1:%d/metrics" % port,
                                         headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        with urllib.request.urlopen(request, timeout=5) as resp:  # content negotiation is prometheus_client's
            assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
            assert resp.read().decode().endswith("# EOF\n")
    finally:
        server.shutdown()
