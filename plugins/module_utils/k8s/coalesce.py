# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A set of dirty keys handed out in batches: events that arrive within ``window`` seconds of the
first one become one batch; keys may also be requeued for later (retries, polling)."""
from __future__ import annotations

import threading
import time
from typing import Callable, Dict, Hashable, Iterable, List, Optional


class Coalescer(object):
    def __init__(self, window: float = 0.15, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self.cond = threading.Condition()
        self.dirty: Dict[Hashable, None] = {}
        self.later: Dict[Hashable, float] = {}
        self.first: Optional[float] = None
        self.closed = False

    def add(self, keys: Iterable[Hashable]) -> None:
        with self.cond:
            added = False
            for key in keys:
                if key not in self.dirty:
                    self.dirty[key] = None
                    added = True
                self.later.pop(key, None)
            if added and self.first is None:
                self.first = self.clock()
                self.cond.notify_all()

    def requeue(self, key: Hashable, delay: float) -> None:
        """Make ``key`` dirty again in ``delay`` seconds (an earlier due time wins)."""
        with self.cond:
            due = self.clock() + delay
            if key in self.dirty:
                return
            if key not in self.later or self.later[key] > due:
                self.later[key] = due
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _promote(self, now: float) -> None:
        due = [k for k, t in self.later.items() if t <= now]
        for key in due:
            del self.later[key]
            self.dirty[key] = None
        if due and self.first is None:
            self.first = now

    def ready(self, now: float) -> Optional[float]:
        """Seconds until the next batch is due (0: now); None when nothing is pending."""
        self._promote(now)
        waits = []
        if self.first is not None:
            waits.append(max(0.0, self.first + self.window - now))
        if self.later:
            waits.append(max(0.0, min(self.later.values()) - now))
        return min(waits) if waits else None

    def take(self, now: Optional[float] = None) -> List[Hashable]:
        """The dirty keys (cleared); call when :meth:`ready` says 0."""
        with self.cond:
            self._promote(self.clock() if now is None else now)
            keys = list(self.dirty)
            self.dirty.clear()
            self.first = None
            return keys

    def wait(self, timeout: Optional[float] = None) -> List[Hashable]:
        """Block until a batch is due (or ``timeout``/close); return it (maybe empty)."""
        deadline = None if timeout is None else self.clock() + timeout
        with self.cond:
            while not self.closed:
                now = self.clock()
                wait = self.ready(now)
                if wait == 0 and self.dirty:
                    return self.take(now)
                if deadline is not None:
                    left = deadline - now
                    if left <= 0:
                        return []
                    wait = left if wait is None else min(wait, left)
                self.cond.wait(wait)
            return []
