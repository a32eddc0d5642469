"""The bundled model's tokenizer for the ONNX engine, light: the `tokenizers` library normalises and splits a text
into words (`conversion.tokenizer`'s own steps), and each word is cut into pieces here, by the same best-scoring
segmentation (Viterbi over the SentencePiece-unigram vocabulary) that the library's `Unigram` model computes.

The library's model holds its 250 002 pieces in a byte trie of hash maps: about 280 MiB of memory and 1.5-6 s to
load on 2 cores, more than the encoder itself. Here the pieces are one Python dict (about 35 MiB, loaded in a
fraction of a second); a word is looked up in it at each of its (at most 16-character) substrings, and words are
remembered. tests/test_build_engine.py checks the ids against the library's on the test documents.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

UNKNOWN_PENALTY = 10.0
"""An unknown character scores this much below the vocabulary's lowest piece (`tokenizers`' K_UNK_PENALTY)."""

_REMEMBERED = 200_000
"""Words whose pieces are kept (then forgotten all at once): a build's vocabulary, not an unbounded one."""


class UnigramTokenizer:
    """Token ids of texts (the model's special tokens around them), as `conversion.tokenizer` gives them."""

    def __init__(self, folder: Path, steps: str, pieces: str, scores: str) -> None:
        from tokenizers import Tokenizer

        steps_tokenizer = Tokenizer.from_file(str(folder / steps))  # its vocabulary: only the special tokens
        self._normalizer = steps_tokenizer.normalizer
        self._pre_tokenizer = steps_tokenizer.pre_tokenizer
        config = json.loads((folder / steps).read_text(encoding="utf-8"))
        special = config["post_processor"]["special_tokens"]
        self._bos, self._eos = special["<s>"]["ids"][0], special["</s>"]["ids"][0]
        self._unk = config["model"]["unk_id"]
        vocabulary = np.load(folder / pieces).tolist()
        self._ids = {piece: i for i, piece in enumerate(vocabulary)}
        self._scores = np.load(folder / scores).tolist()
        self._longest = max(map(len, vocabulary))
        self._unknown_score = min(self._scores) - UNKNOWN_PENALTY
        self._words: dict[str, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        """The ids of `text`: <s>, its pieces, </s>."""
        ids = [self._bos]
        for word, _ in self._pre_tokenizer.pre_tokenize_str(self._normalizer.normalize_str(text)):
            pieces = self._words.get(word)
            if pieces is None:
                if len(self._words) >= _REMEMBERED:
                    self._words.clear()
                pieces = self._words[word] = self._segment(word)
            ids.extend(pieces)
        ids.append(self._eos)
        return ids

    def _segment(self, word: str) -> list[int]:
        """The best-scoring pieces of `word`: ties go to the path found first (shorter pieces), an unknown character
        is the unknown token, and unknown tokens in a row are one (as in `tokenizers`' Unigram)."""
        size = len(word)
        best = [float("-inf")] * (size + 1)
        best[0] = 0.0
        came_from: list[tuple[int, int]] = [(0, self._unk)] * (size + 1)
        reached = [True] + [False] * size
        for start in range(size):
            if not reached[start]:
                continue
            whole_char = False
            for end in range(start + 1, min(size, start + self._longest) + 1):
                piece = self._ids.get(word[start:end])
                if piece is None:
                    continue
                score = best[start] + self._scores[piece]
                if not reached[end] or score > best[end]:
                    best[end], came_from[end], reached[end] = score, (start, piece), True
                whole_char = whole_char or end == start + 1
            if not whole_char:
                score = best[start] + self._unknown_score
                if not reached[start + 1] or score > best[start + 1]:
                    best[start + 1], came_from[start + 1], reached[start + 1] = score, (start, self._unk), True
        pieces: list[int] = []
        end = size
        while end > 0:
            start, piece = came_from[end]
            if not (piece == self._unk and pieces and pieces[-1] == self._unk):
                pieces.append(piece)
            end = start
        return pieces[::-1]
