# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install / remove SELinux profiles in the node's store in ONE transaction (module engine).

read (``semodule -lfull -m`` checksums) -> compare -> write only what differs.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.cil import profile_cil
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.store import (
    SemoduleError, Store, apply_batch, plan)
from ansible_collections.spo.security_profiles.plugins.module_utils.validation import object_identity


def _identities(docs: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    """Names only (state=absent needs no valid spec)."""
    out = []
    for index, doc in enumerate(docs):
        kind = doc.get("kind")
        if kind not in (selinux.KIND, selinux.RAW_KIND):
            raise SpoError("kind must be SelinuxProfile or RawSelinuxProfile, got %r" % (kind,),
                           field="definition[%d].kind" % index)
        namespace, name, ref = object_identity(doc, kind, selinux.API_VERSIONS)
        out.append({"object": ref, "policy": selinux.policy_name(name, namespace),
                    "usage": selinux.policy_name(name, namespace) + ".process"})
    return out


def run_install(docs: List[Dict[str, Any]], state: str = "present", compat_mode: str = "auto",
                allowed: Optional[Dict[str, Any]] = None, reload: str = "auto", check_mode: bool = False,
                want_diff: bool = False, store: Optional[Store] = None, denied: Optional[Dict[str, Any]] = None,
                allowed_system_profiles: Optional[List[str]] = None) -> Dict[str, Any]:
    """Apply ``docs``; return the module result (changed, policies, system_modules, transactions, diff).

    A profile with ``spec.disabled: true`` is validated but not installed, and removed from the
    store when it is there (in the same transaction as the installs).
    """
    store = store or Store(reload=None if reload == "auto" else reload == "yes")
    deny = selinux.Denylist.allowing(allowed, denied, allowed_system_profiles)
    if state == "absent":
        entries = _identities(docs)
        installed = store.installed()
        removals = sorted({e["policy"] for e in entries if e["policy"] in installed})
        for entry in entries:
            entry["state"] = "removed" if entry["policy"] in removals else "absent"
        diff = {"before": "".join("%s\n" % n for n in removals), "after": ""}
        transactions = 0
        if removals and not check_mode:
            transactions = _apply(store, {}, removals, entries)
        result = {"changed": bool(removals), "policies": entries, "system_modules": [], "transactions": transactions}
        if want_diff:
            result["diff"] = diff
        return result

    profiles = selinux.parse_profiles(docs, deny)
    installed = store.installed()
    compat = selinux_templates.compat_needed(compat_mode, list(installed))
    desired = selinux_templates.system_modules(compat)
    system_names = set(desired)
    entries = []
    disabled = set()
    for profile in profiles:
        entries.append({"object": profile.ref, "policy": profile.policy_name, "usage": profile.usage})
        if profile.disabled:
            disabled.add(profile.policy_name)
        else:
            desired[profile.policy_name] = profile_cil(profile)
    for profile in profiles:  # a disabled parent cannot be inherited: the child would not compile
        for index, parent in enumerate(getattr(profile, "inherit", [])):
            if parent.kind == selinux.KIND and selinux.policy_name(parent.name, profile.namespace) in disabled \
                    and profile.policy_name not in disabled:
                raise SpoError("inherits SelinuxProfile %s/%s, which is disabled" % (profile.namespace, parent.name),
                               profile.ref, "spec.inherit[%d].name" % index)
    if not desired.keys() - system_names:
        desired = {}  # only disabled profiles: the templates are not needed for them
    install = plan(installed, desired, ())[0]
    removals = sorted(n for n in disabled if n in installed)
    for entry in entries:
        if entry["policy"] in disabled:
            entry["state"] = "removed" if entry["policy"] in removals else "disabled"
        else:
            entry["state"] = "installed" if entry["policy"] in install else "unchanged"
    transactions = 0
    result: Dict[str, Any] = {"changed": bool(install or removals), "policies": entries,
                              "system_modules": sorted(n for n in install if n in system_names)}
    if want_diff:
        before = []
        for name in sorted(install):
            old = store.extract(name) if name in installed else None
            before.append("; module %s\n%s" % (name, old if old is not None else "; (not installed)\n"))
        before.extend("; module %s (disabled: removed)\n" % name for name in removals)
        result["diff"] = {"before": "".join(before),
                          "after": "".join("; module %s\n%s" % (n, install[n]) for n in sorted(install))}
    if (install or removals) and not check_mode:
        transactions = _apply(store, install, removals, entries)
    result["transactions"] = transactions
    return result


def _apply(store: Store, install: Dict[str, str], remove: List[str], entries: List[Dict[str, str]]) -> int:
    try:
        return apply_batch(store, install, remove, isolate_failures=False).transactions
    except SemoduleError as exc:
        by_policy = {e["policy"]: e["object"] for e in entries}
        culprit = next((by_policy.get(m, m) for m in exc.modules), None)
        raise SpoError("the policy store refused the change (nothing was installed or removed): %s" % exc.message,
                       obj=culprit)
