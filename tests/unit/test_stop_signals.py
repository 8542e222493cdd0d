# -*- coding: utf-8 -*-
"""spo_cli.stop_on_signals: a daemon whose main thread spins on Event.wait stops on SIGTERM and SIGINT.

Setting the event from a plain Python signal handler can deadlock (the handler runs in the main thread, which
may hold the event's lock inside Event.wait); the enricher hung so in a CI run.  Each child below waits on a
0.5 ms loop, the pattern that made the deadlock likely, and must exit soon after every signal."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHILD = """
import sys, threading
sys.path[:0] = [%r, %r]
from spo_cli import stop_on_signals
stop = threading.Event()
stop_on_signals(stop.set)
print("ready", flush=True)
while not stop.wait(0.0005):
    pass
print("stopped", flush=True)
""" % (ROOT, os.path.join(ROOT, ".collections"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_spinning_daemon_stops_on_every_signal(sig):
    for attempt in range(15):
        child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(0.02)
            child.send_signal(sig)
            assert child.wait(timeout=10) == 0, "attempt %d: exit status" % attempt
            assert child.stdout.read().strip() == "stopped"
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()


def test_other_signals_do_not_stop():
    code = CHILD.replace("stop_on_signals(stop.set)",
                         "stop_on_signals(stop.set)\nimport signal\nsignal.signal(signal.SIGUSR1, lambda *_: None)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
        assert child.poll() is None
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
