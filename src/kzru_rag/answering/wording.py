"""What the assistant says besides the document's words: the sentences of an abstention or an uncertain answer in the
question's language (ru, en, kk), and the notices (in Russian, the UI's language) when an LLM answer was replaced or
corrected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kzru_rag.schema import AbstentionReason, Kind, Language

NO_ANSWER: dict[str, str] = {
    "ru": "В документе нет ответа на этот вопрос.",
    "en": "The document does not answer this question.",
    "kk": "Құжатта бұл сұраққа жауап жоқ.",
}
CLOSEST: dict[str, str] = {
    "ru": "Ближайшие по смыслу фрагменты",
    "en": "The closest passages",
    "kk": "Мағынасы жағынан ең жақын үзінділер",
}
# Why there is no answer, by `AbstentionReason.kind`, in the question's language ({detail}: the reason's detail).
REASONS: dict[str, dict[str, str]] = {
    "no_passages": {"ru": "Ничего не найдено.", "en": "Nothing was found.", "kk": "Ештеңе табылмады."},
    "low_score": {
        "ru": "Ни один фрагмент не близок к вопросу по смыслу.",
        "en": "No passage is close to the question.",
        "kk": "Сұраққа мағынасы жақын үзінді жоқ.",
    },
    "unknown_numbers": {
        "ru": "В документе не упоминается: {detail}.",
        "en": "The document never mentions {detail}.",
        "kk": "Құжатта мыналар айтылмайды: {detail}.",
    },
    "unknown_names": {
        "ru": "В документе не упоминается: {detail}.",
        "en": "The document never mentions {detail}.",
        "kk": "Құжатта мыналар айтылмайды: {detail}.",
    },
    "no_quantity": {
        "ru": "Вопрос о количестве, а в найденных фрагментах нет чисел.",
        "en": "The question asks for a quantity, and the passages found hold none.",
        "kk": "Сұрақ санды сұрайды, ал табылған үзінділерде сан жоқ.",
    },
}
UNCERTAIN: dict[str, str] = {
    "ru": "Прямого ответа в документе может не быть. Ближайшие фрагменты: {markers}.",
    "en": "The document may not answer this directly. The closest passages: {markers}.",
    "kk": "Құжатта тікелей жауап болмауы мүмкін. Ең жақын үзінділер: {markers}.",
}
# Why an answer is uncertain, when its first quote shows it: the kind of answer asked for is not in it (by `Kind`),
# the noun asked for is not in it ({noun}, as the question writes it), or it only repeats the question's words.
MISSING_KIND: dict[str, dict[str, str]] = {
    "person": {
        "ru": "Вопрос о человеке, а первый фрагмент никого не называет.",
        "en": "The question asks who; the first passage names no one.",
        "kk": "Сұрақ адам туралы, ал бірінші үзіндіде ешкім аталмайды.",
    },
    "role": {
        "ru": "Вопрос о должности или роли человека, а первый фрагмент её не называет.",
        "en": "The question asks for a person's post or role; the first passage gives none.",
        "kk": "Сұрақ адамның лауазымы не рөлі туралы, ал бірінші үзіндіде ол аталмайды.",
    },
    "organisation": {
        "ru": "Вопрос об организации, а первый фрагмент её не называет.",
        "en": "The question asks for an organisation; the first passage names none.",
        "kk": "Сұрақ ұйым туралы, ал бірінші үзіндіде ұйым аталмайды.",
    },
    "place": {
        "ru": "Вопрос о месте, а первый фрагмент его не называет.",
        "en": "The question asks where; the first passage names no place.",
        "kk": "Сұрақ орын туралы, ал бірінші үзіндіде орын аталмайды.",
    },
    "time": {
        "ru": "Вопрос о времени, а в первом фрагменте нет даты.",
        "en": "The question asks when; the first passage gives no date.",
        "kk": "Сұрақ уақыт туралы, ал бірінші үзіндіде күн-мерзім жоқ.",
    },
    "number": {
        "ru": "Вопрос о количестве, а в первом фрагменте нет числа.",
        "en": "The question asks for a quantity; the first passage gives none.",
        "kk": "Сұрақ сан туралы, ал бірінші үзіндіде сан жоқ.",
    },
    "price": {
        "ru": "Вопрос о цене, а в первом фрагменте нет суммы.",
        "en": "The question asks for a price; the first passage gives no sum.",
        "kk": "Сұрақ баға туралы, ал бірінші үзіндіде сома жоқ.",
    },
    "duration": {
        "ru": "Вопрос о сроке, а в первом фрагменте его нет.",
        "en": "The question asks how long; the first passage does not say.",
        "kk": "Сұрақ мерзім туралы, ал бірінші үзіндіде мерзім жоқ.",
    },
    "reason": {
        "ru": "Вопрос о причине, а первый фрагмент её не называет.",
        "en": "The question asks why; the first passage gives no reason.",
        "kk": "Сұрақ себеп туралы, ал бірінші үзіндіде себеп айтылмайды.",
    },
}
MISSING_NOUN: dict[str, str] = {
    "ru": "В первом фрагменте нет слова «{noun}» из вопроса.",
    "en": "The first passage does not mention «{noun}».",
    "kk": "Бірінші үзіндіде сұрақтағы «{noun}» сөзі жоқ.",
}
OTHER_YEAR: dict[str, str] = {
    "ru": "Вопрос о {asked} годе, а первый фрагмент говорит о {other}.",
    "en": "The question asks about {asked}; the first passage speaks of {other}.",
    "kk": "Сұрақ {asked} жыл туралы, ал бірінші үзінді {other} жыл туралы.",
}
RESTATES: dict[str, str] = {
    "ru": "Первый фрагмент повторяет слова вопроса, но ответа может не содержать.",
    "en": "The first passage repeats the question's words but may not answer it.",
    "kk": "Бірінші үзінді сұрақтың сөздерін қайталайды, бірақ жауап бермеуі мүмкін.",
}
FOUND: dict[str, str] = {"ru": "Найденные фрагменты", "en": "Passages found", "kk": "Табылған үзінділер"}
UNCERTAIN_TAIL: dict[str, str] = {
    "ru": "Прямого ответа в документе может не быть: сверьте ответ с фрагментами {markers}.",
    "en": "The document may not answer this directly: check the answer against the passages {markers}.",
    "kk": "Құжатта тікелей жауап болмауы мүмкін: жауапты {markers} үзінділерімен салыстырыңыз.",
}
_NO_ANSWER_PATTERN = re.compile(r"нет ответа|не отвечает|does not answer|no answer|not answer|жауап жоқ", re.IGNORECASE)


def markers(count: int) -> str:
    """Citation markers for the first `count` passages: «[1], [2], [3]»."""
    return ", ".join(f"[{n}]" for n in range(1, count + 1))


def no_answer(language: Language, reasons: Sequence[AbstentionReason], cited: int) -> str:
    """An abstention: the document does not answer, why, and the markers of the `cited` closest passages."""
    why = [REASONS[reason.kind][language].format(detail=reason.detail) for reason in reasons]
    return " ".join([NO_ANSWER[language], *why]) + (f" {CLOSEST[language]}: {markers(cited)}." if cited else "")


def uncertain(language: Language, text: str, cited: int, why: str = "") -> str:
    """An uncertain answer: a warning that the document may not answer (and `why`, when known), then its quotes
    (`text`) as leads."""
    warning = UNCERTAIN[language].format(markers=markers(cited))
    return f"{warning} {why}\n\n{text}" if why else f"{warning}\n\n{text}"


def doubt(
    language: Language,
    kind: Kind | None = None,
    noun: str | None = None,
    restates: bool = False,
    year: tuple[str, str] | None = None,
) -> str:
    """Why the first quote may not answer, in one sentence (the first that applies): it speaks of another `year`
    (asked, other) than the question, the `kind` of answer asked for is missing from it, the `noun` asked for is, or
    it `restates` the question; "" when none is given."""
    if year:
        return OTHER_YEAR[language].format(asked=year[0], other=year[1])
    if kind:
        return MISSING_KIND[kind][language]
    if noun:
        return MISSING_NOUN[language].format(noun=noun)
    return RESTATES[language] if restates else ""


def quotes_of(answer: str) -> str:
    """An earlier answer's text without the warning an uncertain answer opens with (its quotes follow it)."""
    head, blank, rest = answer.partition("\n\n")
    if blank and any(head.startswith(warning.split("{markers}")[0]) for warning in UNCERTAIN.values()):
        return rest
    return answer


