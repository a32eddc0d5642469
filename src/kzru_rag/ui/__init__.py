"""The browser UI (Gradio, in Russian): chat with cited answers, the document view, index management.

`uploads` (what adding, removing and rebuilding documents of the `collection.Collection` means for the
user), `render` (HTML, all text escaped), `dialogue` (the conversation kept in the browser, and its
Markdown export), `assets` (theme, style, scripts), `app` (the interface and the server).
"""

from ..collection import MAX_PASSAGES, MAX_UPLOAD_BYTES
from .app import MAX_QUESTION_CHARS, build_app, launch_app
from .render import escape_html, escape_markdown, render_answer, render_document, render_sources, render_status
from .uploads import add_report, removal_report, source_problem

__all__ = [
    "MAX_PASSAGES",
    "MAX_QUESTION_CHARS",
    "MAX_UPLOAD_BYTES",
    "add_report",
    "build_app",
    "escape_html",
    "escape_markdown",
    "launch_app",
    "removal_report",
    "render_answer",
    "render_document",
    "render_sources",
    "render_status",
    "source_problem",
]
