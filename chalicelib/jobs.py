"""Scheduled work, as plain functions of the services: Chalice schedules them in AWS
(app.py), `python -m functions.jobs` runs them anywhere else. Each reports what it did and
is safe to run twice or at the same time as itself (deletes are idempotent or conditional).

DynamoDB's TTL deletes expired items in AWS and in DynamoDB Local, but late (days), and moto
(`make dev`) never does; reads check expiry themselves. These jobs delete the two kinds of
data the spec names, by key-range queries: author messages past the window, and user chats
past their retention. The small bookkeeping tables (rate-limit counters, webhook delivery
ids, is_chat_enabled draws) are left to TTL alone.
"""

import json
import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from chalicelib.platform import telemetry, tracing
from chalicelib.schedules import EVERY_MINUTES
from chalicelib.services import Services

log = logging.getLogger("integreat_chat")


def purge_author_messages(services: Services) -> dict[str, Any]:
    return {"job": "purge-author-messages", "deleted": services.author_chat.purge_expired()}


def forget_expired_chats(services: Services, dry_run: bool = False) -> dict[str, Any]:
    """The retention (docs/privacy.md): chats past it are forgotten with their files, their
    tickets closed in Zammad; tickets closed long enough are deleted (or tagged) there."""
    report = services.user_chats.forget_expired(services.regions.list(), dry_run=dry_run)
    return {"job": "forget-expired-chats", **report}


def sync_cms_regions(services: Services) -> dict[str, Any]:
    """Follow the CMS's list of regions (CMS_URL); a CMS that cannot be read changes nothing."""
    from chalicelib.regions.cms import CmsUnavailable, fetch_cms_regions, sync_regions

    report: dict[str, Any] = {"job": "sync-cms-regions"}
    if not services.settings.cms_url:
        return dict(report, skipped="CMS_URL is not set")
    try:
        regions, skipped = fetch_cms_regions(services.settings.cms_url)
    except CmsUnavailable as error:
        log.error(json.dumps(dict(report, failed=str(error))))
        return dict(report, failed=str(error))
    report.update(sync_regions(services.regions.table, regions, services.clock), unusable_entries=skipped)
    return report


def zammad_doctor(services: Services) -> dict[str, Any]:
    """`manage doctor`'s checks for every region with a Zammad, with each region's own token:
    what that token may not read (the admin objects, unless it is an admin's) is left to
    `manage doctor` with an admin token. One error line per failing region, naming its checks
    (a region's slug and Zammad's words; no token, nothing of a person)."""
    from chalicelib.zammad_setup.doctor import Doctor

    regions = [region for region in services.regions.list() if region.zammad_url]
    # Within the function's 300 s (.chalice/config.json), whatever the Zammads do.
    doctor = Doctor.for_settings(
        services.settings, services.clock, forbidden_fails=False, deadline_seconds=240
    )
    failing = 0
    for checks in doctor.run(regions):
        failed = {check.name: check.detail for check in checks if not check.ok}
        if failed:
            failing += 1
            log.error(json.dumps({"job": "zammad-doctor", "region": checks[0].region, "failed": failed}))
    return {"job": "zammad-doctor", "regions": len(regions), "failing": failing}


class Job(NamedTuple):
    run: Callable[[Services], dict[str, Any]]
    every_minutes: int  # how often AWS runs it (app.py); elsewhere, cron's business


_RUNS: dict[str, Callable[[Services], dict[str, Any]]] = {
    "purge-author-messages": purge_author_messages,
    "forget-expired-chats": forget_expired_chats,
    "sync-cms-regions": sync_cms_regions,
    "zammad-doctor": zammad_doctor,
}
JOBS: dict[str, Job] = {name: Job(run, EVERY_MINUTES[name]) for name, run in _RUNS.items()}
assert set(JOBS) == set(EVERY_MINUTES), "a job without a schedule, or a schedule without a job"


def run_job(services: Services, name: str) -> dict[str, Any]:
    """A scheduled job by name, measured (`JobRuns` by outcome; its own figures); raises
    what the job raised, after counting it as failed."""
    with telemetry.measuring(services.metrics):
        try:
            report = JOBS[name].run(services)
        except Exception:
            telemetry.count("JobRuns", Job=name, Outcome="failed")
            raise
        telemetry.count("JobRuns", Job=name, Outcome="failed" if report.get("failed") else "ok")
        return report


def run_chatbot_job(services: Services, body: str) -> dict[str, Any]:
    """One queue message, as SQS delivers it to Lambda (app.py) or to `functions.worker`.
    Returns the report (also logged); raises when the message should come again. Measured
    (`ChatbotJobs` by outcome, `ChatbotJobAge`) and traced with the message's trace id."""
    job: Any = None
    try:
        job = json.loads(body)
    except ValueError:
        pass
    trace_id = job.get("trace_id") if isinstance(job, dict) else None
    with telemetry.measuring(services.metrics), tracing.traced(trace_id):
        queued_at = job.get("queued_at") if isinstance(job, dict) else None
        if isinstance(queued_at, (int, float)) and not isinstance(queued_at, bool):
            telemetry.observe("ChatbotJobAge", max(0.0, time.time() - queued_at))  # as the queue stamps it
        try:
            report = _chatbot_job(services, job)
        except Exception:
            telemetry.count("ChatbotJobs", Outcome="failed")
            raise
        if report["job"] == "chatbot":
            telemetry.count("ChatbotJobs", Outcome=_job_outcome(report))
        return report


def _job_outcome(report: dict[str, Any]) -> str:
    """The metric's few outcomes, from the chatbot's words for what happened (service.py)."""
    if "dropped" in report:
        return "dropped"
    said = report["outcome"]
    if "handed over" in said:
        return "handed_over"
    if "answered" in said:
        return "answered"
    if "failed" in said or "empty translation" in said:
        return "failed"
    return "translated" if "translat" in said else "skipped"


def _chatbot_job(services: Services, job: Any) -> dict[str, Any]:
    # app.py imports this module at a cold start, and most invocations are requests: what
    # only a job needs is loaded by the first job.
    from chalicelib.attachments.bucket import uploaded_keys
    from chalicelib.chatbot.service import BadJob

    try:
        if job is None:
            raise ValueError("not JSON")
        uploads = uploaded_keys(job)
        if uploads is not None:  # S3 tells of uploads on the same queue (docs/files.md)
            return _uploads_arrived(services, uploads)
        if isinstance(job, dict) and job.get("kind") == "push":  # docs/push.md
            return _push(services, job)
        outcome = services.chatbot.run(job)
    except (ValueError, BadJob) as error:  # not ours, or not readable: retrying will not help
        report = {"job": "chatbot", "dropped": str(error)[:200]}
        log.warning(json.dumps(report))
        return report
    except Exception as error:
        log.error(json.dumps({"job": "chatbot", "id": job.get("id"), "failed": type(error).__name__}))
        raise
    report = {"job": "chatbot", "id": job["id"], "kind": job["kind"], "outcome": outcome}
    log.info(json.dumps(report))
    return report


def _push(services: Services, job: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.push.service import checked_job

    report = {"job": "push", "outcome": services.pushes.run(checked_job(job))}
    log.info(json.dumps(report))  # no target, no text: what happened only
    return report


def _uploads_arrived(services: Services, keys: list[str]) -> dict[str, Any]:
    report = {"job": "uploads", **services.user_chats.uploads_arrived(keys)}
    log.info(json.dumps(report))  # counts only: a key names a region and a ticket
    return report
