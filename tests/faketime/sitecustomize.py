"""Loaded by the processes tests run under libfaketime (tests.support.faketime_env puts it first).

libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC turns the absolute deadline of Python's
`time.sleep` (clock_nanosleep on CLOCK_MONOTONIC) into a negative one, and the call fails with
EINVAL; without that variable it moves the monotonic clock and timed waits in threads never
return. A timed wait on an event sleeps correctly with the real monotonic clock.
"""

from __future__ import annotations

import threading
import time


def _sleep(seconds: float) -> None:
    """`time.sleep` through a timed wait, which libfaketime leaves alone."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    threading.Event().wait(seconds)


time.sleep = _sleep
