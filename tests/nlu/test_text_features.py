"""Message text (engine/nlu/text.py) and the TF-IDF features built on it (engine/nlu/features.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import sparse

from engine.nlu.features import Featurizer
from engine.nlu.text import MAX_MESSAGE_CHARS, Tokenizer, clean_text, has_words, normalize

CORPUS = [
    "where is my order",
    "Where's my ORDER A12345?",
    "has my order shipped yet",
    "cancel my order please",
    "i want to cancel",
    "Café crème for the café",
    "i want a refund",
    "refund my money please",
    "hello there",
    "order order order",
]

#: Texts the featurizer was not fitted on: unseen words, typos, odd characters.
UNSEEN = [
    "where is my refund",
    "completely unknown vocabulary xyz",
    "ordre cancle refnud",
    "ORDER",
    "CAFÉ Crème",
    "\x00\x07 order",
    "🙂🙂",
    "",
    "   ",
    "привет hello 你好",
]


# -- text ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "control",
    ["\x00", "\x07", "\x0b", "\x0c", "\r", "\x1b", "\x7f", "\x85", "\x9f"]
    + ["\u200b", "\u200d", "\u200f", "\u2028", "\u2029", "\ufeff"],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_text_clean_text_turns_control_characters_into_spaces_in_place(control: str) -> None:
    text = f"order{control}A12345{control}"
    cleaned = clean_text(text)
    assert cleaned == "order A12345 "
    assert len(cleaned) == len(text)


def test_text_clean_text_keeps_tabs_newlines_and_printable_text() -> None:
    text = "where\tis my\norder? Café 🙂 привет 你好 £25"
    assert clean_text(text) == text


def test_text_clean_text_cuts_the_message_at_the_limit() -> None:
    assert clean_text("x" * MAX_MESSAGE_CHARS) == "x" * MAX_MESSAGE_CHARS
    assert clean_text("y" * (MAX_MESSAGE_CHARS + 5000)) == "y" * MAX_MESSAGE_CHARS
    # The cut happens first: a control character past the limit is simply gone.
    assert clean_text("z" * MAX_MESSAGE_CHARS + "\x00") == "z" * MAX_MESSAGE_CHARS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Café CRÈME", "cafe creme", id="case-and-accents"),
        pytest.param("naïve résumé Ångström", "naive resume angstrom", id="more-accents"),
        pytest.param("Straße", "strasse", id="case-folding-not-lowering"),
        pytest.param("ＡＢＣ１２３", "abc123", id="full-width-forms"),
        pytest.param("ﬁne", "fine", id="ligature"),
        pytest.param("  a \t\n b  ", "a b", id="whitespace-collapsed-and-stripped"),
        pytest.param("a\x00\x07b", "a b", id="control-characters-become-one-space"),
        pytest.param("", "", id="empty"),
    ],
)
def test_text_normalize_folds_case_forms_accents_and_spaces(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", True),
        ("42", True),
        ("١٢٣", True),  # digits of another script
        ("привет", True),
        ("你好", True),
        ("", False),
        ("   \t\n", False),
        ("🙂👍", False),
        ("?!... ---", False),
        ("\x00\x07", False),
    ],
)
def test_text_has_words_needs_a_letter_or_digit(text: str, expected: bool) -> None:
    assert has_words(text) is expected


def test_text_tokens_point_into_the_original_text() -> None:
    text = "Where's my order A12345?  Thanks!"
    tokens = Tokenizer("en").tokens(text)
    assert [(t.text, t.start, t.end) for t in tokens] == [
        ("Where", 0, 5),
        ("'s", 5, 7),
        ("my", 8, 10),
        ("order", 11, 16),
        ("A12345", 17, 23),
        ("?", 23, 24),
        ("Thanks", 26, 32),
        ("!", 32, 33),
    ]
    assert all(text[t.start : t.end] == t.text for t in tokens)


@pytest.mark.parametrize("language", ["en-GB", "en_US", "EN"])
def test_text_tokenizer_uses_the_pipeline_of_a_regional_tag(language: str) -> None:
    tokenizer = Tokenizer(language)
    assert tokenizer.language == language
    assert [t.text for t in tokenizer.tokens("Where's my order?")] == ["Where", "'s", "my", "order", "?"]


def test_text_tokenizer_names_an_unknown_language() -> None:
    with pytest.raises(ValueError, match="spaCy has no tokenizer for language 'zz'"):
        Tokenizer("zz")


# -- features --------------------------------------------------------------------------------
@pytest.fixture
def featurizer() -> Featurizer:
    fitted = Featurizer("en")
    fitted.fit_transform(CORPUS)
    return fitted


def _scikit_learn_rows(featurizer: Featurizer, texts: list[str]) -> sparse.csr_matrix:
    """What the vectorizers' own (slower) transform gives, combined as fit_transform does."""
    return Featurizer._combine(featurizer._words.transform(texts), featurizer._chars.transform(texts))


