"""Files in the user chat (docs/files.md): upload forms, the files a message carries, the
links the app shows, and the copy behind each link.

- **Up**: the app asks for an upload form (a presigned POST for one key, type, name and
  size limit) and sends the file to S3 itself; the function never holds it. The message
  that names the upload reads it once, checks its content, and hands it to Zammad inside
  the article (one call, as without files).
- **Down**: a message's files are listed from Zammad's article (webhook or API), each with
  a signed, expiring link of that device's chat (links.py). Following it, the first time,
  copies the file from Zammad into the bucket; every time, it answers with a redirect to a
  presigned GET, so S3 serves the bytes, not the function (API Gateway and Lambda cap a
  response at 6-10 MB; S3 does not).
"""

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import Any, NamedTuple

from chalicelib.attachments import rules
from chalicelib.attachments.bucket import FILES, UPLOADS, FileBucket
from chalicelib.attachments.links import FileRef, link_path, valid
from chalicelib.platform.config import Settings
from chalicelib.platform.times import iso_utc, utc_datetime
from chalicelib.storage.models import RegionRecord, attachment_fields
from chalicelib.web.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from chalicelib.web.numbers import whole_number

UPLOAD_KEPT_SECONDS = 86400  # the bucket's lifecycle rule deletes uploads after a day
DOWNLOAD_SECONDS = 300  # the presigned GET a link redirects to
AGENT_FILE_MAX_BYTES = 50_000_000  # what we copy of an agent's file (Zammad allows more)


def device_digest(region: str, device_id: str) -> str:
    """The device's part of a key: its chat, without its id (keys show in S3's logs)."""
    return hashlib.sha256(("%s#%s" % (region, device_id)).encode("utf-8")).hexdigest()[:32]


class UploadOwner(NamedTuple):
    """The chat an upload's key names: its region, device digest and ticket."""

    region: str
    device_digest: str
    ticket_id: int

    def is_chat(self, chat_key: str, ticket_id: int) -> bool:
        region, _, device_id = chat_key.partition("#")
        return (region, device_digest(region, device_id), ticket_id) == tuple(self)


