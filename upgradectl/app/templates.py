"""The Jinja2 environment every report renders with (templates in prompts/report/)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def template_environment() -> Environment:
    """Strict (an unknown name is an error, not an empty string), no autoescaping (Markdown, not HTML). One per
    process, never changed after this: each template compiles once, though a plan renders twice (stdout, file)."""
    env = Environment(
        loader=PackageLoader("upgradectl.prompts", ""),
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.globals["yesno"] = lambda v: "unknown" if v is None else ("yes" if v else "**no**")
    return env


def tidy(text: str) -> str:
    """At most one blank line in a row (templates leave more where optional sections are empty)."""
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text
