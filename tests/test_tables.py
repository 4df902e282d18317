"""harness.tables.render: the one writer of the reports' Markdown tables (alignment, escaping, bad alignments)."""

import pytest

from harness.tables import render


def test_markdown_alignment_and_escaping():
    text = render(["name", "n", "share"], [["a|b", 3, "12.5 %"], ["c", None, 0.25]], "markdown", align="lrr")
    lines = text.splitlines()
    assert lines[0] == "| name | n | share |"
    assert lines[1] == "|---|---:|---:|"
    assert lines[2] == "| a\\|b | 3 | 12.5 % |"  # a "|" inside a cell would split the row
    assert lines[3] == "| c |  | 0.25 |"
    assert render(["x"], [[1]], "markdown").splitlines()[1] == "|---|"  # default: left


@pytest.mark.parametrize("align", ["lr", "lrx", "lrrr"])
def test_an_alignment_that_does_not_fit_the_columns_is_refused(align):
    with pytest.raises(ValueError, match="align"):
        render(["a", "b", "c"], [[1, 2, 3]], "markdown", align=align)
