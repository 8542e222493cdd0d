# -*- coding: utf-8 -*-
"""The SPOD's ``jsonEnricherOptions``: the path rules (engine and CRD schema), the file's rotation by size, count
and age (real files in a tmp dir), the interval's grouping and its memory bound, and the DaemonSet's arguments and
mount.
"""
from __future__ import annotations

import json
import os

import pytest

from crd import GROUP, load_crd, validation_errors  # pylint: disable=import-error

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import spod
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import jsonenricher, jsonfilter, jsonoptions
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.jsonbatch import Batcher
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.rotatinglog import RotatingLog, open_log

HERE = os.path.dirname(os.path.abspath(__file__))
EXEC_LOG = os.path.join(HERE, "fixtures", "audit", "kmsg-exec.log")
DAY = 86400.0
T0 = 1796656820.0  # 2026-12-07T15:20:20Z

GOOD_PATHS = ["/var/log/spo/audit.log", "/var/log/spo-json/node/a_b-c.1.json", "/var/log/x/y",
              "/var/log/auditing/json.log", "/var/log/" + "d/" * 60 + "f"]
BAD_PATHS = [
    ("var/log/spo/audit.log", "normal absolute path"),        # relative
    ("/var/log/audit.log", "normal absolute path"),           # no directory of its own (would mount /var/log)
    ("/var/log/spo/../../etc/passwd", "normal absolute path"),
    ("/var/log/spo/./audit.log", "normal absolute path"),
    ("/var/log//spo/audit.log", "normal absolute path"),
    ("/var/log/spo/", "normal absolute path"),
    ("/var/log/spo/.hidden", "normal absolute path"),
    ("/var/log/spo/a b", "normal absolute path"),
    ("/var/log/spo/audit.log\n", "normal absolute path"),
    ("/etc/spo/audit.log", "normal absolute path"),
    ("/var/lib/kubelet/seccomp/x.json", "normal absolute path"),
    ("/var/logs/spo/a", "normal absolute path"),
    ("/var/log/audit/spo.log", "another writer's directory"),
    ("/var/log/pods/ns_pod_uid/main/0.log", "another writer's directory"),
    ("/var/log/containers/fake.log", "another writer's directory"),
    ("/var/log/journal/x", "another writer's directory"),
    ("/var/log/" + "d/" * 130 + "f", "at most 255"),
    (7, "must be a string"),
]


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_good_paths(path):
    assert jsonoptions.check_path(path, "spec.jsonEnricherOptions.auditLogPath") == path


@pytest.mark.parametrize("path, why", BAD_PATHS)
def test_bad_paths_are_refused_naming_the_field(path, why):
    with pytest.raises(SpoError) as err:
        jsonoptions.check_path(path, "spec.jsonEnricherOptions.auditLogPath", "SecurityProfilesOperatorDaemon ns/spod")
    assert why in str(err.value)
    assert "spec.jsonEnricherOptions.auditLogPath" in str(err.value) and "ns/spod" in str(err.value)


def _spod(spec):
    return {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "SecurityProfilesOperatorDaemon",
            "metadata": {"name": "spod", "namespace": "security-profiles-operator"}, "spec": spec}


def _crd_path_schema():
    crd = load_crd(GROUP + "_securityprofilesoperatordaemons.yaml")
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return spec["properties"]["jsonEnricherOptions"]["properties"]


