"""What the «Индекс» tab says about adding, removing and rebuilding documents, in Russian.

The work itself is `library.Library`'s; this module words its outcomes and refusals for the user.
"""

from __future__ import annotations

from pathlib import Path

from kzru_rag.errors import SourceError
from kzru_rag.faces.ui.render import escape_html
from kzru_rag.index.progress import BuildProgress
from kzru_rag.ingest.copies import copies_of
from kzru_rag.library import MAX_UPLOAD_BYTES, Library

TYPE_PROBLEM = "можно добавлять только файлы .txt, .md, .pdf, .docx, .html, .htm и сканы .png, .jpg, .jpeg, .tif, .tiff"
_SOURCE_PROBLEMS = {
    "unsupported": TYPE_PROBLEM,
    "too_large": "файл больше {limit} МБ ({size} МБ); разделите его на части",
    "name_taken": "документ с именем «{stem}» уже есть; переименуйте файл",
    "binary": "это двоичный файл, а не текст; сохраните документ как .txt или .md",
    "encoding": (
        "кодировка текста не распознана: это не UTF-8, не UTF-16 и не кириллица Windows-1251, KOI8-R или DOS; "
        "откройте файл в редакторе и сохраните его в UTF-8"
    ),
    "empty": "в файле нет текста",
    "encrypted": "PDF защищён паролем; сохраните копию без пароля",
    "no_text": "в файле нет текста: ни текстового слоя, ни распознаваемого текста на страницах",
    "no_ocr": "это скан, а программа распознавания текста Tesseract не установлена; установите её: "
    "sudo apt-get install tesseract-ocr tesseract-ocr-rus tesseract-ocr-kaz (или make ocr)",
    "corrupt": "файл повреждён и не читается; пересохраните его",
    "not_docx": "это не документ Word .docx (возможно, старый .doc или файл с паролем); сохраните его как .docx",
    "zip_bomb": "файл .docx распаковывается в слишком большой объём (похоже на zip-бомбу); он не открывался",
    "timeout": "чтение файла заняло слишком много времени и было остановлено",
    "memory": "чтение файла требует слишком много памяти",
    "crashed": "не удалось прочитать файл: он повреждён или требует слишком много памяти",
    "not_found": "файла больше нет: его удалили или переместили",
}


def size_problem(size: int, limit: int = MAX_UPLOAD_BYTES) -> str | None:
    """Why a file of `size` bytes is too big to upload, in Russian (a decimal comma: «14,2 МБ»); None when it is
    not."""
    if size <= limit:
        return None
    return _SOURCE_PROBLEMS["too_large"].format(limit=limit // 2**20, size=f"{size / 2**20:.1f}".replace(".", ","))


def source_problem(err: SourceError) -> str:
    """Why a file cannot be indexed, in Russian."""
    if err.reason == "too_large":
        return size_problem(int(err.details["size"]), int(err.details["limit"])) or str(err)
    problem = _SOURCE_PROBLEMS.get(err.reason)
    return problem.format(**err.details) if problem else str(err)


def uploaded_name(path: str | Path) -> str:
    """The name a browser's file had: browsers send «"» in an uploaded file's name as «%22» (the HTML form encoding),
    so `Договор "аренды".docx` arrives as `Договор %22аренды%22.docx` and would be kept and titled so."""
    return Path(path).name.replace("%22", '"')


def add_report(collection: Library, path: str | Path, name: str | None = None) -> tuple[bool, str]:
    """Add one uploaded file to the collection: (accepted, what happened)."""
    name = Path(name or path).name
    try:
        added = collection.add(path, name)
    except SourceError as err:
        return False, f"«{name}» не добавлен: {source_problem(err)}"
    if added.unchanged:
        return True, f"«{name}» уже есть в коллекции и не изменился; перестраивать индекс не нужно."
    verb = "заменён" if added.replaced else "добавлен"
    blank = f" Страницы без текста пропущены: {', '.join(map(str, added.empty_pages))}." if added.empty_pages else ""
    scanned = sorted(set(added.scanned_pages) - set(added.empty_pages))
    read = f" Распознаны со сканов (OCR) страницы: {', '.join(map(str, scanned))}." if scanned else ""
    copies = ", ".join(f"«{copy.name}»" for copy in copies_of(added.path, collection.uploads()))
    twin = (
        f" Его содержимое совпадает с {copies}: если это копия, удалите лишний документ, иначе ответы будут цитировать "
        "один и тот же текст дважды."
        if copies
        else ""
    )
    return True, f"«{name}» {verb}; нажмите «Перестроить индекс», чтобы искать и по нему.{blank}{read}{twin}"


def removal_report(collection: Library, name: str) -> str:
    """Delete an uploaded document; what happened. Not while a rebuild runs: it reads the files one by one, and one
    deleted before its turn stopped the whole rebuild."""
    if collection.rebuilding:
        return f"Идёт перестройка индекса: «{name}» можно будет удалить, когда она закончится."
    try:
        collection.remove(name)
    except SourceError:
        return f"Документа «{name}» нет среди загруженных."
    return f"«{name}» удалён; нажмите «Перестроить индекс», чтобы убрать его из поиска."


def rebuild_stage(now: BuildProgress) -> str:
    """Where a rebuild is, in Russian: the stage, the file at hand (n of all), passages so far and the time left."""
    if now.stage in _STAGES:
        return _STAGES[now.stage]
    verb = "Чтение" if now.stage == "reading" else "Векторизация"
    place = min(now.files_done + 1, now.files_total)
    text = f"{verb}: «{now.file}» (файл {place} из {now.files_total}) · фрагментов: {now.passages}"
    eta = now.eta
    if eta is not None:
        text += f" · осталось ≈ {duration(eta)}"
    return text


def duration(seconds: float) -> str:
    """Seconds as a reader counts them: «7 с», «1 мин 5 с»."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{f'{minutes} мин ' if minutes else ''}{rest} с"


def rebuild_progress(now: BuildProgress | None, seconds: float) -> str:
    """The rebuild log while a rebuild runs (HTML): its stage and the time it has taken, over a bar. The bar shows
    the share of the work once texts are read and embedded; before that (the model loads in a process of its own,
    many seconds without a report) and while the index is written it is a moving bar without a share. The bar is a
    native progress bar named for screen readers, its value text the stage and the time."""
    said = f"{rebuild_stage(now) if now else 'Подготовка'} · прошло {duration(seconds)}"
    value = ""
    if now is not None and now.stage in ("reading", "embedding"):
        said = f"{round(now.share * 100)} % · {said}"
        value = f' value="{now.share:.3f}" max="1"'
    return (
        f'<p class="kz-progress-text">{escape_html(said)}</p>'
        f'<progress class="kz-progress"{value} aria-label="Перестройка индекса"'
        f' aria-valuetext="{escape_html(said)}"></progress>'
    )


_STAGES = {
    "loading": "Загрузка модели (в отдельном процессе)",
    "writing": "Запись нового индекса",
    "done": "Готово",
}
