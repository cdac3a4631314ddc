"""Running an iterator ahead of its consumer on a thread, with a bounded queue.

Video decoding (OpenCV/FFmpeg) and image resampling release the GIL, so a thread that
decodes and crops the next frames overlaps with the model working on the current ones,
on the CPU as on a GPU. The queue holds at most `depth` items: memory stays bounded
however long the video is.

The consumer sees exactly the items the iterator yields, in order; an exception raised
by the iterator is raised in the consumer at the position it happened; when the consumer
stops early (break, an exception, cancellation, garbage collection) the thread stops and
the iterator is closed (its `finally` blocks run, e.g. the video capture is released).
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_POLL_S = 0.05  # how often a blocked producer checks whether the consumer has gone


class _End:
    pass


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetched(items: Iterable[T], depth: int = 8, name: str = "vtm-prefetch") -> Iterator[T]:
    """Yield the items of `items`, produced on a daemon thread at most `depth` ahead.

    depth <= 0 yields them directly on the calling thread (no thread).
    """
    if depth <= 0:
        yield from items
        return
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not put(item):
                    return
            put(_End)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failure(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _End:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()
