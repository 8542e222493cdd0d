# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A work queue with client-go's guarantees, for the reconcile workers.

* a key is queued at most once (adds while it waits are merged);
* a key is never handed to two workers at once: added while being processed, it is queued
  again when its worker calls :meth:`WorkQueue.done`;
* :meth:`add_after` delays an add (the earliest pending delay wins);
* :meth:`add_rate_limited` delays by ``base * 2**failures`` (capped), :meth:`forget` resets the
  count, as controller-runtime's default per-item exponential back-off (5 ms .. 1000 s).
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Dict, Hashable, List, Optional, Set, Tuple

Key = Hashable


class WorkQueue(object):
    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._cond = threading.Condition()
        self._queue: List[Key] = []
        self._dirty: Set[Key] = set()
        self._processing: Set[Key] = set()
        self._waiting: List[Tuple[float, int, Key]] = []
        self._due: Dict[Key, float] = {}
        self._failures: Dict[Key, int] = {}
        self._seq = itertools.count()
        self._shutdown = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def add(self, key: Key) -> None:
        with self._cond:
            if self._shutdown or key in self._dirty:
                return
            self._dirty.add(key)
            self._due.pop(key, None)
            if key not in self._processing:
                self._queue.append(key)
                self._cond.notify()

    def add_after(self, key: Key, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown:
                return
            when = time.monotonic() + delay
            if key in self._due and self._due[key] <= when:
                return
            self._due[key] = when
            heapq.heappush(self._waiting, (when, next(self._seq), key))
            self._cond.notify_all()

    def add_rate_limited(self, key: Key) -> float:
        """Queue ``key`` after its back-off; returns the delay used."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = min(self.base_delay * (2 ** failures), self.max_delay)
        self.add_after(key, delay)
        return delay

    def failures(self, key: Key) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    def forget(self, key: Key) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def _promote(self, now: float) -> Optional[float]:
        """Move due delayed keys into the queue; seconds until the next one (None: none waiting)."""
        while self._waiting:
            when, key = self._waiting[0][0], self._waiting[0][2]
            if self._due.get(key) != when:
                heapq.heappop(self._waiting)  # superseded by an earlier add or an immediate add
                continue
            if when > now:
                return when - now
            heapq.heappop(self._waiting)
            del self._due[key]
            if key not in self._dirty:
                self._dirty.add(key)
                if key not in self._processing:
                    self._queue.append(key)
        return None

    def get(self, timeout: Optional[float] = None) -> Optional[Key]:
        """The next key to process (None on shutdown or after ``timeout``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._shutdown:
                    return None
                wait = self._promote(time.monotonic())
                if self._queue:
                    key = self._queue.pop(0)
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)

    def done(self, key: Key) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def processing(self) -> int:
        with self._cond:
            return len(self._processing)
