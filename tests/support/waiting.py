"""For race tests: wait until a condition holds (a slowed emulator got the call), and run
the other side of the race in a thread."""

import threading
import time


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def in_thread(work) -> tuple[threading.Thread, list]:
    """Start `work()` in a thread; its result is in the list once the thread is joined."""
    done: list = []
    thread = threading.Thread(target=lambda: done.append(work()))
    thread.start()
    return thread, done
