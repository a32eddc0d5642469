"""A question analysed once (`analyse` → `schema.Query`): its language, its words, and the kind of phrase that can
answer it.

What is asked is one `Kind`, read in steps: the question word names it («Где…?» a place such as «в Уральске»,
«Когда…?» a time such as «11–12 ноября» or «с 10:00», «Кто…?» a person, «Сколько…?» / "How many…?" / «Қанша…?» a
quantity, and «Сколько стоит…?» / "How much does … cost?" a price such as «1 500 тенге»: `Query.word_kind`); else
«Почему…?» asks for a reason, «Чьи…?» for a person, and the noun after «какой…» may name the kind («В каком
городе…?»: a place; «Какой вуз…?»: an organisation; «Какова стоимость…?»: a price). The retriever weighs the
question-word kinds and uses the quantity check to recognise questions the document cannot answer; the assistant
picks the sentence to quote by them; the confidence asks whether the quote holds a phrase of the kind asked
(`holds_kind`). Before all of these, a question about a person's post, title or department («Какую должность она
занимает?», «Кем работает…?», "Which department does she head?") asks for a *role* (`asks_role`, the role nouns), held
by a sentence putting a person in apposition with a describing noun (`holds_role`).
"""

from __future__ import annotations

import re

from kzru_rag.language.entities import described_people, entities, kazakh_stem, named_specifics
from kzru_rag.language.quoting import quoted
from kzru_rag.language.speech import names_speaker
from kzru_rag.language.subjects import described, describes, phrase, question_things
from kzru_rag.language.words import (
    KAZAKH_LETTERS,
    WORD,
    best_parse,
    in_dictionary,
    query_words,
    specifics,
    tokens,
    word_readings,
    years,
)
from kzru_rag.schema import Kind, Language, Query

MAX_QUERY_CHARS = 4000

QUESTION_WORDS: dict[str, Kind] = {
    **dict.fromkeys("где куда where қайда қайдан".split(), "place"),
    **dict.fromkeys("когда скольки when қашан".split(), "time"),  # «До скольки работает…?»: until what time
    **dict.fromkeys("кто кого кому кем ком who whom кім кімді кімге кіммен".split(), "person"),
    **dict.fromkeys("сколько қанша".split(), "number"),
}
_HOW: dict[str, Kind] = {"many": "number", "much": "number", "long": "duration"}
PRICE_WORDS = frozenset(
    "стоит стоят стоил стоила стоило стоили стоить обойдётся обойдется обойдутся обошёлся обошлось платить заплатить "
    "платят оплатить оплата стоимость цена цену плата cost costs pay price fee тұрады төлеу бағасы".split()
)
"""Words that turn «сколько» / "how much" / «қанша» into a question about a price («Сколько стоит…?»)."""
_DATE = re.compile(
    r"\b\d{1,2}(?:\s*[–-]\s*\d{1,2})?\s+(?:январ|феврал|март|апрел|ма[йя]|июн|июл|август|сентябр|октябр|ноябр|декабр)\w*"
    r"|\b(?:1[89]|20)\d{2}\b|\b\d{1,2}:\d{2}\b|\b(?:понедельник|вторник|четверг|пятниц|суббот|воскресень)\w*",
    re.IGNORECASE,
)
"""Dates, years, times of day and days of the week (not «среда»: also "environment")."""
_POINT = re.compile(r"^\s*\d{1,2}(?:\.\d{1,2})*[.)]\s")
"""The number of a point that opens a sentence («3. Разрешение выдаёт…», «3.4. Наймодатель вправе…»): no quantity."""
_PRICE = re.compile(
    r"\d[\d\s ,.]*\s*(?:(?:млн|млрд|тыс)\.?|миллион\w*|миллиард\w*|тысяч\w*)?\s*"
    r"(?:тенге|тг\b|₸|руб\w*|доллар\w*|евро\b|сом\w*|\$|€|usd\b|kzt\b|rub\b)"
    r"|[$€₸]\s*\d|\bбесплатн\w*|\bfree of charge\b|\bтегін\b",
    re.IGNORECASE,
)
"""A sum of money, or «бесплатно»: what answers a question about a price."""
WHICH = frozenset(
    "какой какая какое какие какого какую каком каких каков какова каково каковы "
    "который которая которое которые чей чья чьё чье чьи".split()
)
"""Words that ask for the noun that follows them: that noun is what the question asks for, not its topic."""
ASKED_NOUN_WINDOW = 3
"""The asked-for noun is looked for among this many words after «какой…» or «сколько»
(«Какие практические механизмы…»)."""
_PLACE_PREPOSITIONS = frozenset({"в", "во", "на"})
_NOT_QUANTITIES = frozenset({"оба"})  # pymorphy3 reads «оба», «обеим» as numerals


