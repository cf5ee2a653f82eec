"""Fingerprints: stable, format-independent, catch copies and excerpts, ignore unrelated documents."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.classify import fingerprint
from agent.classify.extract import extract
from agent.classify.fingerprint import (
    DEFAULT_SCHEME,
    FingerprintScheme,
    containment,
    fingerprints,
    normalise_words,
    shingle_hashes,
    winnow,
)
from agent.classify.limits import DEFAULT_LIMITS, Budget
from tests.unit.classify import documents, synthetic

FIXED_TEXT = (
    "The allocated social worker visited the family home on Tuesday and agreed the care plan with both parents."
)


def body_fingerprints(data: bytes, extension: str) -> frozenset[int]:
    extraction = extract(data, extension, Budget(DEFAULT_LIMITS))
    assert extraction.error is None
    return fingerprints(extraction.document.body)


@pytest.fixture
def protected_paragraphs() -> list[str]:
    return synthetic.case_file_paragraphs(random.Random(7), paragraphs=20)


@pytest.fixture
def protected(protected_paragraphs: list[str]) -> frozenset[int]:
    return body_fingerprints(documents.make_docx(protected_paragraphs, header="OFFICIAL-SENSITIVE"), "docx")


def test_fingerprints_are_the_same_in_another_process_with_another_hash_seed() -> None:
    code = (
        "from agent.classify.fingerprint import fingerprints;"
        f"print(sorted(fingerprints({FIXED_TEXT!r})))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == str(sorted(fingerprints(FIXED_TEXT)))


# Long enough for the lane-parallel path, and each through another way of finding the words.
VOCAB = ("child", "plan", "visit", "Café", "naïve", "mother’s", "ＣＡＲＥ", "ﬁle", "Straße", "review", "worker", "home")
TEXTS = {
    "ascii": "\n".join(f"{FIXED_TEXT} Visit {i}, note {i * 7 % 13}: agreed." for i in range(300)),
    "some non-ascii": "\n".join(f"{FIXED_TEXT} Visit {i} – the child’s note {i * 7 % 13}." for i in range(300)),
    "mostly non-ascii": "\n".join(" ".join(VOCAB[(i * j) % len(VOCAB)] for j in range(1, 9)) + f" — “{i}”."
                                  for i in range(300)),
}


def digest(fps: frozenset[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(fps))).encode()).hexdigest()


def test_fingerprints_are_the_same_in_fresh_processes_with_different_hash_seeds() -> None:
    # Protected-store indexes outlive the process that built them: nothing may depend on hash().
    code = (
        "from tests.unit.classify.test_fingerprint import TEXTS, digest;"
        "from agent.classify.fingerprint import fingerprints;"
        "print(' '.join(digest(fingerprints(t)) for t in TEXTS.values()))"
    )
    outputs = set()
    for seed in ("0", "1", "987654321"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                             cwd=Path(__file__).resolve().parents[3])
        outputs.add(out.stdout.strip())
    assert outputs == {" ".join(digest(fingerprints(t)) for t in TEXTS.values())}


def test_scheme_is_pinned() -> None:
    # Changing the algorithm silently would orphan every protected-store index: bump the scheme name instead.
    assert DEFAULT_SCHEME.name == "wordwinnow1-k6-w4-n300000"
    assert min(fingerprints(FIXED_TEXT)) == 1221396951672434011
    # The sets the word-at-a-time implementation made (before fingerprints() worked on all lanes at once),
    # so indexes built by earlier versions stay valid under the same scheme name.
    assert {name: digest(fingerprints(text)) for name, text in TEXTS.items()} == {
        "ascii": "f7fa991abba8b08efb14d701f0575f0c0990b354a9c55c8ca8b287d4a6d2ac6e",
        "some non-ascii": "fac71982843d073b3a6e30227e8913a7a3cd4ff77e4570a3b3fd3ed735a5c831",
        "mostly non-ascii": "cf427ccab2da0abb5f62efc9c708328acc2897d7a6905d85ce7437f7c7cadfd5",
    }


def word_at_a_time(text: str, scheme: FingerprintScheme) -> frozenset[int]:
    return winnow(shingle_hashes(normalise_words(text, scheme.max_words), scheme.k), scheme.w)


_PIECES = st.sampled_from(
    ["care", "Plan", "child", "x1", "_", "a_b", "Café", "naïve", "ﬁle", "Straße", "ＣＡＲＥ", "İstanbul", "ǅ", "٣",
     " ", "\n", "\t", "\r\n", ", ", ".", "’", "“", "”", " – ", "—", "\xa0", "\u2028", "•", "\x1c", "\x00", "😀"]
)


@settings(max_examples=300)
@given(st.lists(_PIECES, max_size=80).map("".join), st.integers(1, 7), st.integers(2, 6), st.integers(1, 40))
def test_fingerprints_equal_the_word_at_a_time_statement(text: str, k: int, w: int, max_words: int) -> None:
    scheme = FingerprintScheme(k=k, w=w, max_words=max_words)
    assert fingerprints(text, scheme) == word_at_a_time(text, scheme)
    assert fingerprints(text) == word_at_a_time(text, DEFAULT_SCHEME)


@settings(max_examples=100)
@given(st.text(max_size=300), st.integers(1, 7), st.integers(2, 6))
def test_fingerprints_of_any_text_equal_the_word_at_a_time_statement(text: str, k: int, w: int) -> None:
    scheme = FingerprintScheme(k=k, w=w)
    assert fingerprints(text, scheme) == word_at_a_time(text, scheme)


def test_long_texts_and_the_word_limit_give_the_word_at_a_time_sets() -> None:
    for text in TEXTS.values():
        for scheme in (DEFAULT_SCHEME, FingerprintScheme(max_words=1000), FingerprintScheme(k=3, w=7)):
            assert fingerprints(text, scheme) == word_at_a_time(text, scheme)


@settings(max_examples=200)
@given(st.lists(_PIECES, max_size=120).map("".join), st.integers(1, 7), st.integers(1, 6), st.integers(1, 9))
def test_blocks_of_the_fast_path_join_up_to_the_whole_documents_set(text: str, k: int, w: int, block: int) -> None:
    # Long documents are fingerprinted in blocks (bounded memory); with tiny blocks every kind of
    # boundary is crossed: a block of one window, a last block of exactly one window, w = 1.
    scheme = FingerprintScheme(k=k, w=w)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fingerprint, "_BLOCK_WORDS", block)
        assert fingerprints(text, scheme) == word_at_a_time(text, scheme)


def test_lone_surrogates_are_not_words() -> None:
    text = "care plan for the \ud800 child was signed off by the \udfff team today"
    assert fingerprints(text) == fingerprints(text.replace("\ud800", " ").replace("\udfff", " "))


@given(st.lists(st.sampled_from(["\n", "  ", "\t", " \r\n ", ", ", " - ", ". "]), min_size=20, max_size=20),
       st.booleans())
def test_layout_case_and_punctuation_do_not_matter(separators: list[str], upper: bool) -> None:
    words = FIXED_TEXT.replace(".", "").split()
    relaid = "".join(w + separators[i % len(separators)] for i, w in enumerate(words))
    relaid = relaid.upper() if upper else relaid
    assert fingerprints(relaid) == fingerprints(FIXED_TEXT)


def test_ligatures_and_full_width_forms_are_normalised() -> None:
    assert fingerprints("ﬁnal ｃａｒｅ plan for the child was signed off today by the team") == fingerprints(
        "final care plan for the child was signed off today by the team"
    )


@settings(max_examples=50)
@given(st.randoms(use_true_random=False), st.integers(min_value=0, max_value=200), st.integers(0, 200))
def test_any_shared_passage_of_w_plus_k_minus_1_words_is_caught(rnd: random.Random, before: int, after: int) -> None:
    vocab = [f"w{i}" for i in range(5000)]
    passage = " ".join(rnd.choice(vocab) for _ in range(DEFAULT_SCHEME.w + DEFAULT_SCHEME.k - 1))
    a = " ".join(rnd.choice(vocab) for _ in range(before)) + " " + passage
    b = passage + " " + " ".join(rnd.choice(vocab) for _ in range(after))
    assert fingerprints(a) & fingerprints(b)


@settings(max_examples=50)
@given(st.randoms(use_true_random=False), st.integers(0, 200), st.integers(0, 200),
       st.lists(st.sampled_from([" ", "\n", "\r\n", "’", " – ", "“", "”", "\xa0", ", ", "\t•\t"]), min_size=1))
def test_a_shared_passage_is_caught_whatever_its_layout(rnd: random.Random, before: int, after: int,
                                                        separators: list[str]) -> None:
    vocab = [f"w{i}" for i in range(5000)] + ["Café", "naïve", "Straße"]
    passage = [rnd.choice(vocab) for _ in range(DEFAULT_SCHEME.w + DEFAULT_SCHEME.k - 1)]
    a = " ".join(rnd.choice(vocab) for _ in range(before)) + " " + " ".join(passage)
    relaid = "".join(word.upper() + separators[i % len(separators)] for i, word in enumerate(passage))
    b = relaid + " ".join(rnd.choice(vocab) for _ in range(after))
    assert fingerprints(a) & fingerprints(b)


def test_winnow_keeps_window_minima() -> None:
    assert winnow([5, 3, 9, 1, 7, 8, 2], 3) == {3, 1, 2}
    assert winnow([4, 2], 3) == {2}
    assert winnow([], 3) == frozenset()


@pytest.mark.parametrize(
    ("extension", "make"),
    [
        ("pdf", lambda p: documents.make_pdf(p, header="OFFICIAL-SENSITIVE", footer="Page footer")),
        ("odt", documents.make_odt),
        ("rtf", documents.make_rtf),
        ("txt", lambda p: "\r\n".join(p).encode("utf-16")),
    ],
)
def test_converted_copies_match(protected_paragraphs: list[str], protected: frozenset[int], extension: str,
                                make: Callable[[list[str]], bytes]) -> None:
    assert containment(body_fingerprints(make(protected_paragraphs), extension), protected) >= 0.9


def test_edited_copy_matches(protected_paragraphs: list[str], protected: frozenset[int]) -> None:
    rnd = random.Random(99)
    edited = [p if i % 4 else synthetic.case_sentence(rnd, "Zed Xylo") for i, p in enumerate(protected_paragraphs)]
    edited.insert(5, "A paragraph added after the review. " + synthetic.case_sentence(rnd, "Zed Xylo"))
    assert containment(body_fingerprints(documents.make_docx(edited), "docx"), protected) >= 0.6


def test_excerpts_match(protected_paragraphs: list[str], protected: frozenset[int]) -> None:
    three = documents.make_pdf(["Copied for my notes:", *protected_paragraphs[8:11]])
    assert containment(body_fingerprints(three, "pdf"), protected) >= 0.8
    one = ("Pasted: " + protected_paragraphs[12]).encode()
    assert containment(body_fingerprints(one, "txt"), protected) >= 0.8


def test_unrelated_documents_on_the_same_topic_do_not_match(protected: frozenset[int]) -> None:
    for seed in range(1000, 1005):
        other = synthetic.case_file_paragraphs(random.Random(seed), paragraphs=20)
        assert containment(body_fingerprints(documents.make_docx(other), "docx"), protected) < 0.3
    guidance = "\n".join(synthetic.guidance_paragraphs()).encode()
    assert containment(body_fingerprints(guidance, "txt"), protected) < 0.1


def test_same_form_template_different_child_does_not_match() -> None:
    template = [
        "CHILD PROTECTION PLAN - CORE GROUP RECORD", "Name of child:", "Date of birth:", "Allocated social worker:",
        "This record is confidential and must be stored in the case management system only.",
        "Purpose of the meeting: to review the progress of the child protection plan and agree actions.",
    ]
    a = fingerprints("\n".join(template + synthetic.case_file_paragraphs(random.Random(1), paragraphs=10)))
    b = fingerprints("\n".join(template + synthetic.case_file_paragraphs(random.Random(2), paragraphs=10)))
    assert containment(b, a) < 0.3


def test_containment_edge_cases() -> None:
    assert containment(frozenset(), frozenset({1})) == 0.0
    assert containment({1, 2, 3, 4}, [1, 2]) == 0.5
