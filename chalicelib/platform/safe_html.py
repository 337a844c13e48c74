"""HTML that is safe to show: a person's plain text escaped, anyone's HTML kept to an
allowlist (what Zammad's editor produces: paragraphs, line breaks, lists, emphasis,
quotes, links with safe schemes; never scripts, event handlers, images or styles)."""

import html

from chalicelib.web.http import replace_lone_surrogates

_TAGS = {
    "p",
    "br",
    "div",
    "span",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "strike",
    "del",
    "sub",
    "sup",
    "ul",
    "ol",
    "li",
    "blockquote",
    "pre",
    "code",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "a",
}
_ATTRIBUTES = {"a": {"href", "title"}}
_URL_SCHEMES = {"http", "https", "mailto", "tel"}


def escape_user_text(text: str) -> str:
    """Plain text as safe HTML: escaped, newlines as <br>."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return html.escape(text, quote=True).replace("\n", "<br>")


def sanitize_html(body: str) -> str:
    """HTML restricted to the allowlist (nh3: the Rust crate ammonia); links open safely."""
    import nh3  # a compiled module: loaded by the first request that maps an article

    return nh3.clean(
        replace_lone_surrogates(body),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
