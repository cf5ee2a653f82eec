"""Content scoring: identifiers in case context flag; identifiers or vocabulary alone do not."""

from __future__ import annotations

import random

from agent.classify import ClassifierPolicy
from agent.classify.content import ContentFindings, content_rules, scan_content
from tests.unit.classify import synthetic


def scan(text: str, policy: ClassifierPolicy) -> ContentFindings:
    return scan_content(text, content_rules(policy.reference_patterns, policy.vocabulary_items()))


def test_case_file_scores_above_threshold(rng: random.Random, policy: ClassifierPolicy) -> None:
    text = "\n".join(synthetic.case_file_paragraphs(rng, reference="CS-204518"))
    found = scan(text, policy)
    assert found.score >= policy.content_threshold
    assert dict(found.identifier_counts) == {"nhs_number": 1, "ni_number": 1, "case_reference": 1, "date_of_birth": 1}
    assert "child protection" in found.concepts


def test_case_notes_with_one_nhs_number_and_dob_still_flag(rng: random.Random, policy: ClassifierPolicy) -> None:
    paragraphs = synthetic.case_file_paragraphs(rng)
    text = "\n".join(p for p in paragraphs if not p.startswith("Mother:"))  # no NI number, no reference
    assert scan(text, policy).score >= policy.content_threshold


def test_public_guidance_mentioning_nhs_numbers_does_not_flag(policy: ClassifierPolicy) -> None:
    found = scan("\n".join(synthetic.guidance_paragraphs()), policy)
    assert found.vocabulary_strength == 1.0  # it is all about case work...
    assert found.identifier_counts == {}  # ...but holds nobody's identifiers
    assert found.score < policy.content_threshold


def test_invoice_with_ten_digit_numbers_does_not_flag(rng: random.Random, policy: ClassifierPolicy) -> None:
    found = scan("\n".join(synthetic.invoice_paragraphs(rng)), policy)
    assert found.score < 0.2
    assert "nhs_number" not in found.identifier_counts


def test_product_codes_grouped_like_nhs_numbers_do_not_flag(rng: random.Random, policy: ClassifierPolicy) -> None:
    found = scan("\n".join(synthetic.product_paragraphs(rng)), policy)
    assert found.score < 0.2
    assert found.identifier_counts == {}


def test_random_text_scores_zero(rng: random.Random, policy: ClassifierPolicy) -> None:
    assert scan(synthetic.random_words(rng), policy).score == 0.0


def test_identifier_list_without_case_context_stays_below_threshold(
    rng: random.Random, policy: ClassifierPolicy
) -> None:
    rows = [f"{synthetic.nhs_number(rng)}\t{synthetic.ni_number(rng)}" for _ in range(30)]
    found = scan("\n".join(rows), policy)
    assert found.identifier_counts["nhs_number"] == 30
    assert 0 < found.score < policy.content_threshold


def test_same_list_with_social_care_headings_flags(rng: random.Random, policy: ClassifierPolicy) -> None:
    rows = ["Child\tNHS number\tNI number (parent)\tAllocated social worker\tStatus (CIN / CP / LAC)"]
    rows += [f"{synthetic.person(rng)}\t{synthetic.nhs_number(rng)}\t{synthetic.ni_number(rng)}\tJ Ottley\tCIN"
             for _ in range(30)]
    assert scan("\n".join(rows), policy).score >= policy.content_threshold


def test_vocabulary_is_configurable(rng: random.Random) -> None:
    text = "Pupil file. NHS number 943 476 5919. Exclusion panel notes; behaviour plan agreed."
    default = ClassifierPolicy()
    schools = ClassifierPolicy(vocabulary={"exclusion|exclusion panel": 1.0, "behaviour plan": 1.0, "pupil": 1.0})
    assert scan(text, default).score < scan(text, schools).score
    assert scan(text, schools).concepts == ("behaviour plan", "exclusion", "pupil")


def test_word_boundaries_for_short_terms(policy: ClassifierPolicy) -> None:
    found = scan("black lacquer on the medicine cabinet; apparent transparency", policy)
    assert found.concepts == ()
