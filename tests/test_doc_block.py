"""The one doc-block helper: a generated block is found by its name (whatever command its begin marker names),
replaced in place, appended when missing, and carried over by a rewrite of the rest."""

from __future__ import annotations

from htr_lit.results import doc_block


def test_splice_replaces_the_named_block_in_place_and_appends_a_missing_one() -> None:
    doc = "# Doc\n\n<!-- a:begin (written by old command) -->\nold\n<!-- a:end -->\n\n## After\n"
    new = doc_block.splice("new", doc, "a", "new command")
    assert new == "# Doc\n\n<!-- a:begin (written by new command) -->\nnew\n<!-- a:end -->\n\n## After\n"
    both = doc_block.splice("B", new, "b", "w")
    assert both == new.rstrip() + "\n\n<!-- b:begin (written by w) -->\nB\n<!-- b:end -->\n"
    assert doc_block.splice("x", "", "a", "w") == "<!-- a:begin (written by w) -->\nx\n<!-- a:end -->\n"


def test_kept_returns_the_named_blocks_in_the_order_asked() -> None:
    doc = doc_block.splice("B", doc_block.splice("A", "# Doc\n", "a", "w"), "b", "w")
    assert doc_block.kept(doc, "b", "a", "missing") == (
        "\n<!-- b:begin (written by w) -->\nB\n<!-- b:end -->\n\n<!-- a:begin (written by w) -->\nA\n<!-- a:end -->\n")
    assert doc_block.kept("# no blocks\n", "a") == ""
    assert doc_block.kept("<!-- a:begin (w) -->\nno end\n", "a") == ""
