"""Files in the user chat, the parts without I/O (docs/files.md): what a file may be, its
links, Zammad's file lists; and the bucket's forms on moto's in-process S3 (no socket)."""

import boto3
import pytest
from moto import mock_aws

from chalicelib.attachments import rules
from chalicelib.attachments.bucket import FileBucket, uploaded_keys
from chalicelib.attachments.links import FileRef, expiry, link_path, signature, valid
from chalicelib.platform.config import ConfigError, load_settings
from chalicelib.user_chat.articles import MalformedArticle, article_files, article_message
from chalicelib.web.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from chalicelib.web.numbers import whole_number
from tests.support.files import pdf, png

REF = FileRef("augsburg", "device-1", 12, 34)


@pytest.mark.parametrize(
    "name", ["Brief vom Amt.pdf", "خطاب.png", "Bescheid (2).PDF", "  padded.png  ", "e\u0301.png"]
)
def test_names_people_give_files_are_kept(name):
    assert rules.file_name(name) == __import__("unicodedata").normalize("NFC", name.strip())


@pytest.mark.parametrize(
    "name",
    [
        "a/b.png",
        "..",
        "C:\\x.png",
        "tab\t.png",
        "new\nline.png",
        "bidi\u202e.png",
        "line\u2028break.png",
        "para\u2029graph.png",
        "",
        " ",
        7,
        None,
    ],
)
def test_names_with_paths_or_control_characters_are_refused(name):
    with pytest.raises(BadRequest):
        rules.file_name(name)


def test_types_are_the_allowed_ones_only():
    assert rules.declared_type(" Image/PNG ") == "image/png"
    for bad in ("text/html", "image/svg+xml", "application/octet-stream", None, ["image/png"]):
        with pytest.raises(UnsupportedMediaType):
            rules.declared_type(bad)


@pytest.mark.parametrize(
    "name, content_type, travels_as",
    [
        ("Bescheid.pdf", "application/pdf", "Bescheid.pdf"),
        ("SCAN.PDF", "application/pdf", "SCAN.PDF"),
        ("Bescheid.html", "application/pdf", "Bescheid.html.pdf"),  # opens as the PDF it was checked as
        ("Foto.jpeg", "image/jpeg", "Foto.jpeg"),
        ("Foto.png", "image/jpeg", "Foto.png.jpg"),
        ("IMG_0001.HEIC", "image/heic", "IMG_0001.HEIC"),
        ("Brief", "image/png", "Brief.png"),
        ("x.svg", "image/png", "x.svg.png"),
    ],
)
def test_a_file_travels_under_a_name_of_the_type_that_was_checked(name, content_type, travels_as):
    assert rules.travelling_name(name, content_type) == travels_as


def test_sizes():
    assert rules.declared_size("10", 10) == 10
    with pytest.raises(PayloadTooLarge):
        rules.declared_size(11, 10)
    # ASCII digits only, spelled one way: int() would take the others, "²" not even that.
    for bad in (0, "0", -1, True, 1.5, "x", "²", "\u0661\u0660", "010", " 10", "+10", "1_0"):
        with pytest.raises(BadRequest):
            rules.declared_size(bad, 10)


def test_content_is_recognised_by_its_bytes_not_its_name():
    rules.check_content(png(), "image/png", 1000)
    rules.check_content(pdf(), "application/pdf", 1000)
    with pytest.raises(UnsupportedMediaType):
        rules.check_content(pdf(), "image/png", 1000)
    with pytest.raises(UnsupportedMediaType):
        rules.check_content(b"GIF89a" + b"x" * 10, "image/png", 1000)  # a GIF is not a PNG
    with pytest.raises(BadRequest):
        rules.check_content(b"", "image/png", 1000)
    with pytest.raises(PayloadTooLarge):
        rules.check_content(png(), "image/png", 10)


def test_a_page_behind_a_pdfs_first_bytes_is_no_pdf():
    page = b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>\n"
    with pytest.raises(UnsupportedMediaType):
        rules.check_content(page, "application/pdf", 1000)
    with pytest.raises(UnsupportedMediaType):
        rules.check_content(pdf() + b"\0" * 2000, "application/pdf", 10000)  # %%EOF not at its end


