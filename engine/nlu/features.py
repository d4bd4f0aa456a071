"""Message features for the intent classifier: TF-IDF over word and character n-grams.

Words come from the blank spaCy tokenizer on normalized text (unigrams and bigrams); character
n-grams (2 to 5, inside word boundaries) make the model robust to typos, inflections and words
it has not seen. Both parts are fitted by scikit-learn's TfidfVectorizer and stored as plain
data (the vocabulary as JSON, the IDF weights as an array), never pickled.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from engine.nlu.text import Tokenizer, normalize

FloatArray = npt.NDArray[np.float32]

WORD_NGRAMS = (1, 2)
#: Each part is L2-normalized; scaling both by sqrt(1/2) keeps the whole row at unit length.
_HALF = float(np.sqrt(0.5))
CHAR_NGRAMS = (2, 5)


class Featurizer:
    """Turns messages into sparse, L2-normalized TF-IDF rows (word part and character part)."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._tokenizer = Tokenizer(language)
        self._words = self._word_vectorizer()
        self._chars = self._char_vectorizer()
        self._analyzers: list[tuple[Any, dict[str, int], npt.NDArray[np.float64], int]] | None = None

    def _word_ngrams(self, text: str) -> list[str]:
        words = self._tokenizer.words(normalize(text))
        return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]

    def _word_vectorizer(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer=self._word_ngrams, sublinear_tf=True, vocabulary=vocabulary)

    def _char_vectorizer(self, vocabulary: dict[str, int] | None = None, min_df: int = 2) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb",
            preprocessor=normalize,
            ngram_range=CHAR_NGRAMS,
            sublinear_tf=True,
            min_df=1 if vocabulary else min_df,
            vocabulary=vocabulary,
        )

    def fit_transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        self._analyzers = None
        words = self._words.fit_transform(texts)
        try:
            chars = self._chars.fit_transform(texts)
        except ValueError:  # min_df=2 left nothing (a handful of short examples): keep all n-grams
            self._chars = self._char_vectorizer(min_df=1)
            chars = self._chars.fit_transform(texts)
        return self._combine(words, chars)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The same rows as `fit_transform` gives for fitted texts, built directly: the
        vectorizers' own `transform` validates its input on every call, which costs
        milliseconds per message."""
        if self._analyzers is None:  # built once per fitted or loaded featurizer, not per message
            parts = [(self._words, 0), (self._chars, len(self._words.vocabulary_))]
            self._analyzers = [(v.build_analyzer(), v.vocabulary_, v.idf_, offset) for v, offset in parts]
        analyzers = self._analyzers
        indptr: list[int] = [0]
        indices: list[npt.NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
        values: list[npt.NDArray[np.float64]] = [np.zeros(0)]
        for text in texts:
            for analyze, vocabulary, idf, offset in analyzers:
                columns, weights = _tfidf_row(analyze(text), vocabulary, idf)
                indices.append(columns + offset)
                values.append(weights * _HALF)
            indptr.append(indptr[-1] + sum(len(c) for c in indices[-2:]))
        return sparse.csr_matrix(
            (np.concatenate(values), np.concatenate(indices), np.asarray(indptr)),
            shape=(len(texts), self.size),
        )

    @staticmethod
    def _combine(words: sparse.spmatrix, chars: sparse.spmatrix) -> sparse.csr_matrix:
        return sparse.hstack([words, chars], format="csr") * _HALF

    @property
    def size(self) -> int:
        return len(self._words.vocabulary_) + len(self._chars.vocabulary_)

    # -- storage ---------------------------------------------------------------------------
    def to_data(self) -> tuple[dict[str, Any], dict[str, FloatArray]]:
        """The fitted state as JSON-ready data and named arrays."""
        data = {
            "language": self.language,
            "word_vocabulary": _vocabulary_list(self._words),
            "char_vocabulary": _vocabulary_list(self._chars),
        }
        arrays = {
            "word_idf": self._words.idf_.astype(np.float32),
            "char_idf": self._chars.idf_.astype(np.float32),
        }
        return data, arrays

    @classmethod
    def from_data(cls, data: dict[str, Any], arrays: dict[str, FloatArray]) -> Featurizer:
        featurizer = cls(data["language"])
        featurizer._words = featurizer._word_vectorizer(_vocabulary_dict(data["word_vocabulary"]))
        featurizer._words.idf_ = arrays["word_idf"].astype(np.float64)
        featurizer._chars = featurizer._char_vectorizer(_vocabulary_dict(data["char_vocabulary"]))
        featurizer._chars.idf_ = arrays["char_idf"].astype(np.float64)
        return featurizer


def _tfidf_row(
    terms: list[str], vocabulary: dict[str, int], idf: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Columns and L2-normalized sublinear TF-IDF weights of one text's terms."""
    counts = Counter(i for i in map(vocabulary.get, terms) if i is not None)
    columns = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
    weights = (np.log(np.fromiter((counts[c] for c in columns), dtype=np.float64)) + 1.0) * idf[columns]
    norm = float(np.sqrt((weights**2).sum()))
    return columns, (weights / norm if norm else weights)


def _vocabulary_list(vectorizer: TfidfVectorizer) -> list[str]:
    terms: list[str] = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        terms[index] = term
    return terms


def _vocabulary_dict(terms: list[str]) -> dict[str, int]:
    return {term: index for index, term in enumerate(terms)}
