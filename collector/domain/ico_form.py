"""The answer choices of the ICO's personal data breach report form, with the form's wording.

Enum values are stable snake_case strings for JSON; ``LABELS`` holds the words printed in
the text export. Check the wording against the live form when the ICO changes it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from collector.domain.incident import ReportType


class YesNoUnknown(enum.StrEnum):
    """A yes / no / don't know answer."""

    YES = "yes"
    NO = "no"
    NOT_KNOWN = "not_known"


class ReportReason(enum.StrEnum):
    """ "Reason for report": after consulting the ICO's guidance, what you decided."""

    MEETS_THRESHOLD = "meets_threshold"
    BELOW_THRESHOLD_WANT_AWARE = "below_threshold_want_aware"
    UNSURE = "unsure"


class PersonalDataCategory(enum.StrEnum):
    """ "What categories of personal data were involved?" (special category data first)."""

    RACIAL_ETHNIC_ORIGIN = "racial_ethnic_origin"
    POLITICAL_OPINIONS = "political_opinions"
    RELIGIOUS_BELIEFS = "religious_beliefs"
    TRADE_UNION_MEMBERSHIP = "trade_union_membership"
    SEX_LIFE = "sex_life"
    SEXUAL_ORIENTATION = "sexual_orientation"
    GENDER_REASSIGNMENT = "gender_reassignment"
    HEALTH = "health"
    BASIC_IDENTIFIERS = "basic_identifiers"
    IDENTIFICATION_DATA = "identification_data"
    ECONOMIC_FINANCIAL = "economic_financial"
    OFFICIAL_DOCUMENTS = "official_documents"
    LOCATION = "location"
    GENETIC_BIOMETRIC = "genetic_biometric"
    CRIMINAL_RECORDS = "criminal_records"
    NOT_YET_KNOWN = "not_yet_known"
    OTHER = "other"


class DataSubjectCategory(enum.StrEnum):
    """ "What categories of people were involved?"."""

    EMPLOYEES = "employees"
    USERS = "users"
    SUBSCRIBERS = "subscribers"
    STUDENTS = "students"
    CUSTOMERS = "customers"
    PATIENTS = "patients"
    CHILDREN = "children"
    VULNERABLE_ADULTS = "vulnerable_adults"
    NOT_KNOWN = "not_known"
    OTHER = "other"


class ConsequenceLikelihood(enum.StrEnum):
    """ "How likely is it that people will experience significant consequences?"."""

    VERY_LIKELY = "very_likely"
    LIKELY = "likely"
    NEUTRAL = "neutral"
    UNLIKELY = "unlikely"
    VERY_UNLIKELY = "very_unlikely"
    NOT_YET_KNOWN = "not_yet_known"


class CiaImpact(enum.StrEnum):
    """Which of confidentiality, integrity and availability a cyber incident affected."""

    CONFIDENTIALITY = "confidentiality"
    INTEGRITY = "integrity"
    AVAILABILITY = "availability"