@pytest.mark.parametrize(
    "text, number",
    [("0", 0), ("7", 7), ("1800000000", 1800000000), ("", None), ("07", None), ("-1", None), ("²", None)]
    + [("\u0661\u0662", None), ("\uff11", None), (" 1", None), ("1 ", None), ("1e3", None), (None, None)],
)
def test_numbers_in_text_are_ascii_digits_spelled_one_way(text, number):
    assert whole_number(text, 12) == number
    assert whole_number("1" * 13, 12) is None


def test_upload_ids_of_a_form_field_or_a_json_list():
    one, two = "a" * 22, "b" * 22
    assert rules.upload_ids("%s, %s" % (one, two), 3) == [one, two]
    assert rules.upload_ids([one], 3) == [one]
    assert rules.upload_ids(None, 3) == [] and rules.upload_ids("", 3) == []


def test_a_link_is_of_one_file_of_one_device_and_ends():
    now = 1_800_000_000
    expires = expiry(now, 3600)
    assert now + 3600 <= expires <= now + 7200 and expiry(now + 59, 3600) == expires  # one ETag a step
    good = signature("token", REF, expires)
    assert valid("token", REF, expires, good, now)
    assert not valid("token", REF, expires, good, expires)  # ended
    assert not valid("token", REF._replace(device_id="device-2"), expires, good, now)
    assert not valid("token", REF._replace(attachment_id=35), expires, good, now)
    assert not valid("token", REF, expires + 3600, good, now)  # its expiry cannot be moved
    assert not valid("another token", REF, expires, good, now)  # a rotated token ends it
    assert not valid("token", REF, expires, "é" * 32, now)  # text that is not ASCII: no, not a 500
    path = link_path("de", REF, "token", now, 3600)
    assert path == "/api/v3/augsburg/de/chat/device-1/attachments/12/34/?expires=%d&signature=%s" % (
        expires,
        good,
    )


def test_zammads_file_list_is_mapped_and_inline_images_are_left_out():
    article = {
        "id": 5,
        "body": "<p>x</p>",
        "content_type": "text/html",
        "sender": "Agent",
        "attachments": [
            {
                "id": 1,
                "filename": "Form.pdf",
                "size": "583",
                "preferences": {"Content-Type": "application/pdf"},
            },
            {"id": 2, "filename": "logo.png", "size": "9", "preferences": {"Content-Disposition": "inline"}},
            {"id": 3, "filename": "s.jpg", "size": 4, "preferences": {"Mime-Type": "image/jpeg; x=y"}},
        ],
    }
    assert article_message(article)["attachments"] == [
        {"id": 1, "name": "Form.pdf", "type": "application/pdf", "size": 583},
        {"id": 3, "name": "s.jpg", "type": "image/jpeg", "size": 4},
    ]
    assert "attachments" not in article_message(dict(article, attachments=[]))
    for bad in ("x", [1], [{"id": "1", "size": "2"}], [{"id": 1, "size": "-2"}], [{"id": 1, "size": "²"}]):
        with pytest.raises(MalformedArticle):
            article_files(dict(article, attachments=bad))


def test_the_bucket_setting_is_checked():
    assert (
        load_settings({"ATTACHMENT_BUCKET": "integreat-chat-files"}).attachment_bucket
        == "integreat-chat-files"
    )
    with pytest.raises(ConfigError, match="ATTACHMENT_BUCKET"):
        load_settings({"ATTACHMENT_BUCKET": "Not_A_Bucket"})
    with pytest.raises(ConfigError, match="ATTACHMENT_MAX_FILES"):
        load_settings({"ATTACHMENT_MAX_FILES": "0"})


