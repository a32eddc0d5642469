"""What the chat says about the collection it answers from: the header, the question box's placeholder, the example
questions and the document filter's choices, all read from the index in use (a rebuild changes them)."""

from __future__ import annotations

from dataclasses import dataclass

from kzru_rag.faces.ui.render import document_title, escape_markdown
from kzru_rag.ingest.documents import BUNDLED_SOURCE, Document
from kzru_rag.language.words import counted
from kzru_rag.library import Library

BUNDLED_EXAMPLES = [
    "Когда состоится государственный визит Токаева в Москву?",
    "Где проходит XXI форум межрегионального сотрудничества?",
    "Какую электростанцию планируют модернизировать?",
    "Филиал какого казахстанского университета открыт в Омске?",
    "Which side events are planned at the forum?",
    "Тоқаевтың Ресейге мемлекеттік сапары қашан болады?",
]
"""Questions about the bundled document (shown while it is indexed), each answered with confidence."""
MAX_EXAMPLES = 6
HOW = (
    "Ответ составляется только из документов; у каждого утверждения — ссылка [n] на фрагмент: "
    "нажмите на неё, чтобы открыть фрагмент в документе."
)


@dataclass(frozen=True)
class CollectionView:
    """The chat's words about the collection: `header` (Markdown, escaped), `placeholder` (the question box's),
    `examples`, and `choices` ((title, name) of each document)."""

    header: str
    placeholder: str
    examples: list[str]
    choices: list[tuple[str, str]]


def collection_view(library: Library) -> CollectionView:
    """The words about the documents `library` answers from now."""
    documents = list(library.retriever.index.documents.values())
    titles = distinct_titles(documents)
    choices = sorted(zip(titles, (d.doc_id for d in documents)), key=lambda pair: pair[0].lower())
    if len(documents) == 1:
        header = f"## Вопросы по документу\n«{escape_markdown(titles[0])}». {HOW}"
        placeholder = "Ваш вопрос о документе…"
    else:
        listed = ", ".join(f"«{escape_markdown(title)}»" for title, _ in choices)
        header = f"## Вопросы по документам\n{counted(len(documents), 'документ')}: {listed}. {HOW}"
        placeholder = "Ваш вопрос по документам…"
    return CollectionView(header, placeholder, examples(documents), choices)


def distinct_titles(documents: list[Document]) -> list[str]:
    """Each document's title, followed by its name where documents share a title («Регламент (bom)», «Регламент
    (copy of bom)»): the header and the filter told such documents apart by nothing."""
    titles = [document_title(d.doc_id, d) for d in documents]
    return [f"{title} ({d.doc_id})" if titles.count(title) > 1 else title for title, d in zip(titles, documents)]


def examples(documents: list[Document]) -> list[str]:
    """Example questions drawn from the collection: one about each added document's title (once for documents that
    share it: a question naming it searches them all), then the bundled document's own examples while it is
    indexed, MAX_EXAMPLES at most."""
    added = [document_title(d.doc_id, d) for d in documents if d.source != BUNDLED_SOURCE]
    asked = [f"О чём документ «{title}»?" for title in dict.fromkeys(added)]
    if len(added) < len(documents):
        asked += BUNDLED_EXAMPLES[: max(MAX_EXAMPLES - len(asked), 2)]
    return asked[:MAX_EXAMPLES]