def _assert_same_rows(mine: sparse.csr_matrix, theirs: sparse.csr_matrix) -> None:
    assert mine.shape == theirs.shape
    mine, theirs = mine.tocsr(), theirs.tocsr()
    mine.eliminate_zeros()
    theirs.eliminate_zeros()
    mine.sort_indices()
    theirs.sort_indices()
    assert np.array_equal(mine.indptr, theirs.indptr)
    assert np.array_equal(mine.indices, theirs.indices)
    np.testing.assert_allclose(mine.data, theirs.data, rtol=0, atol=1e-12)


def test_features_transform_equals_the_vectorizers_own_transform(featurizer: Featurizer) -> None:
    mine = featurizer.transform(UNSEEN + CORPUS)
    _assert_same_rows(mine, _scikit_learn_rows(featurizer, UNSEEN + CORPUS))
    assert mine.shape == (len(UNSEEN) + len(CORPUS), featurizer.size)


def test_features_transform_of_the_fitted_texts_equals_fit_transform() -> None:
    featurizer = Featurizer("en")
    fitted = featurizer.fit_transform(CORPUS)
    _assert_same_rows(featurizer.transform(CORPUS), fitted)


def test_features_rows_have_unit_length_parts(featurizer: Featurizer) -> None:
    """Each part (words, characters) is L2-normalized and scaled by sqrt(1/2)."""
    rows = featurizer.transform(["where is my order", "completely unknown vocabulary xyz", "🙂", ""])
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1))).ravel()
    # Known words and n-grams; only character n-grams ("unknown" words share some); nothing.
    np.testing.assert_allclose(norms, [1.0, np.sqrt(0.5), 0.0, 0.0], atol=1e-12)


def test_features_stored_data_is_plain_json_and_float32_arrays(featurizer: Featurizer) -> None:
    data, arrays = featurizer.to_data()
    assert json.loads(json.dumps(data)) == data
    assert data["language"] == "en"
    assert len(data["word_vocabulary"]) + len(data["char_vocabulary"]) == featurizer.size
    assert sorted(arrays) == ["char_idf", "word_idf"]
    assert all(a.dtype == np.float32 for a in arrays.values())


def test_features_round_trip_through_stored_data_gives_the_same_rows(featurizer: Featurizer) -> None:
    data, arrays = featurizer.to_data()
    restored = Featurizer.from_data(json.loads(json.dumps(data)), arrays)
    again = Featurizer.from_data(*restored.to_data())
    texts = UNSEEN + CORPUS
    assert restored.size == featurizer.size
    assert restored.to_data()[0] == data
    # What is stored gives identical rows every time it is loaded ...
    _assert_same_rows(again.transform(texts), restored.transform(texts))
    assert (again.transform(texts) != restored.transform(texts)).nnz == 0
    # ... and the rows of the fitted featurizer, up to the float32 precision of the stored IDF.
    np.testing.assert_allclose(
        restored.transform(texts).toarray(), featurizer.transform(texts).toarray(), rtol=0, atol=1e-6
    )
    _assert_same_rows(restored.transform(texts), _scikit_learn_rows(restored, texts))


def test_features_a_tiny_corpus_keeps_every_character_ngram() -> None:
    """With min_df=2 no n-gram of two unrelated words survives; the featurizer keeps them all."""
    featurizer = Featurizer("en")
    rows = featurizer.fit_transform(["ab", "cd"])
    data, _ = featurizer.to_data()
    assert data["word_vocabulary"] == ["ab", "cd"]
    assert sorted(data["char_vocabulary"]) == sorted(
        [" a", "ab", "b ", " ab", "ab ", " ab "] + [" c", "cd", "d ", " cd", "cd ", " cd "]
    )
    np.testing.assert_allclose(np.asarray(rows.multiply(rows).sum(axis=1)).ravel(), [1.0, 1.0])
    _assert_same_rows(featurizer.transform(["ab", "cd"]), rows)
