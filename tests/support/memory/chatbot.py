"""The chatbot's job ledger and queue in memory: the ledger keeps `DynamoJobLedger`'s
promises (tests/contract); the queue keeps jobs in order until the test takes them."""

import json
import threading
import time
from datetime import datetime
from typing import Any

from chalicelib.chatbot.ledger import JobProgress
from chalicelib.chatbot.queue import stamped


class MemoryJobLedger:
    def __init__(self) -> None:
        self._jobs: dict[str, dict] = {}
        self._lock = threading.Lock()

    def begin(self, job_id: str, now: float, lease_until: float, expires_at: datetime) -> JobProgress | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and (job["state"] == "done" or job["lease_until"] >= now):
                return None
            job = job or {"state": "running", "noted": False, "after": None}
            job["lease_until"] = lease_until
            self._jobs[job_id] = job
            return JobProgress(job["noted"], job["after"] if job["state"] == "posting" else None)

    def _set(self, job_id: str, **fields) -> None:
        with self._lock:
            self._jobs.setdefault(
                job_id, {"state": "running", "noted": False, "after": None, "lease_until": 0}
            )
            self._jobs[job_id].update(fields)

    def noted(self, job_id: str) -> None:
        self._set(job_id, noted=True)

    def posting(self, job_id: str, after: int) -> None:
        self._set(job_id, state="posting", after=after)

    def release(self, job_id: str) -> None:
        self._set(job_id, lease_until=0)

    def done(self, job_id: str) -> None:
        self._set(job_id, state="done")


class MemoryJobQueue:
    """The queue's twin for the offline tier: jobs kept in order, taken by the test."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []
        self.outage: Exception | None = None  # set: every send raises it, as SQS's client would
        self._lock = threading.Lock()

    def send(self, job: dict[str, Any], delay_seconds: int = 0) -> None:
        if self.outage is not None:
            raise self.outage
        if not 0 <= delay_seconds <= 900:  # as SQS refuses it
            raise ValueError("DelaySeconds must be 0 to 900")
        with self._lock:
            self.jobs.append(
                json.loads(json.dumps(dict(stamped(job, time.time()), delay_seconds=delay_seconds)))
            )

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            jobs, self.jobs = self.jobs, []
        return jobs
