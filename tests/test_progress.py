"""Progress reports go to the standard error of the moment, or nowhere when silenced."""

from __future__ import annotations

import io
from contextlib import redirect_stderr

from offtake.progress import Progress


def test_reports_follow_a_later_redirection_of_stderr() -> None:
    progress = Progress(2)
    caught = io.StringIO()
    with redirect_stderr(caught):
        progress.step("loading")
        progress.done()
    lines = caught.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[1/2]") and lines[0].endswith("loading")
    assert lines[1].startswith("done in ")


def test_a_given_stream_or_none() -> None:
    stream = io.StringIO()
    Progress(1, stream=stream).step("only")
    assert stream.getvalue().startswith("[1/1]")
    caught = io.StringIO()
    with redirect_stderr(caught):
        silent = Progress(1, stream=None)
        silent.step("nothing")
        silent.done()
    assert caught.getvalue() == "" and silent.stream is None
