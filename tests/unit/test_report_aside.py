"""Work a report does aside (upgradectl/app/aside.py) and the HTML page rendered in two parts
(upgradectl/app/html_report.py): results and errors come back, and the parts render as the whole does."""

from __future__ import annotations

import os
import signal

import pytest

from upgradectl.app import aside, html_report
from upgradectl.app.html_report import render_markdown, split_in_two

FORKS = aside.can_fork_aside()


def _pid_and(value):
    return os.getpid(), value


def _fail(message):
    raise ValueError(message)


def _die(code):
    os._exit(code)


@pytest.mark.skipif(not FORKS, reason="needs fork and two cores to run work aside")
def test_run_aside_returns_the_result_from_another_process():
    wait = aside.run_aside(_pid_and, "x" * 300_000, name="test work")  # bigger than a pipe's buffer
    pid, value = wait()
    assert pid != os.getpid() and value == "x" * 300_000


@pytest.mark.skipif(not FORKS, reason="needs fork and two cores to run work aside")
def test_run_aside_raises_what_the_work_raised_and_names_a_child_that_died():
    with pytest.raises(ValueError, match="no such chart"):
        aside.run_aside(_fail, "no such chart", name="test work")()
    with pytest.raises(RuntimeError, match=r"test work stopped \(exit code 3\)"):
        aside.run_aside(_die, 3, name="test work")()


def _interrupted_then_finished():
    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends the whole process group
    return "finished"


def _unpicklable():
    return lambda: None


@pytest.mark.skipif(not FORKS, reason="needs fork and two cores to run work aside")
def test_the_child_leaves_ctrl_c_to_the_parent_and_names_a_result_it_cannot_send(capfd):
    assert aside.run_aside(_interrupted_then_finished, name="test work")() == "finished"
    with pytest.raises(RuntimeError, match="its result could not be sent back"):
        aside.run_aside(_unpicklable, name="test work")()
    assert "Traceback" not in capfd.readouterr().err


def test_a_failing_block_waits_for_the_work_aside_and_raises_its_own_error():
    waited = []

    def wait():
        waited.append(True)
        raise ValueError("the work's error")

    with pytest.raises(OSError, match="disk full"), aside.waited_on_error(wait):
        raise OSError("disk full")
    assert waited == [True]
    with aside.waited_on_error(wait):
        pass  # no error: the caller waits itself, when it needs the result
    assert waited == [True]


def test_without_a_second_core_the_work_runs_when_started(monkeypatch):
    monkeypatch.setattr(aside, "can_fork_aside", lambda: False)
    with pytest.raises(ValueError, match="now"):
        aside.run_aside(_fail, "now", name="test work")  # raised at the start, as drawing in process did
    assert aside.run_aside(_pid_and, 1, name="test work")() == (os.getpid(), 1)


TABLE = "| cluster | version |\n|---|---|\n| ravan | 0.31.3 |\n"
FENCED = "```text\n\n## not a heading: inside code\n```python\n\n## still inside\n```\n"


def _document(middle: str) -> str:
    parts = ["# Plan\n", "- a list\n  - nested item\n", TABLE, middle, "## Rollout\n", "1. first\n2. second\n",
             "> a quote\n", "## Detail\n", "text with `code` and *emphasis*\n"]
    return "\n".join(parts * 3)


def test_split_cuts_at_a_heading_and_the_parts_render_as_the_whole():
    text = _document("## Problems\n")
    first, rest = split_in_two(text)
    assert first and rest.startswith("#") and first + rest == text
    assert render_markdown(first) + render_markdown(rest) == render_markdown(text)


def test_text_with_fenced_code_is_never_cut():
    for fenced in (FENCED, "- item\n\n  ```\n  code\n\n## x\n  ```\n\n## y\n", "~~~\n\n## in code to the end\n"):
        text = _document("## Problems\n") + fenced
        assert split_in_two(text) == ("", text)


def test_split_leaves_text_whole_with_a_link_reference_or_no_heading():
    with_reference = _document("## Problems\n") + "\n[runbook]: https://example.com/runbook\n"
    assert split_in_two(with_reference) == ("", with_reference)
    assert split_in_two("no headings\n\nat all\n") == ("", "no headings\n\nat all\n")


def test_a_big_page_in_two_parts_is_the_page_rendered_whole(monkeypatch):
    folded = "<!-- upgradectl: instances 2 -->\n\n- a\n- b\n\n<!-- upgradectl: end of instances -->\n"
    text = _document(f"## Problems\n\n{folded}")
    whole = html_report.markdown_page(text, "t <x>", None)
    monkeypatch.setattr(html_report, "SPLIT_FROM", 10)
    assert html_report.markdown_page(text, "t <x>", None) == whole
    assert "<details><summary>2 instance(s)</summary>" in whole and "<title>t &lt;x&gt;</title>" in whole
