"""The browser UI (Gradio, in Russian): chat with cited answers, the document view, index management.

`library` (what the app serves and rebuilding it), `render` (HTML, all text escaped), `dialogue` (the
conversation kept in the browser, and its Markdown export), `assets` (theme, style, scripts), `app`
(the interface and the server).
"""

from .app import MAX_QUESTION_CHARS, build_app, launch_app
from .library import MAX_PASSAGES, MAX_UPLOAD_BYTES, Library, UploadResult
from .render import escape_html, escape_markdown, render_answer, render_document, render_sources, render_status

__all__ = [
    "MAX_PASSAGES",
    "MAX_QUESTION_CHARS",
    "MAX_UPLOAD_BYTES",
    "Library",
    "UploadResult",
    "build_app",
    "escape_html",
    "escape_markdown",
    "launch_app",
    "render_answer",
    "render_document",
    "render_sources",
    "render_status",
]
