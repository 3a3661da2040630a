"""What a process loaded before freezing its heap is left out of later full collections, garbage it
held in cycles is collected first, not frozen; the switch interval is set, and refused when not
positive."""

from __future__ import annotations

import gc
import sys
import weakref

import pytest

from commons.interpreter import RESPONSIVE_SWITCH_INTERVAL_S, favour_waiting_threads, freeze_startup_heap


class Node:
    """An object that can sit in a reference cycle and be watched through a weak reference."""


def test_objects_loaded_before_the_freeze_are_left_out_of_full_collections():
    loaded = [[i] for i in range(100_000)]  # stands for a model a process keeps for life
    cycle = Node()
    cycle.me = cycle  # garbage only the cyclic collector frees
    gone = weakref.ref(cycle)
    del cycle
    try:
        freeze_startup_heap()
        assert gone() is None
        assert gc.get_freeze_count() >= len(loaded)
        assert len(gc.get_objects(generation=2)) < len(loaded) // 10  # what a full collection walks
    finally:
        gc.unfreeze()
    assert len(gc.get_objects(generation=2)) >= len(loaded)


def test_busy_threads_hand_over_the_gil_sooner():
    before = sys.getswitchinterval()
    try:
        favour_waiting_threads()
        assert sys.getswitchinterval() == pytest.approx(RESPONSIVE_SWITCH_INTERVAL_S)
        assert sys.getswitchinterval() < before
        with pytest.raises(ValueError, match="positive"):
            favour_waiting_threads(0)
    finally:
        sys.setswitchinterval(before)
