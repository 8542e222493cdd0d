# -*- coding: utf-8 -*-
"""The JSON enricher's engine: exec events from real audit records, upstream's filters, lines and counts.

``fixtures/audit/kmsg-exec.log``: the kernel log's audit records of six execs on this machine's kernel (captured from
/dev/kmsg under ``auditctl -a always,exit -F arch=b64 -S execve,execveat -F ppid=<shell>``): ``/bin/echo one``;
``env true`` with arguments holding a space, a quote, a tab and non-ASCII (the kernel hex-encodes those) and its
PATH search (failed execs, not logged); ``env /nonexistent-binary`` (its failed exec); a 9000-byte argument (split
by the kernel in ``a1[i]`` chunks over three EXECVE records, each cut by the kernel log at 1021 characters, so 1435
bytes of it are there); the rule's removal by auditctl.  The shared records
of ../shared/data/audit (SECCOMP, and auditd's SYSCALL records of other syscalls) hold no exec.
"""
from __future__ import annotations

import json
import os
import time

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import execlog
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import jsonenricher
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import jsonfilter
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

HERE = os.path.dirname(os.path.abspath(__file__))
EXEC_LOG = os.path.join(HERE, "fixtures", "audit", "kmsg-exec.log")
SHARED = os.path.join(HERE, "..", "..", "..", "shared", "data", "audit")


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _events(data, linger_now=10 ** 9):
    parser = execlog.ExecParser()
    events = parser.feed(data)
    return events + parser.expire(linger_now), parser


def test_the_execs_of_the_kernel_log():
    events, parser = _events(_read(EXEC_LOG))
    assert [e.argv()[:2] for e in events] == [
        ["/bin/echo", "one"], ["/usr/bin/env", "true"], ["true", "two words"], ["/usr/bin/env", "/nonexistent-binary"],
        ["/bin/echo", "x" * 1435], ["auditctl", "-d"]]
    assert [e.exe for e in events] == ["/usr/bin/echo", "/usr/bin/env", "/usr/bin/true", "/usr/bin/env",
                                       "/usr/bin/echo", "/usr/sbin/auditctl"]
    assert events[2].argv() == ["true", "two words", 'quote"d', "tab\there", "\u00fcn\u00ef"]
    assert all(e.syscall == "execve" and e.uid == 0 and e.ppid == 23406 for e in events)
    assert events[0].pid == 23409 and events[0].stamp == "1796656820.429" and events[0].serial == 34785
    assert not parser.pending


def test_an_event_completes_at_its_proctitle_without_waiting():
    events, _parser = _events(_read(EXEC_LOG), linger_now=0)
    assert len(events) == 6


def test_an_event_split_over_two_reads_is_joined():
    data = _read(EXEC_LOG)
    cut = data.index(b"audit: type=1309 audit(1796656820.429:34785)")
    parser = execlog.ExecParser()
    first = parser.feed(data[:cut])
    rest = parser.feed(data[cut:])
    assert [e.argv() for e in first + rest][0] == ["/bin/echo", "one"]


def test_an_event_without_proctitle_completes_after_linger():
    data = b"".join(line + b"\n" for line in _read(EXEC_LOG).splitlines() if b"type=1327" not in line)
    parser = execlog.ExecParser(linger=1.0)
    assert parser.feed(data) == []
    assert len(parser.expire()) == 0  # just read
    assert len(parser.expire(10 ** 9)) == 6


def test_long_arguments_are_bounded():
    long = b"audit: type=1300 audit(1.000:6): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 auid=0 uid=0 " \
           b"gid=0 ses=1 comm=\"x\" exe=\"/x\" key=(null)\naudit: type=1309 audit(1.000:6): argc=4 a0=\"x\" " + \
           b" ".join(b'a%d="%s"' % (i, b"y" * 3000) for i in (1, 2, 3)) + b"\n"
    parser = execlog.ExecParser()
    parser.feed(long)
    event = parser.expire(10 ** 9)[0]
    argv = event.argv()
    assert argv[0] == "x" and argv[1] == "y" * 3000 and argv[2] == "y" * (execlog.MAX_ARG_BYTES - 3001) + "..."
    assert len(argv) == 3 and event.args_dropped == 1
    many = b"audit: type=1300 audit(1.000:7): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 auid=0 uid=0 " \
           b"gid=0 ses=1 comm=\"x\" exe=\"/x\" key=(null)\naudit: type=1309 audit(1.000:7): argc=100 " + \
           b" ".join(b'a%d="v"' % i for i in range(100)) + b"\naudit: type=1327 audit(1.000:7): proctitle=78\n"
    event = execlog.ExecParser().feed(many)[0]
    assert len(event.argv()) == execlog.MAX_ARGS and event.args_dropped == 100 - execlog.MAX_ARGS