def test_the_crd_says_what_the_engine_says():
    props = _crd_path_schema()
    path = props["auditLogPath"]
    assert path["pattern"] == jsonoptions.CRD_PATTERN and path["maxLength"] == jsonoptions.MAX_PATH
    rule = path["x-kubernetes-validations"][0]["rule"]
    assert all("|%s|" % name in "|" + rule.split("(")[-1].split(")")[0] + "|" for name in jsonoptions.REFUSED_DIRS)
    assert (props["auditLogIntervalSeconds"]["minimum"], props["auditLogIntervalSeconds"]["maximum"]) == \
        (1, jsonoptions.MAX_INTERVAL)
    assert props["auditLogMaxSize"]["maximum"] == jsonoptions.MAX_SIZE
    assert props["auditLogMaxBackups"]["maximum"] == jsonoptions.MAX_BACKUPS
    assert props["auditLogMaxAge"]["maximum"] == jsonoptions.MAX_AGE


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("path, why", [p for p in BAD_PATHS if p[1] == "normal absolute path" and "\n" not in p[0]])
def test_the_schema_refuses_a_bad_path_in_both_spellings(grouped, path, why):
    options = {"auditLogPath": path}
    spec = {"enricher": {"enableJsonEnricher": True, "jsonEnricherOptions": options}} if grouped else \
        {"enableJsonEnricher": True, "jsonEnricherOptions": options}
    errors = validation_errors(_spod(spec))
    assert errors and all("jsonEnricherOptions.auditLogPath" in e for e in errors), errors


@pytest.mark.parametrize("key, value", [("auditLogIntervalSeconds", 0), ("auditLogIntervalSeconds", 3601),
                                        ("auditLogMaxSize", 0), ("auditLogMaxSize", 10241),
                                        ("auditLogMaxBackups", -1), ("auditLogMaxBackups", 1001),
                                        ("auditLogMaxAge", -1), ("auditLogMaxAge", 3651)])
def test_out_of_bounds_numbers_are_refused_by_schema_and_engine(key, value):
    assert validation_errors(_spod({"enableJsonEnricher": True, "jsonEnricherOptions": {key: value}}))
    with pytest.raises(SpoError) as err:
        jsonoptions.parse({key: value}, "spec.enricher.jsonEnricherOptions")
    assert "spec.enricher.jsonEnricherOptions." + key in str(err.value)


def test_good_options_pass_the_schema():
    spec = {"enableJsonEnricher": True, "jsonEnricherOptions": {
        "auditLogPath": "/var/log/spo/audit.log", "auditLogIntervalSeconds": 3600, "auditLogMaxSize": 10240,
        "auditLogMaxBackups": 1000, "auditLogMaxAge": 3650}}
    assert validation_errors(_spod(spec)) == []
    assert validation_errors(_spod({"enableJsonEnricher": True, "jsonEnricherOptions": {"auditLogPath": ""}})) == []


def test_upstream_defaults():
    options = jsonoptions.parse(None)
    assert (options.interval, options.path, options.max_size, options.max_backups, options.max_age) == \
        (60, None, 100, 0, 0)
    assert options.args() == ["--json-interval", "60"]
    assert jsonoptions.parse({"auditLogPath": ""}).path is None


def _containers(spec):
    ds = spod.daemonset(_spod(spec), "img:1")
    return {c["name"]: c for c in ds["spec"]["template"]["spec"]["containers"]}, ds["spec"]["template"]["spec"]["volumes"]


@pytest.mark.parametrize("grouped", [False, True])
def test_the_daemonset_mounts_only_the_files_directory(grouped):
    options = {"auditLogPath": "/var/log/spo-json/audit.log", "auditLogMaxSize": 5, "auditLogMaxBackups": 3,
               "auditLogMaxAge": 2, "auditLogIntervalSeconds": 4}
    spec = {"enricher": {"enableJsonEnricher": True, "jsonEnricherOptions": options}} if grouped else \
        {"enableJsonEnricher": True, "jsonEnricherOptions": options}
    containers, volumes = _containers(spec)
    enricher = containers["log-enricher"]
    args = enricher["args"]
    assert args[args.index("--json-interval") + 1] == "4"
    assert args[args.index("--json-log-file") + 1] == "/var/log/spo-json/audit.log"
    assert [args[args.index(flag) + 1] for flag in ("--json-log-max-size", "--json-log-max-backups",
                                                    "--json-log-max-age")] == ["5", "3", "2"]
    json_volumes = [v for v in volumes if v["name"] == "json-log"]
    assert json_volumes == [{"name": "json-log", "hostPath": {"path": "/var/log/spo-json", "type": "DirectoryOrCreate"}}]
    assert {"name": "json-log", "mountPath": "/var/log/spo-json"} in enricher["volumeMounts"]
    assert all(m["name"] != "json-log" for c in containers.values() if c is not enricher for m in c["volumeMounts"])


