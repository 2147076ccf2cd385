"""Prefetcher: reads ahead in order, raises the reader's errors, stops the reader when the consumer stops."""

from __future__ import annotations

import threading
import time

import pytest

from eokit.infer.prefetch import Prefetcher


@pytest.mark.parametrize("enabled", [True, False])
def test_items_in_order_and_read_ahead(enabled: bool) -> None:
    reader_threads = set()

    def read(i: int) -> int:
        reader_threads.add(threading.current_thread().name)
        return i * i

    with Prefetcher(read, range(20), enabled=enabled) as items:
        assert list(items) == [i * i for i in range(20)]
    assert reader_threads == ({"eokit-prefetch"} if enabled else {threading.current_thread().name})


def test_reader_error_is_raised_in_the_consumer() -> None:
    def read(i: int) -> int:
        if i == 3:
            raise OSError("truncated block")
        return i

    got = []
    with pytest.raises(OSError, match="truncated"), Prefetcher(read, range(10)) as items:
        for x in items:
            got.append(x)
    assert got == [0, 1, 2]


def test_consumer_stopping_early_stops_the_reader() -> None:
    calls = []

    def read(i: int) -> int:
        calls.append(i)
        time.sleep(0.01)
        return i

    before = threading.active_count()
    with pytest.raises(KeyboardInterrupt), Prefetcher(read, range(1000)) as items:
        for x in items:
            if x == 2:
                raise KeyboardInterrupt
    assert len(calls) <= 6  # read ahead by at most the queue depth, then stopped
    assert threading.active_count() == before
