# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SELinux policy store: read what is installed, install/remove in ONE transaction.

Every ``semodule`` call that installs or removes rebuilds the whole binary
policy (seconds, a memory spike), so callers hand over everything at once:
:func:`apply_batch` runs ``semodule -i a.cil -i b.cil -r c`` — one libsemanage
transaction, one rebuild.  The transaction is atomic: when the compiler
refuses it, nothing is committed.

What is installed is read with ``semodule -lfull -m``: the store's checksum
of a CIL module is the sha256 of its text, so comparing it with
:func:`cil_checksum` of the wanted text tells "unchanged" without a rebuild
(a second run changes nothing and builds nothing).

Failures: with ``isolate_failures`` (selinuxd) the policy named in the
compiler's message (``.../modules/<prio>/<name>/cil:<line>``) is set aside
as Failed and the rest retried in one transaction; when the message names
no module of the batch, each change is applied alone (so one bad policy can
never block the others).  Without it (the Ansible module) the first failure
is raised and the store stays as it was.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

PRIORITY = 400
LOCK_BUSY = "Could not get direct transaction lock"
MODULE_NAME_RE = re.compile(r"\A[A-Za-z][A-Za-z0-9_.-]*\Z")
_FAILED_MODULE_RE = re.compile(r"/modules/\d+/([A-Za-z][A-Za-z0-9_.-]*)/cil")


def cil_checksum(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_module_name(name: str) -> str:
    if not isinstance(name, str) or len(name) > 255 or not MODULE_NAME_RE.match(name):
        raise SpoError("%r is not a valid policy module name (a letter, then letters, digits, '_', '-', '.')" % (name,))
    return name


class SemoduleError(SpoError):
    """``semodule`` refused a transaction; ``modules`` are the module names its message names."""

    def __init__(self, message: str, modules: Sequence[str]) -> None:
        super().__init__(message)
        self.modules = list(modules)


@dataclass
class BatchResult:
    installed: List[str] = field(default_factory=list)
    removed: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)
    transactions: int = 0


def selinux_enabled() -> bool:
    """True when the running kernel has SELinux enabled (then the new policy is loaded)."""
    return os.path.exists("/sys/fs/selinux/enforce")


class Store:
    """The node's policy store, driven through ``semodule`` (policycoreutils)."""

    def __init__(self, semodule: Optional[str] = None, reload: Optional[bool] = None,
                 priority: int = PRIORITY, store_root: Optional[str] = None, lock_timeout: float = 300.0) -> None:
        self.semodule = semodule or shutil.which("semodule") or "/usr/sbin/semodule"
        self.reload = selinux_enabled() if reload is None else reload
        self.priority = priority
        self.store_root = store_root
        self.lock_timeout = lock_timeout

    def _base(self) -> List[str]:
        cmd = [self.semodule]
        if self.store_root:
            cmd += ["-S", self.store_root]
        return cmd

    def _run(self, args: List[str], cwd: Optional[str] = None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(self._base() + args, cwd=cwd, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise SpoError("cannot run %s: %s (install policycoreutils)" % (self.semodule, exc))

    def installed(self) -> Dict[str, str]:
        """Installed module name -> checksum (``sha256:...``) at its highest priority."""
        proc = self._run(["-lfull", "-m"])
        if proc.returncode != 0:
            raise SpoError("semodule -lfull failed: %s" % (proc.stderr.strip() or proc.stdout.strip()))
        best: Dict[str, Tuple[int, str]] = {}
        for line in proc.stdout.splitlines():
            parts = line.split()
            if len(parts) < 3 or not parts[0].isdigit():
                continue
            if "disabled" in parts[3:]:
                continue
            prio, name = int(parts[0]), parts[1]
            checksum = next((p for p in parts[2:] if p.startswith("sha256:")), "")
            if name not in best or prio > best[name][0]:
                best[name] = (prio, checksum)
        return {name: value[1] for name, value in best.items()}

    def extract(self, name: str) -> Optional[str]:
        """CIL text of an installed module (for diffs), or None."""
        tmp = tempfile.mkdtemp(prefix="spo-extract-")
        try:
            proc = self._run(["--cil", "-E", name], cwd=tmp)
            path = os.path.join(tmp, name + ".cil")
            if proc.returncode != 0 or not os.path.exists(path):
                return None
            with open(path, "r", encoding="utf-8", errors="replace") as handle:
                return handle.read()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def transaction(self, install: Dict[str, str], remove: Iterable[str] = ()) -> None:
        """Install ``install`` (name -> CIL) and remove ``remove`` in ONE semodule transaction."""
        remove = list(remove)
        if not install and not remove:
            return
        tmp = tempfile.mkdtemp(prefix="spo-semodule-")
        try:
            args: List[str] = []
            if not self.reload:
                args.append("-n")
            args += ["-X", str(self.priority)]
            for name in sorted(install):
                check_module_name(name)
                path = os.path.join(tmp, name + ".cil")
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(install[name])
                args += ["-i", path]
            for name in sorted(remove):
                args += ["-r", check_module_name(name)]
            deadline = time.monotonic() + self.lock_timeout
            while True:
                proc = self._run(args)
                # another store user (semodule, semanage, a second selinuxd) holds the lock: wait
                if proc.returncode == 0 or LOCK_BUSY not in proc.stderr or time.monotonic() > deadline:
                    break
                time.sleep(1.0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if proc.returncode != 0:
            message = "\n".join(line for line in (proc.stderr + proc.stdout).splitlines()
                                if line.strip() and not line.startswith("libsemanage.add_user"))
            raise SemoduleError(message or "semodule failed (rc=%d)" % proc.returncode,
                                _FAILED_MODULE_RE.findall(message))


def plan(store_state: Dict[str, str], desired: Dict[str, str], remove: Iterable[str]) -> Tuple[Dict[str, str], List[str]]:
    """What must change: (modules to install, names to remove), compared by checksum."""
    install = {name: text for name, text in desired.items() if store_state.get(name) != cil_checksum(text)}
    removals = sorted(name for name in set(remove) if name in store_state and name not in desired)
    return install, removals


def apply_batch(store: Store, install: Dict[str, str], remove: Sequence[str] = (),
                isolate_failures: bool = False) -> BatchResult:
    """Apply all changes in one transaction (see the module docstring for failures)."""
    result = BatchResult()
    install = dict(install)
    remove = list(remove)
    while install or remove:
        result.transactions += 1
        try:
            store.transaction(install, remove)
        except SemoduleError as exc:
            if not isolate_failures:
                raise
            culprit = next((name for name in exc.modules if name in install), None)
            if culprit is None:
                _apply_one_by_one(store, install, remove, result)
                return result
            result.failed[culprit] = exc.message
            del install[culprit]
            continue
        result.installed.extend(sorted(install))
        result.removed.extend(sorted(remove))
        break
    return result


def _apply_one_by_one(store: Store, install: Dict[str, str], remove: List[str], result: BatchResult) -> None:
    for name in sorted(remove):
        result.transactions += 1
        try:
            store.transaction({}, [name])
            result.removed.append(name)
        except SemoduleError as exc:
            result.failed[name] = exc.message
    for name in sorted(install):
        result.transactions += 1
        try:
            store.transaction({name: install[name]})
            result.installed.append(name)
        except SemoduleError as exc:
            result.failed[name] = exc.message
