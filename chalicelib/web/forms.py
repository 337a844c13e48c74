"""Form fields of a request body: multipart/form-data (what the Integreat app sends),
application/x-www-form-urlencoded, or a JSON object."""

from io import BytesIO
from urllib.parse import parse_qs

from chalicelib.web.errors import BadRequest, UnsupportedMediaType
from chalicelib.web.http import Request, check_text_values

_MAX_PARTS = 20
# What browsers and the app send; any other codec (rot13, unicode_escape, ...) is refused.
_CHARSETS = frozenset({"utf8", "utf-8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1"})


def form_fields(request: Request) -> dict[str, object]:
    """The body's fields by name (the first value of each); 400 for a malformed body or
    text that is not valid Unicode, whichever encoding brought it."""
    content_type = request.content_type
    if content_type == "multipart/form-data":
        return check_text_values(_multipart(request))
    if content_type == "application/x-www-form-urlencoded":
        try:
            text = request.body.decode("utf-8")
            parsed = parse_qs(
                text,
                keep_blank_values=True,
                strict_parsing=bool(text),
                errors="strict",
                max_num_fields=_MAX_PARTS,
            )
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("Malformed form body.") from None
        return {name: values[0] for name, values in parsed.items()}
    if content_type in ("application/json", ""):
        return request.json_object()
    raise UnsupportedMediaType("Send multipart/form-data, a urlencoded form or JSON.")


def _multipart(request: Request) -> dict[str, object]:
    import multipart  # only multipart requests pay for the import

    _, options = multipart.parse_options_header(request.header("content-type") or "")
    boundary = options.get("boundary")
    if not boundary:
        raise BadRequest("Malformed multipart body: no boundary.")
    fields: dict[str, object] = {}
    try:
        parser = multipart.MultipartParser(
            BytesIO(request.body),
            boundary,
            content_length=len(request.body),
            strict=True,
            part_limit=_MAX_PARTS,
            memory_limit=len(request.body) + 1,
            disk_limit=0,
        )
        for part in parser:
            if (part.charset or "utf8").lower() not in _CHARSETS:
                raise BadRequest("Unsupported charset in a multipart body.")
            if part.filename is None and part.name not in fields:
                fields[part.name] = part.value
    except (multipart.MultipartError, UnicodeDecodeError):
        raise BadRequest("Malformed multipart body.") from None
    return fields
