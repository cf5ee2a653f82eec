"""Case-file classifier: judge whether one file holds records about children and families.

Pure logic (identifiers, fingerprints, labels, scoring) plus bounded extraction from txt, csv, md, rtf,
docx, xlsx, pptx, odt, ods, odp, pdf and zip archives of these. The entry points never raise for
anything about the file itself; problems come back as ``Verdict.error``.

Typical use::

    verdict = classify_file(path, ClassifierPolicy(reference_patterns=(r"\\bCS-\\d{6}\\b",)), lookup)
    print(verdict.to_json(str(path)))
"""

from __future__ import annotations

from agent.classify.classifier import analyse_protected, classify_bytes, classify_file, document_evidence
from agent.classify.fingerprint import DEFAULT_SCHEME, FingerprintScheme, containment, fingerprints
from agent.classify.limits import DEFAULT_LIMITS, Limits
from agent.classify.policy import DEFAULT_POLICY, ClassifierPolicy
from agent.classify.protected import EMPTY_LOOKUP, InMemoryLookup, ProtectedFacts, ProtectedLookup
from agent.classify.verdict import Verdict

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_POLICY",
    "DEFAULT_SCHEME",
    "EMPTY_LOOKUP",
    "ClassifierPolicy",
    "FingerprintScheme",
    "InMemoryLookup",
    "Limits",
    "ProtectedFacts",
    "ProtectedLookup",
    "Verdict",
    "analyse_protected",
    "classify_bytes",
    "classify_file",
    "containment",
    "document_evidence",
    "fingerprints",
]
