"""The docs a newcomer walks: README.md is the front door (short), the pages of docs/ hold the
rest. Every relative link leads to a file (and its #anchor to a heading there), and every
page and heading the code cites, as `docs/<page>.md, "<heading>"`, exists."""

import re
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
PAGES = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
CODE = [
    PROJECT / "app.py",
    PROJECT / "Makefile",
    PROJECT / "chalicelib" / "openapi.json",
    *PROJECT.glob("chalicelib/**/*.py"),
    *PROJECT.glob("chalicelib/**/*.js"),
    *PROJECT.glob("functions/*.py"),
    *PROJECT.glob("devtools/*.py"),
    *(path for path in PROJECT.glob("tests/**/*.py") if path.name != "test_docs.py"),
]
LINK = re.compile(r"\]\(((?!https?://|mailto:)[^)\s]+)\)")
CITATION = re.compile(r'(docs/[\w.-]+\.md|README(?:\.md)?),? \\?"([^"\\]+)\\?"')


def headings(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [line.lstrip("#").strip() for line in text.splitlines() if re.match(r"#{1,6} ", line)]


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_the_front_door_is_short_and_gives_the_two_commands():
    readme = (PROJECT / "README.md").read_text()
    assert len(readme.encode()) < 10 * 1024
    assert "make dev" in readme and "make test" in readme


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_of_a_page_leads_somewhere(page):
    for target in LINK.findall(page.read_text()):
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), "%s links to %s" % (page.name, target)
        if fragment:
            assert fragment in map(anchor, headings(linked)), "%s links to %s" % (page.name, target)


def test_every_cited_heading_exists():
    cited = [(path, page, heading) for path in CODE for page, heading in CITATION.findall(path.read_text())]
    assert len(cited) >= 4  # the citations are found (a pattern that matched nothing would pass)
    for path, page, heading in cited:
        target = PROJECT / ("README.md" if page.startswith("README") else page)
        assert target.exists(), "%s cites %s" % (path.relative_to(PROJECT), page)
        assert heading in headings(target), '%s cites %s, "%s"' % (path.relative_to(PROJECT), page, heading)


def test_the_checks_catch_a_broken_citation_and_anchor(tmp_path):
    assert CITATION.findall('see docs/behaviour.md, "No such heading"') == [
        ("docs/behaviour.md", "No such heading")
    ]
    assert "No such heading" not in headings(PROJECT / "docs" / "behaviour.md")
    assert anchor("Deploying beside the Integreat CMS") == "deploying-beside-the-integreat-cms"
