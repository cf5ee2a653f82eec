"""Invented people, identifiers and prose for classifier tests. No real person or record is used.

NHS numbers are in the 999 range reserved for testing; NI numbers follow HMRC's prefix rules with
made-up digits.
"""

from __future__ import annotations

import random

from agent.classify.identifiers import nhs_check_digit

FIRST_NAMES = [
    "Amelia", "Tobias", "Keira", "Darnell", "Isla", "Reuben", "Priya", "Callum", "Nadia", "Owen", "Freya",
    "Jasper", "Leila", "Morgan", "Ruby", "Kofi", "Esme", "Farid", "Hollie", "Lachlan",
]
LAST_NAMES = [
    "Ashdown", "Brackley", "Corrin", "Dunmore", "Elwood", "Fairley", "Garside", "Holloway", "Inchley",
    "Jessop", "Kettering", "Linwood", "Marlow", "Northam", "Ottley", "Penrose", "Quarry", "Rowntree",
]
PLACES = [
    "the family home", "school", "the contact centre", "the GP surgery", "the foster placement", "nursery",
    "the youth centre", "the maternal grandmother's flat", "the library", "the supermarket car park",
]
WORKERS = ["the allocated social worker", "the family support worker", "the independent reviewing officer",
           "the health visitor", "the school nurse", "the designated safeguarding lead"]
CONCERNS = [
    "missed health appointments", "unexplained bruising on the forearm", "school attendance below 80 per cent",
    "domestic abuse reported by a neighbour", "parental alcohol misuse", "poor home conditions",
    "going missing overnight", "contact with older peers of concern", "low mood and self-harm",
    "food insecurity over the holidays", "rent arrears and eviction notice",
]
ACTIONS = [
    "agreed to attend the parenting course", "was seen alone and spoke about", "declined to discuss",
    "provided a written statement about", "asked for more help with", "disclosed worries about",
    "became upset when asked about", "showed the bedroom and talked about", "was open and honest about",
]
OUTCOMES = [
    "a strategy meeting was convened", "the care plan was updated", "a referral to CAMHS was made",
    "the child protection plan will continue", "a section 47 enquiry was started",
    "the case was stepped down to early help", "a core group meeting was booked",
    "the looked after review was brought forward", "police were informed", "a safety plan was agreed",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "September", "October", "November"]


def nhs_number(rng: random.Random, grouped: str = " ") -> str:
    """A valid test NHS number (999 prefix), grouped 3-3-4 with ``grouped`` ("" for none)."""
    while True:
        first_nine = "999" + "".join(str(rng.randrange(10)) for _ in range(6))
        check = nhs_check_digit(first_nine)
        if check is not None:
            digits = first_nine + str(check)
            return grouped.join((digits[:3], digits[3:6], digits[6:]))


def invalid_nhs_number(rng: random.Random) -> str:
    """Ten digits with a wrong check digit."""
    while True:
        first_nine = "999" + "".join(str(rng.randrange(10)) for _ in range(6))
        check = nhs_check_digit(first_nine)
        if check is not None:
            return first_nine + str((check + 1 + rng.randrange(8)) % 10)


NI_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
NI_SECOND = "ABCEGHJKLMNPRSTWXYZ"


def ni_number(rng: random.Random) -> str:
    """A National Insurance number that follows the allocation rules."""
    while True:
        prefix = rng.choice(NI_FIRST) + rng.choice(NI_SECOND)
        if prefix not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
            return prefix + "".join(str(rng.randrange(10)) for _ in range(6)) + rng.choice("ABCD")


def person(rng: random.Random) -> str:
    """An invented full name."""
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def date(rng: random.Random) -> str:
    """A date as a case note writes it."""
    return f"{rng.choice(WEEKDAYS)} {rng.randrange(1, 29)} {rng.choice(MONTHS)} {rng.randrange(2019, 2026)}"


