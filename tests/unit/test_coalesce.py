# -*- coding: utf-8 -*-
"""Batching of events: the coalescer's window, requeues, a batch handed across threads."""
from __future__ import annotations

import threading

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.coalesce import Coalescer


class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_coalescer_batches_events_within_the_window():
    clock = Clock()
    queue = Coalescer(window=0.15, clock=clock)
    assert queue.ready(clock()) is None
    queue.add(["a"])
    clock.now += 0.1
    queue.add(["b", "a"])
    assert queue.ready(clock()) == pytest.approx(0.05)
    clock.now += 0.06
    assert queue.ready(clock()) == 0
    assert queue.take() == ["a", "b"]
    assert queue.ready(clock()) is None


def test_coalescer_requeue_later():
    clock = Clock()
    queue = Coalescer(window=0.1, clock=clock)
    queue.requeue("x", 2.0)
    queue.requeue("x", 5.0)  # the earlier due time wins
    assert queue.ready(clock()) == pytest.approx(2.0)
    clock.now += 2.0
    assert queue.ready(clock()) == pytest.approx(0.1)  # promoted: now waits its window
    clock.now += 0.1
    assert queue.take() == ["x"]


def test_coalescer_wait_returns_a_batch_from_another_thread():
    queue = Coalescer(window=0.01)
    threading.Timer(0.02, lambda: queue.add(["k"])).start()
