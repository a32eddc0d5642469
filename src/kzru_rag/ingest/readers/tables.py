"""A table's rows as paragraphs of the text, each one readable alone as a citation.

Under a header row every row pairs its cells with their column's heading («Груз: Паллета | Предельная масса:
1500 кг»), so a quoted row still says what its numbers mean; a table without one keeps its cells joined by « | ».
The pairs are joined by « | », not «; »: razdel ends a sentence at «; » before a capital, and a row must stay one
sentence to be quoted whole.
The readers decide which row is the header (docx.py: a row marked to repeat, or short labels; html.py: `<th>`).
"""

from __future__ import annotations


def table_paragraphs(rows: list[list[str]], header: int | None) -> list[str]:
    """One paragraph per row that holds text, cells' spacing normalised.

    `header`: the index of the header row, or None. When it has a row below it, it is not a paragraph of its own:
    each row below pairs every non-empty cell with its column's heading («Груз: Паллета | Предельная масса: 1500 кг»;
    an empty heading right of a heading is that heading, spanning columns; a cell under the empty headings at the
    left stands alone), and each row above it (a caption) gives its distinct texts.
    Otherwise every row's cells are joined by « | ».
    """
    rows = [[" ".join(cell.split()) for cell in row] for row in rows]
    if header is None or header + 1 >= len(rows):
        return [" | ".join(row) for row in rows if any(row)]
    headings: list[str] = []
    for heading in rows[header]:
        headings.append(heading.rstrip(":").strip() or (headings[-1] if headings else ""))
    titles = [" | ".join(dict.fromkeys(cell for cell in row if cell)) for row in rows[:header]]
    body = [_with_headings(headings, row) for row in rows[header + 1 :]]
    return [paragraph for paragraph in titles + body if paragraph]


def _with_headings(headings: list[str], row: list[str]) -> str:
    """A row's non-empty cells, each after its column's heading (none past the header row's last column)."""
    headings = headings + [""] * (len(row) - len(headings))
    return " | ".join(f"{heading}: {cell}" if heading else cell for heading, cell in zip(headings, row) if cell)