def case_sentence(rng: random.Random, child: str) -> str:
    """One sentence of a case note about ``child``."""
    first = child.split()[0]
    kind = rng.randrange(4)
    if kind == 0:
        return (f"On {date(rng)} {rng.choice(WORKERS)} visited {first} at {rng.choice(PLACES)} "
                f"with {person(rng)} present.")
    if kind == 1:
        return f"{first} {rng.choice(ACTIONS)} {rng.choice(CONCERNS)} and said it happened {rng.randrange(2, 9)} times."
    if kind == 2:
        return (f"Following concerns about {rng.choice(CONCERNS)}, {rng.choice(OUTCOMES)} on "
                f"{date(rng)} and {person(rng)} was asked to attend.")
    return (f"{person(rng)}, who cares for {first} on {rng.choice(WEEKDAYS).lower()}s, reported "
            f"{rng.choice(CONCERNS)} at {rng.choice(PLACES)}.")


def case_file_paragraphs(
    rng: random.Random, *, paragraphs: int = 12, reference: str | None = None, with_ids: bool = True
) -> list[str]:
    """A child's case record: identity block, then case-note paragraphs."""
    child = person(rng)
    out = [f"Child: {child}"]
    if with_ids:
        out += [
            f"Date of birth: {rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/{rng.randrange(2008, 2022)}",
            f"NHS number: {nhs_number(rng)}",
            f"Mother: {person(rng)}, NI number {ni_number(rng)}",
        ]
    if reference:
        out.append(f"Case reference: {reference}")
    out.append("Legal status: child in need, child protection plan since last year.")
    for _ in range(paragraphs):
        out.append(" ".join(case_sentence(rng, child) for _ in range(rng.randrange(3, 6))))
    return out


GUIDANCE = [
    "Working together to safeguard children: a guide for practitioners",
    "This public guidance explains how professionals share information to keep children safe.",
    "Every child registered with a GP has an NHS number. Practitioners should record the NHS number on "
    "referrals so that health colleagues can find the right record.",
    "A child in need assessment looks at the needs of the child and the capacity of parents and carers.",
    "Where there is reasonable cause to suspect significant harm, the local authority holds a strategy "
    "meeting and may start a section 47 enquiry.",
    "A child protection plan sets out what the family and professionals will do. The care plan for a "
    "looked after child is reviewed by the independent reviewing officer.",
    "Always record the date of birth, NHS number and the name of the allocated social worker.",
    "For help, call the contact centre on 0300 123 4567 or write to the address on our website.",
    "Form reference 2023 0001 9 applies to referrals made before April.",
]


def guidance_paragraphs() -> list[str]:
    """Public guidance that talks about NHS numbers and case work but holds no one's record."""
    return list(GUIDANCE)


def invoice_paragraphs(rng: random.Random, lines: int = 40) -> list[str]:
    """A supplier invoice with ten-digit invoice and order numbers."""
    out = [
        "INVOICE",
        "Fairley Family Foods Ltd, Unit 4 Brackley Industrial Estate",
        f"Invoice number {rng.randrange(10**9, 10**10)}   Customer account {rng.randrange(10**9, 10**10)}",
    ]
    for _ in range(lines):
        out.append(
            f"Order {rng.randrange(10**9, 10**10)}  {rng.randrange(1, 50)} x catering pack "
            f"{rng.randrange(100, 999)}g  £{rng.randrange(100, 99999) / 100:.2f}"
        )
    out.append("Payment due within 30 days. VAT registration 123 4567 89.")
    return out


def product_paragraphs(rng: random.Random, lines: int = 60) -> list[str]:
    """A parts catalogue with ten-digit product codes and NI-shaped stock codes."""
    out = ["PRODUCT CATALOGUE 2025"]
    for _ in range(lines):
        code = f"{rng.randrange(10**9, 10**10)}"
        out.append(f"{code[:3]} {code[3:6]} {code[6:]}  hex bolt M{rng.randrange(3, 20)} zinc plated, "
                   f"bin QQ{rng.randrange(10**5, 10**6)}E, pack of {rng.randrange(5, 500)}")
    return out


def random_words(rng: random.Random, words: int = 2000) -> str:
    """Unrelated prose-like text."""
    vocab = ["river", "stone", "garden", "lantern", "copper", "violin", "orbit", "meadow", "harbour", "velvet",
             "thunder", "pepper", "candle", "marble", "falcon", "saddle", "quartz", "ribbon", "glacier"]
    return " ".join(rng.choice(vocab) for _ in range(words))
