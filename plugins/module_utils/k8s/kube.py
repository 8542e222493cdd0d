# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small, generic helpers over the kubernetes client for long-running daemons.

* :class:`Kube` sends raw REST calls through a ``kubernetes.client.ApiClient`` (its auth, TLS and
  connection pool) and decodes JSON itself: objects stay plain dicts, nothing is turned into the
  client's model classes, every request is counted (``Kube.requests``), and one the API server asks to have
  sent again (``Retry-After``, see :func:`retry_after`) is, as client-go does.
* :class:`Reflector` is a list+watch loop for one resource: list, then watch from the list's
  ``resourceVersion`` (bookmarks keep it fresh), resume after a dropped connection from the last
  version seen, relist on ``410 Gone``.  Each object goes through a ``slim`` function before it is
  stored, so a cache keeps only what its owner reads.  A relist reports objects that vanished
  meanwhile as deletions.
* Patch helpers (merge patch, JSON patch, server-side apply, the status subresource), Warning
  events, and :func:`retry_on_conflict`.

Used by the node agent; nothing here knows about profiles.
"""
from __future__ import annotations

import datetime
import json
import os
import threading
import time
import uuid
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple
from urllib.parse import quote, urlencode

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.client import IN_CLUSTER, api_client, kubeconfig_path

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


class KubeError(Exception):
    """A non-2xx answer of the API server (``status`` 0: no answer at all)."""

    def __init__(self, status: int, message: str, reason: str = "", method: str = "", path: str = "") -> None:
        super().__init__("%s %s: %d %s%s" % (method, path, status, reason or "", (": " + message) if message else ""))
        self.status = status
        self.reason = reason
        self.message = message


class Gone(KubeError):
    """410: the resourceVersion is too old; relist."""


def is_not_found(exc: Exception) -> bool:
    return isinstance(exc, KubeError) and exc.status == 404


def is_conflict(exc: Exception) -> bool:
    """409 Conflict, or 422 from a failed JSON patch ``test`` operation."""
    return isinstance(exc, KubeError) and (exc.status == 409 or (exc.status == 422 and "test" in exc.message.lower()))


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def custom_path(group: str, version: str, plural: str, namespace: Optional[str] = None, name: Optional[str] = None,
                subresource: Optional[str] = None) -> str:
    """Path of custom objects: a collection (all namespaces or one), an object, a subresource."""
    path = "/apis/%s/%s" % (group, version)
    if namespace:
        path += "/namespaces/" + quote(namespace, safe="")
    path += "/" + plural
    if name:
        path += "/" + quote(name, safe="")
        if subresource:
            path += "/" + subresource
    return path


def core_path(plural: str, namespace: Optional[str] = None, name: Optional[str] = None) -> str:
    path = "/api/v1"
    if namespace:
        path += "/namespaces/" + quote(namespace, safe="")
    path += "/" + plural
    if name:
        path += "/" + quote(name, safe="")
    return path


SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


class Transport(object):
    """The API server's address, TLS settings and credentials, without the kubernetes client.

    Reads a kubeconfig (server, CA, client certificate, token or user name and password,
    insecure-skip-tls-verify) or the
    pod's service account (its token file is re-read every minute: bound tokens rotate).  Anything
    else (exec plugins, auth providers) raises ``ValueError``: use the kubernetes client then
    (:func:`connect` does).  Importing ``kubernetes.client`` costs ~20 MB per process, which matters
    for a DaemonSet on every node.
    """

    def __init__(self, server: str, ssl_context: Any, token: Optional[str] = None,
                 token_file: Optional[str] = None, basic: Optional[Tuple[str, str]] = None) -> None:
        import urllib3
        self.server = server.rstrip("/")
        self.token = token
        # ansible-operator's kubeconfig for its proxy names the owner of a run as the user name (basic auth)
        self.basic = basic
        self.token_file = token_file
        self._token_read = 0.0
        self.pool = urllib3.PoolManager(num_pools=2, maxsize=16, ssl_context=ssl_context)

    def headers(self) -> Dict[str, str]:
        if self.token_file and time.monotonic() - self._token_read > 60:
            with open(self.token_file, "r", encoding="utf-8") as handle:
                self.token = handle.read().strip()
            self._token_read = time.monotonic()
        if self.token:
            return {"Authorization": "Bearer " + self.token}
        if self.basic:
            import base64
            pair = ("%s:%s" % self.basic).encode("utf-8")
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {}

    @classmethod
    def in_cluster(cls) -> "Transport":
        import ssl
        host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if ":" in host:
            host = "[%s]" % host
        context = ssl.create_default_context(cafile=os.path.join(SERVICE_ACCOUNT, "ca.crt"))
        return cls("https://%s:%s" % (host, port), context, token_file=os.path.join(SERVICE_ACCOUNT, "token"))

    @classmethod
    def from_kubeconfig(cls, path: str) -> "Transport":
        import base64
        import ssl
        import tempfile
        from ansible_collections.spo.security_profiles.plugins.module_utils.yaml_input import load_one
        with open(path, "r", encoding="utf-8") as handle:
            config = load_one(handle.read(), path) or {}
        base = os.path.dirname(os.path.abspath(path))

        def named(section: str, name: Any) -> Dict[str, Any]:
            for item in config.get(section) or []:
                if item.get("name") == name:
                    return item.get(section[:-1]) or {}
            raise ValueError("kubeconfig %s: no %s named %r" % (path, section[:-1], name))

        context = named("contexts", config.get("current-context"))
        cluster, user = named("clusters", context.get("cluster")), named("users", context.get("user"))
        if set(user) - {"client-certificate", "client-certificate-data", "client-key", "client-key-data",
                        "token", "tokenFile", "username", "password"}:
            raise ValueError("kubeconfig %s: user %s needs the kubernetes client (%s)"
                             % (path, context.get("user"), ", ".join(sorted(user))))

        def data(key: str) -> Optional[bytes]:
            if user.get(key + "-data") or cluster.get(key + "-data"):
                return base64.b64decode(user.get(key + "-data") or cluster.get(key + "-data"))
            file_name = user.get(key) or cluster.get(key)
            if file_name:
                with open(os.path.join(base, file_name), "rb") as handle:
                    return handle.read()
            return None

        ssl_context = ssl.create_default_context()
        ca = data("certificate-authority")
        if cluster.get("insecure-skip-tls-verify"):
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
        elif ca:
            ssl_context = ssl.create_default_context(cadata=ca.decode("ascii"))
        cert, key = data("client-certificate"), data("client-key")
        if cert and key:
            with tempfile.TemporaryDirectory() as directory:  # ssl reads key pairs from files only
                cert_path, key_path = os.path.join(directory, "c"), os.path.join(directory, "k")
                for file_path, content in ((cert_path, cert), (key_path, key)):
                    fd = os.open(file_path, os.O_WRONLY | os.O_CREAT, 0o600)
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(content)
                ssl_context.load_cert_chain(cert_path, key_path)
        token = user.get("token")
        token_file = os.path.join(base, user["tokenFile"]) if user.get("tokenFile") else None
        basic = (str(user["username"]), str(user.get("password") or "")) if user.get("username") else None
        return cls(cluster["server"], ssl_context, token=token, token_file=token_file, basic=basic)


def connect(kubeconfig: Optional[str] = None, user_agent: str = "spo") -> "Kube":
    """A :class:`Kube` found the way ``client.kubeconfig_path`` says; through the light :class:`Transport` when
    it can, else through the kubernetes client."""
    path = kubeconfig_path(kubeconfig)
    try:
        if path is IN_CLUSTER:
            return Kube(Transport.in_cluster(), user_agent)
        return Kube(Transport.from_kubeconfig(path), user_agent)
    except ValueError:
        return Kube(api_client(path), user_agent)


def resource_of(path: str) -> str:
    """The resource (plural, with its subresource) an API path names: ``/apis/g/v/namespaces/n/seccompprofiles/p/status``
    is ``seccompprofiles/status``; ``/api/v1/nodes`` is ``nodes``."""
    parts = [part for part in path.split("?", 1)[0].split("/") if part]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:] if parts[:1] == ["apis"] else parts
    if len(rest) > 2 and rest[0] == "namespaces":
        rest = rest[2:]
    if not rest:
        return "-"
    return rest[0] + ("/" + rest[2] if len(rest) > 2 else "")


MAX_RETRIES = 10  # answers that ask to be retried (see retry_after), as client-go does
MAX_RETRY_WAIT = 10.0


def retry_after(method: str, status: int, header: Optional[str]) -> Optional[float]:
    """Seconds to wait before sending a request again, or None.  The API server asks for a retry with
    ``Retry-After``: on a 429 (a CRD's storage still initializing, a priority level full) it has not carried the
    request out, so any verb is repeated; on a 5xx only a read is, since a write may have been done."""
    if header is None or not (status == 429 or (500 <= status < 600 and method == "GET")):
        return None
    try:
        seconds = float(header)
    except ValueError:  # an HTTP date: the API server never sends one; wait a second
        seconds = 1.0
    return min(max(seconds, 0.1), MAX_RETRY_WAIT)


class Kube(object):
    """Raw JSON REST calls over a :class:`Transport` or a kubernetes ``ApiClient``; thread-safe (urllib3
    pool); counts requests."""

    def __init__(self, api_client: Any, user_agent: str = "spo") -> None:
        self.api = api_client
        self.user_agent = user_agent
        self._lock = threading.Lock()
        self.requests = 0
        self.by_verb: Dict[str, int] = {}
        self.by_resource: Dict[str, int] = {}  # "<verb> <resource>[/<subresource>]": where requests go
        self.sleep: Callable[[float], None] = time.sleep

    def _count(self, verb: str, path: str = "") -> None:
        what = "%s %s" % (verb, resource_of(path))
        with self._lock:
            self.requests += 1
            self.by_verb[verb] = self.by_verb.get(verb, 0) + 1
            self.by_resource[what] = self.by_resource.get(what, 0) + 1

    def _send(self, method: str, path: str, query: Optional[Dict[str, Any]] = None, body: Any = None,
              content_type: str = JSON, timeout: Any = 30, verb: Optional[str] = None, stream: bool = False) -> Any:
        headers = {"Accept": JSON, "User-Agent": self.user_agent}
        if body is not None:
            headers["Content-Type"] = content_type
        if isinstance(self.api, Transport):
            method_, url, pool = method, self.api.server + path, self.api.pool
            headers.update(self.api.headers())
        else:
            method_, url, headers, _body, _post = self.api.param_serialize(
                method, path, header_params=headers, auth_settings=["BearerToken"])
            pool = self.api.rest_client.pool_manager
        if query:
            url += "?" + urlencode([(k, v) for k, v in query.items() if v is not None])
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        if isinstance(timeout, tuple):
            import urllib3
            timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        for attempt in range(MAX_RETRIES + 1):
            self._count(verb or method, path)
            try:
                resp = pool.request(method_, url, body=data, headers=headers, preload_content=False,
                                    timeout=timeout, retries=False)
            except Exception as exc:  # urllib3 errors: connection refused, reset, timeout
                raise KubeError(0, str(exc), "no answer", method, path)
            wait = retry_after(method, resp.status, resp.headers.get("Retry-After"))
            if wait is None or attempt == MAX_RETRIES:
                break
            resp.drain_conn()
            resp.release_conn()
            self.sleep(wait)
        if resp.status >= 300:
            raw = resp.data
            resp.release_conn()
            message, reason = "", ""
            try:
                decoded = json.loads(raw.decode("utf-8"))
                message, reason = decoded.get("message", ""), decoded.get("reason", "")
            except (ValueError, UnicodeDecodeError, AttributeError):
                message = raw[:500].decode("utf-8", "replace")
            cls = Gone if resp.status == 410 else KubeError
            raise cls(resp.status, message, reason, method, path)
        if stream:
            return resp
        raw = resp.data
        resp.release_conn()
        return json.loads(raw.decode("utf-8")) if raw else None

    # ----------------------------------------------------------------- verbs
    def get(self, path: str, query: Optional[Dict[str, Any]] = None) -> Any:
        return self._send("GET", path, query, verb="get")

    def list(self, path: str, query: Optional[Dict[str, Any]] = None) -> Any:
        return self._send("GET", path, query, verb="list", timeout=120)

    def create(self, path: str, body: Dict[str, Any], query: Optional[Dict[str, Any]] = None) -> Any:
        return self._send("POST", path, query, body=body, verb="create")

    def delete(self, path: str, body: Optional[Dict[str, Any]] = None, missing_ok: bool = True) -> Any:
        try:
            return self._send("DELETE", path, body=body, verb="delete")
        except KubeError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise

    def delete_collection(self, path: str, query: Optional[Dict[str, Any]] = None) -> Any:
        """Delete the objects of the collection ``path`` that ``query`` (a labelSelector) selects, in one request."""
        return self._send("DELETE", path, query, verb="deletecollection", timeout=120)

    def merge_patch(self, path: str, body: Dict[str, Any]) -> Any:
        return self._send("PATCH", path, body=body, content_type=MERGE_PATCH, verb="patch")

    def json_patch(self, path: str, operations: List[Dict[str, Any]]) -> Any:
        return self._send("PATCH", path, body=operations, content_type=JSON_PATCH, verb="patch")

    def apply(self, path: str, body: Dict[str, Any], field_manager: str, force: bool = True) -> Any:
        """Server-side apply (JSON is YAML) with ``field_manager``."""
        query = {"fieldManager": field_manager, "force": "true" if force else None}
        return self._send("PATCH", path, query, body=body, content_type=APPLY_PATCH, verb="apply")

    def watch(self, path: str, resource_version: str, query: Optional[Dict[str, Any]] = None,
              timeout_seconds: int = 300) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """Events (type, object) of one watch request; raises :class:`Gone` on 410 (also as an ERROR event)."""
        params = dict(query or {})
        params.update({"watch": "1", "resourceVersion": resource_version, "allowWatchBookmarks": "true",
                       "timeoutSeconds": str(timeout_seconds)})
        resp = self._send("GET", path, params, verb="watch", timeout=(10, timeout_seconds + 30), stream=True)
        try:
            buf = b""
            for chunk in resp.stream(65536, decode_content=True):
                buf += chunk
                while True:
                    cut = buf.find(b"\n")
                    if cut < 0:
                        break
                    line, buf = buf[:cut], buf[cut + 1:]
                    if not line.strip():
                        continue
                    event = json.loads(line.decode("utf-8"))
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":
                        code = obj.get("code", 500)
                        cls = Gone if code == 410 else KubeError
                        raise cls(code, obj.get("message", ""), obj.get("reason", ""), "WATCH", path)
                    yield kind, obj
        finally:
            resp.release_conn()

    # ---------------------------------------------------------------- events
    def warning_event(self, obj: Dict[str, Any], reason: str, message: str, component: str,
                      host: Optional[str] = None, event_type: str = "Warning") -> None:
        """Record a core/v1 Event about ``obj`` (apiVersion, kind, metadata.name/namespace/uid)."""
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        stamp = now_rfc3339()
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "%s.%s" % (meta.get("name", "object")[:200], uuid.uuid4().hex[:16]),
                         "namespace": namespace},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                               "name": meta.get("name"), "namespace": namespace, "uid": meta.get("uid"),
                               "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message[:1024], "type": event_type,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            "reportingComponent": component, "reportingInstance": host or component,
        }
        self.create(core_path("events", namespace), event)


def retry_on_conflict(func: Callable[[], Any], attempts: int = 5, delay: float = 0.05) -> Any:
    """Call ``func`` again (it re-reads what it needs) while it fails with a conflict."""
    for attempt in range(attempts):
        try:
            return func()
        except KubeError as exc:
            if not is_conflict(exc) or attempt == attempts - 1:
                raise
            time.sleep(delay * (attempt + 1))
    return None


def object_key(obj: Dict[str, Any]) -> Tuple[str, str]:
    meta = obj.get("metadata", {})
    return meta.get("namespace") or "", meta.get("name") or ""


Handler = Callable[[str, Tuple[str, str], Optional[Dict[str, Any]], Optional[Dict[str, Any]]], None]


class Reflector(object):
    """list+watch of one collection into ``store``; ``handler(type, key, old, new)`` after each change.

    ``slim(obj)`` returns what is stored (``None``: do not store the object, as if it did not exist).
    ``synced`` is set after the first list.  ``missing_ok``: a 404 on list (CRD not installed yet)
    counts as an empty collection and the list is retried every ``retry_missing`` seconds.
    """

    def __init__(self, kube: Kube, name: str, path: str, handler: Handler, query: Optional[Dict[str, Any]] = None,
                 slim: Callable[[Dict[str, Any]], Optional[Dict[str, Any]]] = lambda obj: obj,
                 missing_ok: bool = False, retry_missing: float = 10.0, log: Callable[[str], None] = lambda m: None,
                 watch_timeout: int = 300) -> None:
        self.kube = kube
        self.name = name
        self.path = path
        self.query = query or {}
        self.handler = handler
        self.slim = slim
        self.missing_ok = missing_ok
        self.retry_missing = retry_missing
        self.log = log
        self.watch_timeout = watch_timeout
        self.store: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self.lock = threading.RLock()
        self.synced = threading.Event()
        self.missing = False
        self.resource_version = ""
        self.relists = 0
        self.stop = threading.Event()
        self.thread: Optional[threading.Thread] = None

    def start(self) -> "Reflector":
        self.thread = threading.Thread(target=self.run, name="reflector-" + self.name, daemon=True)
        self.thread.start()
        return self

    def items(self) -> List[Dict[str, Any]]:
        with self.lock:
            return list(self.store.values())

    def get(self, key: Tuple[str, str]) -> Optional[Dict[str, Any]]:
        with self.lock:
            return self.store.get(key)

    def _apply(self, kind: str, obj: Dict[str, Any]) -> None:
        key = object_key(obj)
        new = self.slim(obj) if kind != DELETED else None
        with self.lock:
            old = self.store.get(key)
            if new is None:
                if old is None:
                    return
                del self.store[key]
                kind = DELETED
            else:
                self.store[key] = new
        self.handler(kind if old is not None or kind == DELETED else ADDED, key, old, new)

    def relist(self) -> None:
        try:
            listing = self.kube.list(self.path, self.query)
            self.missing = False
        except KubeError as exc:
            if exc.status == 404 and self.missing_ok:
                if not self.missing:
                    self.log("%s: the API has no %s (CRD not installed?); retrying every %.0fs"
                             % (self.name, self.path, self.retry_missing))
                self.missing = True
                listing = {"items": [], "metadata": {"resourceVersion": ""}}
            else:
                raise
        self.relists += 1
        items = listing.get("items") or []
        seen = set()
        for obj in items:
            seen.add(object_key(obj))
            self._apply(MODIFIED, obj)
        with self.lock:
            vanished = [key for key in self.store if key not in seen]
        for key in vanished:
            with self.lock:
                old = self.store.pop(key, None)
            if old is not None:
                self.handler(DELETED, key, old, None)
        self.resource_version = (listing.get("metadata") or {}).get("resourceVersion", "")
        self.synced.set()

    def run(self) -> None:
        backoff = 0.5
        need_list = True
        while not self.stop.is_set():
            try:
                if need_list:
                    self.relist()
                    need_list = False
                if self.missing:
                    self.stop.wait(self.retry_missing)
                    need_list = True
                    continue
                for kind, obj in self.kube.watch(self.path, self.resource_version, self.query, self.watch_timeout):
                    if self.stop.is_set():
                        return
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if rv:
                        self.resource_version = rv
                    if kind == "BOOKMARK":
                        continue
                    self._apply(kind, obj)
                backoff = 0.5
            except Gone:
                self.log("%s: watch expired (410 Gone): relisting" % self.name)
                need_list = True
            except Exception as exc:  # pylint: disable=broad-except
                self.log("%s: %s; retrying in %.1fs" % (self.name, exc, backoff))
                if not self.resource_version:
                    need_list = True
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)


SLIM_KEYS = ("name", "namespace", "uid", "resourceVersion", "generation", "deletionTimestamp", "finalizers",
             "labels", "annotations", "ownerReferences")


def slim_metadata(meta: Dict[str, Any], keep: Iterable[str] = SLIM_KEYS) -> Dict[str, Any]:
    """``metadata`` without managedFields and other bulk a cache never reads."""
    return {k: meta[k] for k in keep if k in meta}


def module_kube(kubeconfig: Optional[str], user_agent: str) -> Kube:
    """A :class:`Kube` for a module a role of the operator runs: ``kubeconfig``, else ``$K8S_AUTH_KUBECONFIG``
    (ansible-operator's proxy, as kubernetes.core's modules read it), else :func:`kubeconfig_path`'s order; through
    the light transport when it can (:func:`connect`: a module run does not import the kubernetes client)."""
    return connect(kubeconfig or os.environ.get("K8S_AUTH_KUBECONFIG") or None, user_agent)
