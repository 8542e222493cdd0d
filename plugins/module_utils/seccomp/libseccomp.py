# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libseccomp through ctypes: syscall and architecture names <-> numbers.

Modules run on target hosts where only the system Python and the container
runtime's ``libseccomp.so.2`` can be assumed, so the library is bound with
ctypes instead of a Python package.  No syscall table is kept here: every
answer comes from the host's libseccomp.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

# libseccomp returns __NR_SCMP_ERROR (-1) for a name it does not know at all,
# and a "pseudo syscall" number (<= -10000) for a name it knows from another
# architecture that does not exist on the one asked.
NR_SCMP_ERROR = -1
PSEUDO_SYSCALL_MAX = -10000

# Architectures of the OCI runtime spec (config-linux.md, seccomp).
OCI_ARCHITECTURES = (
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
)


class _Lib(object):
    def __init__(self) -> None:
        # find_library runs ldconfig: asked only when the usual soname does not load
        names = (name() for name in (lambda: "libseccomp.so.2", lambda: ctypes.util.find_library("seccomp")))
        last: Optional[Exception] = None
        self.cdll = None
        for name in names:
            if not name:
                continue
            try:
                self.cdll = ctypes.CDLL(name)
                break
            except OSError as exc:
                last = exc
        if self.cdll is None:
            raise SpoError("libseccomp.so.2 not found on this host (install libseccomp2): %s" % last)
        lib = self.cdll
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_native.argtypes = []
        lib.seccomp_arch_native.restype = ctypes.c_uint32
        lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
        lib.seccomp_syscall_resolve_name_arch.restype = ctypes.c_int
        # The returned string is malloc()ed: keep it as a raw pointer to free it.
        lib.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
        lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p
        self.libc = ctypes.CDLL(None)
        self.libc.free.argtypes = [ctypes.c_void_p]
        self.libc.free.restype = None


@functools.lru_cache(maxsize=1)
def _lib() -> _Lib:
    return _Lib()


def oci_arch_to_token(oci_arch: str) -> int:
    """``SCMP_ARCH_X86_64`` -> libseccomp arch token (an AUDIT_ARCH_* value); 0 if unknown."""
    if oci_arch not in OCI_ARCHITECTURES:
        return 0
    return arch_token(oci_arch[len("SCMP_ARCH_"):].lower())


@functools.lru_cache(maxsize=64)
def arch_token(name: str) -> int:
    """libseccomp's name (``x86_64``) -> arch token; 0 if libseccomp does not know it."""
    return int(_lib().cdll.seccomp_arch_resolve_name(name.encode("ascii")))


def native_arch_token() -> int:
    return int(_lib().cdll.seccomp_arch_native())


def token_to_oci_arch(token: int) -> Optional[str]:
    """Arch token (e.g. audit's ``arch=c000003e``) -> ``SCMP_ARCH_X86_64``."""
    for oci in OCI_ARCHITECTURES:
        if oci_arch_to_token(oci) == token:
            return oci
    return None


def native_oci_arch() -> str:
    arch = token_to_oci_arch(native_arch_token())
    if arch is None:
        raise SpoError("libseccomp reports a native architecture the OCI spec does not name")
    return arch


@functools.lru_cache(maxsize=65536)
def syscall_number(token: int, name: str) -> int:
    """Syscall number of ``name`` on arch ``token``.

    Returns NR_SCMP_ERROR (-1) if libseccomp knows no such syscall on any
    architecture, a pseudo number <= PSEUDO_SYSCALL_MAX if it exists only
    elsewhere, else the real number (>= 0).
    """
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        return NR_SCMP_ERROR
    return int(_lib().cdll.seccomp_syscall_resolve_name_arch(token, raw))


@functools.lru_cache(maxsize=65536)
def syscall_name(token: int, number: int) -> Optional[str]:
    """Name of syscall ``number`` on arch ``token``; None if unknown."""
    lib = _lib()
    ptr = lib.cdll.seccomp_syscall_resolve_num_arch(token, number)
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("ascii")
    finally:
        lib.libc.free(ptr)