def test_without_a_path_nothing_is_mounted_and_lines_go_to_stdout():
    containers, volumes = _containers({"enableJsonEnricher": True})
    assert "--json-log-file" not in containers["log-enricher"]["args"]
    assert not [v for v in volumes if v["name"] == "json-log"]


def test_the_daemonset_refuses_a_bad_path_naming_the_spelling():
    with pytest.raises(SpoError) as err:
        spod.daemonset(_spod({"enricher": {"enableJsonEnricher": True,
                                           "jsonEnricherOptions": {"auditLogPath": "/var/log/../../etc/cron.d/x"}}}))
    assert "spec.enricher.jsonEnricherOptions.auditLogPath" in str(err.value)


def test_options_roll_the_pods():
    base = {"enableJsonEnricher": True}
    changed = dict(base, jsonEnricherOptions={"auditLogIntervalSeconds": 5})
    assert spod.config_hash(base, "i", "/k") != spod.config_hash(changed, "i", "/k")


# --- the file and its rotation


class Clock(object):
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def _files(directory):
    return sorted(os.listdir(directory))


def _lines(path):
    with open(path) as handle:
        return handle.read().splitlines()


@pytest.mark.parametrize("max_backups, kept", [(0, 5), (1, 1), (2, 2), (10, 5)])
def test_rotation_by_size_keeps_at_most_max_backups(tmp_path, max_backups, kept):
    clock = Clock()
    log = RotatingLog(str(tmp_path / "audit.log"), 100, max_backups, 0, clock)
    for index in range(12):  # 50-byte lines, two per file: 6 files, 5 rotated
        clock.now += 1
        log.write("%049d" % index)
    names = _files(tmp_path)
    backups = [n for n in names if n != "audit.log"]
    assert len(backups) == kept and log.rotations == 5
    assert all(n.startswith("audit-2026-12-07T") and n.endswith(".log") for n in backups)
    assert _lines(str(tmp_path / "audit.log")) == ["%049d" % 10, "%049d" % 11]
    newest = sorted(backups)[-1]
    assert _lines(str(tmp_path / newest)) == ["%049d" % 8, "%049d" % 9]
    assert all(os.path.getsize(str(tmp_path / n)) <= 100 for n in names)
    log.close()


def test_an_existing_file_is_continued_and_a_long_line_written_whole(tmp_path):
    path = tmp_path / "audit.log"
    path.write_text("old\n")
    log = RotatingLog(str(path), 100, 0, 0, Clock())
    log.write("new")
    assert _lines(str(path)) == ["old", "new"]
    log.write("x" * 300)
    assert _lines(str(path)) == ["x" * 300] and len(_files(tmp_path)) == 2
    log.close()


@pytest.mark.parametrize("age_days, kept", [(0, 4), (1, 1), (2, 2), (3, 3), (10, 4)])
def test_rotated_files_older_than_max_age_are_removed(tmp_path, age_days, kept):
    clock = Clock()
    log = open_log(str(tmp_path / "audit.log"), 1, 0, age_days, clock)
    line = "y" * (512 * 1024 - 1)  # two lines per megabyte
    for _day in range(5):  # four rotations, a day and a minute apart: 3.x, 2.x, 1.x and 0 days old at the last one
        log.write(line)
        log.write(line)
        clock.now += DAY + 60
    clock.now -= DAY + 60
    backups = [n for n in _files(tmp_path) if n != "audit.log"]
    assert len(backups) == kept, backups
    assert "other.txt" not in backups
    log.close()