def says_no_answer(reply: str) -> bool:
    """True when an LLM reply says that the document holds no answer."""
    return bool(_NO_ANSWER_PATTERN.search(reply))


def uncited_tail(language: Language, abstained: bool, cited: int) -> str:
    """What follows an LLM reply that cites no passage: the markers of the `cited` passages it is given with."""
    label = (CLOSEST if abstained else FOUND)[language]
    return f"\n\n{label}: {markers(cited)}." if cited else ""


def uncertain_tail(language: Language, cited: int) -> str:
    """What follows an uncertain LLM answer: the document may not answer directly; the markers of its passages."""
    return "\n\n" + UNCERTAIN_TAIL[language].format(markers=markers(cited))


def dropped_notice(dropped: Sequence[int]) -> str:
    wrong = ", ".join(f"[{n}]" for n in dropped)
    return f"Модель сослалась на несуществующие фрагменты ({wrong}); эти ссылки удалены."


UNCITED_NOTICE = "Модель не сослалась ни на один фрагмент: сверьте ответ с найденными фрагментами."


def one_line(text: str) -> str:
    return " ".join(text.split())


def empty_reply_notice(reply: str) -> str:
    shown = one_line(reply)[:40] or "пустой ответ"
    return f"Языковая модель не дала содержательного ответа («{shown}»); показан ответ из цитат документа."


def failure_notice(err: BaseException) -> str:
    """Why the LLM answer was replaced, in Russian (an `LLMError`'s Russian wording when it has one)."""
    return f"Языковая модель не ответила ({getattr(err, 'russian', None) or err}); показан ответ из цитат документа."
