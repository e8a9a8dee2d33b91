#!/usr/bin/env python3
"""Writes the per-rule conformance cases of the CIN census 2025-26 pack.

One small valid base return (three children: one with two episodes and every kind of activity, one school-age
child with an open episode, one unborn child referred with no further action) is written as `base.xml`; each
rule's `cases/<code>/fail.xml` is the base with one change that breaks the rule, `pass.xml` the nearest change
that does not, and `expected.toml` the findings of that rule in fail.xml, as (rule, child) pairs.

Run from anywhere: python3 conformance-suite/cin-census/2025-26/tools/make_cases.py
"""
import copy
import pathlib
from xml.sax.saxutils import escape

SUITE = pathlib.Path(__file__).resolve().parent.parent

# Element order of each group (the XML sequence); wrapped lists name their item element.
ORDER = {
    "Message": ["Header", "Children"],
    "Header": ["CollectionDetails", "Source"],
    "CollectionDetails": ["Collection", "Year", "ReferenceDate"],
    "Source": ["SourceLevel", "LEA", "SoftwareCode", "Release", "SerialNo", "DateTime"],
    "Children": ["Child"],
    "Child": ["ChildIdentifiers", "ChildCharacteristics", "CINdetails"],
    "ChildIdentifiers": ["LAchildID", "UPN", "FormerUPN", "UPNunknown", "PersonBirthDate", "ExpectedPersonBirthDate", "Sex", "PersonDeathDate"],
    "ChildCharacteristics": ["Ethnicity", "Disabilities"],
    "CINdetails": ["CINreferralDate", "ReferralSource", "PrimaryNeedCode", "CINclosureDate", "ReasonForClosure", "DateOfInitialCPC",
                   "Assessments", "CINPlanDates", "Section47", "ReferralNFA", "ChildProtectionPlans"],
    "Assessments": ["AssessmentActualStartDate", "AssessmentInternalReviewDate", "AssessmentAuthorisationDate", "FactorsIdentifiedAtAssessment"],
    "CINPlanDates": ["CINPlanStartDate", "CINPlanEndDate"],
    "Section47": ["S47ActualStartDate", "InitialCPCtarget", "DateOfInitialCPC", "ICPCnotRequired"],
    "ChildProtectionPlans": ["CPPstartDate", "CPPendDate", "InitialCategoryOfAbuse", "LatestCategoryOfAbuse", "NumberOfPreviousCPP", "Reviews"],
}
WRAPPED = {"Disabilities": "Disability", "FactorsIdentifiedAtAssessment": "AssessmentFactors", "Reviews": "CPPreviewDate"}


class Blank:
    """A blank element, written in one of the three ways a return may hold one: `empty` (<X></X>),
    `self-closing` (<X/>) or `whitespace` (<X> and a line break, then </X>). `form` None is filled in later."""
    FORMS = ("empty", "self-closing", "whitespace")

    def __init__(self, form=None):
        assert form is None or form in Blank.FORMS, form
        self.form = form

    def element(self, name, pad):
        if self.form == "self-closing":
            return f"<{name}/>"
        if self.form == "whitespace":
            return f"<{name}>\n{pad}  </{name}>"
        return f"<{name}></{name}>"


def scalar(name, value, pad):
    if isinstance(value, Blank):
        return f"{pad}{value.element(name, pad)}\n"
    return f"{pad}<{name}>{escape(str(value))}</{name}>\n"


def to_xml(name, value, indent=0):
    pad = "  " * indent
    if name in WRAPPED:
        if not value:
            return f"{pad}<{name}/>\n"
        items = "".join(scalar(WRAPPED[name], v, pad + "  ") for v in value)
        return f"{pad}<{name}>\n{items}{pad}</{name}>\n"
    if isinstance(value, list):
        return "".join(to_xml(name, v, indent) for v in value)
    if isinstance(value, dict):
        order = ORDER[name]
        unknown = set(value) - set(order)
        assert not unknown, (name, unknown)
        inner = "".join(to_xml(k, value[k], indent + 1) for k in order if k in value)
        return f"{pad}<{name}>\n{inner}{pad}</{name}>\n"
    return scalar(name, value, pad)


