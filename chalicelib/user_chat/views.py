"""What the app receives (SPEC §4): the wire shape as types, and the one function that makes
it from a chat item. Any change here changes what the Integreat app reads; the OpenAPI
document and the HTTP tests pin it."""

from typing import TYPE_CHECKING, NotRequired, TypedDict, cast

from chalicelib.storage.models import RegionRecord, entries
from chalicelib.user_chat.records import StoredMessage, UserChatRecord

if TYPE_CHECKING:  # the interfaces, for the types only: a cold start needs none
    from chalicelib.user_chat.ports import FilesPort

TYPING_SECONDS = 60  # the app's typing indicator, at most this long per queued chatbot job


class AttachmentView(TypedDict):
    id: int  # Zammad's attachment id
    name: str
    type: str  # its MIME type
    size: int  # bytes
    url: str  # a path on this API: its signed, expiring download link (docs/files.md)


class MessageView(TypedDict):
    id: int  # the Zammad article id
    content: str  # safe HTML
    user_is_author: bool
    automatic_answer: bool
    role: str  # "user" or "agent"
    created_at: str
    attachments: NotRequired[list[AttachmentView]]  # only on a message with files


class ChatView(TypedDict):
    messages: list[MessageView]  # oldest first
    evaluation_consent: bool
    chatbot_typing: bool
    ticket_url: str


def chat_view(
    region: RegionRecord, chat: UserChatRecord, chatbot_typing: bool, files: "FilesPort | None"
) -> ChatView:
    # By article id (webhook deliveries may arrive out of order), each id once (a
    # delivery of the user's own article may race the request that sent it).
    unique = {int(message.id): message for message in reversed(chat.messages or [])}
    messages = [message_view(unique[article_id]) for article_id in sorted(unique)]
    if files is not None and files.enabled:
        device_id = chat.chat_key.partition("#")[2]
        for view in messages:
            stored = unique[view["id"]].attachments
            if stored:
                links = files.views(region, device_id, chat.language, view["id"], stored)
                view["attachments"] = cast(list[AttachmentView], links)
                if view["role"] != "user":  # the person's own already name theirs
                    from chalicelib.user_chat.file_names import with_file_names

                    view["content"] = with_file_names(
                        view["content"], links, chat.language, files.public_base_url
                    )
    return {
        "messages": messages,
        "evaluation_consent": bool(chat.evaluation_consent),
        "chatbot_typing": chatbot_typing,
        "ticket_url": "%s/#ticket/zoom/%d" % (region.zammad_url, int(chat.ticket_id)),
    }


def message_view(message: StoredMessage) -> MessageView:
    return {
        "id": int(message.id),
        "content": message.content,
        "user_is_author": message.role == "user",
        "automatic_answer": bool(message.automatic_answer),
        "role": message.role,
        "created_at": message.created_at,
    }


def chatbot_typing(chat: UserChatRecord, now: float) -> bool:
    """The chatbot is writing: a job it queued for this chat is younger than TYPING_SECONDS."""
    return any(queued_at + TYPING_SECONDS > now for queued_at in entries(chat.bot_jobs).values())


def poll_answer(view: ChatView) -> tuple[bytes, str]:
    """A poll's body as the API encodes it, and its ETag, the body's digest (routes.py
    answers 304 with it; real time's events carry it): one place makes both."""
    from chalicelib.web.http import encode_json, etag

    body = encode_json(view)
    return body, etag(body)
