# -*- coding: utf-8 -*-
"""Syscall names newer than the host's libseccomp are kept with a warning; typos stay errors.

The kernel's syscall names come from plugins/module_utils/syscall_table.py, GENERATED from the pinned
package seccompy (its tables are generated from the kernel's UAPI headers); this test keeps the two
equal.  Regenerate after raising the pin: ``.venv/bin/python tests/unit/test_seccomp_names.py --write``.
"""
from __future__ import annotations

import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLE = os.path.join(ROOT, "plugins", "module_utils", "syscall_table.py")
NEWER = ["statmount", "listmount", "mseal", "lsm_get_self_attr", "getxattrat", "open_tree_attr", "uretprobe"]


def package_names():
    from importlib.metadata import version

    import seccompy.syscalls as tables
    return "seccompy==%s" % version("seccompy"), sorted(set(tables.X86_64_SYSCALLS) | set(tables.AARCH64_SYSCALLS))


def test_the_table_is_the_pinned_packages():
    from ansible_collections.spo.security_profiles.plugins.module_utils import syscall_table
    source, names = package_names()
    assert syscall_table.SOURCE == source
    assert sorted(syscall_table.NAMES) == names
    pinned = [l.strip() for l in open(os.path.join(ROOT, "requirements.txt")) if l.startswith("seccompy==")]
    assert pinned == [source]


def _profile(*names):
    return {"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
            "metadata": {"name": "newer", "namespace": "ns"},
            "spec": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": list(names)}]}}


def test_names_newer_than_libseccomp_are_kept_with_a_warning():
    from ansible_collections.spo.security_profiles.plugins.module_utils import libseccomp, seccomp
    token = libseccomp.native_arch_token()
    unknown_here = [n for n in NEWER if libseccomp.syscall_number(token, n) < 0]
    compiled = seccomp.compile_profiles([_profile("read", *NEWER)])[0]
    assert compiled.oci["syscalls"][0]["names"] == sorted(["read"] + NEWER)
    if unknown_here:  # the host's libseccomp is older than these names (Debian 12: 2.5.4)
        assert len(compiled.warnings) == 1
        for name in unknown_here:
            assert name in compiled.warnings[0]


def test_a_typo_is_still_an_error():
    from ansible_collections.spo.security_profiles.plugins.module_utils import seccomp
    from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
    with pytest.raises(SpoError) as err:
        seccomp.compile_profiles([_profile("read", "statmnt")])
    assert "unknown syscall 'statmnt'" in str(err.value) and "spec.syscalls[0].names[1]" in str(err.value)


def _write():
    source, names = package_names()
    text = open(TABLE).read()
    text = re.sub(r'SOURCE = "[^"]*"', 'SOURCE = "%s"' % source, text)
    text = re.sub(r"seccompy==[0-9.]+", source, text)
    body, line = [], "   "
    for name in names:
        piece = ' "%s",' % name
        if len(line) + len(piece) > 110:
            body.append(line)
            line = "   "
        line += piece
    body.append(line)
    text = re.sub(r"NAMES = frozenset\(\[\n.*?\n\]\)", "NAMES = frozenset([\n%s\n])" % "\n".join(body), text,
                  flags=re.S)
    with open(TABLE, "w") as handle:
        handle.write(text)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    _write()