def document(doc):
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + to_xml("Message", doc)


UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def upn(body):
    """A UPN with its DfE check letter: `body` is characters 2-13."""
    total = sum((int(c) if c.isdigit() else UPN_LETTERS.index(c)) * (i + 2) for i, c in enumerate(body))
    return UPN_LETTERS[total % 23] + body


BASE = {
    "Header": {
        "CollectionDetails": {"Collection": "CIN", "Year": "2026", "ReferenceDate": "2026-03-31"},
        "Source": [{"SourceLevel": "L", "LEA": "873", "SoftwareCode": "caregate conformance", "Release": "1.0",
                    "SerialNo": "001", "DateTime": "2026-04-15T09:30:00"}],
    },
    "Children": {"Child": [
        {   # CH001: a school-age child with a closed episode (assessment, S47, conference, CPP, CIN plan) and an open one
            "ChildIdentifiers": {"LAchildID": "CH001", "UPN": upn("873260114101"), "PersonBirthDate": "2014-06-12", "Sex": "M"},
            "ChildCharacteristics": {"Ethnicity": "WBRI", "Disabilities": ["LD", "COMM", "HAND", "MOB"]},
            "CINdetails": [
                {
                    "CINreferralDate": "2025-05-06", "ReferralSource": "2A", "PrimaryNeedCode": "N4",
                    "CINclosureDate": "2025-11-14", "ReasonForClosure": "RC1",
                    "Assessments": [{"AssessmentActualStartDate": "2025-05-07", "AssessmentAuthorisationDate": "2025-06-20",
                                     "FactorsIdentifiedAtAssessment": ["4B", "3A"]}],
                    "CINPlanDates": [{"CINPlanStartDate": "2025-10-01", "CINPlanEndDate": "2025-11-14"}],
                    "Section47": [{"S47ActualStartDate": "2025-05-12", "InitialCPCtarget": "2025-06-02",
                                   "DateOfInitialCPC": "2025-06-02", "ICPCnotRequired": "false"}],
                    "ReferralNFA": "false",
                    "ChildProtectionPlans": [{"CPPstartDate": "2025-06-02", "CPPendDate": "2025-10-01", "InitialCategoryOfAbuse": "NEG",
                                              "LatestCategoryOfAbuse": "NEG", "NumberOfPreviousCPP": "1", "Reviews": ["2025-08-15"]}],
                },
                {
                    "CINreferralDate": "2026-01-12", "ReferralSource": "1A", "PrimaryNeedCode": "N5",
                    "Assessments": [{"AssessmentActualStartDate": "2026-01-13", "AssessmentAuthorisationDate": "2026-02-20",
                                     "FactorsIdentifiedAtAssessment": ["2B"]}],
                    "CINPlanDates": [{"CINPlanStartDate": "2026-02-23"}],
                    "ReferralNFA": "false",
                },
            ],
        },
        {   # CH002: a school-age child with one open episode and an S47 enquiry awaiting its conference
            "ChildIdentifiers": {"LAchildID": "CH002", "UPN": upn("873201519042"), "PersonBirthDate": "2019-09-03", "Sex": "F"},
            "ChildCharacteristics": {"Ethnicity": "BAFR", "Disabilities": ["HEAR", "VIS", "BEH", "AUT"]},
            "CINdetails": [{
                "CINreferralDate": "2025-09-15", "ReferralSource": "5A", "PrimaryNeedCode": "N1",
                "Assessments": [{"AssessmentActualStartDate": "2025-09-16", "AssessmentAuthorisationDate": "2025-10-20",
                                 "FactorsIdentifiedAtAssessment": ["1C"]}],
                "Section47": [{"S47ActualStartDate": "2026-03-20", "InitialCPCtarget": "2026-04-08", "ICPCnotRequired": "false"}],
                "ReferralNFA": "false",
            }],
        },
        {   # CH003: an unborn child, referred with no further action
            "ChildIdentifiers": {"LAchildID": "CH003", "ExpectedPersonBirthDate": "2026-06-20", "Sex": "U"},
            "ChildCharacteristics": {"Ethnicity": "NOBT"},
            "CINdetails": [{
                "CINreferralDate": "2026-02-10", "ReferralSource": "3A", "CINclosureDate": "2026-02-10",
                "ReasonForClosure": "RC4", "ReferralNFA": "true",
            }],
        },
    ]},
}


