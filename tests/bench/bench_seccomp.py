# -*- coding: utf-8 -*-
"""Benchmark: 1000 SeccompProfiles installed by ONE seccomp_profile call through ansible-playbook.

Run from the repository root (``make bench``)::

    .venv/bin/python tests/bench/bench_seccomp.py [--count 1000] [--copy-count 100] [--keep]

Generates ``--count`` distinct, realistic SeccompProfiles (50-150 syscall names each, taken from the
host's libseccomp; a third with an argument-filtered rule, some with an errnoRet rule) as one YAML file
each, then measures, each as a separate ansible-playbook run against localhost:

* a no-op playbook (the fixed cost of starting ansible-playbook, for reading the whole-run figures);
* the first install into an empty kubelet directory (target <= 3 s);
* the second install of the same files (target <= 1.5 s, must report changed=false);
* for scale, a plain ``ansible.builtin.copy`` loop writing the same JSON files.  The copy loop costs
  roughly 0.7 s per file on a 2-core VM, so by default it copies ``--copy-count`` of them and the
  1000-file figure is extrapolated (linear: one module round trip per item); ``--copy-count 1000``
  measures it in full (about 12 minutes).

Each figure is given for the whole ansible-playbook process and for the module task alone (task start
and end from the ansible.posix.json callback).  Exits non-zero only on a correctness failure (wrong file
count, second run changed); speed is reported beside its target, not asserted.
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Tuple

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp  # noqa: E402

ACTIONS_RARE = ("SCMP_ACT_LOG", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRACE")
ARG_OPS = ("SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_GE")


def native_syscalls() -> List[str]:
    """Every syscall name libseccomp knows on this host's architecture."""
    token = libseccomp.native_arch_token()
    names = set()
    for number in range(0, 1024):
        name = libseccomp.syscall_name(token, number)
        if name:
            names.add(name)
    return sorted(names)


