"""Known identifiers (issue 13, finding 11): exact data from protected documents, an imported export and
the central policy's keyed hashes of one (made by the collector).

The real analyser (``analyse_protected``) and the real SQLite index; the classifier asks the index.
"""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

import pytest

from agent.classify import ClassifierPolicy, InMemoryLookup, analyse_protected, classify_bytes
from agent.protected.index import KNOWN_FROM_IMPORT, KNOWN_FROM_POLICY, ProtectedIndex, read_known_identifiers_csv
from caseguard.identifiers import identifier_hash
from collector.policy.document import PolicyError
from collector.policy.identifiers import check_export
from tests.unit.classify import documents, synthetic

REFERENCE = r"\bCS-\d{6}\b"
POLICY = ClassifierPolicy(reference_patterns=(REFERENCE,))
KEY = b"organisation-key-for-tests-0001"


def _index(tmp_path: Path, root: Path, csv: Path | None = None) -> ProtectedIndex:
    analyse = partial(analyse_protected, reference_patterns=POLICY.reference_patterns)
    return ProtectedIndex(tmp_path / "state", [root], KEY, analyse, known_identifiers_csv=csv)


def test_a_short_note_naming_a_known_case_reference_is_a_case_file() -> None:
    note = b"Saw Keira Dunmore at school today re CS-310245.\nWill call mum tomorrow.\n"
    assert not classify_bytes(note, "txt", POLICY).case_file  # a few words and a reference: weak alone
    lookup = InMemoryLookup()
    lookup.add_known({"ref:CS-310245"}, "ref-1")
    verdict = classify_bytes(note, "txt", POLICY, lookup)
    assert verdict.case_file and verdict.reasons == ("known_identifier",) and verdict.matched_ref == "ref-1"


def test_identifiers_in_protected_documents_and_folder_names_are_known(tmp_path: Path) -> None:
    rng = random.Random(5)
    root = tmp_path / "Cases"
    folder = root / "CS-777123 Dunmore"
    folder.mkdir(parents=True)
    nhs = synthetic.nhs_number(rng)
    (folder / "record.docx").write_bytes(documents.make_docx(
        [f"Child: Keira Dunmore, NHS number {nhs}", "Strategy meeting notes follow."]))
    with _index(tmp_path, root) as index:
        index.reconcile()
        ref = index.ref_for(folder / "record.docx")
        by_number = classify_bytes(f"please ring about {nhs.replace(' ', '')} asap".encode(), "txt", POLICY, index)
        assert by_number.case_file and "known_identifier" in by_number.reasons and by_number.matched_ref == ref
        by_folder = classify_bytes(b"minutes for CS-777123 attached", "txt", POLICY, index)
        assert by_folder.case_file and by_folder.matched_ref == ref
        stranger = classify_bytes(b"please ring about CS-000001 asap", "txt", POLICY, index)
        assert not stranger.case_file
    # Only keyed hashes of identifiers are kept (paths, folder names included, stay local by design).
    raw = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir())
    assert nhs.replace(" ", "").encode() not in raw and nhs.encode() not in raw


def test_the_case_management_export_is_imported_and_reloaded_when_it_changes(tmp_path: Path) -> None:
    root = tmp_path / "Cases"
    root.mkdir()
    export = tmp_path / "export.csv"
    export.write_text("case_reference,nhs_number,ni_number,name\nCS-424242,999 012 2407,ab 12 34 56 c,Ignored\n")
    with _index(tmp_path, root, export) as index:
        index.reconcile()
        for text in (b"re CS-424242", b"NHS 9990122407", b"NI AB123456C"):
            verdict = classify_bytes(text, "txt", POLICY, index)
            assert verdict.case_file and verdict.matched_ref == KNOWN_FROM_IMPORT, text
        export.write_text("case_reference\nCS-515151\n")
        index.reconcile()
        assert not classify_bytes(b"re CS-424242", "txt", POLICY, index).case_file
        assert classify_bytes(b"re CS-515151", "txt", POLICY, index).case_file


def test_a_bad_export_says_why_without_quoting_values(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("child,reference\nKeira Dunmore,CS-1\n")
    with pytest.raises(ValueError) as caught:
        read_known_identifiers_csv(export)
    assert "header names none of" in str(caught.value) and "Keira" not in str(caught.value)


def test_the_collectors_hashes_of_an_export_are_the_ones_the_laptops_index_matches(tmp_path: Path) -> None:
    """One hash for both sides: the collector hashes the export, the agent matches text against it."""
    key_file = tmp_path / "org.key"
    key_file.write_bytes(KEY + b"\n")
    export = tmp_path / "export.csv"
    export.write_text("nhs_number,case_reference,ni_number\n999 012 2407,CS-636363,AB 12 34 56 C\n")
    checked = check_export(export, key_file)
    assert checked.counts == {"nhs": 1, "ref": 1, "ni": 1} and len(checked.hashes) == 3
    assert identifier_hash(KEY, "ref:CS-636363").hex() in checked.hashes
    root = tmp_path / "Cases"
    root.mkdir()
    analyse = partial(analyse_protected, reference_patterns=POLICY.reference_patterns)
    with ProtectedIndex(tmp_path / "state", [root], KEY, analyse, central_identifier_hashes=checked.hashes) as index:
        for text in (b"re CS-636363 tomorrow", b"NHS 999 012 2407", b"NI AB123456C"):
            verdict = classify_bytes(text, "txt", POLICY, index)
            assert verdict.case_file and verdict.matched_ref == KNOWN_FROM_POLICY, text
        assert not classify_bytes(b"re CS-636364 tomorrow", "txt", POLICY, index).case_file
    with ProtectedIndex(tmp_path / "state", [root], KEY, analyse, central_identifier_hashes=()) as index:
        assert not classify_bytes(b"re CS-636363 tomorrow", "txt", POLICY, index).case_file  # a new policy replaces


@pytest.mark.parametrize(("row", "column"), [
    ("999 012 2408,,", "nhs_number"),  # wrong check digit
    (",,QQ 12 34 56 C", "ni_number"),  # a prefix HMRC never issues
    (f",CS-{'9' * 70},", "case_reference"),
])
def test_an_export_with_a_malformed_value_is_refused_naming_line_and_column_never_the_value(
    tmp_path: Path, row: str, column: str
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(f"nhs_number,case_reference,ni_number\n999 012 2407,CS-1,\n{row}\n")
    with pytest.raises(PolicyError) as caught:
        check_export(export)
    message = str(caught.value)
    assert f"line 3, {column}:" in message
    assert not any(cell and cell in message for cell in row.split(","))
    # The agent's own import takes cells as written (an export it is given locally is not refused).
    assert len(read_known_identifiers_csv(export)) == 3
