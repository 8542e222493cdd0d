# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One ansible-runner run of a watch's role or playbook for one object.

Each run gets a private data directory of its own under ``base_dir`` (removed afterwards) with:
the extra vars (:mod:`.vars`), an inventory ``localhost ansible_connection=local
ansible_python_interpreter=<this Python>`` (or a copy of ``ANSIBLE_INVENTORY`` when set, as
upstream does), and for a role a one-play playbook ``hosts: localhost`` with the role by path
(facts are gathered unless ``ANSIBLE_GATHERING=explicit``, as upstream).  The events are read
as upstream reads them: ``playbook_on_stats`` gives ``ansibleResult``; every ``runner_on_failed``
that is neither ``ignore_errors`` nor rescued is a failure, its ``res.msg`` the message; a
``requeue_after`` task (``operator_sdk.util.requeue_after``) sets the next run.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.operator.status import AnsibleResult, completion_time
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.watches import parse_duration

REQUEUE_ACTIONS = ("operator_sdk.util.requeue_after", "requeue_after")
DEFAULT_FAILED_MESSAGE = "unknown playbook failure"
HOST = "localhost"


@dataclass
class RunResult:
    """What one run did, as the reconciler needs it."""
    stats_seen: bool = False
    result: AnsibleResult = field(default_factory=AnsibleResult)
    failure_messages: List[str] = field(default_factory=list)
    requeue_after: Optional[float] = None
    status: str = ""
    rc: Optional[int] = None
    seconds: float = 0.0
    stdout: str = ""
    failed_tasks: List[str] = field(default_factory=list)

    @property
    def successful(self) -> bool:
        return self.stats_seen and not self.failure_messages


def _event_time(created: Any) -> str:
    """``ansibleResult.completion`` from an event's ``created`` (ansible-runner: UTC ISO 8601 without zone)."""
    if isinstance(created, str) and created:
        try:
            when = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=datetime.timezone.utc)
            return completion_time(when)
        except ValueError:
            pass
    return completion_time()


def _rescued(event_data: Mapping[str, Any]) -> bool:
    rescued = event_data.get("rescued")
    return isinstance(rescued, dict) and any(v == 1 for v in rescued.values())


class EventCollector(object):
    """Accumulates one run's events into a :class:`RunResult` (also usable on recorded events)."""

    def __init__(self, log_task: Optional[Callable[[str], None]] = None) -> None:
        self.run = RunResult()
        self.log_task = log_task

    def __call__(self, event: Mapping[str, Any]) -> bool:
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind == "playbook_on_stats":
            self.run.stats_seen = True
            self.run.result = AnsibleResult(
                ok=int((data.get("ok") or {}).get(HOST, 0)),
                changed=int((data.get("changed") or {}).get(HOST, 0)),
                skipped=int((data.get("skipped") or {}).get(HOST, 0)),
                failures=int((data.get("failures") or {}).get(HOST, 0)),
                completion=_event_time(event.get("created")))
            unreachable = (data.get("dark") or {}).get(HOST, 0)
            if unreachable and not self.run.failure_messages:
                self.run.failure_messages.append("localhost was unreachable")
        action = data.get("task_action")
        res = data.get("res") if isinstance(data.get("res"), dict) else {}
        if action in REQUEUE_ACTIONS and kind != "runner_on_failed" and res.get("period"):
            try:
                self.run.requeue_after = parse_duration(str(res["period"]))
            except ValueError:
                pass
        if kind == "runner_on_failed" and not data.get("ignore_errors") and not _rescued(data):
            msg = res.get("msg")
            self.run.failure_messages.append(msg if isinstance(msg, str) and msg else DEFAULT_FAILED_MESSAGE)
            self.run.failed_tasks.append(str(data.get("task") or ""))
        if self.log_task and kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable") and data.get("task"):
            self.log_task("%s: %s%s" % (kind[len("runner_on_"):], data.get("task"),
                                        " (changed)" if res.get("changed") else ""))
        return True


def python_interpreter() -> str:
    return sys.executable or "/usr/bin/python3"


