"""Zammad articles as the app's messages (SPEC §4): mapped, type-checked and sanitised.

Everything the app shows comes through `article_message`, whether it came from Zammad's API
or from its webhook, so nothing reaches the app's HTML view that the allowlist
(platform/safe_html.py) does not keep.
"""

from typing import Any

from chalicelib.platform import tracing
from chalicelib.web.http import replace_lone_surrogates
from chalicelib.web.numbers import whole_number

USER_ARTICLE_SUBJECT = "app user message"
AUTOMATIC_ANSWER_SUBJECT = "automatically generated message"


class MalformedArticle(ValueError):
    """An article that is not what Zammad sends (wrong types, no id)."""


def new_article(
    body_html: str, sender: str, subject: str, internal: bool = False, kind: str = "note"
) -> dict[str, Any]:
    """An article as we write it to Zammad (always HTML): the app user's ("Customer",
    type "web"), or the chatbot's ("Agent", subject AUTOMATIC_ANSWER_SUBJECT). Its
    `message_id` carries the trace (platform/tracing.py) back to us in the webhook."""
    article = {
        "body": body_html,
        "content_type": "text/html",
        "type": kind,
        "internal": internal,
        "sender": sender,
        "subject": subject,
    }
    message_id = tracing.article_message_id()
    if message_id:
        article["message_id"] = message_id
    return article


def _text(article: dict[str, Any], field: str) -> str:
    value = article.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedArticle("%s must be text" % field)
    return value


def article_files(article: dict[str, Any]) -> list[dict[str, Any]]:
    """The files of an article as Zammad lists them (its `size` is text), leaving out the
    inline images of an HTML mail: those belong to the body, which shows no images."""
    files = article.get("attachments") or []
    if not isinstance(files, list):
        raise MalformedArticle("attachments must be a list")
    found = []
    for file in files:
        if not isinstance(file, dict):
            raise MalformedArticle("an attachment must be an object")
        preferences = file.get("preferences")
        preferences = preferences if isinstance(preferences, dict) else {}
        if str(preferences.get("Content-Disposition", "")).lower() == "inline":
            continue
        file_id, size = file.get("id"), whole_number(str(file.get("size", "0")), 18)
        if not isinstance(file_id, int) or isinstance(file_id, bool) or size is None:
            raise MalformedArticle("an attachment needs an id and a size")
        content_type = preferences.get("Content-Type") or preferences.get("Mime-Type") or ""
        found.append(
            {
                "id": file_id,
                "name": replace_lone_surrogates(_text(file, "filename")),
                "type": replace_lone_surrogates(str(content_type).split(";")[0].strip().lower()),
                "size": size,
            }
        )
    return found


def article_message(article: Any) -> dict[str, Any] | None:
    """A Zammad article as the app's message, or None for an internal one.
    `MalformedArticle` for anything that is not shaped like Zammad's article."""
    from chalicelib.platform.safe_html import escape_user_text, sanitize_html  # as nh3: on first use

    if not isinstance(article, dict):
        raise MalformedArticle("an article must be an object")
    article_id = article.get("id")
    if not isinstance(article_id, int) or isinstance(article_id, bool) or article_id < 0:
        raise MalformedArticle("id must be a number")
    if article.get("internal"):
        return None
    body = _text(article, "body")
    is_html = _text(article, "content_type").lower().startswith("text/html")
    sender = article.get("sender")
    if isinstance(sender, dict):  # some webhook payload templates expand the sender object
        sender = sender.get("name")
    message = {
        "id": article_id,
        "content": sanitize_html(body if is_html else escape_user_text(replace_lone_surrogates(body))),
        "role": "user" if sender == "Customer" else "agent",
        "automatic_answer": _text(article, "subject") == AUTOMATIC_ANSWER_SUBJECT,
        "created_at": replace_lone_surrogates(_text(article, "created_at")),
    }
    files = article_files(article)
    if files:  # absent otherwise: a chat without files is stored and answered as before
        message["attachments"] = files
    return message
