"""A plain-English letter to the people affected (Art. 34), drafted from the incident for IG to finish.

Art. 34(2) says what the letter must give "in clear and plain language": the nature of the
breach, the name and contact details of the data protection officer (or other contact),
its likely consequences, and the measures taken or proposed to deal with it and to limit
its effects. The draft holds no personal data: the family's name and address are
placeholders IG fills in outside Caseguard; counts and categories come from the incident.
"""

from __future__ import annotations

from collector.domain.alerts import AlertKind
from collector.domain.clocks import LONDON
from collector.domain.ico_prefill import OrgProfile
from collector.domain.incident import Incident

_WHAT: dict[AlertKind, str] = {
    AlertKind.LOST_DEVICE: "a work laptop holding information about your family was lost or stolen",
    AlertKind.DEVICE_SILENT: "a work laptop holding information about your family cannot be found",
    AlertKind.CASE_FILE_EGRESS: "documents about your family were copied somewhere they should not have been",
    AlertKind.CASE_FILES_FOUND: "documents about your family were found on a device they should not have been on",
}


def draft_letter(incident: Incident, org: OrgProfile) -> str:
    """The letter's text: what happened, what it may mean, what we have done, what you can do, who to ask."""
    kinds = [a.kind for a in incident.alerts if a.kind in _WHAT]
    what = _WHAT[kinds[0]] if kinds else "information about your family was put at risk"
    when = (incident.aware_at or incident.opened_at).astimezone(LONDON)
    consequences = org.potential_consequences.strip() or (
        "Someone who should not see it may have read information about your family. This could cause you "
        "worry or distress, and in some cases could put someone at risk of harm."
    )
    measures = [a.text for a in incident.actions] or ["[Describe what has been done to recover the information.]"]
    contact = ", ".join(x for x in (org.dpo_name, org.dpo_email, org.dpo_phone) if x) or "[DPO contact details]"
    lines = [
        "[Name]",
        "[Address]",
        "",
        "Dear [Name],",
        "",
        f"We are writing to tell you that {what}. We found out on {when.day} {when:%B %Y}.",
        "We are sorry that this happened.",
        "",
        "What information was involved",
        "[Say in plain words what information about the family was involved, e.g. case notes, contact details.]",
        "",
        "What this may mean for you",
        consequences,
        "",
        "What we have done",
        *[f"- {m}" for m in measures],
        "",
        "What you can do",
        "[Say what the family can do, e.g. tell us if anyone contacts you about this; be careful of unexpected calls.]",
        "",
        "Who to contact",
        f"If you have any questions, please contact our Data Protection Officer: {contact}.",
        "You also have the right to complain to the Information Commissioner's Office (ico.org.uk, 0303 123 1113).",
        "",
        "Yours sincerely,",
        "",
        org.organisation_name or "[Organisation]",
    ]
    return "\n".join(lines) + "\n"