def test_an_upload_form_is_for_one_key_type_and_size_on_moto():
    with mock_aws():
        boto3.client("s3", region_name="eu-central-1").create_bucket(
            Bucket="files", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        bucket = FileBucket(load_settings({"ATTACHMENT_BUCKET": "files"}))
        form = bucket.upload_form("uploads/a/b/c", "image/png", "Brief vom Amt.png", 100, 60)
        assert form["fields"]["key"] == "uploads/a/b/c"
        assert form["fields"]["Content-Type"] == "image/png"
        assert form["fields"]["x-amz-meta-name"] == "Brief%20vom%20Amt.png"  # S3 metadata is ASCII
        assert form["fields"]["x-amz-meta-size"] == "100"
        policy = __import__("base64").b64decode(form["fields"]["policy"]).decode()
        # Exactly the declared size: S3 refuses any other.
        assert '["content-length-range", 100, 100]' in policy and '{"key": "uploads/a/b/c"}' in policy
        bucket.put("uploads/a/b/c", png(), "image/png", "Brief vom Amt.png")
        stored = bucket.read("uploads/a/b/c", 1000)
        assert (stored.data, stored.content_type, stored.name) == (png(), "image/png", "Brief vom Amt.png")
        assert bucket.read("uploads/a/b/none", 1000) is None
        assert bucket.delete_under("uploads/a/") == 1 and not bucket.exists("uploads/a/b/c")


def test_a_message_of_files_alone_names_them_and_words_stay_as_written():
    from chalicelib.user_chat.context import Outgoing
    from chalicelib.user_chat.marks import SendMark

    mark = SendMark.of("x", None)
    files = ({"filename": "Brief.pdf", "data": "JVBERg==", "mime-type": "application/pdf"},)
    assert Outgoing("  Hallo  ", "de", None, mark).body == "  Hallo  "
    assert "attachments" not in Outgoing("Hallo", "de", None, mark).article
    with_files = Outgoing(" ", "de", None, mark, files)
    assert with_files.body == "Brief.pdf" and with_files.article["attachments"] == list(files)
    answer = {"attachments": [{"id": 9, "filename": "Brief.pdf", "size": "5", "preferences": {}}]}
    assert with_files.stored(3, "t", answer)["attachments"] == [
        {"id": 9, "name": "Brief.pdf", "type": "", "size": 5}
    ]


def test_a_bucket_tells_the_queue_of_uploads_or_says_it_cannot():
    with mock_aws():
        bucket = FileBucket(load_settings({"ATTACHMENT_BUCKET": "files"}))
        assert bucket.create() == "bucket files: ready (uploads kept 1 day)"
        boto3.client("sqs", region_name="eu-central-1").create_queue(QueueName="jobs")
        arn = "arn:aws:sqs:eu-central-1:123456789012:jobs"
        assert bucket.create(notify_queue_arn=arn).endswith("each told to the queue)")
        s3 = boto3.client("s3", region_name="eu-central-1")
        [told] = s3.get_bucket_notification_configuration(Bucket="files")["QueueConfigurations"]
        assert told["QueueArn"] == arn and told["Filter"]["Key"]["FilterRules"][0]["Value"] == "uploads/"
        # An S3 that refuses (MinIO has no SQS target): the bucket works, the report says so.
        assert "NOT told to the queue" in bucket.create(notify_queue_arn="no-such-queue")


@pytest.mark.parametrize(
    "event, keys",
    [
        ({"Service": "Amazon S3", "Event": "s3:TestEvent"}, []),
        (
            {
                "Records": [
                    {
                        "eventSource": "aws:s3",
                        "eventName": "ObjectCreated:Post",
                        "s3": {"object": {"key": "uploads/a/b/1/x%2By+z"}},
                    },
                    {
                        "eventSource": "aws:s3",
                        "eventName": "ObjectCreated:Put",
                        "s3": {"object": {"key": "files/a"}},
                    },
                    {
                        "eventSource": "aws:s3",
                        "eventName": "ObjectRemoved:Delete",
                        "s3": {"object": {"key": "uploads/q"}},
                    },
                    {
                        "eventSource": "aws:s3",
                        "eventName": "ObjectCreated:Put",
                        "s3": {"object": ["not", "a", "dict"]},
                    },
                ]
            },
            ["uploads/a/b/1/x+y z"],
        ),
        ({"Records": [{"eventSource": "aws:sqs"}]}, None),
        ({"Records": []}, None),
        ({"id": "job", "kind": "answer"}, None),
        (["Records"], None),
    ],
)
def test_an_s3_event_names_its_new_uploads_and_nothing_else(event, keys):
    assert uploaded_keys(event) == keys


@pytest.mark.parametrize(
    "key, owner",
    [
        ("uploads/augsburg/abc/17/id", ("augsburg", "abc", 17)),
        ("uploads/augsburg/abc/017/id", None),
        ("uploads/augsburg/abc/\u0661\u0667/id", None),
        ("uploads/augsburg/abc/17", None),
        ("uploads/augsburg//17/id", None),
        ("files/augsburg/abc/17/id", None),
    ],
)
def test_an_uploads_key_names_its_chat_strictly(key, owner):
    from chalicelib.attachments.service import Attachments

    assert Attachments.upload_owner(key) == owner
