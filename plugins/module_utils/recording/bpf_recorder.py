# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the eBPF recorder (bpftrace with :mod:`bpf_program`) and read its output as it comes.

A thread reads bpftrace's stdout line by line into a :class:`bpf_events.BpfOutput`, so the pipe
never fills (a full pipe would stall bpftrace and the kernel ring would drop lines).  :meth:`stop`
sends SIGINT: bpftrace then prints its maps (the exact ``@sc`` counts) and exits.
"""
from __future__ import annotations

import signal
import subprocess
import threading
import time
from typing import Iterable, List, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import bpf_program
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.bpf_events import BpfOutput, NewPair
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

STDERR_KEEP = 64


class BpftraceProcess(object):
    """One bpftrace recorder process."""

    def __init__(self, clear_seconds: Optional[int] = None, on_new_pair: Optional[NewPair] = None,
                 argv: Optional[List[str]] = None, seed_tids: Iterable[int] = ()) -> None:
        self.argv = argv if argv is not None else bpf_program.command(clear_seconds, seed_tids)
        self.output = BpfOutput(on_new_pair, keep=clear_seconds is None)
        self.stderr: List[str] = []
        self.proc: Optional[subprocess.Popen] = None
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []

    def start(self, attach_timeout: float = 120.0) -> "BpftraceProcess":
        """Start bpftrace and wait until its probes are attached."""
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=bpf_program.environment())
        for target, stream in ((self._read_out, self.proc.stdout), (self._read_err, self.proc.stderr)):
            thread = threading.Thread(target=target, args=(stream,), daemon=True)
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + attach_timeout
        while not self.output.attached:
            if self.proc.poll() is not None:
                self._join()
                raise SpoError("bpftrace exited with %s before attaching its probes: %s"
                               % (self.proc.returncode, self.errors()))
            if time.monotonic() > deadline:
                self.kill()
                raise SpoError("bpftrace did not attach its probes within %ss: %s" % (attach_timeout, self.errors()))
            time.sleep(0.02)
        return self

    def _read_out(self, stream) -> None:
        for line in iter(stream.readline, b""):
            with self._lock:
                self.output.feed_line(line)

    def _read_err(self, stream) -> None:
        for line in iter(stream.readline, b""):
            text = line.decode("utf-8", "replace").rstrip()
            if text and len(self.stderr) < STDERR_KEEP:
                self.stderr.append(text)

    def errors(self) -> str:
        """bpftrace's error lines, without the harmless RLIMIT_MEMLOCK notice of kernels that account BPF memory."""
        lines = [line for line in self.stderr if "RLIMIT_MEMLOCK" not in line]
        return "; ".join(lines[-5:]) or "(no message)"

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60.0) -> BpfOutput:
        """SIGINT bpftrace, wait for its final dump, return the output."""
        if self.proc is None:
            raise SpoError("bpftrace was not started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise SpoError("bpftrace did not exit within %ss of SIGINT" % timeout)
        self._join()
        return self.output

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._join()

    def _join(self) -> None:
        for thread in self._threads:
            thread.join(10)
