"""Direct speech and pointing back: the author's words that name who is speaking («…, – отмечает эксперт КИСИ.»),
and the pronouns that lean on an earlier sentence or turn («Они…», «её»).
"""

from __future__ import annotations

import re

from kzru_rag.language.words import tokens
from kzru_rag.schema import Query

SPEECH_REACH = 3
"""Direct speech is followed this many sentences at most by the words that name its speaker."""


_ATTRIBUTION = re.compile(r"(?<=,)\s*[–—]\s*[а-яё]+[^–—]*$")
"""The author's words after direct speech, ending its sentence: «…предприятиями, – отмечает эксперт КИСИ.»"""


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def attributes_speech(sentence: str) -> bool:
    """True when `sentence` ends with the author's words after direct speech («…, – отмечает эксперт КИСИ.»)."""
    return bool(_ATTRIBUTION.search(sentence.strip()))


def names_speaker(text: str, question: str | Query) -> bool:
    """True when a sentence of `text` ends with the author's words that name who said it («…, – поясняет Жанар
    Тулиндинова.») by words `question` does not hold: the speaker of direct speech is a person (or a body speaking
    as one), and a new one answers «Кто…?»."""
    asked = set(question.lemmas if isinstance(question, Query) else tokens(question))
    for sentence in _SENTENCE_END.split(text):
        if found := _ATTRIBUTION.search(sentence.strip()):
            if set(tokens(found.group())[1:]) - asked:  # the words after the verb of speech
                return True
    return False


# Words that point back into the conversation: a question holding one is a follow-up.
ANAPHORS = frozenset(
    "он она оно они его её ее их ему ей им нему ней ним нём нем него неё нее ею нею них ними там туда оттуда тогда "
    "этот эта это эти этого этой этом этих этим тот та те того той "
    "it its they them their there he she him his her this that these those "
    "ол оның оны оған онда одан олар олардың оларды сол соның сонда осы бұл мұнда".split()
)
