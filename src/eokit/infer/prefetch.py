"""Read ahead in a background thread while the model runs.

GDAL releases the GIL while it decodes blocks, so reading the next group of
tiles overlaps with the forward passes of the current one. The queue holds at
most ``depth`` finished reads, so memory stays bounded (``depth + 1`` groups
besides the one in use). Errors in the reader are raised in the consumer; a
consumer that stops early (an exception, a kill of the loop) stops the reader.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

S = TypeVar("S")
T = TypeVar("T")

_DONE = object()


class Prefetcher(Generic[S, T]):
    """``with Prefetcher(read, specs) as items: for item in items: ...`` — ``read(spec)`` in order, ahead."""

    def __init__(self, read: Callable[[S], T], specs: Sequence[S], enabled: bool = True, depth: int = 1) -> None:
        self.read, self.specs, self.enabled = read, list(specs), enabled
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Iterator[T]:
        if not self.enabled:
            return (self.read(s) for s in self.specs)
        self._thread = threading.Thread(target=self._work, name="eokit-prefetch", daemon=True)
        self._thread.start()
        return self._consume()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        try:
            for spec in self.specs:
                if self._stop.is_set() or not self._put(("ok", self.read(spec))):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(("error", exc))
            return
        self._put(_DONE)

    def _consume(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            kind, value = cast("tuple[str, Any]", item)
            if kind == "error":
                raise value
            yield value

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                with contextlib.suppress(queue.Empty):  # unblock a reader waiting on a full queue
                    self._queue.get_nowait()
                self._thread.join(timeout=0.05)
