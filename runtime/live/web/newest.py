"""The newest value of something, numbered, with readers that wait for a newer one; older values are dropped."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Newest(Generic[T]):
    """Holds one value and a counter that grows on every `put`; readers never see a queue, only the latest."""

    def __init__(self, initial: T) -> None:
        self._changed = threading.Condition()
        self._value = initial
        self._number = 0
        self._closed = False

    def put(self, value: T) -> int:
        with self._changed:
            self._value = value
            self._number += 1
            self._changed.notify_all()
            return self._number

    def get(self) -> tuple[int, T]:
        with self._changed:
            return self._number, self._value

    def wait_newer(self, number: int, timeout: float) -> tuple[int, T]:
        """The newest (number, value) once its number passes `number`, or as it stands at timeout or close."""
        with self._changed:
            self._changed.wait_for(lambda: self._number > number or self._closed, timeout)
            return self._number, self._value

    def close(self) -> None:
        """Wake every waiting reader for good; `closed` tells them to stop."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