def test_an_idle_log_prunes_old_files_on_tick_and_leaves_other_files(tmp_path):
    (tmp_path / "audit-2026-11-01T00-00-00.000.log").write_text("old\n")
    (tmp_path / "audit-2026-12-07T13-00-00.000.log").write_text("recent\n")
    (tmp_path / "notes-2026-11-01T00-00-00.000.log").write_text("not ours\n")
    (tmp_path / "audit-2026-11-01.log").write_text("not a backup name\n")
    clock = Clock()
    log = RotatingLog(str(tmp_path / "audit.log"), 1000, 0, 40 * DAY, clock, prune_every=3600)
    assert "audit-2026-11-01T00-00-00.000.log" in _files(tmp_path)  # 36 days old, max age 40
    log.max_age = 3 * DAY
    clock.now += 60
    log.tick()  # not yet an hour since the last prune
    assert "audit-2026-11-01T00-00-00.000.log" in _files(tmp_path)
    clock.now += 3600
    log.tick()
    assert _files(tmp_path) == ["audit-2026-11-01.log", "audit-2026-12-07T13-00-00.000.log", "audit.log",
                                "notes-2026-11-01T00-00-00.000.log"]
    log.close()


def test_two_rotations_in_one_millisecond_keep_both(tmp_path):
    log = RotatingLog(str(tmp_path / "a.json"), 10, 0, 0, Clock())
    for index in range(3):
        log.write("%09d" % index)
    assert len(_files(tmp_path)) == 3
    log.close()


def test_a_symlink_at_the_files_name_is_refused(tmp_path):
    target = tmp_path / "target"
    target.write_text("")
    os.symlink(str(target), str(tmp_path / "audit.log"))
    with pytest.raises(SpoError) as err:
        RotatingLog(str(tmp_path / "audit.log"), 100)
    assert "symlink" in str(err.value)
    assert target.read_text() == ""


def test_a_symlinked_directory_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(str(real), str(tmp_path / "link"))
    with pytest.raises(SpoError) as err:
        RotatingLog(str(tmp_path / "link" / "audit.log"), 100)
    assert "symlink" in str(err.value)
    assert _files(real) == []


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(str(tmp_path / "audit.log"))
    with pytest.raises(SpoError) as err:
        RotatingLog(str(tmp_path / "audit.log"), 100)
    assert "regular file" in str(err.value) or "cannot open" in str(err.value)


def test_the_file_is_private(tmp_path):
    log = RotatingLog(str(tmp_path / "audit.log"), 100)
    log.write("{}")
    assert os.stat(str(tmp_path / "audit.log")).st_mode & 0o777 == 0o600
    log.close()


# --- the interval


def _entry(pid, args, syscall="execve", auditid="a"):
    return {"pid": pid, "executable": "/bin/" + args[0], "args": list(args), "syscalls": [syscall], "auditID": auditid}


def test_the_interval_groups_a_process_command_and_writes_when_it_ends():
    batch = Batcher(10)
    assert batch.add(_entry(1, ["cat", "x"], auditid="first"), 100.0) == []
    assert batch.add(_entry(1, ["cat", "x"], "execveat", "second"), 104.0) == []
    assert batch.add(_entry(1, ["ls"]), 105.0) == []       # the same process, another program: its own line
    assert batch.add(_entry(2, ["cat", "x"]), 106.0) == []  # another process
    assert batch.due(109.9) == []
    first = batch.due(110.0)
    assert first == [dict(_entry(1, ["cat", "x"], auditid="first"), syscalls=["execve", "execveat"])]
    assert [e["args"] for e in batch.due(116.0)] == [["ls"], ["cat", "x"]]
    assert batch.add(_entry(1, ["cat", "x"]), 120.0) == [] and len(batch.groups) == 1  # a new interval


