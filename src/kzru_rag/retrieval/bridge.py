"""The word bridge: a question word that is not Russian («ambassador», «елші») reaches the documents' Russian words
through its nearest indexed words in the embedding space.
"""

from __future__ import annotations

import numpy as np

from kzru_rag.language.words import LATIN, WORD, Readings, content_words, in_dictionary, word_readings
from kzru_rag.stores.terms import TermStatistics, WordVocabulary


class WordBridge:
    """Lexical matching across languages through the embedding model.

    A query word that is neither Russian nor in the indexed documents («форумға», «ынтымақтастық»)
    also reads as the `neighbours` indexed words nearest to it (query-to-query cosine similarity
    of the words alone) that reach `min_similarity`: «форумға» → «форум»; «университеттің» →
    «университет». So Kazakh questions get a lexical signal too. `vocabulary` holds the embeddings of
    `bridge_words(terms)`, made at build time.

    Words in Latin script are bridged only with `latin`: with the bundled e5 model, English words
    that reach the threshold are mostly the frequent ones ("Kazakhstan" → «Казахстан», "expert" →
    «эксперт») while the distinctive ones rarely do ("allies", "quoted"), which pulled English
    questions towards generic passages (see README, Retrieval quality).
    """

    def __init__(
        self,
        terms: TermStatistics,
        vocabulary: WordVocabulary,
        min_similarity: float,
        neighbours: int,
        latin: bool = False,
    ) -> None:
        if neighbours < 0:
            raise ValueError("neighbours must be 0 or more")
        self.terms = terms
        self.vocabulary = vocabulary
        self.min_similarity = min_similarity
        self.neighbours = neighbours
        self.latin = latin

    def foreign(self, query: str, words: list[Readings]) -> list[tuple[int, str]]:
        """(position in `words`, the word as written in `query`) of each word to bridge."""
        if not self.neighbours or not len(self.vocabulary):
            return []
        written = [(match.group(), word_readings(match.group())) for match in WORD.finditer(query)]
        found = []
        for i, readings in enumerate(words):
            if in_dictionary(readings) or not self.terms.absent([readings]):
                continue
            surface = next((text for text, known in written if known & readings), None)
            if surface is not None and (self.latin or not LATIN.search(surface)):
                found.append((i, surface))
        return found

    def translate(self, words: list[Readings], foreign: list[tuple[int, str]], vectors: np.ndarray) -> list[Readings]:
        """`words` with each foreign one (vectors[j] embeds foreign[j]) extended by its neighbours' readings."""
        out = list(words)
        if not foreign:
            return out
        for (i, _), nearest in zip(foreign, self.vocabulary.nearest(vectors, self.neighbours)):
            for word, similarity in nearest:
                if similarity >= self.min_similarity:
                    out[i] = out[i] | word_readings(word)
        return out

    def soft_match(self, vectors: np.ndarray, texts: list[str], floor: float) -> np.ndarray:
        """For each of `texts`, how near the foreign words (`vectors`, one row each) come to its words: per word the
        best cosine to a bridge word the text holds, read from `floor` (0) to 1 (1), averaged over the words."""
        held = [{r for readings in content_words(text) for r in readings} for text in texts]
        known = self.vocabulary.vectors_by_word(set().union(*held)) if len(vectors) else {}
        if not known:
            return np.zeros(len(texts))
        column = {word: j for j, word in enumerate(known)}
        nearness = np.clip((vectors @ np.stack(list(known.values())).T - floor) / (1 - floor), 0, 1)
        columns = [[column[word] for word in words if word in column] for words in held]
        return np.array([nearness[:, c].max(axis=1).mean() if c else 0.0 for c in columns])
