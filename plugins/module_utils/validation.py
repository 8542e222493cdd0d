# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes object basics shared by every kind: names, metadata, type checks."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def object_ref(kind: str, namespace: Any, name: Any) -> str:
    """Human name of an object for error messages: ``Kind ns/name``."""
    return "%s %s/%s" % (kind, namespace if namespace not in (None, "") else "?", name if name not in (None, "") else "?")


def check_dns1123_label(value: Any, obj: str, field: str) -> str:
    """A DNS-1123 label (namespaces): lower-case alphanumerics and '-', at most 63 chars."""
    if not isinstance(value, str) or not value:
        raise SpoError("must be a non-empty string (DNS-1123 label)", obj, field)
    if len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        raise SpoError("%r is not a DNS-1123 label (lower-case letters, digits and '-', "
                       "starting and ending with an alphanumeric, at most 63 characters)" % value, obj, field)
    return value


def check_dns1123_subdomain(value: Any, obj: str, field: str) -> str:
    """A DNS-1123 subdomain (object names): labels joined by '.', at most 253 chars.

    '.' and '..' alone are refused, so a name can never walk out of a directory.
    """
    if not isinstance(value, str) or not value:
        raise SpoError("must be a non-empty string (DNS-1123 subdomain)", obj, field)
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(value):
        raise SpoError("%r is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', "
                       "starting and ending with an alphanumeric, at most 253 characters)" % value, obj, field)
    return value


def expect_type(value: Any, types: Tuple[type, ...], what: str, obj: str, field: str) -> Any:
    """Raise unless ``value`` is one of ``types`` (bool is never an int here)."""
    if isinstance(value, bool) and bool not in types:
        raise SpoError("must be %s, got a boolean" % what, obj, field)
    if not isinstance(value, types):
        raise SpoError("must be %s, got %s" % (what, type(value).__name__), obj, field)
    return value


def check_known_keys(mapping: Dict[str, Any], known: List[str], obj: str, field: str) -> None:
    """Refuse unknown keys (a typo in a field name must not be silently ignored)."""
    unknown = sorted(k for k in mapping if k not in known)
    if unknown:
        raise SpoError("unknown field(s) %s; expected one of %s" % (", ".join(map(str, unknown)), ", ".join(known)),
                       obj, field)


def object_identity(doc: Any, kind: str, api_versions: Tuple[str, ...], default_namespace: str = "default") -> Tuple[str, str, str]:
    """Validate apiVersion/kind/metadata of ``doc``; return (namespace, name, ref).

    ``metadata.namespace`` defaults to ``default_namespace`` (as kubectl does).
    """
    if not isinstance(doc, dict):
        raise SpoError("a %s must be a mapping, got %s" % (kind, type(doc).__name__))
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    namespace = (meta.get("namespace") if isinstance(meta, dict) else None) or default_namespace
    ref = object_ref(doc.get("kind") or kind, namespace, name)
    if doc.get("kind") != kind:
        raise SpoError("kind must be %r, got %r" % (kind, doc.get("kind")), ref, "kind")
    if doc.get("apiVersion") not in api_versions:
        raise SpoError("apiVersion must be one of %s, got %r" % (", ".join(api_versions), doc.get("apiVersion")),
                       ref, "apiVersion")
    if not isinstance(meta, dict):
        raise SpoError("metadata must be a mapping", ref, "metadata")
    check_dns1123_subdomain(name, ref, "metadata.name")
    check_dns1123_label(namespace, ref, "metadata.namespace")
    return namespace, name, ref
