"""What today's Integreat app shows of an agent's files (issue 42): it reads a message's
`content` only, never `attachments`. So an agent's (or the chatbot's) message with files
names them in its content, one line each in the chat's language, as a link the app can open
where the deployment knows its public address. A link in `content` must be absolute: the
web app resolves a relative one against its own origin, not this API's. `attachments` stays
as it is, for a client that reads it (docs/files.md)."""

import html
import re

# "File: Formular.pdf"; English unless the chat's language (or its base: "zh-CN" -> "zh") is here.
FILE_LABELS = {
    "en": "File",
    "de": "Datei",
    "ar": "ملف",
    "fa": "فایل",
    "fr": "Fichier",
    "es": "Archivo",
    "ru": "Файл",
    "tr": "Dosya",
    "uk": "Файл",
}
_TAG = re.compile(r"<[^>]*>")


def shows_nothing(content: str) -> bool:
    """Safe HTML (sanitised) that a person sees as empty: "", "<p> </p>", "<p>&nbsp;</p>"."""
    return not html.unescape(_TAG.sub("", content)).strip()


def with_file_names(content: str, files: list, language: str, public_base_url: str | None) -> str:
    """The content with a line per file (`files`: views.AttachmentView); content that shows
    nothing gives way to the lines."""
    label = FILE_LABELS.get(language) or FILE_LABELS.get(language.split("-")[0]) or FILE_LABELS["en"]
    lines = []
    for file in files:
        name = html.escape(file["name"])
        if public_base_url:
            name = '<a href="%s">%s</a>' % (html.escape(public_base_url + file["url"], quote=True), name)
        lines.append("<p>%s: %s</p>" % (html.escape(label), name))
    from chalicelib.platform.safe_html import sanitize_html  # files' messages only: not at a cold start

    return sanitize_html(("" if shows_nothing(content) else content) + "".join(lines))