def validate_query(query: str) -> str:
    """The query, stripped and cut to MAX_QUERY_CHARS; ValueError when there is nothing to search."""
    if not isinstance(query, str):
        raise ValueError("the question must be text")
    # JSON from a browser can carry UTF-16 surrogates, which the tokenizer rejects: pair them, replace lone ones.
    query = query.encode("utf-16", "surrogatepass").decode("utf-16", "replace").strip()
    if not query:
        raise ValueError("the question is empty: type a question about the document")
    return query[:MAX_QUERY_CHARS]


def analyse(question: str) -> Query:
    """The question (validated by `validate_query`) analysed once: what every stage reads of it."""
    text = validate_query(question)
    language = question_language(text)
    written = tuple(tokens(text, lemmas=False))
    word_kind = _word_kind(written)
    noun = asked_noun(text)
    noun_kind = _noun_kind(text, noun)
    whose = bool(set(written) & WHOSE)
    reason: Kind | None = "reason" if set(written) & _REASON_WORDS else None
    thing = described(text, language)
    role: Kind | None = "role" if noun_kind is None and asks_role(text, thing) else None
    # What is asked, in steps: a person's role (unless a noun names the kind: «Қай институтта қызмет атқарады?» asks
    # for an organisation), the question word, a reason word, «чей…», the noun asked for.
    return Query(
        text=text,
        language=language,
        written=written,
        lemmas=tuple(tokens(text)),
        words=tuple(query_words(text)),
        numbers=tuple(specifics(text)),
        named=tuple(named_specifics(text)),
        key_nouns=tuple(key_nouns(text)),
        kind=role or word_kind or reason or ("person" if whose else noun_kind),
        word_kind=word_kind,
        asked_noun=noun,
        noun_kind=noun_kind,
        whose=whose,
        things=question_things(text, language),
        described=thing,
        years=years(text),
        quoted=quoted(text),
    )


def as_query(question: str | Query) -> Query:
    """`question` as a `Query` (analysed here when it is text)."""
    return question if isinstance(question, Query) else analyse(question)


def question_language(text: str) -> Language:
    """Kazakh when Kazakh-only letters occur, English when Latin letters outnumber Cyrillic, else Russian; read
    outside quotes when letters stand there: a quoted name or title is not the asker's language («Какую площадь
    занимает хозяйство «Жас Өркен»?», «О чём документ «two columns.pdf»?» are Russian)."""
    spans = [(phrase.start, phrase.end) for phrase in quoted(text)]
    outside = "".join(ch for place, ch in enumerate(text) if not any(a <= place < b for a, b in spans))
    if any(ch.isalpha() for ch in outside):
        text = outside
    if KAZAKH_LETTERS & set(text.lower()):
        return "kk"
    latin = sum(1 for ch in text if "a" <= ch.lower() <= "z")
    cyrillic = sum(1 for ch in text if "а" <= ch.lower() <= "я" or ch in "ёЁ")
    return "en" if latin > cyrillic else "ru"


def expected_answer(question: str) -> Kind | None:
    """The kind of phrase the question's first question word asks for (None: no such word): `Query.word_kind`."""
    return _word_kind(tokens(question, lemmas=False))


def _word_kind(words: tuple[str, ...] | list[str]) -> Kind | None:
    for before, word, after in zip(["", *words], words, [*words[1:], ""]):
        kind = _HOW.get(after) if word == "how" else QUESTION_WORDS.get(word)
        if kind == "number" and PRICE_WORDS & set(words):
            return "price"
        if kind == "number" and word == "сколько" and before == "во" and after != "раз":
            return "time"  # «Во сколько открывается…?»: a time of day
        if kind:
            return kind
    return None


def asked_noun(question: str) -> str | None:
    """The noun a Russian question asks for, as written: the first noun just after «какой…», «каков…»,
    «чей…» or «сколько» («Какой бюджет выделен…?» → «бюджет», «Сколько студентов…?» → «студентов»);
    None when it has none."""
    words = [match.group().lower() for match in WORD.finditer(question)]
    for place, word in enumerate(words):
        if word in WHICH or word == "сколько":
            following = words[place + 1 : place + 1 + ASKED_NOUN_WINDOW]
            if noun := next((w for w in following if best_parse(w)[1] == "NOUN"), None):
                return noun
    return None


