#!/usr/bin/env python3
"""Writes the blank-element cases of the CIN census 2025-26 suite.

DfE reads a blank element (`<X></X>`, `<X/>`, or whitespace only) as not provided, and so does the pack
(`[xml] blank = "absent"` in its standard.toml). For every rule that reads a field the schema makes optional,
or tests a field with `has(...)`, each case here is the base return (see make_cases.py) with one change in which
that field is written blank, and the verdict DfE gives when the field is left out: `cases/<code>/blank-*.xml`,
listed in suite.toml between the markers below (this script rewrites that part). The three ways of writing a
blank element take turns from case to case; tests/cin_blank.rs checks every case in all three, and with its
blank elements removed.

Run from anywhere: python3 conformance-suite/cin-census/2025-26/tools/make_blank_cases.py
"""
import copy
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_cases import (  # noqa: E402
    A, A1, A1ass, A1cpp, A1plan, A1s47, A2, A2ass, A2plan, B, B1, B1ass, B1s47, BASE, C1, IA, IB, IC, SUITE, Blank,
    append, chars, cppd, document, seq, setv, upn,
)

BEGIN = "# --- blank elements: written by tools/make_blank_cases.py from here to the end ---\n"

BLANK = Blank()  # a blank element; its form is chosen per case
QUERY = lambda code: code.endswith("Q")  # noqa: E731


class Case:
    """`code`'s verdict on the base return changed by `change`, with a field written blank: it fails (`fails`
    True, the rule is found) or passes (the rule is not found). `absent` are further rules that must not be
    found: those that would read the blank text as a value given (a code that is not in its list)."""

    def __init__(self, code, name, title, change, fails, absent=()):
        self.code, self.name, self.title, self.change, self.fails, self.absent = code, name, title, change, fails, list(absent)


FAIL, PASS = True, False
# An assessment not yet completed has no factors (8614); these shorthands keep the other rules quiet.
B1_OPEN = lambda start: seq(setv(B1ass, "AssessmentActualStartDate", start), setv(B1ass, "AssessmentAuthorisationDate", BLANK),  # noqa: E731
                            setv(B1ass, "FactorsIdentifiedAtAssessment", None))
NFA_PLAN = append(C1, "ChildProtectionPlans", cppd("2026-02-10"))