# Shorthands over a copy of the base.
def child(d, i): return d["Children"]["Child"][i]
def ids(d, i): return child(d, i)["ChildIdentifiers"]
def chars(d, i): return child(d, i)["ChildCharacteristics"]
def ep(d, i, e=0): return child(d, i)["CINdetails"][e]
def ass(d, i, e=0, k=0): return ep(d, i, e)["Assessments"][k]
def plan(d, i, e=0, k=0): return ep(d, i, e)["CINPlanDates"][k]
def s47(d, i, e=0, k=0): return ep(d, i, e)["Section47"][k]
def cpp(d, i, e=0, k=0): return ep(d, i, e)["ChildProtectionPlans"][k]


def setv(getter, key, value):
    def change(d):
        node = getter(d)
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    return change


def seq(*changes):
    def change(d):
        for c in changes:
            c(d)
    return change


def do(fn):
    return fn


NOTHING = seq()
A, B, C = 0, 1, 2
A1 = lambda d: ep(d, A, 0)
A2 = lambda d: ep(d, A, 1)
B1 = lambda d: ep(d, B, 0)
C1 = lambda d: ep(d, C, 0)
IA, IB, IC = (lambda d: ids(d, A)), (lambda d: ids(d, B)), (lambda d: ids(d, C))
A1ass, A2ass, B1ass = (lambda d: ass(d, A, 0)), (lambda d: ass(d, A, 1)), (lambda d: ass(d, B, 0))
A1plan, A2plan = (lambda d: plan(d, A, 0)), (lambda d: plan(d, A, 1))
A1s47, B1s47 = (lambda d: s47(d, A, 0)), (lambda d: s47(d, B, 0))
A1cpp = lambda d: cpp(d, A, 0)


def append(getter, key, item):
    def change(d):
        getter(d).setdefault(key, []).append(copy.deepcopy(item))
    return change


OPEN_CPP = {"CPPstartDate": "2026-03-02", "InitialCategoryOfAbuse": "EMO", "LatestCategoryOfAbuse": "EMO", "NumberOfPreviousCPP": "1"}
def cppd(start, end=None):
    p = dict(OPEN_CPP, CPPstartDate=start)
    if end:
        p["CPPendDate"] = end
    return p


