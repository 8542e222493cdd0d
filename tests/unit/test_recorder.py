# -*- coding: utf-8 -*-
"""The pure parts of the cluster recorder: annotations, container IDs, profiles, merging, proc events, enricher
AVC attribution and deferred records."""
from __future__ import annotations

import json
import struct

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.host import cgroup
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodeagent
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import cluster as recorder
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.enricher import Enricher
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

CID = "a" * 64
OLD = "b" * 64


def _pod(annotations=None, generate=None, phase="Running"):
    meta = {"name": "web-x", "namespace": "ns", "uid": "u-1", "annotations": annotations or {}}
    if generate:
        meta["generateName"] = generate
    return {"metadata": meta, "status": {"phase": phase, "containerStatuses": [
        {"name": "web", "containerID": "containerd://" + CID,
         "lastState": {"terminated": {"containerID": "cri-o://" + OLD}}}]}}


def test_recorded_containers_from_the_webhook_annotations():
    pod = _pod({"io.containers.trace-logs/web": "rec_web_abc_1700000000",
                "io.containers.trace-avcs/side": "serec_side_n_1",
                "io.containers.trace-logs/evil": "rec_other_n_1",  # not the annotated container: ignored
                "io.containers.trace-logs/bad": "garbage", "other": "x"})
    assert recorder.recorded_containers(pod) == {"web": ("SeccompProfile", "rec"), "side": ("SelinuxProfile", "serec")}
    assert recorder.recorded_containers(_pod()) == {}


def test_container_ids_and_end_of_pod():
    pod = _pod()
    assert recorder.container_ids(pod) == {"web": [CID, OLD]}
    assert recorder.slim_pod(dict(pod, spec={"big": 1}))["status"]["containerStatuses"][0]["lastState"]
    assert not recorder.pod_ended("MODIFIED", pod)
    assert recorder.pod_ended("MODIFIED", _pod(phase="Succeeded"))
    assert recorder.pod_ended("DELETED", pod)
    assert not recorder.pod_ended("MODIFIED", _pod(phase="Failed"))  # recorded when deleted, as upstream
    assert recorder.is_replica(_pod(generate="web-5f4c-")) and not recorder.is_replica(pod)


def test_seccomp_profile_installable_shape():
    obj = recorder.build_profile("SeccompProfile", "rec", "web", "ns",
                                 {"syscalls": ["write", "read", "read"], "architectures": ["SCMP_ARCH_X86_64"]},
                                 "rec-web", partial=True, pod=_pod())
    # the runtime's own calls after the filter is loaded come from the shipped base, not from the recording
    assert obj["spec"] == {"baseProfileName": recorder.RUNTIME_BASE, "defaultAction": "SCMP_ACT_ERRNO",
                           "architectures": ["SCMP_ARCH_X86_64"],
                           "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read", "write"]}]}
    assert obj["metadata"]["labels"] == {"spo.x-k8s.io/recording-id": "rec", "spo.x-k8s.io/container-id": "web",
                                         "spo.x-k8s.io/partial": "true"}
    assert obj["metadata"]["annotations"]["spo.x-k8s.io/recorded-pod-uid"] == "u-1"
    assert recorder.RUNTIME_BASE in {p["metadata"]["name"] for p in nodeagent.load_shipped()}
    with pytest.raises(SpoError, match="nothing was recorded"):
        recorder.build_profile("SeccompProfile", "rec", "web", "ns", {"syscalls": []}, "rec-web")
    with pytest.raises(SpoError, match="spec.kind"):
        recorder.build_profile("AppArmorProfile", "rec", "web", "ns", {"syscalls": ["read"]}, "rec-web")


def test_selinux_profile_self_type_and_targets():
    ctx = "system_u:system_r:selinuxrecording.process:s0:c1,c2"
    avcs = recorder.avc_events([
        {"scontext": ctx, "tcontext": "system_u:object_r:var_log_t:s0", "tclass": "file", "permissions": ["read"]},
        {"scontext": ctx, "tcontext": "system_u:object_r:var_log_t:s0", "tclass": "file", "permissions": ["open"]},
        {"scontext": ctx, "tcontext": ctx, "tclass": "unix_stream_socket", "permissions": ["create"]}])
    obj = recorder.build_profile("SelinuxProfile", "se", "web", "ns", {"avcs": avcs}, "se-web", disabled=True)
    assert obj["spec"]["allow"] == {"@self": {"unix_stream_socket": ["create"]}, "var_log_t": {"file": ["open", "read"]}}
    assert obj["spec"]["disabled"] is True and obj["kind"] == "SelinuxProfile"


