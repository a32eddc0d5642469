"""What went wrong, in Russian, for the chat and the «Индекс» tab.

An error's own Russian wording when its raiser gave one (`KzruRagError.russian`); a refused source's reason
(`uploads.source_problem`), also behind a failed build; else what its kind of error means and what to do, with the
English detail (paths, the library's words) after it for whoever fixes it.
"""

from __future__ import annotations

from kzru_rag.errors import IndexBuildError, IndexLoadError, KzruRagError, ModelError, SourceError
from kzru_rag.faces.ui.uploads import source_problem

_BY_KIND: tuple[tuple[type[Exception], str], ...] = (
    (
        IndexLoadError,
        "индекс не читается или неполон. Перестройте его: вкладка «Индекс» → «Перестроить индекс» "
        "(или `kzru-rag index build`)",
    ),
    (IndexBuildError, "сборка остановилась"),
    (ModelError, "модель эмбеддингов не загружается; переустановите kzru-rag (`make install`)"),
    (ValueError, "запрос не выполнен"),
)


def in_russian(err: Exception) -> str:
    """`err` for a Russian reader: what went wrong and what to do."""
    if isinstance(err, KzruRagError) and err.russian:
        return err.russian
    source = err if isinstance(err, SourceError) else err.__cause__
    if isinstance(source, SourceError) and source.reason:
        named = file_named(source)
        return f"{f'«{named}»: ' if named else ''}{source_problem(source)}"
    what = next((words for kind, words in _BY_KIND if isinstance(err, kind)), "не получилось")
    return f"{what} (подробности: {err})"


def file_named(err: SourceError) -> str | None:
    """The file a refused source's message names: it starts with the file's name or path (every reader's does);
    None when it names none."""
    name, colon, _ = str(err).partition(": ")
    return name if colon and name.strip() else None
