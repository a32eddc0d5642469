"""PDF, Word and scanned files made by other tools than the product's readers, for the reader tests and bench/.

PDFs are drawn with reportlab in DejaVu Sans (Debian's fonts-dejavu-core, installed by `make fonts`);
a "scan" is a page holding only a picture of text (`page_picture`, Pillow); a .docx is a ZIP package written
here by hand with the standard library (the product reads it with python-docx).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PAGE_WIDTH_PT = 451  # A4 minus 72 pt margins


def _canvas(path: Path, encrypt: str | None = None):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    if not FONT.is_file():
        raise FileNotFoundError(f"{FONT} is missing: run `make fonts` (Debian package fonts-dejavu-core)")
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONT)))
    return canvas.Canvas(str(path), pagesize=A4, encrypt=encrypt)


def wrap(paragraph: str, width: float = PAGE_WIDTH_PT, size: int = 11, hyphenate: bool = False) -> list[str]:
    """The lines of `paragraph` set in DejaVu Sans; with `hyphenate`, a word that does not fit is split
    with a hyphen at the line end (as a typesetter would)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, line = [], ""
    for word in paragraph.split():
        candidate = f"{line} {word}".strip()
        if stringWidth(candidate, "DejaVuSans", size) <= width:
            line = candidate
            continue
        if hyphenate and len(word) >= 8:
            head = word[: len(word) // 2]
            if stringWidth(f"{line} {head}-", "DejaVuSans", size) <= width:
                lines.append(f"{line} {head}-".strip())
                line = word[len(word) // 2 :]
                continue
        lines.append(line)
        line = word
    if line:
        lines.append(line)
    return lines


def pdf_file(path: Path, pages: list, *, encrypt: str | None = None, hyphenate: bool = False, columns: int = 1) -> Path:
    """A PDF whose page i holds the paragraphs `pages[i]` (an empty list: a blank page), in 1 or 2 columns,
    or, when `pages[i]` is a Pillow picture (`page_picture`), only that picture over the whole page: a scan."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader

    canvas = _canvas(path, encrypt)
    gap = 20
    width = (PAGE_WIDTH_PT - gap * (columns - 1)) / columns
    for paragraphs in pages:
        if not isinstance(paragraphs, list):
            buffer = io.BytesIO()
            paragraphs.save(buffer, "PNG")
            canvas.drawImage(ImageReader(buffer), 0, 0, width=A4[0], height=A4[1])
            canvas.showPage()
            continue
        canvas.setFont("DejaVuSans", 11)
        column, y = 0, 770
        for paragraph in paragraphs:
            for line in wrap(paragraph, width, hyphenate=hyphenate):
                if y < 72:
                    column, y = column + 1, 770
                canvas.drawString(72 + column * (width + gap), y, line)
                y -= 14
            y -= 8
        canvas.showPage()
    canvas.save()
    return path


def page_picture(lines: list[tuple[str, int]], angle: float = 0.0, dpi: int = 200):
    """A white A4 page at `dpi` holding `lines` of (text, size in points) in DejaVu Sans, one under another and
    wrapped to the page width, turned by `angle` degrees as a sheet lies askew on a scanner (a Pillow image)."""
    from PIL import Image, ImageDraw, ImageFont

    width, height, margin = round(8.27 * dpi), round(11.69 * dpi), dpi
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    y = margin
    for text, points in lines:
        font = ImageFont.truetype(str(FONT), round(points * dpi / 72))
        line = ""
        for word in text.split():
            if line and draw.textlength(f"{line} {word}", font=font) > width - 2 * margin:
                draw.text((margin, y), line, fill=0, font=font)
                y += round(points * 1.5 * dpi / 72)
                line = word
            else:
                line = f"{line} {word}".strip()
        draw.text((margin, y), line, fill=0, font=font)
        y += round(points * 2.4 * dpi / 72)
    page = page.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=255)
    page.info["dpi"] = (dpi, dpi)
    return page


def character_accuracy(read: str, truth: str) -> float:
    """1 − (edit distance between `read` and `truth`) / len(truth), spaces and line breaks normalised."""
    read, truth = " ".join(read.split()), " ".join(truth.split())
    previous = list(range(len(read) + 1))
    for i, expected in enumerate(truth, 1):
        current = [i]
        for j, got in enumerate(read, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (expected != got)))
        previous = current
    return 1 - previous[-1] / len(truth)


_WORD_DOCUMENT = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="{_WORD_DOCUMENT}"/>
<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
</Types>"""
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">
<Relationship Id="rId1" Type="{_OFFICE_RELATIONSHIPS}/officeDocument" Target="word/document.xml"/>
<Relationship Id="rId2" Type="{_PACKAGE_RELATIONSHIPS}/metadata/core-properties" Target="docProps/core.xml"/>
</Relationships>"""
_CORE = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title></cp:coreProperties>"""
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _paragraph(text: str, style: str | None = None) -> str:
    """A w:p; text split in two runs in the middle of a word, as Word does after an edit."""
    head, tail = text[: len(text) // 2], text[len(text) // 2 :]
    style_xml = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    runs = "".join(f'<w:r><w:t xml:space="preserve">{escape(part)}</w:t></w:r>' for part in (head, tail) if part)
    return f"<w:p>{style_xml}{runs}</w:p>"


def docx_file(
    path: Path,
    title: str,
    blocks: list[tuple[str, str]],
    tables: list[list[list[str]]] | None = None,
    repeated_header: bool = False,
    footnotes: list[str] | None = None,
) -> Path:
    """A .docx: `blocks` of (style, text) — style "Heading1" or "" for body text — then `tables` (rows of cells);
    `repeated_header`: each table's first row is marked to repeat on every page (Word's header row, w:tblHeader);
    `footnotes`: notes in word/footnotes.xml (after Word's separator note), referenced from the last block."""
    body = "".join(_paragraph(text, style or None) for style, text in blocks)
    references = "".join(f'<w:r><w:footnoteReference w:id="{n}"/></w:r>' for n, _ in enumerate(footnotes or [], 1))
    body = body[: -len("</w:p>")] + references + "</w:p>" if references else body
    mark = "<w:trPr><w:tblHeader/></w:trPr>" if repeated_header else ""
    for table in tables or []:
        rows = "".join(
            f"<w:tr>{mark if number == 0 else ''}"
            + "".join(f"<w:tc>{_paragraph(cell)}</w:tc>" for cell in row)
            + "</w:tr>"
            for number, row in enumerate(table)
        )
        body += f"<w:tbl><w:tblGrid>{'<w:gridCol/>' * len(table[0])}</w:tblGrid>{rows}</w:tbl>"
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{_W}"><w:body>{body}</w:body></w:document>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr(
            "[Content_Types].xml", _CONTENT_TYPES.replace("</Types>", _FOOTNOTES_TYPE if footnotes else "</Types>")
        )
        package.writestr("_rels/.rels", _RELS)
        package.writestr("word/document.xml", document)
        package.writestr("docProps/core.xml", _CORE.format(title=escape(title)))
        if footnotes:
            _write_footnotes(package, footnotes)
    return path


_FOOTNOTES_TYPE = (
    '<Override PartName="/word/footnotes.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>'
)


def _write_footnotes(package: zipfile.ZipFile, footnotes: list[str]) -> None:
    """word/footnotes.xml (Word's separator note, then one note a text) and its relationship."""
    notes = "".join(f'<w:footnote w:id="{n}">{_paragraph(text)}</w:footnote>' for n, text in enumerate(footnotes, 1))
    separator = '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
    package.writestr("word/footnotes.xml", f'<w:footnotes xmlns:w="{_W}">{separator}{notes}</w:footnotes>')
    package.writestr(
        "word/_rels/document.xml.rels",
        f'<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
        f'Type="{_OFFICE_RELATIONSHIPS}/footnotes" Target="footnotes.xml"/></Relationships>',
    )


def zip_bomb_docx(path: Path, unpacked_mb: int = 8) -> Path:
    """A .docx whose document.xml unpacks from a few KB to `unpacked_mb` MB."""
    docx_file(path, "bomb", [("", "текст")])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as package:
        package.writestr("word/media/padding.xml", b"\0" * (unpacked_mb * 2**20))
    return path
