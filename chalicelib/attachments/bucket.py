"""The S3 bucket of the user chat's files (docs/files.md): uploads go into it straight from
the app (a presigned POST), downloads come straight out of it (a presigned GET); this
function only signs, checks and copies. Any S3 API works (`AWS_ENDPOINT_URL_S3`: moto's
server in `make dev`).

Keys: `uploads/<region>/<device digest>/<ticket id>/<upload id>` for what the app uploaded
to its chat (kept a day: the bucket's lifecycle rule), `files/<region>/<device
digest>/<ticket id>/<article id>/<attachment id>` for copies of Zammad's files; both are
deleted with their chat. The device digest is a hash of region and device id
(attachments/service.py): no device id in any key.

The botocore client is made on first use, as the queue's is: loading S3's service model
costs a cold start tens of milliseconds, and most requests never touch a file.
"""

import threading
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, unquote_plus

from chalicelib.platform.aws import botocore_client
from chalicelib.platform.config import Settings
from chalicelib.web.numbers import whole_number

UPLOADS = "uploads/"
FILES = "files/"
UPLOAD_DAYS = 1  # an upload, used or not, is deleted after a day
# S3 tells the chatbot's queue of every upload, so one that lands after its chat was
# deleted (with a form fetched before) is deleted on arrival (docs/privacy.md).
UPLOAD_EVENTS = ["s3:ObjectCreated:*"]


def expiry_days(retention_days: int) -> dict[str, int]:
    """The bucket's lifecycle, by prefix: uploads go after a day; copies of Zammad's files
    (deleted with their chat by the scheduled job) at the latest a day after the retention,
    and are made again from Zammad when a link of a chat still open is followed."""
    return {UPLOADS: UPLOAD_DAYS, FILES: retention_days + 1}


# The web app (a browser) posts uploads from its own origin; the form is the credential.
CORS_RULES = [
    {
        "AllowedMethods": ["POST", "GET"],
        "AllowedOrigins": ["*"],
        "AllowedHeaders": ["*"],
        "MaxAgeSeconds": 3600,
    }
]


class StoredFile(NamedTuple):
    data: bytes
    content_type: str
    name: str
    uploaded_at: datetime
    declared_size: int | None  # what the upload form pinned (None: not from a form)


