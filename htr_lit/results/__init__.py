"""From finished runs to results: aggregate a sweep's jobs into a report (markdown, CSV, figures) and keep the
generated blocks of the documents under docs/ (doc_block)."""