def inventory(environ: Mapping[str, str]) -> Any:
    """The inventory of a run: ``ANSIBLE_INVENTORY`` when set, else localhost over the local connection."""
    configured = environ.get("ANSIBLE_INVENTORY")
    if configured and os.path.exists(configured):
        return configured
    return "%s ansible_connection=local ansible_python_interpreter=%s\n" % (HOST, python_interpreter())


def role_play(role_path: str, gather_facts: bool) -> List[Dict[str, Any]]:
    return [{"hosts": HOST, "gather_facts": gather_facts, "roles": [{"role": role_path}]}]


class AnsibleRunner(object):
    """Runs roles/playbooks with ansible-runner, each run in its own private data directory."""

    def __init__(self, base_dir: Optional[str] = None, envvars: Optional[Mapping[str, str]] = None,
                 cmdline: str = "", keep_failed: int = 0, log: Callable[[str], None] = lambda m: None) -> None:
        self.base_dir = base_dir or os.path.join(tempfile.gettempdir(), "spo-operator")
        os.makedirs(self.base_dir, mode=0o700, exist_ok=True)
        self.envvars = dict(envvars or {})
        self.cmdline = cmdline
        self.keep_failed = keep_failed
        self.log = log
        self.cancel = threading.Event()

    def run(self, ident: str, extravars: Mapping[str, Any], role: str = "", playbook: str = "",
            verbosity: int = 0, log_task: Optional[Callable[[str], None]] = None) -> RunResult:
        """Run ``role`` (a directory) or ``playbook`` (a file) against localhost with ``extravars``."""
        import ansible_runner  # the project's pinned ansible-runner

        data_dir = tempfile.mkdtemp(prefix=ident[:60] + "-", dir=self.base_dir)
        collector = EventCollector(log_task)
        started = time.monotonic()
        keep = False
        try:
            project = os.path.join(data_dir, "project")
            os.makedirs(project)
            if role:
                gather = os.environ.get("ANSIBLE_GATHERING", "").lower() != "explicit"
                target = os.path.join(project, "main.json")
                with open(target, "w", encoding="utf-8") as handle:
                    json.dump(role_play(os.path.abspath(role), gather), handle)
                playbook_arg = "main.json"
            else:
                playbook_arg = os.path.abspath(playbook)
            envvars = dict(self.envvars)
            bindir = os.path.dirname(python_interpreter())
            # ansible-playbook of this Python first
            envvars["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")
            kwargs: Dict[str, Any] = dict(
                private_data_dir=data_dir, ident="run", playbook=playbook_arg, inventory=inventory(os.environ),
                extravars=dict(extravars), envvars=envvars, quiet=True, verbosity=verbosity or None,
                event_handler=collector, cancel_callback=self.cancel.is_set,
                settings={"suppress_ansible_output": True})
            if self.cmdline:
                kwargs["cmdline"] = self.cmdline
            outcome = ansible_runner.run(**kwargs)
            run = collector.run
            run.status = outcome.status
            run.rc = outcome.rc
            if not run.successful or outcome.status != "successful":
                run.stdout = _read_stdout(outcome)
                if run.stats_seen and not run.failure_messages and outcome.status != "successful":
                    run.failure_messages.append("ansible-runner ended %s (rc %s)" % (outcome.status, outcome.rc))
                keep = self.keep_failed > 0
            return run
        finally:
            collector.run.seconds = time.monotonic() - started
            if keep:
                self._rotate(data_dir)
            else:
                shutil.rmtree(data_dir, ignore_errors=True)

    def _rotate(self, keep_dir: str) -> None:
        """Keep ``keep_failed`` private data directories of failed runs (newest), remove older ones."""
        dirs = sorted((os.path.join(self.base_dir, d) for d in os.listdir(self.base_dir)),
                      key=lambda p: os.path.getmtime(p) if os.path.exists(p) else 0)
        old = [d for d in dirs if d != keep_dir][:max(0, len(dirs) - self.keep_failed)]
        for path in old:
            shutil.rmtree(path, ignore_errors=True)


def _read_stdout(outcome: Any) -> str:
    try:
        handle = outcome.stdout
        text = handle.read()
        handle.close()
        return text
    except Exception:  # pylint: disable=broad-except
        return ""
