"""One self-contained HTML page from a Markdown report: styles and plots inline, instances collapsible.

For sharing a plan with a team: a single file that opens in any browser, offline. The Markdown comes from the
same template as plan.md (rendered with markers around each problem's instances, which become <details>).
Raw HTML in the Markdown is never passed through: text from clusters and repositories is data, so it is
escaped, and markdown-it refuses javascript: links.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from pathlib import Path

from markdown_it import MarkdownIt

from upgradectl.app.aside import run_aside, waited_on_error

_OPEN = re.compile(r"<p>&lt;!-- upgradectl: instances (\d+) --&gt;</p>")
_CLOSE = "<p>&lt;!-- upgradectl: end of instances --&gt;</p>"
_IMAGE = re.compile(r'<img src="([^"/\\]+\.png)"')

STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1180px;
padding:16px 24px;color:#1b1b1b;background:#fff}
h1{font-size:1.6em;margin:.2em 0 .4em}h2{border-bottom:2px solid #0072b2;padding-bottom:2px;margin-top:1.6em}
h4{margin:1.2em 0 .3em;font-size:1em}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #bbb;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#eef4fa}
code{background:#f3f3f3;padding:0 3px;border-radius:3px;font-size:.92em;word-break:break-word}
details{margin:.2em 0 .8em 1em}summary{cursor:pointer;color:#0072b2;font-weight:600}
img{max-width:100%;border:1px solid #ddd}
blockquote{border-left:4px solid #e69f00;margin:.6em 0;padding:.2em .8em;background:#fff8e6}
"""


# A page from this much Markdown up renders in two halves at once, the first in a forked process: markdown-it
# takes about 0.8 s per MB, and a plan of a hundred clusters has 9 MB (fork and the way back cost ~0.05 s)
SPLIT_FROM = 200_000  # characters
_HEADING = re.compile(r"^#{1,6} ", re.MULTILINE)
_FENCE = re.compile(r"^ *(`{3,}|~{3,})", re.MULTILINE)  # a fence at any indentation (in a list item too)
_REFERENCE = re.compile(r"^ {0,3}\[[^\]\n]*\]:", re.MULTILINE)  # a link definition: it counts in the whole text


def markdown_page(markdown_text: str, title: str, assets: Path | None) -> str:
    """The page: the Markdown as HTML, each marked instance list folded, each local PNG plot inlined."""
    return page_renderer(markdown_text, title, assets)()


def page_renderer(markdown_text: str, title: str, assets: Path | None) -> Callable[[], str]:
    """Start rendering the page (see markdown_page); returns the call that finishes it and returns the page. A big
    page's first half renders in another process until then, so the caller can write its other files meanwhile."""
    first, rest = split_in_two(markdown_text) if len(markdown_text) >= SPLIT_FROM else ("", markdown_text)
    first_html = run_aside(render_markdown, first, name="rendering the first half of the HTML page") if first else str

    def finish() -> str:
        with waited_on_error(first_html):
            rest_html = render_markdown(rest)
        body = first_html() + rest_html
        body = _OPEN.sub(lambda m: f"<details><summary>{m.group(1)} instance(s)</summary>", body)
        body = body.replace(_CLOSE, "</details>")
        if assets is not None:
            body = inline_plots(body, assets)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
        )

    return finish


def render_markdown(markdown_text: str) -> str:
    """CommonMark with tables to HTML; raw HTML in the text is escaped."""
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown_text)


def split_in_two(markdown_text: str) -> tuple[str, str]:
    """The text cut at the heading nearest its middle, where rendering the two parts gives the HTML of the whole:
    with raw HTML off, a heading at the start of a line after a blank one ends every block before it but fenced code.
    ("", the text) when there is no such heading, or the text has fenced code or defines a link reference (used
    perhaps in the other part): plans have neither, so anything else is rendered whole rather than guessed at."""
    if _FENCE.search(markdown_text) or _REFERENCE.search(markdown_text):
        return "", markdown_text
    middle, best = len(markdown_text) // 2, 0
    for heading in _HEADING.finditer(markdown_text):
        at = heading.start()
        if at >= 2 and markdown_text[at - 2 : at] == "\n\n" and abs(at - middle) < abs(best - middle):
            best = at
    return markdown_text[:best], markdown_text[best:]


def inline_plots(page: str, assets: Path) -> str:
    """The page (or its body) with each local PNG plot it shows inlined from `assets` (its title is escaped and
    its style names no image, so only the body's images match)."""
    return _IMAGE.sub(lambda m: f'<img src="{_data_uri(assets / m.group(1), m.group(1))}"', page)


def _data_uri(path: Path, fallback: str) -> str:
    """A PNG as a data: URI (the page stays one file); the file name when the plot is not there."""
    if not path.is_file():
        return html.escape(fallback)
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
