# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pod Security label sync: keep namespaces' ``pod-security.kubernetes.io/*`` labels at the least
privileged level their workloads (or, on OpenShift, their service accounts' SCCs) need.

Pure decisions, no API calls: ``workloads`` (the level each workload needs, with the pss engine),
``scc`` (OpenShift's SCC -> Pod Security level mapping and which SCCs a namespace's service accounts
may use), ``namespaces`` (which namespaces are managed, who owns which label, the apply body),
``deployment`` (the controller's Deployment for roles/spod).  ``controller`` is the API plumbing
(list+watch, debounce, server-side apply, events) run by ``spo-label-sync``.
"""
