"""What a push says: that an answer came, in the chat's language, never the answer itself
(a lock screen is public). English unless the language (or its base: "zh-CN" -> "zh") is here."""

# language -> (title, body)
PUSH_TEXTS = {
    "en": ("New answer", "Your chat has a new answer. Open the chat to read it."),
    "de": ("Neue Antwort", "In Ihrem Chat gibt es eine neue Antwort. Öffnen Sie den Chat, um sie zu lesen."),
    "ar": ("رد جديد", "هناك رد جديد في محادثتك. افتح المحادثة لقراءته."),
    "fa": ("پاسخ جدید", "در گفتگوی شما پاسخ جدیدی هست. گفتگو را باز کنید تا آن را بخوانید."),
    "fr": ("Nouvelle réponse", "Votre chat a une nouvelle réponse. Ouvrez le chat pour la lire."),
    "es": ("Nueva respuesta", "Tu chat tiene una nueva respuesta. Abre el chat para leerla."),
    "ru": ("Новый ответ", "В вашем чате новый ответ. Откройте чат, чтобы прочитать его."),
    "tr": ("Yeni yanıt", "Sohbetinizde yeni bir yanıt var. Okumak için sohbeti açın."),
    "uk": ("Нова відповідь", "У вашому чаті нова відповідь. Відкрийте чат, щоб прочитати її."),
}


def push_text(language: str) -> tuple[str, str]:
    return PUSH_TEXTS.get(language) or PUSH_TEXTS.get(language.split("-")[0]) or PUSH_TEXTS["en"]


def push_data(region: str, language: str) -> dict[str, str]:
    """The push's `data`, strings only (FCM's rule), as the app's news pushes carry them."""
    return {"type": "chat", "city_code": region, "language_code": language}
