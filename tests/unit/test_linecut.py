# -*- coding: utf-8 -*-
"""spo_linecut.cut_count, the optional C speed-up of the audit scan, against its contract.

The reference below is the contract spelled out line by line in Python; hypothesis feeds both
buffers built from marker fragments, newlines and filler, so markers overlap, repeat, straddle
lines and run to the buffer's end.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, require_tools

spo_linecut = pytest.importorskip("spo_linecut", reason="the optional C speed-up is not built in this Python")


def reference(buf, start, middle, stop, counts, prefixes=()):
    lines = cut = 0
    heads, tails, rest = {}, {}, []
    parts = buf.split(b"\n")
    for line in [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else []):
        lines += 1
        text = line[:-1] if line.endswith(b"\n") else line
        at = text.find(start) if not prefixes or text.startswith(prefixes) else -1
        key_start = at + len(start)
        key_end = text.find(stop, key_start) if at >= 0 else -1
        head, sep, tail = text[key_start:key_end].rpartition(middle) if key_end >= 0 else (b"", b"", b"")
        if not sep:
            rest.append(line)
            continue
        inner = counts.setdefault(head, {})
        inner[tail] = inner.get(tail, 0) + 1
        heads[head] = tails[tail] = None
        cut += 1
    return lines, cut, list(heads), list(tails), b"".join(rest)


FRAGMENTS = st.sampled_from([b" ses=", b" sig=", b" compat=", b"\n", b" ", b"ses", b"sig", b"=", b"1", b"a",
                             b"\x00", b"\xff", b" ses= sig= compat=", b" sig=0 arch=c000003e syscall=1",
                             b'pid=7 comm="x"', b"type=S", b"type=SECCOMP msg=audit(", b"\ntype=SECCOMP msg=audit(",
                             b"audit: type=1326 audit(", b"audit:"])
PREFIXES = st.sampled_from([None, (), (b"type=SECCOMP msg=audit(",), (b"type=SECCOMP msg=audit(", b"audit: type=1326 audit("),
                            (b"a", b"type=S", b"")])
MARKERS = (b" ses=", b" sig=", b" compat=")


@settings(max_examples=600, deadline=None)
@given(parts=st.lists(FRAGMENTS, max_size=40),
       seed=st.dictionaries(st.sampled_from([b"", b"1", b"a"]),
                            st.dictionaries(st.sampled_from([b"", b"1", b"x"]), st.integers(1, 5), max_size=2),
                            max_size=3),
       prefixes=PREFIXES)
def test_cut_count_matches_its_contract(parts, seed, prefixes):
    """Without prefixes every line may have a key; with them only a line that begins with one."""
    buf = b"".join(parts)
    mine = {head: dict(tails) for head, tails in seed.items()}
    theirs = {head: dict(tails) for head, tails in seed.items()}
    extra = () if prefixes is None else (prefixes,)
    assert spo_linecut.cut_count(buf, *MARKERS, mine, *extra) == reference(buf, *MARKERS, theirs, prefixes or ())
    assert mine == theirs
    assert list(mine) == list(theirs)  # new heads arrive in first-seen order


def test_cut_count_cuts_only_lines_with_a_prefix():
    """A key inside a line of another kind (a user message carrying a record's text) is not cut."""
    forged = b"type=USER msg=audit(1.0:2): pid=1 uid=0 auid=0 ses=4294967295 msg='type=SECCOMP msg=audit(1.0:1): a ses=3 sig=1 compat=0'\n"
    real = b"type=SECCOMP msg=audit(1.0:3): a ses=4 sig=2 compat=0\n"
    counts = {}
    result = spo_linecut.cut_count(forged + real, *MARKERS, counts, (b"type=SECCOMP msg=audit(", b"audit: type=1326 audit("))
    assert result == (2, 1, [b"4"], [b"2"], forged)
    assert counts == {b"4": {b"2": 1}}


def test_cut_count_on_buffer_objects_and_many_keys():
    """memoryview slices and bytearrays are read in place; tables grow past their first size."""
    lines = b"".join(b"t ses=%d sig=%d compat=x\n" % (i % 5000, i % 3) for i in range(30000))
    counts = {}
    lines_cut, cut, heads, tails, rest = spo_linecut.cut_count(memoryview(lines)[:-1], *MARKERS, counts)
    assert (lines_cut, cut, len(heads), tails, rest) == (30000, 30000, 5000, [b"0", b"1", b"2"], b"")
    assert len(counts) == 5000 and {n for inner in counts.values() for n in inner.values()} == {2}
    more = spo_linecut.cut_count(bytearray(b"a ses=1 sig=0 compat=\nb\n"), *MARKERS, counts)
    assert more == (2, 1, [b"1"], [b"0"], b"b\n")
    assert counts[b"1"] == {b"0": 3, b"1": 2, b"2": 2}


@pytest.mark.parametrize("args,error", [
    ((b"x", b"", b" sig=", b" compat=", {}), ValueError),
    ((b"x", b" ses=", b" sig=", b" compat=", []), TypeError),
    (("text", b" ses=", b" sig=", b" compat=", {}), TypeError),
    ((b"a ses=1 sig=0 compat=\n", b" ses=", b" sig=", b" compat=", {b"1": {b"0": "not a number"}}), TypeError),
    ((b"a ses=1 sig=0 compat=\n", b" ses=", b" sig=", b" compat=", {b"1": 5}), TypeError),
    ((b"x", b" ses=", b" sig=", b" compat=", {}, [b"a"]), TypeError),
    ((b"x", b" ses=", b" sig=", b" compat=", {}, ("a",)), TypeError),
    ((b"x", b" ses=", b" sig=", b" compat=", {}, (b"a",) * 9), ValueError),
])
def test_cut_count_rejects_bad_arguments(args, error):
    with pytest.raises(error):
        spo_linecut.cut_count(*args)


SANITIZED_RUN = r'''
import random, sys
sys.path.insert(0, sys.argv[1])
import spo_linecut
pieces = [b" ses=", b" sig=", b" compat=", b"\n", b"x", b"12", b" ", b"\xff"]
rng = random.Random(7)
counts = {}
for n in range(3000):
    buf = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 60)))
    spo_linecut.cut_count(memoryview(buf)[rng.randrange(0, len(buf) + 1):], b" ses=", b" sig=", b" compat=", counts,
                          *([(b"x", b" s", b"\xff" * 70)] if n % 2 else []))
big = b"".join(b"a ses=%d sig=%d compat=\n" % (i, i % 7) for i in range(50000))
print(spo_linecut.cut_count(big, b" ses=", b" sig=", b" compat=", {})[:2])
for bad_prefixes in ((b"a", 1), (b"a",) * 9):
    try:
        spo_linecut.cut_count(b"a ses=1 sig=0 compat=\n", b" ses=", b" sig=", b" compat=", {}, bad_prefixes)
    except (TypeError, ValueError):
        pass
for bad in ({b"1": 5}, {b"1": {b"0": "x"}}):
    try:
        spo_linecut.cut_count(b"a ses=1 sig=0 compat=\n", b" ses=", b" sig=", b" compat=", bad)
    except TypeError:
        pass
'''


def test_cut_count_is_memory_safe_under_sanitizers(tmp_path):
    """Built with AddressSanitizer and UBSan, random, growing and failing calls run clean."""
    require_tools("gcc")
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        pytest.skip(reason="no Python headers at %s (python3-dev, installed by hack/setup.sh)" % include)
    asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True).stdout.strip()
    target = tmp_path / ("spo_linecut" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run(["gcc", "-shared", "-fPIC", "-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                    "-fno-omit-frame-pointer", "-Wall", "-Wextra", "-Werror", "-I" + include,
                    os.path.join(ROOT, "native", "spo_linecut.c"), "-o", str(target)], check=True)
    env = dict(os.environ, LD_PRELOAD=asan, ASAN_OPTIONS="detect_leaks=0:abort_on_error=1", PYTHONMALLOC="malloc")
    proc = subprocess.run([sys.executable, "-c", SANITIZED_RUN, str(tmp_path)], env=env, capture_output=True,
                          text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.strip() == "(50000, 50000)"
    assert "runtime error" not in proc.stderr and "AddressSanitizer" not in proc.stderr