@pytest.mark.parametrize("max_groups, max_bytes, early", [(3, 10 ** 9, 7), (10, 3 * 2200, 7), (100, 10 ** 9, 0)])
def test_the_interval_holds_a_bounded_number_of_lines(max_groups, max_bytes, early):
    batch = Batcher(60, max_groups=max_groups, max_bytes=max_bytes)
    out = []
    for pid in range(10):
        out += batch.add(_entry(pid, ["x" * 500]), float(pid))
    assert [e["pid"] for e in out] == list(range(early)) and batch.early == early
    assert len(batch.groups) == 10 - early and batch.held_bytes <= max_bytes
    assert [e["pid"] for e in batch.drain()] == list(range(early, 10)) and batch.held_bytes == 0


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def test_the_enricher_with_an_interval_and_a_file(tmp_path):
    log = open_log(str(tmp_path / "audit.log"), 1, 2, 1)
    cids = {23409: "c1", 23410: "c1", 23411: "c1", 23412: "c1"}
    filters = jsonfilter.parse(json.dumps([{"priority": 1, "level": "None", "matchKeys": ["executable"],
                                            "matchValues": ["/usr/bin/env"]}]))
    enricher = jsonenricher.JsonEnricher("node-1", cids.get, {"c1": ("ns", "pod", "main")}.get, log.write, filters,
                                         interval=5, new_id=lambda: "id")
    enricher.feed(_read(EXEC_LOG))
    enricher.tick(now=0.0)
    assert _lines(str(tmp_path / "audit.log")) == []  # held for the interval
    enricher.tick(now=10 ** 9)
    lines = [json.loads(text) for text in _lines(str(tmp_path / "audit.log"))]
    assert [e["args"][0] for e in lines] == ["/bin/echo", "true", "/bin/echo"]
    assert enricher.logged == 3 and enricher.dropped["filtered"] == 2
    assert all(e["resource"] == {"namespace": "ns", "pod": "pod", "container": "main"} for e in lines)
    log.close()


def test_the_enricher_flushes_held_lines_at_exit():
    out = []
    enricher = jsonenricher.JsonEnricher("node-1", {23409: "c1"}.get, {"c1": ("ns", "pod", "main")}.get, out.append,
                                         interval=60)
    enricher.feed(_read(EXEC_LOG))
    enricher.tick()
    assert out == []
    enricher.flush()
    assert [json.loads(text)["args"] for text in out] == [["/bin/echo", "one"]]


def test_a_symlink_on_the_node_among_the_directorys_components_is_found(tmp_path):
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording.rotatinglog import host_symlink

    root = tmp_path / "node"
    (root / "var" / "log" / "spo").mkdir(parents=True)
    (root / "etc").mkdir()
    os.symlink("/etc", str(root / "var" / "log" / "evil"))
    assert host_symlink(str(root), "/var/log/spo/audit.json") is None
    assert host_symlink(str(root), "/var/log/new/audit.json") is None  # not there yet: the kubelet creates it
    assert host_symlink(str(root), "/var/log/evil/audit.json") == "/var/log/evil"


def test_the_log_enricher_refuses_a_directory_that_is_a_symlink_on_the_node(tmp_path):
    from spo_cli import enricher as cli

    root = tmp_path / "node"
    (root / "var" / "log").mkdir(parents=True)
    os.symlink(str(tmp_path), str(root / "var" / "log" / "evil"))
    args = cli.argparse.Namespace(json_enricher=True, json_enricher_filters="", json_interval=0, node_name="n",
                                  json_log_file="/var/log/evil/audit.json", json_log_host_root=str(root),
                                  json_log_max_size=1, json_log_max_backups=0, json_log_max_age=0)
    with pytest.raises(SpoError) as err:
        cli._json_enricher(args, None)  # pylint: disable=protected-access
    assert "/var/log/evil is a symlink on the node" in str(err.value)
    assert not os.path.exists(str(tmp_path / "audit.json"))


def test_a_line_the_file_cannot_take_is_counted_and_the_enricher_goes_on():
    written = []

    def write(text):
        if not written:
            written.append(None)
            raise OSError(28, "No space left on device")
        written.append(text)

    cids = {23409: "c1", 23412: "c1"}
    enricher = jsonenricher.JsonEnricher("node-1", cids.get, {"c1": ("ns", "pod", "main")}.get, write)
    enricher.feed(_read(EXEC_LOG))
    enricher.tick()
    assert enricher.dropped["write_error"] == 1 and enricher.logged == 1
    assert json.loads(written[1])["args"][0] == "/bin/echo"
