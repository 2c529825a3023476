"""Error analysis of a recognizer: word alignment, CER per writer, character confusions and the inspect page."""