CASES = [
    Case("100", "ReferenceDate", "A blank ReferenceDate is a missing one",
         setv(lambda d: d["Header"]["CollectionDetails"], "ReferenceDate", BLANK), FAIL),
    Case("1103", "AssessmentActualStartDate", "An assessment with a blank start date is not compared with the referral",
         setv(A1ass, "AssessmentActualStartDate", BLANK), PASS),
    Case("1104", "DateOfInitialCPC", "A Section 47 enquiry with a blank conference date is not compared with the referral",
         setv(A1s47, "DateOfInitialCPC", BLANK), PASS),
    Case("1105", "CPPstartDate", "A plan with a blank start date is not compared with the referral",
         setv(A1cpp, "CPPstartDate", BLANK), PASS),
    Case("1510", "UPN", "A blank UPN has no check letter to check", setv(IA, "UPN", BLANK), PASS, ["1540"]),
    Case("1520", "UPN", "Two children with a blank UPN do not share a UPN",
         seq(setv(IA, "UPN", BLANK), setv(IB, "UPN", BLANK)), PASS, ["1540"]),
    Case("1530", "UPN", "A blank UPN has no LA code to check", setv(IA, "UPN", BLANK), PASS, ["1540"]),
    Case("1540", "UPN", "A blank UPN has no characters 5-12 to check", setv(IA, "UPN", BLANK), PASS),
    Case("1550", "UPN", "A blank UPN has no character 13 to check", setv(IA, "UPN", BLANK), PASS, ["1540"]),
    Case("1560Q", "FormerUPN", "A blank FormerUPN is not a wrongly formatted one", setv(IA, "FormerUPN", BLANK), PASS),
    Case("1570", "LAchildID", "A blank LAchildID is missing (8500), not too long", setv(IA, "LAchildID", BLANK), PASS),
    Case("1580", "LAchildID", "A blank LAchildID is missing (8500), not badly formed", setv(IA, "LAchildID", BLANK), PASS),
    Case("2883", "DateOfInitialCPC", "A Section 47 conference date written blank is no conference: a plan starts without one",
         setv(A1s47, "DateOfInitialCPC", BLANK), FAIL),
    Case("2884", "DateOfInitialCPC", "A blank CINdetails conference date is not a second record of the conference",
         setv(A1, "DateOfInitialCPC", BLANK), PASS),
    Case("2884", "DateOfInitialCPC-section47", "A blank Section 47 conference date beside the CINdetails one is not a second record",
         seq(setv(A1, "DateOfInitialCPC", "2025-06-02"), setv(A1s47, "DateOfInitialCPC", BLANK)), PASS),
    Case("2885", "DateOfInitialCPC", "A plan starting in the year whose enquiry's conference date is blank starts without a conference",
         setv(A1s47, "DateOfInitialCPC", BLANK), FAIL),
    Case("2886Q", "Sex", "A child with a blank Sex has no sex recorded", setv(IB, "Sex", BLANK), FAIL),
    Case("2887Q", "Disability", "A blank Disability is no code: seven codes are used",
         seq(setv(lambda d: chars(d, A), "Disabilities", ["LD", "COMM", "HAND", "MOB"]),
             setv(lambda d: chars(d, B), "Disabilities", ["HEAR", "VIS", "BEH", BLANK])), FAIL),
    Case("2888Q", "Disability", "A child with one code and a blank Disability has one disability recorded",
         seq(setv(lambda d: chars(d, A), "Disabilities", ["LD", BLANK]), setv(lambda d: chars(d, B), "Disabilities", ["HEAR", BLANK])), FAIL),
    Case("2889", "S47ActualStartDate", "An enquiry with a blank start date is not compared with the referral",
         setv(A1s47, "S47ActualStartDate", BLANK), PASS),
    Case("2990", "ReasonForClosure", "A blank ReasonForClosure is not RC8 or RC9", setv(A1, "ReasonForClosure", BLANK), PASS, ["8640"]),
    Case("2990", "DateOfInitialCPC", "An episode closed with RC8 whose conference date is blank records no conference",
         seq(setv(A1, "ReasonForClosure", "RC8"), setv(A1, "Section47", None), setv(A1, "ChildProtectionPlans", None),
             setv(A1, "CINPlanDates", None), setv(A1, "DateOfInitialCPC", BLANK)), PASS),
    Case("4000", "ReferralNFA", "A blank ReferralNFA is missing (8568), not a referral with no further action",
         seq(append(C1, "CINPlanDates", {"CINPlanStartDate": "2026-02-10"}), setv(C1, "ReferralNFA", BLANK)), PASS),
    Case("4001", "CPPendDate", "A plan with a blank end date is open, beside an open CIN plan",
         append(A2, "ChildProtectionPlans", dict(cppd("2026-03-02"), CPPendDate=BLANK)), FAIL),
    Case("4001", "CINPlanEndDate", "A CIN plan with a blank end date is open, beside an open plan",
         seq(append(A2, "ChildProtectionPlans", cppd("2026-03-02")), setv(A2plan, "CINPlanEndDate", BLANK)), FAIL),
    Case("4003", "CINPlanEndDate", "A CIN plan with a blank end date is open and not compared with the reviews",
         seq(setv(A1cpp, "Reviews", ["2025-10-15"]), setv(A1plan, "CINPlanEndDate", BLANK)), PASS),
    Case("4003", "CPPreviewDate", "A blank review date is no review",
         setv(A1cpp, "Reviews", [BLANK]), PASS),
    Case("4004", "CINPlanEndDate", "A second CIN plan with a blank end date is a second open plan",
         append(A2, "CINPlanDates", {"CINPlanStartDate": "2026-03-02", "CINPlanEndDate": BLANK}), FAIL),
    Case("4008", "PersonDeathDate", "A blank date of death is none", setv(IA, "PersonDeathDate", BLANK), PASS),
    Case("4008", "CINPlanStartDate", "A CIN plan with a blank start date does not start after the death",
         seq(setv(IA, "PersonDeathDate", "2026-02-20"), setv(A2plan, "CINPlanStartDate", BLANK)), PASS),
    Case("4009Q", "CINPlanEndDate", "A CIN plan with a blank end date does not end after the death",
         seq(setv(IA, "PersonDeathDate", "2025-11-10"), setv(A1plan, "CINPlanEndDate", BLANK)), PASS),
    Case("4010", "CINPlanStartDate", "A blank CIN plan start date is a missing one", setv(A2plan, "CINPlanStartDate", BLANK), FAIL),
    Case("4011", "CINPlanEndDate", "A blank CIN plan end date is not earlier than the start", setv(A1plan, "CINPlanEndDate", BLANK), PASS),
    Case("4012Q", "CINPlanEndDate", "A blank CIN plan end date is not the start date", setv(A1plan, "CINPlanEndDate", BLANK), PASS),
    Case("4013", "CINPlanEndDate", "A blank CIN plan end date is not outside the census year", setv(A2plan, "CINPlanEndDate", BLANK), PASS),
    Case("4014", "CINPlanEndDate", "A CIN plan with a blank end date is open and overlaps the next one",
         append(A2, "CINPlanDates", {"CINPlanStartDate": "2026-02-01", "CINPlanEndDate": BLANK}), FAIL),
    Case("4015", "CINPlanStartDate", "A blank CIN plan start date is missing (4010), not before the referral",
         setv(A2plan, "CINPlanStartDate", BLANK), PASS),
    Case("4016", "CPPendDate", "A plan with a blank end date is open when the CIN plan starts", setv(A1cpp, "CPPendDate", BLANK), FAIL),
    Case("4017", "CINPlanEndDate", "A CIN plan with a blank end date is open when the plan starts",
         seq(setv(A1plan, "CINPlanStartDate", "2025-05-20"), setv(A1plan, "CINPlanEndDate", BLANK)), FAIL),
    Case("4180", "Sex", "A blank Sex is a missing one", setv(IA, "Sex", BLANK), FAIL),
    Case("4220", "Ethnicity", "A blank Ethnicity is a missing one", setv(lambda d: chars(d, A), "Ethnicity", BLANK), FAIL),
    Case("8500", "LAchildID", "A blank LAchildID is a missing one", setv(IA, "LAchildID", BLANK), FAIL),
    Case("8510", "LAchildID", "Two blank LAchildIDs are missing (8500), not the same ID",
         seq(setv(IA, "LAchildID", BLANK), setv(IB, "LAchildID", BLANK)), PASS),
    Case("8520", "PersonBirthDate", "A blank date of birth is missing (8525Q), not after the census year",
         setv(IB, "PersonBirthDate", BLANK), PASS),
    Case("8525Q", "PersonBirthDate", "A child with a blank date of birth and no expected one has neither",
         setv(IA, "PersonBirthDate", BLANK), FAIL),
    Case("8525Q", "PersonBirthDate-unborn", "An unborn child with an expected date of birth and a blank date of birth has one of them",
         setv(IC, "PersonBirthDate", BLANK), PASS),
    Case("8530Q", "ExpectedPersonBirthDate", "A blank expected date of birth is not outside the range",
         setv(IC, "ExpectedPersonBirthDate", BLANK), PASS),
    Case("8535Q", "PersonBirthDate", "A date of death with a blank date of birth is not compared",
         seq(setv(IA, "PersonDeathDate", "2014-06-11"), setv(IA, "PersonBirthDate", BLANK)), PASS),
    Case("8540", "Disability", "A Disabilities group whose only Disability is blank records no disability",
         setv(lambda d: chars(d, A), "Disabilities", [BLANK]), FAIL),
    Case("8540", "PersonBirthDate", "A child with a blank date of birth is not checked for disabilities (as when it is left out)",
         seq(setv(lambda d: chars(d, A), "Disabilities", None), setv(IA, "PersonBirthDate", BLANK)), PASS),
    Case("8545Q", "PersonDeathDate", "A blank date of death is not outside the census year", setv(IA, "PersonDeathDate", BLANK), PASS),
    Case("8555Q", "CINreferralDate", "A referral with a blank date is not after the death",
         seq(setv(IA, "PersonDeathDate", "2026-01-11"), setv(A2, "CINreferralDate", BLANK)), PASS),
    Case("8565", "CINclosureDate", "An episode with a blank closure date is not closed", setv(A1, "CINclosureDate", BLANK), PASS),
    Case("8565", "CINPlanEndDate", "A CIN plan with a blank end date does not end after the closure",
         seq(setv(A1, "CINclosureDate", "2025-11-13"), setv(A1plan, "CINPlanEndDate", BLANK)), PASS),
    Case("8568", "ReferralNFA", "A blank ReferralNFA is a missing one", setv(A1, "ReferralNFA", BLANK), FAIL),
    Case("8585Q", "PersonDeathDate", "Closure reason RC2 (died) with a blank date of death has no date of death",
         seq(setv(A1, "ReasonForClosure", "RC2"), setv(IA, "PersonDeathDate", BLANK)), FAIL),
    Case("8585Q", "ReasonForClosure", "A blank ReasonForClosure is not RC2", setv(A1, "ReasonForClosure", BLANK), PASS, ["8640"]),
    Case("8600", "CINreferralDate", "A blank referral date is a missing one", setv(A2, "CINreferralDate", BLANK), FAIL),
    Case("8606", "ExpectedPersonBirthDate", "A blank expected date of birth is not compared with the referral",
         seq(setv(C1, "CINreferralDate", "2025-09-12"), setv(IC, "ExpectedPersonBirthDate", BLANK)), PASS),
    Case("8608", "AssessmentAuthorisationDate", "A blank authorisation date is not before the start",
         setv(A1ass, "AssessmentAuthorisationDate", BLANK), PASS),
    Case("8610", "PrimaryNeedCode", "A blank PrimaryNeedCode is a missing one", setv(A1, "PrimaryNeedCode", BLANK), FAIL, ["8650"]),
    Case("8614", "AssessmentAuthorisationDate", "An assessment with a blank authorisation date is not completed, yet has factors",
         setv(B1ass, "AssessmentAuthorisationDate", BLANK), FAIL),
    Case("8614", "AssessmentFactors", "An assessment not completed whose only factor is blank has no factors",
         seq(setv(B1ass, "AssessmentAuthorisationDate", None), setv(B1ass, "FactorsIdentifiedAtAssessment", [BLANK])), PASS),
    Case("8615", "S47ActualStartDate", "An enquiry with a conference and a blank start date has no start date",
         setv(A1s47, "S47ActualStartDate", BLANK), FAIL),
    Case("8615", "DateOfInitialCPC", "An enquiry with a blank conference date is not compared with its start",
         seq(setv(A1s47, "S47ActualStartDate", "2025-06-03"), setv(A1s47, "DateOfInitialCPC", BLANK)), PASS),
    Case("8620", "CINclosureDate", "A blank closure date is not outside the census year", setv(A2, "CINclosureDate", BLANK), PASS),
    Case("8630", "CINclosureDate", "A blank closure date is not before the referral", setv(C1, "CINclosureDate", BLANK), PASS),
    Case("8640", "ReasonForClosure", "A blank ReasonForClosure is missing (8805), not an invalid code",
         setv(A1, "ReasonForClosure", BLANK), PASS),
    Case("8650", "PrimaryNeedCode", "A blank PrimaryNeedCode is missing (8610), not an invalid code", setv(A1, "PrimaryNeedCode", BLANK), PASS),
    Case("8670Q", "AssessmentAuthorisationDate", "An assessment started 61 working days before year end with a blank authorisation date is open",
         B1_OPEN("2026-01-05"), FAIL),
    Case("8675Q", "DateOfInitialCPC", "An enquiry started 21 working days before year end with a blank conference date has none",
         seq(setv(B1s47, "S47ActualStartDate", "2026-03-02"), setv(B1s47, "DateOfInitialCPC", BLANK)), FAIL),
    Case("8696", "AssessmentAuthorisationDate", "A blank authorisation date is not outside the census year",
         setv(A1ass, "AssessmentAuthorisationDate", BLANK), PASS),
    Case("8715", "DateOfInitialCPC", "A blank conference date is not outside the census year", setv(A1s47, "DateOfInitialCPC", BLANK), PASS),
    Case("8720", "CPPstartDate", "A blank plan start date is a missing one", setv(A1cpp, "CPPstartDate", BLANK), FAIL),
    Case("8730", "NumberOfPreviousCPP", "A blank number of previous plans is a missing one", setv(A1cpp, "NumberOfPreviousCPP", BLANK), FAIL),
    Case("8736", "AssessmentAuthorisationDate", "An assessment started before the census year with a blank authorisation date is open",
         B1_OPEN("2025-03-30"), FAIL),
    Case("8740", "DateOfInitialCPC", "An enquiry started before the census year with a blank conference date has held none",
         seq(setv(B1s47, "S47ActualStartDate", "2025-03-30"), setv(B1s47, "DateOfInitialCPC", BLANK)), FAIL),
    Case("8750", "Sex", "An unborn child with a blank Sex is not U", setv(IC, "Sex", BLANK), FAIL),
    Case("8750", "ExpectedPersonBirthDate", "A child with a blank expected date of birth is not unborn",
         seq(setv(IC, "Sex", "F"), setv(IC, "ExpectedPersonBirthDate", BLANK)), PASS),
    Case("8770Q", "UPN", "A school-age child with a blank UPN and no reason has no UPN", setv(IB, "UPN", BLANK), FAIL, ["1540"]),
    Case("8770Q", "UPNunknown", "A school-age child with no UPN and a blank UPNunknown gives no reason",
         seq(setv(IB, "UPN", None), setv(IB, "UPNunknown", BLANK)), FAIL),
    Case("8772", "UPNunknown", "A blank UPNunknown is not UN7", setv(IA, "UPNunknown", BLANK), PASS),
    Case("8772", "ReferralNFA", "A UN7 child whose episode has a blank ReferralNFA has an episode not shown as no further action",
         seq(setv(IC, "UPNunknown", "UN7"), setv(C1, "ReferralNFA", BLANK)), FAIL),
    Case("8775Q", "CINclosureDate", "A child over 25 whose episode has a blank closure date has an open episode",
         seq(setv(IA, "PersonBirthDate", "2001-03-30"), setv(A2, "CINclosureDate", BLANK)), FAIL),
    Case("8775Q", "PersonBirthDate", "A blank date of birth is no age", setv(IA, "PersonBirthDate", BLANK), PASS),
    Case("8790", "Disability", "NONE beside a blank Disability stands alone",
         setv(lambda d: chars(d, A), "Disabilities", ["NONE", BLANK]), PASS),
    Case("8794", "Disability", "Two blank Disability elements are not a code given twice",
         setv(lambda d: chars(d, A), "Disabilities", ["LD", BLANK, BLANK]), PASS),
    Case("8805", "ReasonForClosure", "A closed episode with a blank ReasonForClosure has no reason (not an invalid code, 8640)",
         setv(A1, "ReasonForClosure", BLANK), FAIL, ["8640"]),
    Case("8805", "CINclosureDate", "A blank closure date with a reason is no closure date (8810)", setv(A1, "CINclosureDate", BLANK), PASS),
    Case("8810", "CINclosureDate", "A reason for closure with a blank closure date has no closure date", setv(A1, "CINclosureDate", BLANK), FAIL),
    Case("8810", "ReasonForClosure", "A blank ReasonForClosure on an open episode is no reason", setv(A2, "ReasonForClosure", BLANK), PASS),
    Case("8815", "CINclosureDate", "An episode with a blank closure date is a second open one",
         seq(setv(A1, "CINclosureDate", BLANK), setv(A1, "ReasonForClosure", BLANK)), FAIL),
    Case("8816", "CINclosureDate", "An earlier episode with a blank closure date is open, and not the latest",
         seq(setv(A1, "CINclosureDate", BLANK), setv(A1, "ReasonForClosure", None),
             setv(A2, "CINclosureDate", "2026-03-20"), setv(A2, "ReasonForClosure", "RC1")), FAIL),
    Case("8820", "CINclosureDate", "An episode with a blank closure date is open and overlaps the next", setv(A1, "CINclosureDate", BLANK), FAIL),
    Case("8825Q", "ReasonForClosure", "A blank ReasonForClosure is not RC8 or RC9", setv(C1, "ReasonForClosure", BLANK), PASS, ["8640"]),
    Case("8831", "DateOfInitialCPC", "A referral with no further action and a blank conference date has no activity",
         setv(C1, "DateOfInitialCPC", BLANK), PASS),
    Case("8831", "AssessmentActualStartDate", "A referral with no further action whose assessment has blank dates records no activity",
         append(C1, "Assessments", {"AssessmentActualStartDate": BLANK, "AssessmentAuthorisationDate": BLANK}), PASS),
    Case("8832", "ReferralNFA", "A blank ReferralNFA is missing (8568), not a referral with no further action",
         seq(NFA_PLAN, setv(C1, "ReferralNFA", BLANK)), PASS),
    Case("8839", "DateOfInitialCPC", "A second enquiry with a blank conference date and ICPCnotRequired false is open",
         append(B1, "Section47", {"S47ActualStartDate": "2026-03-25", "DateOfInitialCPC": BLANK, "ICPCnotRequired": "false"}), FAIL),
    Case("8839", "ICPCnotRequired", "A second enquiry with no conference and a blank ICPCnotRequired is open",
         append(B1, "Section47", {"S47ActualStartDate": "2026-03-25", "ICPCnotRequired": BLANK}), FAIL),
    Case("8840", "CPPendDate", "A blank plan end date is not the start date", setv(A1cpp, "CPPendDate", BLANK), PASS),
    Case("8841", "CPPreviewDate", "A blank review date is no review before the plan's start", setv(A1cpp, "Reviews", [BLANK]), PASS),
    Case("8842Q", "CPPreviewDate", "A Reviews group whose only review date is blank has a review with a missing date",
         setv(A1cpp, "Reviews", [BLANK]), FAIL),
    Case("8842Q", "CPPreviewDate-beside", "A blank review date beside a dated review in the Reviews group: the group has its date",
         setv(A1cpp, "Reviews", ["2025-08-15", BLANK]), PASS),
    Case("8863Q", "AssessmentAuthorisationDate", "An assessment with a blank authorisation date is ongoing when the next starts",
         seq(setv(A2ass, "AssessmentAuthorisationDate", BLANK),
             append(A2, "Assessments", {"AssessmentActualStartDate": "2026-02-21", "AssessmentAuthorisationDate": "2026-02-25",
                                        "FactorsIdentifiedAtAssessment": ["2B"]})), FAIL),
    Case("8866", "ReferralSource", "A blank ReferralSource is a missing one", setv(A1, "ReferralSource", BLANK), FAIL),
    Case("8867", "AssessmentAuthorisationDate", "A closed episode whose assessment has a blank authorisation date has an assessment not completed",
         seq(setv(A1ass, "AssessmentAuthorisationDate", BLANK), setv(A1ass, "FactorsIdentifiedAtAssessment", None)), FAIL),
    Case("8868", "DateOfInitialCPC", "A closed episode whose enquiry has a blank conference date has an enquiry not completed",
         setv(A1s47, "DateOfInitialCPC", BLANK), FAIL),
    Case("8868", "ICPCnotRequired", "An enquiry with no conference and a blank ICPCnotRequired is not shown as completed",
         seq(setv(A1s47, "DateOfInitialCPC", None), setv(A1s47, "ICPCnotRequired", BLANK)), FAIL),
    Case("8869", "AssessmentFactors", "Factor 21 beside a blank factor stands alone", setv(A1ass, "FactorsIdentifiedAtAssessment", ["21", BLANK]), PASS),
    Case("8870Q", "InitialCPCtarget", "A blank conference target date is not a weekend", setv(B1s47, "InitialCPCtarget", BLANK), PASS),
    Case("8873Q", "ReasonForClosure", "Factor 21 alone on an episode with a blank ReasonForClosure has no RC8 or RC9",
         seq(setv(A1ass, "FactorsIdentifiedAtAssessment", ["21"]), setv(A1, "ReasonForClosure", BLANK)), FAIL, ["8640"]),
    Case("8875", "DateOfInitialCPC", "A blank conference date is not a weekend", setv(A1s47, "DateOfInitialCPC", BLANK), PASS),
    Case("8890", "DateOfInitialCPC", "An enquiry with a blank conference date is ongoing when the next starts",
         append(B1, "Section47", {"S47ActualStartDate": "2026-03-10", "DateOfInitialCPC": BLANK, "ICPCnotRequired": "false"}), FAIL),
    Case("8896", "AssessmentAuthorisationDate", "An assessment with a blank authorisation date is a second open one",
         seq(setv(A2ass, "AssessmentAuthorisationDate", BLANK), setv(A2ass, "FactorsIdentifiedAtAssessment", None),
             append(A2, "Assessments", {"AssessmentActualStartDate": "2026-03-02"})), FAIL),
    Case("8897Q", "AssessmentFactors", "A completed assessment whose only factor is blank has no factors",
         setv(A1ass, "FactorsIdentifiedAtAssessment", [BLANK]), FAIL),
    Case("8897Q", "AssessmentAuthorisationDate", "An assessment with a blank authorisation date is not completed",
         seq(setv(A1ass, "AssessmentAuthorisationDate", BLANK), setv(A1ass, "FactorsIdentifiedAtAssessment", None)), PASS),
    Case("8898", "AssessmentFactors", "Two blank factors are not a code given twice",
         setv(A1ass, "FactorsIdentifiedAtAssessment", ["4B", BLANK, BLANK]), PASS),
    Case("8905", "InitialCategoryOfAbuse", "A blank initial category of abuse is a missing one", setv(A1cpp, "InitialCategoryOfAbuse", BLANK), FAIL),
    Case("8910", "LatestCategoryOfAbuse", "A blank latest category of abuse is a missing one", setv(A1cpp, "LatestCategoryOfAbuse", BLANK), FAIL),
    Case("8915", "CPPstartDate", "A plan with a blank start date does not start after the death",
         seq(setv(IA, "PersonDeathDate", "2025-06-01"), setv(A1cpp, "CPPstartDate", BLANK)), PASS),
    Case("8920", "CPPendDate", "A plan with a blank end date does not end after the death",
         seq(setv(IA, "PersonDeathDate", "2025-09-30"), setv(A1cpp, "CPPendDate", BLANK)), PASS),
    Case("8925", "CPPendDate", "A blank plan end date is not before the start", setv(A1cpp, "CPPendDate", BLANK), PASS),
    Case("8930", "CPPendDate", "A blank plan end date is not outside the census year",
         append(A2, "ChildProtectionPlans", dict(cppd("2026-03-02"), CPPendDate=BLANK)), PASS),
    Case("8935", "CPPendDate", "A plan with a blank end date is a second open plan",
         seq(append(A2, "ChildProtectionPlans", cppd("2026-03-02")), setv(A1cpp, "CPPendDate", BLANK)), FAIL),
    Case("8940", "CPPendDate", "A plan with a blank end date is open when the next starts",
         seq(append(A2, "ChildProtectionPlans", cppd("2026-02-02", "2026-02-10")), setv(A1cpp, "CPPendDate", BLANK)), FAIL),
    Case("8945Q", "AssessmentFactors", "A blank factor is not 18A", setv(A1ass, "FactorsIdentifiedAtAssessment", ["18B", BLANK]), PASS),
    Case("8950Q", "AssessmentFactors", "A blank factor is not 19A", setv(A1ass, "FactorsIdentifiedAtAssessment", ["19B", BLANK]), PASS),
]


