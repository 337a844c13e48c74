"""The chatbot jobs' ledger (table `chatbot-jobs`): SQS delivers a job at least once, and
two copies may run at once; the ledger lets one run, and lets a copy delivered after a
crash finish what the first began instead of doing it again.

A job is taken under a lease ("running"); it records that its translation note is written
(`noted`), and before writing its visible article the highest article id it knew
(`posting`, `after`): if that write went unanswered, the next copy looks for the article
above that id before writing it again. "done" is final.
"""

from datetime import datetime
from typing import NamedTuple, Protocol

from pynamodb.attributes import BooleanAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from chalicelib.storage.connection import table
from chalicelib.storage.models import OnDemand


@table
class ChatbotJobRecord(Model):
    """A chatbot job's progress: SQS delivers at least once, this makes it happen once.
    "running" under a lease; "posting" while its article is being written (`after`: the
    highest article id known before, to look for it if the write went unanswered); "done"."""

    base_table_name = "chatbot-jobs"

    class Meta(OnDemand):
        table_name = "chatbot-jobs"

    job_id = UnicodeAttribute(hash_key=True)
    state = UnicodeAttribute()
    lease_until = NumberAttribute(default=0)
    noted = BooleanAttribute(default=False)
    after = NumberAttribute(null=True)
    expires_at = TTLAttribute()


class JobProgress(NamedTuple):
    noted: bool  # the translation note is in the ticket
    after: int | None  # not None: the article may have been written (look above this id)


class JobLedger(Protocol):
    def begin(self, job_id: str, now: float, lease_until: float, expires_at: datetime) -> JobProgress | None:
        """Take the job; None when it is done, or another holds its lease."""

    def noted(self, job_id: str) -> None: ...

    def posting(self, job_id: str, after: int) -> None: ...

    def release(self, job_id: str) -> None:
        """Give the lease up (a failure): the next delivery may take the job at once."""

    def done(self, job_id: str) -> None: ...


class DynamoJobLedger:
    def begin(self, job_id: str, now: float, lease_until: float, expires_at: datetime) -> JobProgress | None:
        record = ChatbotJobRecord(job_id)
        try:
            record.update(
                actions=[
                    ChatbotJobRecord.state.set(ChatbotJobRecord.state | "running"),
                    ChatbotJobRecord.lease_until.set(lease_until),
                    ChatbotJobRecord.expires_at.set(expires_at),
                ],
                condition=ChatbotJobRecord.job_id.does_not_exist()
                | ((ChatbotJobRecord.state != "done") & (ChatbotJobRecord.lease_until < now)),
            )
        except UpdateError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        after = int(record.after) if record.state == "posting" and record.after is not None else None
        return JobProgress(bool(record.noted), after)

    def noted(self, job_id: str) -> None:
        ChatbotJobRecord(job_id).update(actions=[ChatbotJobRecord.noted.set(True)])

    def posting(self, job_id: str, after: int) -> None:
        ChatbotJobRecord(job_id).update(
            actions=[ChatbotJobRecord.state.set("posting"), ChatbotJobRecord.after.set(after)]
        )

    def release(self, job_id: str) -> None:
        ChatbotJobRecord(job_id).update(actions=[ChatbotJobRecord.lease_until.set(0)])

    def done(self, job_id: str) -> None:
        ChatbotJobRecord(job_id).update(actions=[ChatbotJobRecord.state.set("done")])
