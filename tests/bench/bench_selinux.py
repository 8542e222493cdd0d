# -*- coding: utf-8 -*-
"""Benchmark: 20 SelinuxProfiles installed one transaction each (what the existing selinuxd does)
versus one batch (spo-selinuxd / selinux_policy), in the same run, against the real policy store.

Each scenario runs in a fresh Python subprocess so ru_maxrss of RUSAGE_CHILDREN is the peak RSS
of the semodule processes of that scenario alone. Targets: batch wall time <= 1.5x ONE single
install; batch peak RSS <= one single install's peak. The store is restored afterwards.

    .venv/bin/python -m tests.bench.bench_selinux      (needs root, semodule, selinux-policy-default)
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import cil as selinux_cil
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.store import Store, apply_batch

COUNT = 20
API = "security-profiles-operator.x-k8s.io/v1alpha2"


def profiles():
    targets = ["var_log_t", "etc_t", "tmp_t", "usr_t", "bin_t"]
    out = {}
    for index in range(COUNT):
        doc = {"apiVersion": API, "kind": "SelinuxProfile",
               "metadata": {"name": "bench%02d" % index, "namespace": "bench"},
               "spec": {"inherit": [{"name": "container"}, {"name": "net_container"}],
                        "allow": {targets[index % len(targets)]: {"file": ["getattr", "open", "read"]},
                                  "var_log_t": {"dir": ["search"], "file": ["append"]}}}}
        parsed = selinux.parse_profile(doc, selinux.Denylist.allowing(system_profiles=["container", "net_container"]))
        out[parsed.policy_name] = selinux_cil.profile_cil(parsed)
    return out


def scenario(kind: str) -> dict:
    store = Store(reload=False)
    mods = profiles()
    times = []
    start = time.monotonic()
    if kind == "batch":
        apply_batch(store, mods)
        times.append(time.monotonic() - start)
    else:
        for name in sorted(mods):
            t0 = time.monotonic()
            apply_batch(store, {name: mods[name]})
            times.append(time.monotonic() - t0)
    wall = time.monotonic() - start
    return {"wall": wall, "each": times, "peak_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}


def run_scenario(kind: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "tests.bench.bench_selinux", "--scenario", kind],
                          capture_output=True, text=True, check=True, cwd=os.getcwd())
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--scenario":
        print(json.dumps(scenario(sys.argv[2])))
        return 0
    if os.geteuid() != 0:
        print("bench_selinux: needs root and semodule; skipped")
        return 0
    store = Store(reload=False)
    before = set(store.installed())
    system = selinux_templates.system_modules(selinux_templates.compat_needed("auto", list(before)))
    names = sorted(profiles())
    try:
        apply_batch(store, {n: t for n, t in system.items() if n not in before})  # setup, not measured
        singles = run_scenario("singles")
        apply_batch(store, {}, names)  # clean between scenarios, not measured
        batch = run_scenario("batch")
    finally:
        left = sorted(set(store.installed()) - before)
        if left:
            apply_batch(store, {}, left)
    one = sorted(singles["each"])[len(singles["each"]) // 2]  # median single install
    print("SELinux store, %d profiles (semodule, one rebuild per transaction)" % COUNT)
    print("  one single install (median):   %6.2f s   peak RSS %7.1f MiB (max over the 20)" % (one, singles["peak_rss_kb"] / 1024))
    print("  20 single installs (baseline): %6.2f s" % singles["wall"])
    print("  one batch of 20:               %6.2f s   peak RSS %7.1f MiB" % (batch["wall"], batch["peak_rss_kb"] / 1024))
    time_ratio = batch["wall"] / one
    rss_ratio = batch["peak_rss_kb"] / singles["peak_rss_kb"]
    print("  batch / one single install:    %6.2fx  (target <= 1.5x)  %s" % (time_ratio, "OK" if time_ratio <= 1.5 else "MISSED"))
    print("  batch / 20 single installs:    %6.2fx" % (batch["wall"] / singles["wall"]))
    print("  batch peak RSS / single peak:  %6.2fx  (target <= 1.0x)  %s" % (rss_ratio, "OK" if rss_ratio <= 1.0 else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
