"""The browser UI (Gradio, in Russian): chat with cited answers, the document view, index management.

`uploads` (what adding, removing and rebuilding documents of the `library.Library` means for the
user), `render` (HTML, all text escaped), `conversation` (the conversation kept in the browser, and its
Markdown export), `assets` (theme, style, scripts), `handlers` (what each event of the page does; the chat's asking,
answering again and stopping in `asking`, streamed through `pacing`), `app` (the page's layout, its events wired to
the handlers, and the server); `gradio_stubs` makes importing Gradio skip its type-stub writer.
"""

from kzru_rag.faces.ui.gradio_stubs import skip_stub_writing

skip_stub_writing()

from kzru_rag.faces.replies import MAX_PASSAGES  # noqa: E402
from kzru_rag.faces.ui.app import build_app, launch_app  # noqa: E402
from kzru_rag.faces.ui.asking import MAX_QUESTION_CHARS  # noqa: E402
from kzru_rag.faces.ui.render import (  # noqa: E402
    escape_html,
    escape_markdown,
    render_answer,
    render_document,
    render_sources,
    render_status,
)
from kzru_rag.faces.ui.uploads import add_report, removal_report, source_problem  # noqa: E402
from kzru_rag.library import MAX_UPLOAD_BYTES  # noqa: E402

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
