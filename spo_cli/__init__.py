"""Command-line doors (daemons) over the collection's engine in plugins/module_utils."""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any, Callable, Dict, Optional

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_NUMBERS = frozenset(int(sig) for sig in STOP_SIGNALS)  # as the wakeup fd writes them, a byte each


def stop_on_signals(action: Callable[[], None]) -> None:
    """Run ``action`` on SIGTERM or SIGINT, on a thread of its own (call from the main thread).

    A Python signal handler runs in the main thread between two bytecodes, possibly while that thread holds
    the lock ``action`` needs: ``Event.set`` from a handler deadlocks when the signal lands while the main
    thread's ``Event.wait`` holds the event's lock (an enricher hung on SIGTERM in a CI run, its main thread
    waiting on a futex).  So the handlers do nothing; the wakeup fd carries the signal number to a thread that
    runs ``action``."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda *_: None)

    def watch() -> None:
        while True:
            data = os.read(read_fd, 64)
            if not data:
                return
            if STOP_NUMBERS.intersection(data):
                action()
    threading.Thread(target=watch, name="stop-signals", daemon=True).start()


def report_stats(log: Callable[[str], None], stats: Dict[str, Any], path: Optional[str]) -> None:
    """Log a daemon's closing counts and, with ``path`` (its --stats-file), write them there as JSON."""
    log("stopped: %s" % json.dumps(stats, sort_keys=True))
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(stats, handle)
