"""Error analysis of a recognizer: word alignment, CER per writer, character confusions, the
kinds of the edits (`edit_kinds`), word confidence, the label audit and the inspect page."""