def holds_answer(sentence: str, kind: Kind, question: str | Query) -> bool:
    """True when `sentence` contains a phrase of `kind` that the question does not already contain, by morphology
    and patterns (the kinds a question word asks for; never an organisation or a reason).

    A quantity is a number or a numeral («девяти», «трех»; not «обеим»); dates are times, not quantities, and nor is
    the number of a point that opens the sentence («3. Разрешение выдаёт…»). A
    duration is either («более чем трех десятилетий», «11–12 ноября»).
    """
    query = as_query(question)
    if kind == "time":
        return any(match.group() not in query.text for match in _DATE.finditer(sentence))
    if kind == "price":
        return any(match.group() not in query.text for match in _PRICE.finditer(sentence))
    if kind == "duration":
        return holds_answer(sentence, "time", query) or holds_answer(sentence, "number", query)
    if kind == "number":
        sentence = _DATE.sub(" ", _POINT.sub(" ", sentence))
    known = set(query.lemmas)
    words = [match.group() for match in WORD.finditer(sentence)]
    for before, word in zip(["", *words], words):
        normal, pos, grammemes = best_parse(word.lower())
        if normal in known:
            continue
        if kind == "number" and (word.isdigit() or (pos == "NUMR" and normal not in _NOT_QUANTITIES)):
            return True
        if kind == "person" and word[:1].isupper() and ({"Name", "Surn"} & grammemes):
            return True
        if kind == "place" and word[:1].isupper() and "Geox" in grammemes and before.lower() in _PLACE_PREPOSITIONS:
            return True
    return False


QUANTITIES: frozenset[Kind] = frozenset({"number", "price"})
"""Kinds that ask for a quantity: a question of one whose passages hold none cannot be answered from them."""


def holds_quantity(sentence: str, question: str | Query) -> bool:
    """True when `sentence` holds a number or numeral besides dates and the question's own, or, asked for a price, a
    sum of money or «бесплатно»."""
    query = as_query(question)
    return (
        holds_answer(sentence, "number", query) or query.word_kind == "price" and holds_answer(sentence, "price", query)
    )


# Question words for a kind their question word does not name (`Query.kind` beyond `Query.word_kind`).
_REASON_WORDS = frozenset("почему зачем why неге неліктен".split())


_ROLE_QUESTION = re.compile(r"^\W*(?:кто\s+так(?:ой|ая|ие)|кем)\b", re.IGNORECASE)
_ROLE_WORK = re.compile(
    r"\bкем\s+(?:\w+\s+)?(?:работа|трудит|трудил|служи|служил)\w*|\bқызмет\w*\s+атқар|\bкім\s+болып",
    re.IGNORECASE,
)


def asks_role(question: str, thing: tuple[frozenset[str], ...] = ()) -> bool:
    """True when the question asks what a person is or does, beside the role nouns of `_KIND_NOUNS`: «Кем
    работает…?», «Ол қандай қызмет атқарады?», «Кім болып жұмыс істейді?», or «Кто такая / Кем является…» with a
    name as the thing described (`thing`: `subjects.described`; «Кто такие кочевники?» asks what they are)."""
    if _ROLE_WORK.search(question):
        return True
    opening = _ROLE_QUESTION.match(question)
    return bool(thing and opening and any(w.group()[:1].isupper() for w in WORD.finditer(question[opening.end() :])))


def holds_role(sentence: str, question: str | Query) -> bool:
    """True when `sentence` says what a person is or does: a person (NER PER) in apposition with a common noun by
    syntax (`entities.described_people`) or by the patterns of `subjects.describes` («X, руководитель…», «министр…,
    X, …»); the person the Russian question names, when natasha's NER finds one in it, else anyone."""
    found = [text for kind, text in entities(sentence) if kind == "PER" and describes(sentence, phrase(text))]
    people = [*described_people(sentence), *found]
    query = as_query(question)
    asked = [text for kind, text in entities(query.text) if kind == "PER"] if query.language == "ru" else []
    if not people or not asked:
        return bool(people)
    wanted = frozenset().union(*(word_readings(w.group()) for text in asked for w in WORD.finditer(text)))
    return any(word_readings(w.group()) & wanted for person in people for w in WORD.finditer(person))