class Attachments:
    def __init__(self, settings: Settings, clock: Callable[[], float], bucket: FileBucket | None):
        self._settings = settings
        self._clock = clock
        self.bucket = bucket

    @property
    def enabled(self) -> bool:
        return self.bucket is not None

    @property
    def public_base_url(self) -> str | None:
        return self._settings.public_base_url

    def require_enabled(self) -> None:
        self._bucket()

    def _bucket(self) -> FileBucket:
        if self.bucket is None:
            raise ServiceUnavailable("Files are not enabled for this chat.")
        return self.bucket

    # --- up ---------------------------------------------------------------------------
    def upload_form(
        self, region: RegionRecord, device_id: str, ticket_id: int, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """A form for one file into the device's open chat, whose ticket is `ticket_id`:
        an upload belongs to that chat and goes with it."""
        bucket, settings = self._bucket(), self._settings
        content_type = rules.declared_type(fields.get("content_type"))
        name = rules.travelling_name(rules.file_name(fields.get("filename")), content_type)
        size = rules.declared_size(fields.get("size"), settings.attachment_max_bytes)
        upload_id = secrets.token_urlsafe(16)
        key = self._upload_key(region.slug, device_id, ticket_id, upload_id)
        seconds = settings.attachment_upload_seconds
        form = bucket.upload_form(key, content_type, name, size, seconds)
        return {
            "id": upload_id,
            "upload": {"url": form["url"], "fields": form["fields"]},
            "filename": name,
            "content_type": content_type,
            "size": size,
            "max_size": settings.attachment_max_bytes,
            "expires_at": iso_utc(utc_datetime(self._clock() + seconds)),
        }

    def message_files(
        self, region: RegionRecord, device_id: str, ticket_id: int, ids: list[str]
    ) -> list[dict[str, Any]]:
        """The uploads a message to that chat names, checked, as Zammad's article takes them."""
        if not ids:
            return []
        bucket, max_bytes = self._bucket(), self._settings.attachment_max_bytes
        files = []
        for upload_id in ids:
            stored = bucket.read(self._upload_key(region.slug, device_id, ticket_id, upload_id), max_bytes)
            if stored is None or stored.uploaded_at.timestamp() < self._clock() - UPLOAD_KEPT_SECONDS:
                raise BadRequest("A file this message names was not uploaded to this chat, or has expired.")
            declared = rules.declared_type(stored.content_type)
            rules.check_content(stored.data, declared, max_bytes)
            # S3 holds an upload to its form's size; moto, and any S3 that does not, may not.
            if stored.declared_size is not None and len(stored.data) != stored.declared_size:
                raise BadRequest("A file's size is not the size its upload form was made for.")
            files.append(
                {
                    "filename": rules.travelling_name(rules.file_name(stored.name), declared),
                    "data": base64.b64encode(stored.data).decode("ascii"),
                    "mime-type": declared,
                }
            )
        return files

    def _upload_key(self, region: str, device_id: str, ticket_id: int, upload_id: str) -> str:
        return "%s%s/%s/%d/%s" % (UPLOADS, region, device_digest(region, device_id), ticket_id, upload_id)

    @staticmethod
    def upload_owner(key: str) -> "UploadOwner | None":
        """Whose chat an upload's key says it belongs to (None: no key of ours)."""
        parts = key[len(UPLOADS) :].split("/") if key.startswith(UPLOADS) else []
        if len(parts) != 4 or not all(parts):
            return None
        ticket_id = whole_number(parts[2], 18)
        return None if ticket_id is None else UploadOwner(parts[0], parts[1], ticket_id)

    def forget_upload(self, key: str) -> None:
        self._bucket().delete(key)

    # --- down -------------------------------------------------------------------------
    def views(
        self, region: RegionRecord, device_id: str, language: str, article_id: int, files: list[Any]
    ) -> list[dict[str, Any]]:
        """A message's files as the app lists them, each with its link (the user chat's
        `AttachmentView`, whose wire shape lives in user_chat/views.py)."""
        now, seconds = self._clock(), self._settings.attachment_link_seconds
        views: list[dict[str, Any]] = []
        for file in files:
            file = attachment_fields(file)
            ref = FileRef(region.slug, device_id, article_id, int(file["id"]))
            views.append(
                {
                    "id": int(file["id"]),
                    "name": file["name"],
                    "type": file["type"],
                    "size": int(file["size"]),
                    "url": link_path(language, ref, region.zammad_access_token, now, seconds),
                }
            )
        return views

    def check_link(self, region: RegionRecord, ref: FileRef, expires: int, signature: str) -> None:
        token = region.zammad_access_token  # no token, no links (none was ever made)
        if not token or not valid(token, ref, expires, signature, self._clock()):
            raise Forbidden("This link is not valid, or it has expired.")

    def download_url(
        self,
        ref: FileRef,
        ticket_id: int,
        file: dict[str, Any],
        fetch: Callable[[int], bytes],
        still_open: Callable[[], bool],
    ) -> str:
        """A presigned GET of our copy of the file, made now from Zammad if there is none.
        `still_open()`: whether the chat is still there (read after the copy is written)."""
        bucket = self._bucket()
        key = "%s%s/%s/%d/%d/%d" % (
            FILES,
            ref.region,
            device_digest(ref.region, ref.device_id),
            ticket_id,
            ref.article_id,
            ref.attachment_id,
        )
        # A type outside the allowed ones (an agent's HTML page, an SVG) is served as bytes
        # to save, which no browser renders; the link saves every file in any case.
        content_type = file["type"] if file["type"] in rules.ALLOWED_TYPES else "application/octet-stream"
        if not bucket.exists(key):
            bucket.put(key, fetch(AGENT_FILE_MAX_BYTES), content_type, file["name"])
            # A deletion of the chat that listed the bucket before this copy existed did not
            # see it: a chat gone now takes its copy with it (docs/privacy.md).
            if not still_open():
                bucket.delete(key)
                raise NotFound("Chat not found.")
        return bucket.download_url(key, file["name"], content_type, DOWNLOAD_SECONDS)

    def describe(self, chat_key: str) -> list[dict[str, Any]]:
        """The files stored for a device's chat in a region (uploads and copies)."""
        if self.bucket is None:
            return []
        region, _, device_id = chat_key.partition("#")
        digest = device_digest(region, device_id)
        return [
            file
            for prefix in (UPLOADS, FILES)
            for file in self.bucket.describe_under("%s%s/%s/" % (prefix, region, digest))
        ]

    # --- retention --------------------------------------------------------------------
    def forget(self, chat_key: str) -> int:
        """Delete every file of a device's chat in a region (its chat is gone)."""
        if self.bucket is None:
            return 0
        region, _, device_id = chat_key.partition("#")
        digest = device_digest(region, device_id)
        return sum(
            self.bucket.delete_under("%s%s/%s/" % (prefix, region, digest)) for prefix in (UPLOADS, FILES)
        )