def test_the_shared_records_hold_no_exec():
    for name in ("auditd-misc.audit.log", "runc-web.audit.log", "kmsg-seccomp.log"):
        path = os.path.join(SHARED, name)
        if not os.path.exists(path):
            pytest.skip(reason="../shared/data/audit is not here")
        events, parser = _events(_read(path))
        assert events == [] and not parser.pending, name


def test_auditd_format_is_read_too():
    # auditd's spelling of the same records (type=SYSCALL msg=audit(...), enriched fields after 0x1d)
    lines = []
    for line in _read(EXEC_LOG).splitlines():
        for number, name in ((b"1300", b"SYSCALL"), (b"1309", b"EXECVE"), (b"1327", b"PROCTITLE")):
            if line.startswith(b"audit: type=%s " % number):
                lines.append(b"type=%s msg=" % name + line[len(b"audit: type=1300 "):] + b"\x1dARCH=x86_64")
    events, _parser = _events(b"\n".join(lines) + b"\n")
    assert [e.argv()[0] for e in events][:2] == ["/bin/echo", "/usr/bin/env"]


def test_a_record_inside_a_user_message_is_no_exec():
    forged = (b'audit: type=1107 audit(5.000:9): pid=1 uid=0 auid=0 ses=1 msg=\'audit: type=1300 audit(5.000:10): '
              b'arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=66 uid=0 gid=0 comm="x" exe="/x"\'\n'
              b'type=USER msg=audit(5.000:11): pid=1 uid=0 msg=\'type=SYSCALL msg=audit(5.000:12): arch=c000003e '
              b'syscall=59 success=yes pid=67 exe="/y"\'\n')
    events, parser = _events(forged)
    assert events == [] and not parser.pending


# ---------------------------------------------------------------------------------------------- filters

def test_filters_in_upstreams_format():
    text = json.dumps([{"priority": 999, "level": "None", "matchKeys": ["version"], "matchValues": ["spo/v1_alpha"]},
                       {"priority": 100, "level": "Metadata", "matchKeys": ["resource/pod"],
                        "matchValues": ["keep-me"]},
                       {"priority": 200, "level": "None", "matchKeys": ["uid"], "matchValues": ["1000"]}])
    filters = jsonfilter.parse(text)
    assert [f.priority for f in filters] == [100, 200, 999]
    line = {"version": "spo/v1_alpha", "resource": {"pod": "keep-me"}, "uid": 0}
    assert jsonfilter.level(line, filters) == "Metadata"
    assert jsonfilter.level(dict(line, resource={"pod": "other"}), filters) == "None"
    assert jsonfilter.level({"uid": 1000}, filters) == "None"
    assert jsonfilter.level({"uid": 0}, filters) == "Metadata"  # no filter matched
    assert jsonfilter.level({"requestUID": "x"}, jsonfilter.parse('[{"priority":1,"level":"None","matchKeys":["requestUID"]}]')) == "None"
    assert jsonfilter.parse("") == [] and jsonfilter.parse(None) == []


@pytest.mark.parametrize("text, field", [
    ("{", "spec.jsonEnricherFilters"),
    ('{"a": 1}', "spec.jsonEnricherFilters"),
    ('[{"priority": 1, "level": "Debug", "matchKeys": ["a"]}]', "spec.jsonEnricherFilters[0].level"),
    ('[{"priority": 1, "level": "None", "matchKeys": []}]', "spec.jsonEnricherFilters[0].matchKeys"),
    ('[{"priority": "1", "level": "None", "matchKeys": ["a"]}]', "spec.jsonEnricherFilters[0].priority"),
    ('[{"priority": 1, "level": "None", "matchKeys": ["a"], "matchValues": [1]}]',
     "spec.jsonEnricherFilters[0].matchValues"),
    ('[{"priority": 1, "level": "None", "matchKeys": ["a"], "matchLabels": ["a"]}]', "spec.jsonEnricherFilters[0]"),
    ("[" + ",".join(['{"level": "None", "matchKeys": ["a"]}'] * 65) + "]", "spec.jsonEnricherFilters"),
])
def test_bad_filters_name_the_field(text, field):
    with pytest.raises(SpoError) as err:
        jsonfilter.parse(text, ref="SecurityProfilesOperatorDaemon ns/spod")
    assert field in str(err.value) and "ns/spod" in str(err.value)


# ---------------------------------------------------------------------------------------------- lines and counts

def _enricher(filters="", resolve=None, cids=None):
    out = []
    cids = cids if cids is not None else {23409: "c1", 23410: "c1", 23411: "c2", 23412: "c1"}
    names = {"c1": ("team-a", "web-1", "app")}
    enricher = jsonenricher.JsonEnricher("node-1", cids.get, resolve or names.get, out.append,
                                         jsonfilter.parse(filters), defer=5.0, new_id=lambda: "id-1")
    return enricher, out


