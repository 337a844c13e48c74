"""What a file in the user chat may be (docs/files.md, "Limits"): its name, its declared
type and size, and its content, which must be what it claims. Pure: no I/O."""

import re
import unicodedata

from chalicelib.web.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from chalicelib.web.numbers import whole_number

# Images (what a phone's camera and screenshots make) and PDF (scans, forms): each is
# recognised by its content (filetype reads the magic numbers), never by its name.
# Each with the extensions its files may be named with, the first the one a name lacking
# them gets (travelling_name).
EXTENSIONS = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/heic": (".heic", ".heif"),
    "application/pdf": (".pdf",),
}
ALLOWED_TYPES = frozenset(EXTENSIONS)
_PDF_END = b"%%EOF"  # a PDF ends with it; readers look in its last 1,024 bytes
MAX_NAME_CHARACTERS = 200
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{22}\Z")  # secrets.token_urlsafe(16)
_PATH_PARTS = re.compile(r"[/\\]")


def file_name(value: object) -> str:
    """A file name as an agent may see it: text, no path, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("A file name is required.")
    name = unicodedata.normalize("NFC", value.strip())
    if len(name) > MAX_NAME_CHARACTERS:
        raise BadRequest("A file name may have at most %d characters." % MAX_NAME_CHARACTERS)
    if _PATH_PARTS.search(name) or name in (".", ".."):
        raise BadRequest("A file name must not contain a path.")
    categories = {unicodedata.category(character) for character in name}
    if any(category.startswith("C") for category in categories):
        raise BadRequest("A file name must not contain control characters.")
    if categories & {"Zl", "Zp"}:  # U+2028, U+2029: line breaks that are not controls
        raise BadRequest("A file name must not contain line breaks.")
    return name


def travelling_name(name: str, content_type: str) -> str:
    """The name a file travels under (to Zammad, in downloads): its own when it ends in an
    extension of the type its content was checked as, else with that type's extension
    added. A computer opens a file by its name: "Bescheid.html" checked as a PDF travels as
    "Bescheid.html.pdf", so it opens as the PDF it is, never as a page."""
    extensions = EXTENSIONS[content_type]
    return name if name.lower().endswith(extensions) else name + extensions[0]


def declared_type(value: object) -> str:
    if not isinstance(value, str) or value.strip().lower() not in ALLOWED_TYPES:
        raise UnsupportedMediaType("Files may be images (JPEG, PNG, GIF, WebP, HEIC) or PDF.")
    return value.strip().lower()


def declared_size(value: object, max_bytes: int) -> int:
    if isinstance(value, str):  # a form field: ASCII digits only
        value = whole_number(value, 18)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest("size must be the file's size in bytes.")
    if value == 0:
        raise BadRequest("The file is empty.")
    if value > max_bytes:
        raise PayloadTooLarge(too_large(max_bytes))
    return value


def too_large(max_bytes: int) -> str:
    return "A file may be at most %s." % _megabytes(max_bytes)


def upload_ids(value: object, max_files: int) -> list[str]:
    """The uploads a message names: a list, or one comma-separated text (a form field)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest("attachments must be a list of upload ids.")
    if len(value) > max_files:
        raise BadRequest("A message may carry at most %d files." % max_files)
    if len(set(value)) != len(value):
        raise BadRequest("A message names the same file twice.")
    for item in value:
        if not UPLOAD_ID.match(item):
            raise BadRequest("Not an upload id: attachments must name files uploaded to this chat.")
    return value


def content_type_of(data: bytes) -> str | None:
    """The type the content itself shows (None: not one we know)."""
    import filetype  # pure Python; loaded by the first message that carries a file

    kind = filetype.guess(data[:8192])
    return kind.mime if kind is not None else None


def check_content(data: bytes, declared: str, max_bytes: int) -> None:
    if not data:
        raise BadRequest("The file is empty.")
    if len(data) > max_bytes:
        raise PayloadTooLarge(too_large(max_bytes))
    # The start says the type (magic numbers); a PDF must end as one too, so that a page
    # behind a PDF's first bytes is not one.
    ends_wrong = declared == "application/pdf" and _PDF_END not in data[-1024:]
    if content_type_of(data) != declared or ends_wrong:
        raise UnsupportedMediaType("A file's content does not match its type (%s)." % declared)


def _megabytes(size: int) -> str:
    return ("%.1f MB" % (size / 1_000_000)).replace(".0 MB", " MB")
