"""What the app receives (SPEC §4), as types: the wire shape in one place. Any change here
changes what the Integreat app reads; the OpenAPI document and the HTTP tests pin it."""

from typing import TypedDict


class MessageView(TypedDict):
    id: int  # the Zammad article id
    content: str  # safe HTML
    user_is_author: bool
    automatic_answer: bool
    role: str  # "user" or "agent"
    created_at: str


class ChatView(TypedDict):
    messages: list[MessageView]  # oldest first
    evaluation_consent: bool
    chatbot_typing: bool
    ticket_url: str
