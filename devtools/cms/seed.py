# Run inside the real Integreat CMS (`integreat-cms-cli shell < seed.py`): the regions,
# languages and authors of the recording (devtools/cms/record.py), made with the CMS's own
# models. ZAMMAD_URL and ZAMMAD_TOKEN name the Zammad (the emulator) its chats use.
import os

from django.contrib.auth import get_user_model
from django.utils import timezone
from integreat_cms.cms.models import ChatMessage, Language, LanguageTreeNode, Region

User = get_user_model()
zammad_url, zammad_token = os.environ["ZAMMAD_URL"], os.environ["ZAMMAD_TOKEN"]
languages = {}
for slug, tag, native, english, direction in [
    ("de", "de-de", "Deutsch", "German", "LEFT_TO_RIGHT"),
    ("en", "en-us", "English", "English", "LEFT_TO_RIGHT"),
    ("ar", "ar-ma", "العربية", "Arabic", "RIGHT_TO_LEFT"),
]:
    languages[slug], _ = Language.objects.get_or_create(
        slug=slug,
        defaults={
            "bcp47_tag": tag,
            "native_name": native,
            "english_name": english,
            "text_direction": direction,
            "primary_country_code": tag.split("-")[1],
            "table_of_contents": "Inhalt",
        },
    )
regions = [
    # slug, name, chat on, beta %, privacy policy, a Zammad
    ("augsburg", "Stadt Augsburg", True, 50, "https://augsburg.example/datenschutz", True),
    ("muenchen", "Landeshauptstadt München", True, 100, "", True),
    ("nuernberg", "Stadt Nürnberg", False, 0, "", False),
]
for slug, name, chat, beta, policy, has_zammad in regions:
    region, _ = Region.objects.get_or_create(
        slug=slug,
        defaults={
            "name": name,
            "integreat_chat_enabled": chat,
            "chat_beta_tester_percentage": beta,
            "zammad_privacy_policy": policy,
            "zammad_url": zammad_url if has_zammad else "",
            "zammad_access_token": zammad_token if has_zammad else "",
            "postal_code": "86150",
            "admin_mail": "admin@%s.example" % slug,
        },
    )
    if not LanguageTreeNode.objects.filter(region=region).exists():
        root = LanguageTreeNode.add_root(language=languages["de"], region=region, visible=True, active=True)
        for other in ("en", "ar"):
            root.add_child(language=languages[other], region=region, visible=True, active=True)

# Authors of the author chat: one with a full name, one with only a username, one who never
# wrote (must not be imported), each with the secrets a user row carries.
authors = {}
for username, first, last, email in [
    ("amira.h", "Amira", "Haddad", "amira.haddad@augsburg.example"),
    ("redaktion2", "", "", "redaktion2@muenchen.example"),
    ("silent", "Stefan", "Still", "stefan.still@example.org"),
]:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(username, email, "correct horse battery staple 1")
        user.first_name, user.last_name = first, last
        user.totp_key = "JBSWY3DPEHPK3PXP"
        user.save()
    authors[username] = user

if not ChatMessage.objects.exists():
    now = timezone.now()
    for days_ago, author, text in [
        (45, "amira.h", "Alte Nachricht: vor 45 Tagen, nicht mehr sichtbar"),
        (29, "redaktion2", "Fast 30 Tage alt, noch sichtbar"),
        (3, "amira.h", "Die Seite „Kita-Anmeldung“ ist überarbeitet."),
        (1, "redaktion2", "Danke! <b>Fett</b> & Zeichen: ä ö ü 👍"),
        (0, "amira.h", "مرحبا – العربية geht auch"),
    ]:
        message = ChatMessage.objects.create(sender=authors[author], text=text)
        # sent_datetime is auto_now_add: set the past through the queryset.
        ChatMessage.objects.filter(pk=message.pk).update(
            sent_datetime=now - timezone.timedelta(days=days_ago, minutes=5)
        )
print("seeded", Region.objects.count(), "regions", ChatMessage.objects.count(), "author messages")