# Nouns that name a kind of answer: «В каком *городе*…?», "Which *country*…?", «Қай *қалада*…?» ask for a place,
# not for the word itself. Ambiguous ones («место»: a rank or a place) are left out.
_KIND_NOUNS: dict[str, Kind] = {
    **dict.fromkeys(
        "город страна государство регион область столица республика city country state region capital "
        "қала ел мемлекет өңір облыс астана".split(),
        "place",
    ),
    **dict.fromkeys("год дата день year date day жыл күн".split(), "time"),
    **dict.fromkeys("стоимость цена плата тариф price cost fee баға".split(), "price"),
    **dict.fromkeys(
        "организация институт компания ведомство министерство вуз университет агентство банк фонд "
        "organisation organization institute company agency ministry university bank fund ұйым университет".split(),
        "organisation",
    ),
    **dict.fromkeys("эксперт политолог специалист человек expert analyst person сарапшы адам".split(), "person"),
    **dict.fromkeys(
        "должность пост звание титул профессия job occupation profession лауазым кәсіп атақ".split(), "role"
    ),
}
# Nouns that name a unit of an organisation: asked of a person («В каком отделе она работает?», "Which department
# does she head?") they ask for the person's role, else for the unit («Какое подразделение НАСА…?»: no kind).
_UNIT_NOUNS = frozenset("отдел департамент подразделение кафедра department бөлім".split())
_PERSONAL = frozenset("он она его её ее ему ей ним ней he she him her his ол оны оның оған".split())


def _of_person(question: str) -> bool:
    """True when the question speaks of a person: a personal pronoun, or a first name or surname (pymorphy3)."""
    words = [match.group() for match in WORD.finditer(question)]
    return any(w.lower() in _PERSONAL or w[:1].isupper() and {"Name", "Surn"} & best_parse(w.lower())[2] for w in words)


_ASKING = WHICH | frozenset("сколько which what whose қандай қай".split())


WHOSE = frozenset("чей чья чьё чье чьи whose".split())


# Russian markers of a reason or purpose in a sentence.
_REASON_MARKERS = frozenset("чтобы для поскольку потому так благодаря связь цель целью направить призвать".split())


_NER_KINDS = {"person": "PER", "organisation": "ORG", "place": "LOC"}


def _noun_kind(question: str, noun: str | None) -> Kind | None:
    """The kind of answer named by the noun the question asks for («В каком городе…?» → place): the Russian
    `noun` (`asked_noun`), else (English, Kazakh: no tagger) any of the few words after "which" / «қандай»."""
    if noun:
        candidates = [noun]
    else:
        words = [match.group().lower() for match in WORD.finditer(question)]
        candidates = [
            w
            for place, word in enumerate(words)
            if word in _ASKING
            for w in words[place + 1 : place + 1 + ASKED_NOUN_WINDOW]
        ]
    for word in candidates:
        for form in word_readings(word) | {word, kazakh_stem(word)}:
            if form in _KIND_NOUNS:
                return _KIND_NOUNS[form]
            if form in _UNIT_NOUNS and _of_person(question):
                return "role"
    return None


def holds_kind(sentence: str, kind: Kind, question: str | Query) -> bool:
    """True when `sentence` holds a phrase of `kind` that the question does not: for people and places
    `questions.holds_answer` (morphology) or else a named entity of that type by natasha's NER; for
    organisations the NER alone; an organisation also answers who («Кто участвует?» → «Росатом»)."""
    query = as_query(question)
    if kind == "reason":
        return bool(set(tokens(sentence, lemmas=False)) & _REASON_MARKERS)
    if kind == "role":
        return holds_role(sentence, query)
    if kind == "person" and names_speaker(sentence, query):
        return True  # the author's words after direct speech name who said it
    if kind in _NER_KINDS:
        if kind != "organisation" and holds_answer(sentence, kind, query):
            return True  # found by morphology: the NER model need not be loaded
        asked = set(query.lemmas)
        wanted = {"PER", "ORG"} if kind == "person" else {_NER_KINDS[kind]}  # «Кто участвует?» → «Росатом»
        return any(t in wanted and not set(tokens(text)) <= asked for t, text in entities(sentence))
    return holds_answer(sentence, kind, query)


def key_nouns(question: str) -> list[tuple[str, frozenset[str]]]:
    """(word as written, readings) of the question's nouns: Russian nouns by pymorphy3, and every
    content word of another language (no tagger for those)."""
    nouns: dict[str, tuple[str, frozenset[str]]] = {}
    for match in WORD.finditer(question):
        word = match.group()
        if not (readings := word_readings(word)):
            continue
        if in_dictionary(frozenset({word.lower()})) and best_parse(word.lower())[1] != "NOUN":
            continue
        nouns.setdefault(min(readings), (word, readings))
    return list(nouns.values())