class FileBucket:
    def __init__(self, settings: Settings):
        self._settings = settings
        self.name = settings.attachment_bucket
        self._client: Any = None
        self._lock = threading.Lock()

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                endpoint = self._settings.s3_endpoint
                self._client = botocore_client(
                    "s3",
                    self._settings,
                    endpoint,
                    "s3",
                    signature_version="s3v4",
                    connect_timeout=1,
                    read_timeout=10,
                    retries={"max_attempts": 3, "mode": "standard"},
                    # An endpoint of our own (moto, MinIO) has no bucket subdomains.
                    s3={"addressing_style": "path" if endpoint else "auto"},
                )
            return self._client

    def create(self, notify_queue_arn: str | None = None) -> str:
        """Create the bucket with its lifecycle where the endpoint allows it (a local one;
        in AWS the template makes it), telling the queue of uploads if one is given.
        Idempotent; returns a line for the report."""
        client = self._s3()
        try:
            client.create_bucket(
                Bucket=self.name, CreateBucketConfiguration={"LocationConstraint": self._settings.aws_region}
            )
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        rules = [
            {
                "ID": prefix.strip("/"),
                "Filter": {"Prefix": prefix},
                "Status": "Enabled",
                "Expiration": {"Days": days},
            }
            for prefix, days in expiry_days(self._settings.ticket_retention_days).items()
        ]
        client.put_bucket_lifecycle_configuration(Bucket=self.name, LifecycleConfiguration={"Rules": rules})
        client.put_bucket_cors(Bucket=self.name, CORSConfiguration={"CORSRules": CORS_RULES})
        if notify_queue_arn is None:
            return "bucket %s: ready (uploads kept 1 day)" % self.name
        try:
            client.put_bucket_notification_configuration(
                Bucket=self.name,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "Id": "uploads",
                            "QueueArn": notify_queue_arn,
                            "Events": UPLOAD_EVENTS,
                            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOADS}]}},
                        }
                    ]
                },
            )
        except client.exceptions.ClientError as error:  # an S3 that cannot send to SQS (MinIO)
            return "bucket %s: ready (uploads kept 1 day; NOT told to the queue: %s)" % (
                self.name,
                error.response.get("Error", {}).get("Code", "error"),
            )
        return "bucket %s: ready (uploads kept 1 day, each told to the queue)" % self.name

    def upload_form(self, key: str, content_type: str, name: str, size: int, seconds: int) -> dict[str, Any]:
        """A presigned POST for exactly this key, type, name and size."""
        fields = {
            "Content-Type": content_type,
            "x-amz-meta-name": quote(name, safe=""),
            "x-amz-meta-size": str(size),
        }
        conditions: list[Any] = [{name_: value} for name_, value in fields.items()]
        conditions.append(["content-length-range", size, size])
        return self._s3().generate_presigned_post(
            Bucket=self.name, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=seconds
        )

    def read(self, key: str, max_bytes: int) -> StoredFile | None:
        """The file (None: not there). Reads at most `max_bytes` + 1 bytes."""
        client = self._s3()
        try:
            answer = client.get_object(Bucket=self.name, Key=key)
        except client.exceptions.NoSuchKey:
            return None
        with answer["Body"] as body:
            data = body.read(max_bytes + 1)
        metadata = answer.get("Metadata") or {}
        return StoredFile(
            data,
            answer.get("ContentType") or "",
            unquote(metadata.get("name", "")),
            answer["LastModified"],
            whole_number(metadata.get("size"), 18),
        )

    def exists(self, key: str) -> bool:
        client = self._s3()
        try:
            client.head_object(Bucket=self.name, Key=key)
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def put(self, key: str, data: bytes, content_type: str, name: str) -> None:
        self._s3().put_object(
            Bucket=self.name,
            Key=key,
            Body=data,
            ContentType=content_type,
            Metadata={"name": quote(name, safe="")},
        )

    def delete(self, key: str) -> None:
        self._s3().delete_object(Bucket=self.name, Key=key)

    def download_url(self, key: str, name: str, content_type: str, seconds: int) -> str:
        """A presigned GET that saves the file under its name."""
        return self._s3().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.name,
                "Key": key,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": "attachment; filename*=UTF-8''%s" % quote(name, safe=""),
            },
            ExpiresIn=seconds,
        )

    def describe_under(self, prefix: str) -> list[dict[str, Any]]:
        """Every object under the prefix: key, size, type and name (for `manage export`)."""
        client = self._s3()
        found = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            for item in page.get("Contents", []):
                head = client.head_object(Bucket=self.name, Key=item["Key"])
                found.append(
                    {
                        "key": item["Key"],
                        "size": item["Size"],
                        "type": head.get("ContentType", ""),
                        "name": unquote((head.get("Metadata") or {}).get("name", "")),
                        "stored_at": head["LastModified"].isoformat(),
                    }
                )
        return found

    def delete_under(self, prefix: str) -> int:
        """Delete every object under the prefix; how many there were."""
        client = self._s3()
        deleted = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=self.name, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted


def uploaded_keys(event: Any) -> list[str] | None:
    """The keys of the uploads an S3 event notification (as the queue delivers it) tells
    of; None when the message is no S3 event. S3's test message tells of none."""
    if not isinstance(event, dict):
        return None
    if event.get("Event") == "s3:TestEvent" and event.get("Service") == "Amazon S3":
        return []
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        return None
    keys = []
    for record in records:
        if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
            return None
        s3 = record.get("s3")
        stored = s3.get("object") if isinstance(s3, dict) else None
        key = stored.get("key") if isinstance(stored, dict) else None
        if str(record.get("eventName", "")).startswith("ObjectCreated:") and isinstance(key, str):
            keys.append(unquote_plus(key))  # S3 sends keys form-encoded
    return [key for key in keys if key.startswith(UPLOADS)]