def fill(value, form):
    """`value` with every blank of no form given `form`."""
    if isinstance(value, Blank):
        return value if value.form else Blank(form)
    if isinstance(value, dict):
        return {k: fill(v, form) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, form) for v in value]
    return value


def blanks(value):
    if isinstance(value, Blank):
        return 1
    if isinstance(value, dict):
        return sum(blanks(v) for v in value.values())
    if isinstance(value, list):
        return sum(blanks(v) for v in value)
    return 0


def toml_list(items):
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def manifest_entry(case, document_path, form):
    lines = ["[[case]]", f'id = "{case.code}-blank-{case.name}"',
             f'title = "{case.code}: {case.title} ({form})"', f'document = "{document_path}"']
    if case.fails:
        lines += [f'verdict = "{"any" if QUERY(case.code) else "invalid"}"', f"rules = {toml_list([case.code])}"]
        absent = case.absent
    else:
        lines += ['verdict = "any"']
        absent = [case.code] + case.absent
    if absent:
        lines.append(f"absent = {toml_list(absent)}")
    lines.append(f"requirements = {toml_list([case.code])}")
    return "\n".join(lines) + "\n"


def main():
    entries = []
    names = set()
    for i, case in enumerate(CASES):
        form = Blank.FORMS[i % len(Blank.FORMS)]
        doc = copy.deepcopy(BASE)
        case.change(doc)
        doc = fill(doc, form)
        assert blanks(doc) > 0, f"{case.code} {case.name}: the change writes no blank element"
        path = f"cases/{case.code}/blank-{case.name}.xml"
        assert path not in names, f"two cases write {path}"
        names.add(path)
        (SUITE / path).write_text(document(doc))
        entries.append(manifest_entry(case, path, form))
    manifest = SUITE / "suite.toml"
    text = manifest.read_text()
    head = text.split(BEGIN)[0].rstrip("\n") + "\n\n"
    manifest.write_text(head + BEGIN + "\n" + "\n".join(entries))
    print(f"{len(CASES)} blank-element cases written to {SUITE / 'cases'} and listed in {manifest}")


if __name__ == "__main__":
    main()