def make_profile(index: int, names: List[str], arch: str, rng: random.Random) -> Dict[str, Any]:
    chosen = rng.sample(names, rng.randint(50, 150))
    rest = [n for n in names if n not in set(chosen)]
    syscalls: List[Dict[str, Any]] = [{"action": "SCMP_ACT_ALLOW", "names": sorted(chosen)}]
    if index % 3 == 0:
        syscalls.append({
            "action": "SCMP_ACT_ALLOW",
            "names": rng.sample(rest, 2),
            "args": [{"index": rng.randint(0, 5), "value": rng.randint(0, 4096), "valueTwo": 0,
                      "op": rng.choice(ARG_OPS)}],
        })
    if index % 5 == 0:
        syscalls.append({"action": "SCMP_ACT_ERRNO", "errnoRet": rng.choice((1, 13, 38)),
                         "names": rng.sample(rest[len(rest) // 2:], 3)})
    if index % 7 == 0:
        syscalls.append({"action": rng.choice(ACTIONS_RARE), "names": rng.sample(rest[:len(rest) // 2], 2)})
    return {
        "apiVersion": "security-profiles-operator.x-k8s.io/v1beta1",
        "kind": "SeccompProfile",
        "metadata": {"name": "bench-profile-%04d" % index, "namespace": "bench-ns-%d" % (index % 10)},
        "spec": {"defaultAction": "SCMP_ACT_ERRNO", "architectures": [arch], "syscalls": syscalls},
    }


def generate(directory: str, count: int) -> None:
    rng = random.Random(20260101)
    names = native_syscalls()
    arch = libseccomp.native_oci_arch()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    os.makedirs(directory)
    for index in range(count):
        with open(os.path.join(directory, "bench-profile-%04d.yaml" % index), "w") as handle:
            yaml.dump(make_profile(index, names, arch, rng), handle, Dumper=dumper, sort_keys=False)


def write_playbooks(work: str) -> Dict[str, str]:
    books = {
        "noop": [{"name": "No-op", "hosts": "localhost", "gather_facts": False,
                  "tasks": [{"name": "Nothing", "ansible.builtin.debug": {"msg": "noop"}}]}],
        "install": [{"name": "Install", "hosts": "localhost", "gather_facts": False,
                     "tasks": [{"name": "Install the generated profiles in one call",
                                "spo.security_profiles.seccomp_profile": {
                                    "src": "{{ bench_src }}", "kubelet_dir": "{{ bench_kubelet }}"}}]}],
        "copy": [{"name": "Copy", "hosts": "localhost", "gather_facts": False,
                  "tasks": [{"name": "Copy the same JSON files one by one",
                             "ansible.builtin.copy": {"src": "{{ item }}", "dest": "{{ bench_copy_dest }}/",
                                                      "mode": "0644"},
                             "loop": "{{ bench_files }}"}]}],
    }
    paths = {}
    for name, book in books.items():
        paths[name] = os.path.join(work, name + ".yml")
        with open(paths[name], "w") as handle:
            yaml.safe_dump(book, handle, sort_keys=False)
    return paths


def _ts(value: str) -> float:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


REPEAT = 3


def run_playbook(playbook: str, extra: Dict[str, Any], cache: str = "") -> Tuple[float, float, Dict[str, Any]]:
    """Run ansible-playbook; return (whole-run seconds, task seconds, task result for localhost).

    ``cache`` is the controller's parsed-YAML cache directory (empty: none).
    """
    env = dict(os.environ)
    env["SPO_SRC_CACHE_DIR"] = cache
    env.update(ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               PATH=VENV_BIN + os.pathsep + env.get("PATH", ""), ANSIBLE_FORCE_COLOR="0")
    extra_file = playbook + ".vars.json"
    with open(extra_file, "w") as handle:
        json.dump(extra, handle)
    start = time.monotonic()
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), playbook, "-e", "@" + extra_file],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    whole = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit("bench: %s failed (rc=%d)" % (os.path.basename(playbook), proc.returncode))
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    task = report["plays"][0]["tasks"][0]
    duration = task["task"]["duration"]
    return whole, _ts(duration["end"]) - _ts(duration["start"]), task["hosts"]["localhost"]


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--count", type=int, default=1000, help="profiles to generate (default 1000)")
    parser.add_argument("--copy-count", type=int, default=100,
                        help="files the copy loop really writes; the rest is extrapolated (default 100)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    copy_count = max(1, min(args.copy_count, args.count))

    work = tempfile.mkdtemp(prefix="spo-bench-seccomp-")
    failures: List[str] = []
    try:
        src = os.path.join(work, "profiles")
        copy_dest = os.path.join(work, "copy")
        os.makedirs(copy_dest)
        t0 = time.monotonic()
        generate(src, args.count)
        print("generated %d SeccompProfiles in %s (%.1f s)" % (args.count, src, time.monotonic() - t0))
        books = write_playbooks(work)

        # Best of REPEAT for each figure (this VM is noisy): first runs each into a fresh kubelet
        # directory, second runs repeated over the last one.
        noop_whole = min(run_playbook(books["noop"], {})[0] for dummy in range(REPEAT))
        firsts, seconds_ = [], []
        for attempt in range(REPEAT):
            # a first run is a first run for the controller too: its parse cache starts empty
            kubelet = os.path.join(work, "kubelet-%d" % attempt)
            cache = os.path.join(work, "cache-%d" % attempt)
            install_vars = {"bench_src": src, "bench_kubelet": kubelet}
            firsts.append(run_playbook(books["install"], install_vars, cache))
        for dummy in range(REPEAT):
            seconds_.append(run_playbook(books["install"], install_vars, cache))
        first_whole, first_task = min(r[0] for r in firsts), min(r[1] for r in firsts)
        second_whole, second_task = min(r[0] for r in seconds_), min(r[1] for r in seconds_)
        second = seconds_[-1][2]
        print("best of %d runs each" % REPEAT)

        written = sorted(glob.glob(os.path.join(kubelet, "seccomp", "operator", "*", "*.json")))
        if len(written) != args.count:
            failures.append("first run wrote %d files, expected %d" % (len(written), args.count))
        if not all(r[2].get("changed") for r in firsts):
            failures.append("a first run reported changed=false")
        if any(r[2].get("changed") for r in seconds_):
            failures.append("a second run reported changed=true")
        if any(p.get("changed") for r in seconds_ for p in r[2].get("profiles", [])):
            failures.append("a second run changed some profiles")

        copy_vars = {"bench_files": written[:copy_count], "bench_copy_dest": copy_dest}
        copy_whole, copy_task = run_playbook(books["copy"], copy_vars)[:2]
        if len(os.listdir(copy_dest)) != copy_count:
            failures.append("copy loop wrote %d files, expected %d" % (len(os.listdir(copy_dest)), copy_count))
        scale = float(args.count) / copy_count
        copy_task_n = copy_task * scale
        copy_whole_n = copy_whole + copy_task * (scale - 1)

        label = "" if copy_count == args.count else " (measured %d, x%.0f)" % (copy_count, scale)
        rows = [
            ("ansible-playbook, one no-op task (whole run)", noop_whole, None, None),
            ("first install, module task", first_task, 3.0, copy_task_n / first_task),
            ("first install, whole ansible-playbook run", first_whole, 3.0, copy_whole_n / first_whole),
            ("second install (changed=%s), module task" % str(bool(second.get("changed"))).lower(),
             second_task, 1.5, copy_task_n / second_task),
            ("second install, whole ansible-playbook run", second_whole, 1.5, copy_whole_n / second_whole),
            ("copy loop of %d files, task%s" % (args.count, label), copy_task_n, None, 1.0),
            ("copy loop of %d files, whole run%s" % (args.count, label), copy_whole_n, None, 1.0),
        ]
        print()
        print("%-62s %9s %8s %6s %14s" % ("figure (%d profiles)" % args.count, "seconds", "target", "", "copy loop / it"))
        for name, seconds, target, ratio in rows:
            verdict = "" if target is None else ("ok" if seconds <= target else "MISS")
            shown_target = "<= %.1f" % target if target else "-"
            shown_ratio = "%.1fx" % ratio if ratio else "-"
            print("%-62s %9.2f %8s %6s %14s" % (name, seconds, shown_target, verdict, shown_ratio))
        print("\ncopy loop: %.3f s per file (%d files measured)" % (copy_task / copy_count, copy_count))
    finally:
        if args.keep:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print("FAIL: %s" % failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
