"""What the chatbot writes itself, and how its text is measured."""

import html
import re

from chalicelib.platform.safe_html import sanitize_html

# Shown when no answer could be made: never silence. English unless the chat's language
# (or its base: "zh-CN" -> "zh") is here.
FALLBACK_MESSAGES = {
    "en": "Sorry, an error occurred. We were not able to provide an answer. Please try again later.",
    "de": "Entschuldigung, es ist ein Fehler aufgetreten. Wir konnten keine Antwort geben. "
    "Bitte versuchen Sie es später erneut.",
    "ar": "عذرًا، حدث خطأ. لم نتمكن من تقديم إجابة. يرجى المحاولة مرة أخرى لاحقًا.",
    "fa": "متأسفیم، خطایی رخ داد. نتوانستیم پاسخی ارائه دهیم. لطفاً بعداً دوباره تلاش کنید.",
    "fr": "Désolé, une erreur s'est produite. Nous n'avons pas pu fournir de réponse. "
    "Veuillez réessayer plus tard.",
    "es": "Lo sentimos, se ha producido un error. No hemos podido ofrecer una respuesta. "
    "Por favor, inténtelo de nuevo más tarde.",
    "ru": "Извините, произошла ошибка. Мы не смогли дать ответ. Пожалуйста, попробуйте позже.",
    "tr": "Üzgünüz, bir hata oluştu. Bir yanıt veremedik. Lütfen daha sonra tekrar deneyin.",
    "uk": "Вибачте, сталася помилка. Ми не змогли надати відповідь. Будь ласка, спробуйте пізніше.",
}

_LINE_BREAK = re.compile(r"<br\s*/?>|</p>|</li>|</div>", re.IGNORECASE)


def fallback_message(language: str) -> str:
    text = FALLBACK_MESSAGES.get(language) or FALLBACK_MESSAGES.get(language.split("-")[0])
    return "<p>%s</p>" % html.escape(text or FALLBACK_MESSAGES["en"])


def plain_text(body_html: str) -> str:
    """The text of a message as a person reads it (for the service, and for counting)."""
    import nh3

    text = nh3.clean(_LINE_BREAK.sub("\n", body_html), tags=set())
    return html.unescape(text).strip()


def word_count(body_html: str) -> int:
    return len(plain_text(body_html).split())


def note_body(title: str, body_html: str) -> str:
    """An internal note for the agents: a bold title over the body, as safe HTML."""
    return sanitize_html("<p><b>%s</b></p>%s" % (html.escape(title), body_html))


def link_list(urls: list[str]) -> str:
    return "<ul>%s</ul>" % "".join(
        '<li><a href="%s">%s</a></li>' % (html.escape(url), html.escape(url)) for url in urls
    )
