# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leader election on a ``coordination.k8s.io/v1`` Lease, as ``--leader-elect`` does upstream.

A candidate takes the Lease when it has no holder or when the holder's record has not changed
for ``lease_duration`` seconds *as this process observed it* (no trust in other clocks), renews
it every ``retry_period`` and gives up leadership when it could not renew for ``renew_deadline``
(the caller then exits, as controller-runtime does).  On a clean stop the Lease is released.
"""
from __future__ import annotations

import datetime
import socket
import threading
import time
import uuid
from typing import Any, Callable, Dict, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import Kube, KubeError, is_not_found
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.controller import log_info

SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def micro_time() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    return "%s_%s" % (socket.gethostname(), uuid.uuid4())


def in_cluster_namespace() -> str:
    try:
        with open(SA_NAMESPACE_FILE, "r", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""


class LeaderElector(object):
    def __init__(self, kube: Kube, namespace: str, name: str, identity: Optional[str] = None,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0,
                 log: Optional[Callable[[str], None]] = None) -> None:
        self.kube = kube
        self.path = "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s" % (namespace, name)
        self.collection = "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % namespace
        self.name = name
        self.namespace = namespace
        self.identity = identity or default_identity()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.log = log or log_info
        self.leading = threading.Event()
        self.lost = threading.Event()
        self._observed: Tuple[Optional[Dict[str, Any]], float] = (None, 0.0)

    def _spec(self, previous: Dict[str, Any]) -> Dict[str, Any]:
        now = micro_time()
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                "renewTime": now, "acquireTime": previous.get("acquireTime") or now,
                "leaseTransitions": int(previous.get("leaseTransitions") or 0)}
        if previous.get("holderIdentity") != self.identity:
            spec["acquireTime"] = now
            if previous.get("holderIdentity"):
                spec["leaseTransitions"] += 1
        return spec

    def try_acquire_or_renew(self) -> bool:
        try:
            lease = self.kube.get(self.path)
        except KubeError as exc:
            if not is_not_found(exc):
                raise
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace}, "spec": self._spec({})}
            try:
                self.kube.create(self.collection, body)
                return True
            except KubeError as exc2:
                if exc2.status == 409:
                    return False
                raise
        spec = lease.get("spec") or {}
        record = {k: spec.get(k) for k in ("holderIdentity", "renewTime", "leaseDurationSeconds")}
        now = time.monotonic()
        if self._observed[0] != record:
            self._observed = (record, now)
        holder = spec.get("holderIdentity")
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and now - self._observed[1] < duration:
            return False
        lease["spec"] = self._spec(spec)
        try:
            self.kube._send("PUT", self.path, body=lease, verb="update")  # pylint: disable=protected-access
        except KubeError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def acquire(self, stop: threading.Event) -> bool:
        """Block until leading (True) or ``stop`` is set (False)."""
        self.log("leader election: waiting for lease %s/%s as %s" % (self.namespace, self.name, self.identity))
        while not stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    self.leading.set()
                    self.log("leader election: leading (lease %s/%s)" % (self.namespace, self.name))
                    threading.Thread(target=self._renew, args=(stop,), name="leader-renew", daemon=True).start()
                    return True
            except KubeError as exc:
                self.log("leader election: %s" % exc)
            stop.wait(self.retry_period)
        return False

    def _renew(self, stop: threading.Event) -> None:
        last_ok = time.monotonic()
        while not stop.wait(self.retry_period):
            try:
                if self.try_acquire_or_renew():
                    last_ok = time.monotonic()
                    continue
            except KubeError as exc:
                self.log("leader election: renew failed: %s" % exc)
            if time.monotonic() - last_ok > self.renew_deadline:
                self.leading.clear()
                self.lost.set()
                self.log("leader election: lost the lease %s/%s" % (self.namespace, self.name))
                return

    def release(self) -> None:
        if not self.leading.is_set():
            return
        try:
            lease = self.kube.get(self.path)
            if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = ""
                lease["spec"]["leaseDurationSeconds"] = 1
                self.kube._send("PUT", self.path, body=lease, verb="update")  # pylint: disable=protected-access
        except KubeError as exc:
            self.log("leader election: release failed: %s" % exc)
        self.leading.clear()
