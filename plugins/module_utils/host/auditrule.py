# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel audit rule the JSON enricher needs: every successful exec written as an audit event.

``auditctl -a always,exit -F arch=<native> -S execve,execveat -F success=1 -F key=spo-json-enricher``, sent over
the audit netlink socket (``AUDIT_ADD_RULE`` / ``AUDIT_DEL_RULE`` with a ``struct audit_rule_data``; needs
CAP_AUDIT_CONTROL).  The kernel keeps a rule after its sender exits, so the enricher removes it when it stops and,
at its start, removes one an earlier run left (the same bytes delete the same rule).
"""
from __future__ import annotations

import errno
import struct
from typing import List, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.local import _audit_request

KEY = "spo-json-enricher"
AUDIT_ADD_RULE = 1011
AUDIT_DEL_RULE = 1012
AUDIT_FILTER_EXIT = 0x04
AUDIT_ALWAYS = 2
AUDIT_BITMASK_SIZE = 64
AUDIT_MAX_FIELDS = 64
AUDIT_ARCH = 11
AUDIT_SUCCESS = 104
AUDIT_FILTERKEY = 210
AUDIT_EQUAL = 0x40000000
SYSCALLS = ("execve", "execveat")


def rule_data(arch_token: int, key: str = KEY) -> bytes:
    """The ``struct audit_rule_data`` of the rule for the architecture ``arch_token`` (AUDIT_ARCH_*)."""
    mask = [0] * AUDIT_BITMASK_SIZE
    for name in SYSCALLS:
        number = libseccomp.syscall_number(arch_token, name)
        mask[number // 32] |= 1 << (number % 32)
    encoded = key.encode("ascii")
    fields: List[Tuple[int, int]] = [(AUDIT_ARCH, arch_token), (AUDIT_SUCCESS, 1), (AUDIT_FILTERKEY, len(encoded))]
    names = [f for f, _v in fields] + [0] * (AUDIT_MAX_FIELDS - len(fields))
    values = [v for _f, v in fields] + [0] * (AUDIT_MAX_FIELDS - len(fields))
    flags = [AUDIT_EQUAL] * len(fields) + [0] * (AUDIT_MAX_FIELDS - len(fields))
    head = struct.pack("=3I", AUDIT_FILTER_EXIT, AUDIT_ALWAYS, len(fields))
    body = struct.pack("=%dI" % AUDIT_BITMASK_SIZE, *mask) + struct.pack("=%dI" % AUDIT_MAX_FIELDS, *names) + \
        struct.pack("=%dI" % AUDIT_MAX_FIELDS, *values) + struct.pack("=%dI" % AUDIT_MAX_FIELDS, *flags)
    return head + body + struct.pack("=I", len(encoded)) + encoded


def add(arch_token: int = 0) -> bool:
    """Install the rule (an earlier run's is replaced); True when it is in place."""
    data = rule_data(arch_token or libseccomp.native_arch_token())
    remove(arch_token)
    try:
        _audit_request(AUDIT_ADD_RULE, data)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            return True
        raise SpoError("cannot add the exec audit rule (root / CAP_AUDIT_CONTROL needed): %s" % exc)
    return True


def remove(arch_token: int = 0) -> bool:
    """Remove the rule; True when there was one."""
    data = rule_data(arch_token or libseccomp.native_arch_token())
    try:
        _audit_request(AUDIT_DEL_RULE, data)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise SpoError("cannot remove the exec audit rule (root / CAP_AUDIT_CONTROL needed): %s" % exc)
    return True