def test_union_of_restarts():
    data = recorder.union([{"syscalls": ["read"], "architectures": ["SCMP_ARCH_X86_64"], "records": 2,
                            "avcs": [{"a": 1}]},
                           {"syscalls": ["write", "read"], "records": 3, "avcs": [{"a": 1}, {"a": 2}]}])
    assert data == {"syscalls": ["read", "write"], "architectures": ["SCMP_ARCH_X86_64"], "records": 5,
                    "avcs": [{"a": 1}, {"a": 2}]}


def _partial(name, container, names):
    return {"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
            "metadata": {"name": name, "namespace": "ns", "labels": recorder.profile_labels("m", container, True)},
            "spec": {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                     "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": names}]}}


def test_plan_merge_one_profile_per_container():
    plan = recorder.plan_merge("m", [_partial("m-web-1", "web", ["read"]), _partial("m-web-2", "web", ["write"]),
                                     _partial("m-db-1", "db", ["open"])])
    assert sorted(plan) == ["m-db", "m-web"]
    web = plan["m-web"]
    assert web["spec"]["syscalls"] == [{"action": "SCMP_ACT_ALLOW", "names": ["read", "write"]}]
    assert web["metadata"]["labels"] == {"spo.x-k8s.io/recording-id": "m", "spo.x-k8s.io/container-id": "web"}
    assert web["metadata"]["annotations"] == {"spo.x-k8s.io/merged-from": "m-web-1,m-web-2"}


def test_pod_index_resolves_and_retires():
    index = recorder.PodIndex(keep=1)
    index.update(_pod())
    assert index.resolve(CID) == ("ns", "web-x", "web")
    index.retire(_pod())  # keeps the last one only
    assert index.resolve(CID) is None and index.resolve(OLD) == ("ns", "web-x", "web")


def _proc_event(what, ptgid, ctgid):
    body = struct.pack("=IIQ", what, 0, 0) + struct.pack("=4I", ptgid, ptgid, ctgid, ctgid)
    cn = struct.pack("=IIIIHH", 1, 1, 0, 0, len(body), 0) + body
    return struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, 0) + cn


def test_parse_proc_events_forks_only():
    data = _proc_event(cgroup.PROC_EVENT_FORK, 10, 11) + _proc_event(2, 11, 11) + _proc_event(1, 12, 12)
    assert cgroup.parse_proc_events(data) == [(10, 11)]  # exec events and threads are not new processes


SECCOMP = (b'audit: type=1326 audit(1.0:%d): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=%d comm="sh" '
           b'exe="/bin/busybox" sig=0 arch=c000003e syscall=%d compat=0 ip=0x1 code=0x7ffc0000\n')
AVC = (b'audit: type=1400 audit(1.0:9): avc:  denied  { read } for  pid=%d comm="cat" name="x" '
       b'scontext=system_u:system_r:selinuxrecording.process:s0 tcontext=system_u:object_r:var_log_t:s0 '
       b'tclass=file permissive=1\n')


def _proc(tmp_path, pid, cid):
    (tmp_path / "proc" / str(pid)).mkdir(parents=True)
    (tmp_path / "proc" / str(pid) / "cgroup").write_text("0::/kubepods/besteffort/pod1/%s\n" % cid)


def test_enricher_defers_unknown_processes_and_keeps_avcs(tmp_path):
    _proc(tmp_path, 100, CID)
    enricher = Enricher(str(tmp_path / "state"), node="n", proc=str(tmp_path / "proc"), defer_unknown=60)
    enricher.process(SECCOMP % (1, 100, 0) + SECCOMP % (2, 200, 1) + AVC % 100)
    assert enricher.target("containers", CID)["syscalls"] == ["read"]
    assert enricher.target("containers", CID)["avcs"][0]["tclass"] == "file"
    assert len(enricher.pending) == 1
    enricher.cgroups.cache[200] = CID  # the fork watcher entered the (gone) process under its parent's container
    enricher.retry()
    assert enricher.target("containers", CID)["syscalls"] == ["read", "write"] and not enricher.pending
    enricher.resolve = {CID: ("ns", "pod", "web")}.get
    assert '{container="web",executable="/bin/busybox",namespace="ns",node="n",pod="pod",syscall="write"} 1.0' in \
        enricher.metrics_text()
    enricher.flush()
    assert json.loads((tmp_path / "state" / "containers" / (CID + ".json")).read_text())["records"] == 3
    enricher.forget("containers", CID)
    assert enricher.target("containers", CID) is None and enricher.keys("containers") == []
