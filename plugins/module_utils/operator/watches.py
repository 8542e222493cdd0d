# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator-sdk Ansible operator's ``watches.yaml``: parsing, defaults, validation.

The file is a YAML list; each entry maps one group/version/kind to a role (a path, a name
found on ``ANSIBLE_ROLES_PATH`` / ``./roles``, or a collection role ``ns.coll.role``) or a
playbook, with the fields and defaults of upstream's ``ansible-operator``:

``version`` and ``kind`` (required), ``group``, ``role`` | ``playbook``, ``vars``,
``reconcilePeriod`` (Go duration, ``0`` = the command's default), ``manageStatus`` (true),
``watchDependentResources`` (true), ``watchClusterScopedResources`` (false),
``snakeCaseParameters`` (true), ``watchAnnotationsChanges`` (false), ``markUnsafe`` (false),
``maxRunnerArtifacts`` (20), ``selector`` (a label selector), ``blacklist`` (GVKs), and
``finalizer`` ``{name, role | playbook, vars}`` (a finalizer with only ``vars`` reruns the main
role or playbook with them).  ``${VAR}`` references are replaced by the environment's values.

Every error names the entry (``watches.yaml[1] (cache.example.com/v1, Kind=Memcached)``) and the field.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

MAX_RUNNER_ARTIFACTS_DEFAULT = 20
ANSIBLE_VERBOSITY_DEFAULT = 2
KNOWN_FIELDS = frozenset((
    "group", "version", "kind", "role", "playbook", "vars", "reconcilePeriod", "manageStatus",
    "watchDependentResources", "watchClusterScopedResources", "snakeCaseParameters",
    "watchAnnotationsChanges", "markUnsafe", "maxRunnerArtifacts", "selector", "blacklist", "finalizer",
))
FINALIZER_FIELDS = frozenset(("name", "role", "playbook", "vars"))
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_ENV_REF = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def parse_duration(text: str) -> float:
    """Seconds of a Go duration string (``90s``, ``1h30m``, ``250ms``, ``0``); ValueError if invalid."""
    if not isinstance(text, str):
        raise ValueError("a duration is a string such as 30s, 5m or 1h30m, not %r" % (text,))
    body = text.strip()
    sign = 1.0
    if body[:1] in ("+", "-"):
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    if not body:
        raise ValueError("invalid duration %r" % text)
    total = 0.0
    pos = 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if not match:
            raise ValueError("invalid duration %r (units are ns, us, ms, s, m, h)" % text)
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def expand_env(text: str, environ: Mapping[str, str]) -> str:
    """Replace ``${VAR}`` / ``$VAR`` with the environment's value; unknown references stay as ``${VAR}``."""
    def repl(match: "re.Match[str]") -> str:
        name = match.group(1) if match.group(1) is not None else match.group(2)
        if name in environ:
            return environ[name]
        return "${%s}" % name
    return _ENV_REF.sub(repl, text)


@dataclass(frozen=True)
class GVK:
    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    def __str__(self) -> str:
        return "%s, Kind=%s" % (self.api_version, self.kind)


@dataclass
class Finalizer:
    name: str
    role: str = ""
    playbook: str = ""
    vars: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Watch:
    gvk: GVK
    role: str = ""
    playbook: str = ""
    vars: Dict[str, Any] = field(default_factory=dict)
    reconcile_period: float = 0.0
    manage_status: bool = True
    watch_dependent_resources: bool = True
    watch_cluster_scoped_resources: bool = False
    snake_case_parameters: bool = True
    watch_annotations_changes: bool = False
    mark_unsafe: bool = False
    max_runner_artifacts: int = MAX_RUNNER_ARTIFACTS_DEFAULT
    selector: str = ""
    blacklist: List[GVK] = field(default_factory=list)
    finalizer: Optional[Finalizer] = None
    max_concurrent_reconciles: int = 1
    ansible_verbosity: int = ANSIBLE_VERBOSITY_DEFAULT
    warnings: List[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The playbook or role directory the main run uses."""
        return self.playbook or self.role


def _where(index: int, entry: Mapping[str, Any]) -> str:
    gvk = "%s/%s, Kind=%s" % (entry.get("group", ""), entry.get("version", ""), entry.get("kind", ""))
    return "watches.yaml[%d] (%s)" % (index, gvk.lstrip("/"))


def _bool(entry: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = entry.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise SpoError("must be true or false, not %r" % (value,), obj=where, field=key)
    return value


def _str(entry: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
    value = entry.get(key)
    if value is None or value == "":
        if required:
            raise SpoError("must not be empty", obj=where, field=key)
        return ""
    if not isinstance(value, str):
        raise SpoError("must be a string, not %r" % (value,), obj=where, field=key)
    return value


def _vars(value: Any, where: str, key: str) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise SpoError("must be a mapping of variable names to values", obj=where, field=key)
    return dict(value)


def label_selector(value: Any, where: str, key: str = "selector") -> str:
    """A metav1.LabelSelector (``matchLabels``, ``matchExpressions``) as a selector string."""
    if value in (None, {}):
        return ""
    if not isinstance(value, dict):
        raise SpoError("must be a label selector (matchLabels, matchExpressions)", obj=where, field=key)
    unknown = sorted(set(value) - {"matchLabels", "matchExpressions"})
    if unknown:
        raise SpoError("unknown field %s (a label selector has matchLabels and matchExpressions)" % unknown[0],
                       obj=where, field=key)
    parts: List[str] = []
    labels = value.get("matchLabels") or {}
    if not isinstance(labels, dict):
        raise SpoError("must be a mapping of label names to values", obj=where, field=key + ".matchLabels")
    for name, val in sorted(labels.items()):
        if not isinstance(val, str):
            raise SpoError("label values are strings, not %r" % (val,), obj=where, field="%s.matchLabels.%s" % (key, name))
        parts.append("%s=%s" % (name, val))
    expressions = value.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise SpoError("must be a list", obj=where, field=key + ".matchExpressions")
    for i, expr in enumerate(expressions):
        here = "%s.matchExpressions[%d]" % (key, i)
        if not isinstance(expr, dict) or not isinstance(expr.get("key"), str) or not expr.get("key"):
            raise SpoError("needs a key", obj=where, field=here)
        op = expr.get("operator")
        values = expr.get("values") or []
        if op not in SELECTOR_OPERATORS:
            raise SpoError("operator must be one of %s, not %r" % (", ".join(SELECTOR_OPERATORS), op),
                           obj=where, field=here + ".operator")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SpoError("must be a list of strings", obj=where, field=here + ".values")
        if op in ("In", "NotIn") and not values:
            raise SpoError("must not be empty for operator %s" % op, obj=where, field=here + ".values")
        if op in ("Exists", "DoesNotExist") and values:
            raise SpoError("must be empty for operator %s" % op, obj=where, field=here + ".values")
        if op == "In":
            parts.append("%s in (%s)" % (expr["key"], ",".join(values)))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (expr["key"], ",".join(values)))
        elif op == "Exists":
            parts.append(expr["key"])
        else:
            parts.append("!" + expr["key"])
    return ",".join(parts)


def collections_paths(environ: Mapping[str, str]) -> List[str]:
    """Where collection roles are looked for: ``ANSIBLE_COLLECTIONS_PATH`` or Ansible's defaults."""
    value = environ.get("ANSIBLE_COLLECTIONS_PATH") or environ.get("ANSIBLE_COLLECTIONS_PATHS") or ""
    if value:
        return [p for p in value.split(":") if p]
    home = environ.get("HOME") or os.path.expanduser("~")
    return ["/usr/share/ansible/collections", os.path.join(home, ".ansible/collections")]


def candidate_role_paths(role: str, root: str, environ: Mapping[str, str]) -> List[str]:
    """The places a role named in watches.yaml may live, in upstream's order of preference."""
    if not role or os.path.isabs(role):
        return [role]
    candidates: List[str] = []
    fqcn = role.split(".")
    if len(fqcn) == 3:
        for parent in collections_paths(environ):
            candidates.append(os.path.join(parent, "ansible_collections", fqcn[0], fqcn[1], "roles", fqcn[2]))
    for parent in [p for p in environ.get("ANSIBLE_ROLES_PATH", "").split(":") if p]:
        candidates.append(os.path.join(parent, role))
        candidates.append(os.path.join(parent, "roles", role))
    candidates.append(os.path.join(root, "roles", role))
    return candidates


def resolve_role(role: str, root: str, environ: Mapping[str, str]) -> str:
    """The first existing directory among :func:`candidate_role_paths`, else ``role`` unchanged."""
    for path in candidate_role_paths(role, root, environ):
        if path and os.path.exists(path):
            return path
    return role


def _resolve_playbook(path: str, root: str) -> str:
    return path if not path or os.path.isabs(path) else os.path.join(root, path)


def _check_path(playbook: str, role: str, named_playbook: str, named_role: str) -> Optional[str]:
    """Why the playbook/role is unusable (None if it is fine), naming what the user wrote."""
    if playbook:
        if not os.path.isfile(playbook):
            return "playbook %s was not found" % (named_playbook if named_playbook == playbook else "%s (%s)" % (named_playbook, playbook))
        return None
    if role:
        if not os.path.isdir(role):
            return "role %s was not found (looked in ANSIBLE_COLLECTIONS_PATH, ANSIBLE_ROLES_PATH and ./roles)" % named_role
        return None
    return "must specify role or playbook"


def env_int(environ: Mapping[str, str], names: Tuple[str, ...], default: int, warnings: List[str]) -> int:
    """The first of ``names`` set in the environment as an integer, else ``default``."""
    for name in names:
        if name in environ:
            try:
                return int(environ[name])
            except ValueError:
                warnings.append("%s=%r is not an integer; using %d" % (name, environ[name], default))
                return default
    return default


def env_names(prefix: str, gvk: GVK) -> Tuple[str, ...]:
    """Upstream's per-kind variable name (``<PREFIX>_<KIND>_<GROUP>``, dots as ``_``, upper case).

    Upstream keeps ``-`` of the group, which a shell cannot set; the same name with ``-`` as
    ``_`` is accepted after it.
    """
    exact = ("%s_%s_%s" % (prefix, gvk.kind, gvk.group)).replace(".", "_").upper()
    shell = exact.replace("-", "_")
    return (exact,) if shell == exact else (exact, shell)


def parse_entry(index: int, entry: Any, root: str, environ: Mapping[str, str],
                max_concurrent_default: int, verbosity_default: int) -> Watch:
    """One watches.yaml entry as a validated :class:`Watch` (paths resolved against ``root``)."""
    if not isinstance(entry, dict):
        raise SpoError("each entry must be a mapping with version, kind and role or playbook",
                       obj="watches.yaml[%d]" % index)
    where = _where(index, entry)
    gvk = GVK(_str(entry, "group", where), _str(entry, "version", where, required=True), _str(entry, "kind", where, required=True))
    watch = Watch(gvk=gvk)
    watch.warnings.extend("unknown field %s (ignored, as upstream does)" % k for k in sorted(set(entry) - KNOWN_FIELDS))
    named_role = _str(entry, "role", where)
    named_playbook = _str(entry, "playbook", where)
    if named_role and named_playbook:
        raise SpoError("role and playbook are mutually exclusive; the playbook would win upstream, name one",
                       obj=where, field="role")
    watch.role = resolve_role(named_role, root, environ)
    watch.playbook = _resolve_playbook(named_playbook, root)
    watch.vars = _vars(entry.get("vars"), where, "vars")
    period = entry.get("reconcilePeriod")
    if period is not None:
        try:
            watch.reconcile_period = parse_duration(period)
        except ValueError as exc:
            raise SpoError(str(exc), obj=where, field="reconcilePeriod")
        if watch.reconcile_period < 0:
            raise SpoError("must not be negative", obj=where, field="reconcilePeriod")
    watch.manage_status = _bool(entry, "manageStatus", True, where)
    watch.watch_dependent_resources = _bool(entry, "watchDependentResources", True, where)
    watch.watch_cluster_scoped_resources = _bool(entry, "watchClusterScopedResources", False, where)
    watch.snake_case_parameters = _bool(entry, "snakeCaseParameters", True, where)
    watch.watch_annotations_changes = _bool(entry, "watchAnnotationsChanges", False, where)
    watch.mark_unsafe = _bool(entry, "markUnsafe", False, where)
    artifacts = entry.get("maxRunnerArtifacts")
    if artifacts is not None:
        if isinstance(artifacts, bool) or not isinstance(artifacts, int) or artifacts < 0:
            raise SpoError("must be a non-negative integer, not %r" % (artifacts,), obj=where, field="maxRunnerArtifacts")
        watch.max_runner_artifacts = artifacts or MAX_RUNNER_ARTIFACTS_DEFAULT
    watch.selector = label_selector(entry.get("selector"), where)
    blacklist = entry.get("blacklist") or []
    if not isinstance(blacklist, list):
        raise SpoError("must be a list of group/version/kind", obj=where, field="blacklist")
    for i, item in enumerate(blacklist):
        if not isinstance(item, dict):
            raise SpoError("must be a mapping with group, version, kind", obj=where, field="blacklist[%d]" % i)
        watch.blacklist.append(GVK(str(item.get("group") or ""), str(item.get("version") or ""), str(item.get("kind") or "")))
    fin = entry.get("finalizer")
    if fin is not None:
        watch.finalizer = _parse_finalizer(fin, where, root, environ)
    problem = _check_path(watch.playbook, watch.role, named_playbook, named_role)
    if problem:
        raise SpoError(problem, obj=where, field="playbook" if named_playbook else "role")
    watch.max_concurrent_reconciles = env_int(
        environ, env_names("MAX_CONCURRENT_RECONCILES", gvk) + env_names("WORKER", gvk), max_concurrent_default, watch.warnings)
    if watch.max_concurrent_reconciles <= 0:
        watch.warnings.append("max concurrent reconciles %d is not valid; using %d" % (watch.max_concurrent_reconciles, max_concurrent_default))
        watch.max_concurrent_reconciles = max_concurrent_default
    watch.ansible_verbosity = env_int(environ, env_names("ANSIBLE_VERBOSITY", gvk), verbosity_default, watch.warnings)
    if not 0 <= watch.ansible_verbosity <= 7:
        watch.warnings.append("ansible verbosity %d is not valid; using %d" % (watch.ansible_verbosity, verbosity_default))
        watch.ansible_verbosity = verbosity_default
    return watch


def _parse_finalizer(fin: Any, where: str, root: str, environ: Mapping[str, str]) -> Finalizer:
    if not isinstance(fin, dict):
        raise SpoError("must be a mapping with name and role, playbook or vars", obj=where, field="finalizer")
    unknown = sorted(set(fin) - FINALIZER_FIELDS)
    if unknown:
        raise SpoError("unknown field (a finalizer has name, role, playbook, vars)", obj=where, field="finalizer." + unknown[0])
    name = fin.get("name")
    if not isinstance(name, str) or not name:
        raise SpoError("finalizer must have a name", obj=where, field="finalizer.name")
    named_role = _str(fin, "role", where)
    named_playbook = _str(fin, "playbook", where)
    if named_role and named_playbook:
        raise SpoError("role and playbook are mutually exclusive", obj=where, field="finalizer.role")
    result = Finalizer(name=name, role=resolve_role(named_role, root, environ),
                       playbook=_resolve_playbook(named_playbook, root),
                       vars=_vars(fin.get("vars"), where, "finalizer.vars"))
    problem = _check_path(result.playbook, result.role, named_playbook, named_role)
    if problem and not result.vars:
        raise SpoError(problem + " (or give vars to rerun the main role with)", obj=where,
                       field="finalizer.playbook" if named_playbook else "finalizer.role")
    if problem:
        result.role = result.playbook = ""
    return result


def loads(text: str, root: str, environ: Optional[Mapping[str, str]] = None,
          max_concurrent_default: int = 1, verbosity_default: int = ANSIBLE_VERBOSITY_DEFAULT) -> List[Watch]:
    """Parse watches.yaml text; relative paths are resolved against ``root`` (upstream: the working directory)."""
    import yaml  # ansible-core's own dependency

    env = os.environ if environ is None else environ
    try:
        data = yaml.safe_load(expand_env(text, env))
    except yaml.YAMLError as exc:
        raise SpoError("not valid YAML: %s" % exc, obj="watches.yaml")
    if data is None:
        data = []
    if not isinstance(data, list):
        raise SpoError("must be a list of watches (group, version, kind, role or playbook)", obj="watches.yaml")
    watches: List[Watch] = []
    seen: Dict[GVK, int] = {}
    for index, entry in enumerate(data):
        watch = parse_entry(index, entry, root, env, max_concurrent_default, verbosity_default)
        if watch.gvk in seen:
            raise SpoError("duplicate GVK %s (also entry %d)" % (watch.gvk, seen[watch.gvk]), obj=_where(index, entry))
        seen[watch.gvk] = index
        watches.append(watch)
    return watches


def load(path: str, root: Optional[str] = None, environ: Optional[Mapping[str, str]] = None,
         max_concurrent_default: int = 1, verbosity_default: int = ANSIBLE_VERBOSITY_DEFAULT) -> List[Watch]:
    """Read and parse a watches file; relative paths resolve against ``root`` (default: the working directory)."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise SpoError("cannot read the watches file: %s" % exc.strerror, obj=path)
    try:
        return loads(text, root or os.getcwd(), environ, max_concurrent_default, verbosity_default)
    except SpoError as exc:
        raise SpoError(exc.message, obj=(exc.obj or "").replace("watches.yaml", path, 1) or path, field=exc.field)