class OrganisationalImpact(enum.StrEnum):
    """Impact of a cyber incident on the organisation."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NOT_YET_KNOWN = "not_yet_known"


class RecoveryTime(enum.StrEnum):
    """Estimated recovery time after a cyber incident."""

    REGULAR = "regular"
    SUPPLEMENTED = "supplemented"
    EXTENDED = "extended"
    NOT_RECOVERABLE = "not_recoverable"
    COMPLETE = "complete"
    NOT_YET_KNOWN = "not_yet_known"


class PeopleTold(enum.StrEnum):
    """ "Have you told the people affected?"."""

    TOLD = "told"
    IN_PROGRESS = "in_progress"
    ALREADY_AWARE = "already_aware"
    PLANNING = "planning"
    DECIDED_NOT_TO = "decided_not_to"
    UNDECIDED = "undecided"


class OtherOrganisation(enum.StrEnum):
    """Other organisations told about the breach."""

    POLICE = "police"
    OTHER_REGULATOR = "other_regulator"
    OTHER = "other"


LABELS: Mapping[enum.Enum, str] = {
    ReportType.INITIAL: "Initial report: this contains all the information we have so far",
    ReportType.FOLLOW_UP: "Follow-up report: adding to a report already made",
    ReportReason.MEETS_THRESHOLD: "The breach meets the threshold for reporting",
    ReportReason.BELOW_THRESHOLD_WANT_AWARE: "The breach does not meet the threshold, but we want the ICO to be aware",
    ReportReason.UNSURE: "We are unsure whether the breach meets the threshold",
    YesNoUnknown.YES: "Yes",
    YesNoUnknown.NO: "No",
    YesNoUnknown.NOT_KNOWN: "Don't know",
    PersonalDataCategory.RACIAL_ETHNIC_ORIGIN: "Racial or ethnic origin",
    PersonalDataCategory.POLITICAL_OPINIONS: "Political opinions",
    PersonalDataCategory.RELIGIOUS_BELIEFS: "Religious or philosophical beliefs",
    PersonalDataCategory.TRADE_UNION_MEMBERSHIP: "Trade union membership",
    PersonalDataCategory.SEX_LIFE: "Sex life data",
    PersonalDataCategory.SEXUAL_ORIENTATION: "Sexual orientation data",
    PersonalDataCategory.GENDER_REASSIGNMENT: "Gender reassignment data",
    PersonalDataCategory.HEALTH: "Health data",
    PersonalDataCategory.BASIC_IDENTIFIERS: "Basic personal identifiers, eg name, contact details",
    PersonalDataCategory.IDENTIFICATION_DATA: "Identification data, eg usernames, passwords",
    PersonalDataCategory.ECONOMIC_FINANCIAL: "Economic and financial data, eg credit card numbers, bank details",
    PersonalDataCategory.OFFICIAL_DOCUMENTS: "Official documents, eg driving licences",
    PersonalDataCategory.LOCATION: "Location data",
    PersonalDataCategory.GENETIC_BIOMETRIC: "Genetic or biometric data",
    PersonalDataCategory.CRIMINAL_RECORDS: "Criminal convictions, offences",
    PersonalDataCategory.NOT_YET_KNOWN: "Not yet known",
    PersonalDataCategory.OTHER: "Other",
    DataSubjectCategory.EMPLOYEES: "Employees",
    DataSubjectCategory.USERS: "Users",
    DataSubjectCategory.SUBSCRIBERS: "Subscribers",
    DataSubjectCategory.STUDENTS: "Students",
    DataSubjectCategory.CUSTOMERS: "Customers or prospective customers",
    DataSubjectCategory.PATIENTS: "Patients",
    DataSubjectCategory.CHILDREN: "Children",
    DataSubjectCategory.VULNERABLE_ADULTS: "Vulnerable adults",
    DataSubjectCategory.NOT_KNOWN: "Not yet known",
    DataSubjectCategory.OTHER: "Other",
    ConsequenceLikelihood.VERY_LIKELY: "Very likely",
    ConsequenceLikelihood.LIKELY: "Likely",
    ConsequenceLikelihood.NEUTRAL: "Neutral - neither likely nor unlikely",
    ConsequenceLikelihood.UNLIKELY: "Unlikely",
    ConsequenceLikelihood.VERY_UNLIKELY: "Very unlikely",
    ConsequenceLikelihood.NOT_YET_KNOWN: "Not yet known",
    CiaImpact.CONFIDENTIALITY: "Confidentiality",
    CiaImpact.INTEGRITY: "Integrity",
    CiaImpact.AVAILABILITY: "Availability",
    OrganisationalImpact.HIGH: "High - lost the ability to provide all critical services to all users",
    OrganisationalImpact.MEDIUM: "Medium - lost the ability to provide a critical service to some users",
    OrganisationalImpact.LOW: "Low - no or low loss of efficiency; can still provide all critical services",
    OrganisationalImpact.NOT_YET_KNOWN: "Not yet known",
    RecoveryTime.REGULAR: "Regular - time to recovery is predictable with existing resources",
    RecoveryTime.SUPPLEMENTED: "Supplemented - time to recovery is predictable with additional resources",
    RecoveryTime.EXTENDED: "Extended - time to recovery is unpredictable; additional resources needed",
    RecoveryTime.NOT_RECOVERABLE: "Not recoverable",
    RecoveryTime.COMPLETE: "Complete - recovery complete",
    RecoveryTime.NOT_YET_KNOWN: "Not yet known",
    PeopleTold.TOLD: "Yes, we've told the people affected",
    PeopleTold.IN_PROGRESS: "We're in the process of telling them",
    PeopleTold.ALREADY_AWARE: "They are already aware",
    PeopleTold.PLANNING: "No, but we're planning to",
    PeopleTold.DECIDED_NOT_TO: "No, we've decided not to",
    PeopleTold.UNDECIDED: "We haven't decided yet",
    OtherOrganisation.POLICE: "Police",
    OtherOrganisation.OTHER_REGULATOR: "Other regulators or supervisory authorities",
    OtherOrganisation.OTHER: "Other",
}
