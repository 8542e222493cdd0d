# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admission webhook server (``spo-webhook``) and the objects that deploy it.

Pure functions (no I/O):
  ``podutil``        containers of a pod, image references, label selectors, JSON patch diff
  ``binding``        ProfileBinding pod mutation (``/mutate-v1-pod-binding``)
  ``recording``      ProfileRecording pod mutation (``/mutate-v1-pod-recording``)
  ``runtimedefault`` RuntimeDefault seccomp defaulting (``/mutate-v1-pod-runtime-default``)
  ``admission``      AdmissionReview v1 parsing and responses
  ``bindingstatus``  a ProfileBinding's status (conditions, active workloads) for the profilebinding role
  ``manifests``      Deployment, Service, PDB, MutatingWebhookConfiguration from the SPOD
  ``certs``          the operator's own CA and serving certificate (generation, rotation)
With I/O:
  ``cache``          list+watch caches of bindings, recordings, profiles and namespaces
  ``server``         the TLS HTTP server (aiohttp)
"""