# code: (fail change, pass change, children with a finding in fail.xml; [] for a return-level finding)
CASES = {
    "100": (setv(lambda d: d["Header"]["CollectionDetails"], "ReferenceDate", "2026-03-30"), NOTHING, [None]),
    "1103": (setv(A1ass, "AssessmentActualStartDate", "2025-05-05"), setv(A1ass, "AssessmentActualStartDate", "2025-05-06"), ["CH001"]),
    "1104": (setv(A1s47, "DateOfInitialCPC", "2025-05-05"), setv(A1s47, "DateOfInitialCPC", "2025-05-06"), ["CH001"]),
    "1105": (setv(A1cpp, "CPPstartDate", "2025-05-05"), setv(A1cpp, "CPPstartDate", "2025-05-06"), ["CH001"]),
    "1510": (setv(IA, "UPN", "A873260114101"), NOTHING, ["CH001"]),
    "1520": (setv(IB, "UPN", upn("873260114101")), NOTHING, ["CH001", "CH002"]),
    "1530": (setv(IA, "UPN", upn("999260114101")), setv(IA, "UPN", upn("943260114101")), ["CH001"]),
    "1540": (setv(IA, "UPN", upn("8732601A4101")), NOTHING, ["CH001"]),
    "1550": (setv(IA, "UPN", "R87326011410I"), setv(IA, "UPN", upn("87326011410A")), ["CH001"]),
    "1560Q": (setv(IA, "FormerUPN", "X87326011410"), setv(IA, "FormerUPN", upn("87326011410B")), ["CH001"]),
    "1570": (setv(IA, "LAchildID", "CH001CH001CH001CH0012"), setv(IA, "LAchildID", "CH001CH001CH001CH001"), ["CH001CH001CH001CH0012"]),
    "1580": (setv(IA, "LAchildID", "CH-001"), NOTHING, ["CH-001"]),
    "2883": (setv(A1s47, "DateOfInitialCPC", None), seq(setv(A1s47, "DateOfInitialCPC", None), setv(A1, "DateOfInitialCPC", "2025-06-02")), [None]),
    "2884": (setv(A1, "DateOfInitialCPC", "2025-06-02"), NOTHING, ["CH001"]),
    "2885": (setv(A1cpp, "CPPstartDate", "2025-06-03"), NOTHING, ["CH001"]),
    "2886Q": (setv(IB, "Sex", "U"), NOTHING, [None]),
    "2887Q": (setv(lambda d: chars(d, B), "Disabilities", ["HEAR"]), NOTHING, [None]),
    "2888Q": (seq(setv(lambda d: chars(d, A), "Disabilities", ["LD"]), setv(lambda d: chars(d, B), "Disabilities", ["HEAR"])),
              setv(lambda d: chars(d, B), "Disabilities", ["HEAR"]), [None]),
    "2889": (setv(A1s47, "S47ActualStartDate", "2025-05-05"), setv(A1s47, "S47ActualStartDate", "2025-05-06"), ["CH001"]),
    "2990": (setv(A1, "ReasonForClosure", "RC8"), NOTHING, ["CH001"]),
    "2991Q": (setv(B1, "Assessments", None), NOTHING, ["CH002"]),
    "4000": (append(C1, "CINPlanDates", {"CINPlanStartDate": "2026-02-10"}), NOTHING, ["CH003"]),
    "4001": (append(A2, "ChildProtectionPlans", cppd("2026-03-02")),
             seq(append(A2, "ChildProtectionPlans", cppd("2026-03-02")), setv(A2plan, "CINPlanEndDate", "2026-03-02")), ["CH001"]),
    "4003": (setv(A1cpp, "Reviews", ["2025-10-15"]), setv(A1cpp, "Reviews", ["2025-09-30"]), ["CH001"]),
    "4004": (append(A2, "CINPlanDates", {"CINPlanStartDate": "2026-03-02"}), NOTHING, ["CH001"]),
    "4008": (setv(IA, "PersonDeathDate", "2026-02-20"), setv(IA, "PersonDeathDate", "2026-02-23"), ["CH001"]),
    "4009Q": (setv(IA, "PersonDeathDate", "2025-11-10"), setv(IA, "PersonDeathDate", "2025-11-14"), ["CH001"]),
    "4010": (setv(A2plan, "CINPlanStartDate", "2026-04-01"), setv(A2plan, "CINPlanStartDate", "2026-03-31"), ["CH001"]),
    "4011": (setv(A1plan, "CINPlanEndDate", "2025-09-30"), NOTHING, ["CH001"]),
    "4012Q": (setv(A1plan, "CINPlanEndDate", "2025-10-01"), NOTHING, ["CH001"]),
    "4013": (setv(A2plan, "CINPlanEndDate", "2026-04-01"), setv(A2plan, "CINPlanEndDate", "2026-03-31"), ["CH001"]),
    "4014": (append(A2, "CINPlanDates", {"CINPlanStartDate": "2026-03-01", "CINPlanEndDate": "2026-03-10"}),
             append(A2, "CINPlanDates", {"CINPlanStartDate": "2026-02-01", "CINPlanEndDate": "2026-02-20"}), ["CH001"]),
    "4015": (setv(A2plan, "CINPlanStartDate", "2026-01-11"), setv(A2plan, "CINPlanStartDate", "2026-01-12"), ["CH001"]),
    "4016": (setv(A1plan, "CINPlanStartDate", "2025-09-01"), NOTHING, ["CH001"]),
    "4017": (seq(setv(A1plan, "CINPlanStartDate", "2025-06-01"), setv(A1plan, "CINPlanEndDate", "2025-06-10")),
             seq(setv(A1plan, "CINPlanStartDate", "2025-05-20"), setv(A1plan, "CINPlanEndDate", "2025-06-02")), ["CH001"]),
    "4180": (setv(IA, "Sex", "X"), NOTHING, ["CH001"]),
    "4220": (setv(lambda d: chars(d, A), "Ethnicity", "XXXX"), NOTHING, ["CH001"]),
    "8500": (setv(IA, "LAchildID", None), NOTHING, [None]),
    "8510": (setv(IB, "LAchildID", "CH001"), NOTHING, ["CH001"]),
    "8520": (setv(IA, "PersonBirthDate", "2026-04-01"), setv(IA, "PersonBirthDate", "2026-03-31"), ["CH001"]),
    "8525Q": (setv(IC, "PersonBirthDate", "2026-03-01"), NOTHING, ["CH003"]),
    "8530Q": (setv(IC, "ExpectedPersonBirthDate", "2027-01-01"), setv(IC, "ExpectedPersonBirthDate", "2026-12-31"), ["CH003"]),
    "8535Q": (setv(IA, "PersonDeathDate", "2014-06-11"), setv(IA, "PersonDeathDate", "2026-03-30"), ["CH001"]),
    "8540": (setv(lambda d: chars(d, A), "Disabilities", None), NOTHING, ["CH001"]),
    "8545Q": (setv(IA, "PersonDeathDate", "2026-04-02"), setv(IA, "PersonDeathDate", "2026-03-31"), ["CH001"]),
    "8555Q": (setv(IA, "PersonDeathDate", "2026-01-11"), setv(IA, "PersonDeathDate", "2026-03-30"), ["CH001"]),
    "8565": (setv(A1, "CINclosureDate", "2025-11-13"), NOTHING, ["CH001"]),
    "8568": (setv(A1, "ReferralNFA", "no"), setv(A1, "ReferralNFA", "0"), ["CH001"]),
    "8569Q": (setv(C1, "CINreferralDate", "2025-03-28"), setv(C1, "CINreferralDate", "2025-03-31"), ["CH003"]),
    "8585Q": (setv(A1, "ReasonForClosure", "RC2"), seq(setv(A1, "ReasonForClosure", "RC2"), setv(IA, "PersonDeathDate", "2025-11-14")), ["CH001"]),
    "8590": (setv(lambda d: child(d, A), "CINdetails", None), NOTHING, ["CH001"]),
    "8600": (setv(A2, "CINreferralDate", "2026-04-01"), setv(A2, "CINreferralDate", "2026-01-13"), ["CH001"]),
    "8606": (setv(C1, "CINreferralDate", "2025-09-12"), setv(C1, "CINreferralDate", "2025-09-13"), ["CH003"]),
    "8608": (setv(A1ass, "AssessmentAuthorisationDate", "2025-05-06"), setv(A1ass, "AssessmentAuthorisationDate", "2025-05-07"), ["CH001"]),
    "8610": (setv(A1, "PrimaryNeedCode", None), NOTHING, ["CH001"]),
    "8614": (setv(B1ass, "AssessmentAuthorisationDate", None),
             seq(setv(B1ass, "AssessmentAuthorisationDate", None), setv(B1ass, "FactorsIdentifiedAtAssessment", None)), ["CH002"]),
    "8615": (setv(A1s47, "S47ActualStartDate", "2025-06-03"), setv(A1s47, "S47ActualStartDate", "2025-06-02"), ["CH001"]),
    "8620": (setv(A1, "CINclosureDate", "2026-04-01"), setv(A1, "CINclosureDate", "2026-01-11"), ["CH001"]),
    "8630": (setv(A1, "CINclosureDate", "2025-05-05"), NOTHING, ["CH001"]),
    "8640": (setv(A1, "ReasonForClosure", "RC0"), NOTHING, ["CH001"]),
    "8650": (setv(A1, "PrimaryNeedCode", "N10"), NOTHING, ["CH001"]),
    # 5 January 2026 is 61 working days before 31 March; 2 February is 41.
    "8670Q": (seq(setv(B1ass, "AssessmentActualStartDate", "2026-01-05"), setv(B1ass, "AssessmentAuthorisationDate", None),
                  setv(B1ass, "FactorsIdentifiedAtAssessment", None)),
              seq(setv(B1ass, "AssessmentActualStartDate", "2026-02-02"), setv(B1ass, "AssessmentAuthorisationDate", None),
                  setv(B1ass, "FactorsIdentifiedAtAssessment", None)), ["CH002"]),
    # 2 March 2026 is 21 working days before 31 March; 10 March is 15.
    "8675Q": (setv(B1s47, "S47ActualStartDate", "2026-03-02"), setv(B1s47, "S47ActualStartDate", "2026-03-10"), ["CH002"]),
    "8696": (setv(A2ass, "AssessmentAuthorisationDate", "2026-04-01"), setv(A2ass, "AssessmentAuthorisationDate", "2026-03-31"), ["CH001"]),
    "8715": (setv(A1s47, "DateOfInitialCPC", "2026-04-01"), setv(A1s47, "DateOfInitialCPC", "2026-03-31"), ["CH001"]),
    "8720": (setv(A1cpp, "CPPstartDate", "2026-04-01"), setv(A1cpp, "CPPstartDate", "2026-03-31"), ["CH001"]),
    "8730": (setv(A1cpp, "NumberOfPreviousCPP", "-1"), NOTHING, ["CH001"]),
    "8736": (seq(setv(B1ass, "AssessmentActualStartDate", "2025-03-30"), setv(B1ass, "AssessmentAuthorisationDate", None),
                 setv(B1ass, "FactorsIdentifiedAtAssessment", None)),
             seq(setv(B1ass, "AssessmentActualStartDate", "2025-03-31"), setv(B1ass, "AssessmentAuthorisationDate", None),
                 setv(B1ass, "FactorsIdentifiedAtAssessment", None)), ["CH002"]),
    "8740": (setv(B1s47, "S47ActualStartDate", "2025-03-30"), setv(B1s47, "S47ActualStartDate", "2025-03-31"), ["CH002"]),
    "8750": (setv(IC, "Sex", "F"), NOTHING, ["CH003"]),
    "8770Q": (setv(IB, "UPN", None), seq(setv(IB, "UPN", None), setv(IB, "UPNunknown", "UN3")), ["CH002"]),
    "8772": (setv(IA, "UPNunknown", "UN7"), setv(IC, "UPNunknown", "UN7"), ["CH001"]),
    "8775Q": (setv(IA, "PersonBirthDate", "2001-03-30"), setv(IA, "PersonBirthDate", "2001-03-31"), ["CH001"]),
    "8790": (setv(lambda d: chars(d, A), "Disabilities", ["NONE", "LD"]), NOTHING, ["CH001"]),
    "8794": (setv(lambda d: chars(d, A), "Disabilities", ["LD", "LD", "COMM"]), NOTHING, ["CH001"]),
    "8805": (setv(A1, "ReasonForClosure", None), NOTHING, ["CH001"]),
    "8810": (setv(A2, "ReasonForClosure", "RC1"), NOTHING, ["CH001"]),
    "8815": (seq(setv(A1, "CINclosureDate", None), setv(A1, "ReasonForClosure", None)),
             seq(setv(A1, "CINclosureDate", None), setv(A1, "ReasonForClosure", None), setv(A1, "ReferralNFA", "true")), ["CH001"]),
    "8816": (seq(setv(A1, "CINclosureDate", None), setv(A1, "ReasonForClosure", None),
                 setv(A2, "CINclosureDate", "2026-03-20"), setv(A2, "ReasonForClosure", "RC1")), NOTHING, ["CH001"]),
    "8820": (setv(A1, "CINclosureDate", "2026-01-20"), setv(A1, "CINclosureDate", "2026-01-12"), ["CH001"]),
    "8825Q": (setv(C1, "ReasonForClosure", "RC8"), NOTHING, ["CH003"]),
    "8831": (append(C1, "Assessments", {"AssessmentActualStartDate": "2026-02-10"}), NOTHING, ["CH003"]),
    "8832": (append(C1, "ChildProtectionPlans", cppd("2026-02-10")), NOTHING, ["CH003"]),
    "8839": (append(B1, "Section47", {"S47ActualStartDate": "2026-03-25", "ICPCnotRequired": "false"}),
             append(B1, "Section47", {"S47ActualStartDate": "2026-03-25", "ICPCnotRequired": "true"}), ["CH002"]),
    "8840": (setv(A1cpp, "CPPendDate", "2025-06-02"), NOTHING, ["CH001"]),
    "8841": (setv(A1cpp, "Reviews", ["2025-06-02"]), setv(A1cpp, "Reviews", ["2025-06-03"]), ["CH001"]),
    "8842Q": (setv(A1cpp, "Reviews", []), NOTHING, ["CH001"]),
    "8863Q": (append(A2, "Assessments", {"AssessmentActualStartDate": "2026-01-20", "AssessmentAuthorisationDate": "2026-01-30",
                                         "FactorsIdentifiedAtAssessment": ["2B"]}),
              append(A2, "Assessments", {"AssessmentActualStartDate": "2026-02-21", "AssessmentAuthorisationDate": "2026-02-25",
                                         "FactorsIdentifiedAtAssessment": ["2B"]}), ["CH001"]),
    "8866": (setv(A1, "ReferralSource", "XX"), NOTHING, ["CH001"]),
    "8867": (seq(setv(A1ass, "AssessmentAuthorisationDate", None), setv(A1ass, "FactorsIdentifiedAtAssessment", None)), NOTHING, ["CH001"]),
    "8868": (setv(A1s47, "DateOfInitialCPC", None), seq(setv(A1s47, "DateOfInitialCPC", None), setv(A1s47, "ICPCnotRequired", "true")), ["CH001"]),
    "8869": (setv(A1ass, "FactorsIdentifiedAtAssessment", ["21", "3A"]), setv(A1ass, "FactorsIdentifiedAtAssessment", ["21"]), ["CH001"]),
    # 4 April 2026 is a Saturday; 6 April is Easter Monday, a bank holiday but not a weekend.
    "8870Q": (setv(B1s47, "InitialCPCtarget", "2026-04-04"), setv(B1s47, "InitialCPCtarget", "2026-04-06"), ["CH002"]),
    "8873Q": (setv(A1ass, "FactorsIdentifiedAtAssessment", ["21"]),
              seq(setv(A1ass, "FactorsIdentifiedAtAssessment", ["21"]), setv(A1, "ReasonForClosure", "RC9")), ["CH001"]),
    # 1 June 2025 is a Sunday.
    "8875": (setv(A1s47, "DateOfInitialCPC", "2025-06-01"), NOTHING, ["CH001"]),
    "8890": (append(B1, "Section47", {"S47ActualStartDate": "2026-03-25", "DateOfInitialCPC": "2026-03-27", "ICPCnotRequired": "false"}),
             append(B1, "Section47", {"S47ActualStartDate": "2026-03-10", "DateOfInitialCPC": "2026-03-13", "ICPCnotRequired": "false"}), ["CH002"]),
    "8896": (seq(setv(A2ass, "AssessmentAuthorisationDate", None), setv(A2ass, "FactorsIdentifiedAtAssessment", None),
                 append(A2, "Assessments", {"AssessmentActualStartDate": "2026-03-02"})),
             append(A2, "Assessments", {"AssessmentActualStartDate": "2026-03-02"}), ["CH001"]),
    "8897Q": (setv(A1ass, "FactorsIdentifiedAtAssessment", None), NOTHING, ["CH001"]),
    "8898": (setv(A1ass, "FactorsIdentifiedAtAssessment", ["4B", "4B"]), NOTHING, ["CH001"]),
    "8905": (setv(A1cpp, "InitialCategoryOfAbuse", "XXX"), NOTHING, ["CH001"]),
    "8910": (setv(A1cpp, "LatestCategoryOfAbuse", "XXX"), NOTHING, ["CH001"]),
    "8915": (setv(IA, "PersonDeathDate", "2025-06-01"), setv(IA, "PersonDeathDate", "2025-06-02"), ["CH001"]),
    "8920": (setv(IA, "PersonDeathDate", "2025-09-30"), setv(IA, "PersonDeathDate", "2025-10-01"), ["CH001"]),
    "8925": (setv(A1cpp, "CPPendDate", "2025-06-01"), NOTHING, ["CH001"]),
    "8930": (setv(A1cpp, "CPPendDate", "2026-04-01"), setv(A1cpp, "CPPendDate", "2026-03-31"), ["CH001"]),
    "8935": (seq(append(A2, "ChildProtectionPlans", cppd("2026-03-02")), setv(A1cpp, "CPPendDate", None)),
             append(A2, "ChildProtectionPlans", cppd("2026-03-02")), ["CH001"]),
    "8940": (append(A2, "ChildProtectionPlans", cppd("2025-09-01", "2025-09-20")),
             append(A2, "ChildProtectionPlans", cppd("2026-02-02", "2026-02-10")), ["CH001"]),
    "8945Q": (setv(A1ass, "FactorsIdentifiedAtAssessment", ["18A"]), setv(A1ass, "FactorsIdentifiedAtAssessment", ["18B"]), ["CH001"]),
    "8950Q": (setv(A1ass, "FactorsIdentifiedAtAssessment", ["19A"]), setv(A1ass, "FactorsIdentifiedAtAssessment", ["19B"]), ["CH001"]),
}


def expected_toml(code, children):
    rows = []
    for c in children:
        rows.append(f'  {{ rule = "{code}" }},' if c is None else f'  {{ rule = "{code}", child = "{c}" }},')
    return "# The findings of rule {0} in fail.xml (written by tools/make_cases.py).\nfail = [\n{1}\n]\n".format(code, "\n".join(rows))


def main():
    (SUITE / "base.xml").write_text(document(BASE))
    for code, (fail, passing, children) in CASES.items():
        folder = SUITE / "cases" / code
        folder.mkdir(parents=True, exist_ok=True)
        for name, change in (("fail.xml", fail), ("pass.xml", passing)):
            doc = copy.deepcopy(BASE)
            change(doc)
            (folder / name).write_text(document(doc))
        (folder / "expected.toml").write_text(expected_toml(code, children))
    print(f"{len(CASES)} cases written to {SUITE / 'cases'}")


if __name__ == "__main__":
    main()