def test_one_json_line_per_exec_of_a_container():
    enricher, out = _enricher()
    enricher.feed(_read(EXEC_LOG))
    enricher.tick()
    lines = [json.loads(text) for text in out]
    assert [entry["cmdLine"] for entry in lines][:3] == ["/bin/echo one", "/usr/bin/env true two words quote\"d tab\there \u00fcn\u00ef",
                                                         "true two words quote\"d tab\there \u00fcn\u00ef"]
    first = lines[0]
    assert first == {"version": "spo/v1_alpha", "auditID": "id-1", "timestamp": "2026-12-07T15:20:20.429Z",
                     "node": {"name": "node-1"}, "resource": {"namespace": "team-a", "pod": "web-1", "container": "app"},
                     "pid": 23409, "ppid": 23406, "uid": 0, "gid": 0, "executable": "/usr/bin/echo",
                     "cmdLine": "/bin/echo one", "args": ["/bin/echo", "one"], "syscalls": ["execve"]}
    assert len(lines) == 4  # c2 (pid 23411) has no known pod yet; auditctl (23413) is in no container
    assert enricher.logged == 4 and enricher.outside == 1 and len(enricher.waiting) == 1
    enricher.tick(time.monotonic() + 6)
    assert enricher.dropped["unknown_pod"] == 1 and not enricher.waiting


def test_a_pod_known_a_moment_later_is_logged():
    known = {}
    enricher, out = _enricher(resolve=known.get)
    enricher.feed(_read(EXEC_LOG))
    assert out == []
    known["c1"] = ("ns", "pod", "ctr")
    enricher.tick()
    assert len(out) == 4 and all(json.loads(t)["resource"]["pod"] == "pod" for t in out)


def test_filtered_lines_are_dropped_and_counted():
    enricher, out = _enricher('[{"priority": 1, "level": "None", "matchKeys": ["executable"], '
                              '"matchValues": ["/usr/bin/env"]}]')
    enricher.feed(_read(EXEC_LOG))
    assert [json.loads(t)["executable"] for t in out] == ["/usr/bin/echo", "/usr/bin/true", "/usr/bin/echo"]
    assert enricher.dropped["filtered"] == 1 and enricher.logged == 3


def test_metrics():
    from prometheus_client import CollectorRegistry, generate_latest
    enricher, _out = _enricher('[{"priority": 1, "level": "None", "matchKeys": ["executable"], '
                               '"matchValues": ["/usr/bin/env"]}]')
    enricher.feed(_read(EXEC_LOG))
    registry = CollectorRegistry()
    registry.register(enricher)
    text = generate_latest(registry).decode()
    assert "security_profiles_operator_json_enricher_lines_logged_total 3.0" in text
    assert 'security_profiles_operator_json_enricher_lines_dropped_total{reason="filtered"} 1.0' in text
    assert "security_profiles_operator_json_enricher_execs_outside_containers_total 1.0" in text


# ---------------------------------------------------------------------------------------------- the DaemonSet

def _spod(**spec):
    from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import spod
    return spod.daemonset({"apiVersion": spod.SPOD_API_VERSION, "kind": spod.SPOD_KIND,
                           "metadata": {"name": "spod", "namespace": "ns", "uid": "u"}, "spec": spec}, "img:1")


def _enricher_args(ds):
    found = [c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "log-enricher"]
    return found[0]["args"] if found else None


def test_the_daemonset_runs_the_json_enricher():
    assert _enricher_args(_spod()) is None
    assert "--json-enricher" not in _enricher_args(_spod(enableLogEnricher=True))
    json_only = _enricher_args(_spod(enableJsonEnricher=True))
    assert "--json-enricher" in json_only and "--no-recording" in json_only
    text = '[{"priority": 1, "level": "None", "matchKeys": ["executable"]}]'
    both = _enricher_args(_spod(enricher={"enableLogEnricher": True, "enableJsonEnricher": True,
                                          "jsonEnricherFilters": text}))
    assert "--no-recording" not in both and both[both.index("--json-enricher-filters") + 1] == text
    assert _spod(enableJsonEnricher=True)["spec"]["template"]["spec"]["hostPID"] is True


def test_a_bad_filter_fails_the_daemonset_naming_the_field():
    with pytest.raises(SpoError) as err:
        _spod(enableJsonEnricher=True, jsonEnricherFilters='[{"level": "Loud", "matchKeys": ["a"]}]')
    assert "spec.jsonEnricherFilters[0].level" in str(err.value) and "ns/spod" in str(err.value)
