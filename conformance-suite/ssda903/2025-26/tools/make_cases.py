#!/usr/bin/env python3
"""Writes the per-rule conformance cases of the SSDA903 2025-26 pack, and the suite's manifest.

One small valid base return (four children, see BASE) is written as `base.xml`, in DfE's XML form of the return
(EXPSSDA903, as the pack's [tables.xml] lays it out); each rule's `cases/<code>/fail.xml` is the base with one
change that breaks the rule, `pass.xml` the nearest change that does not, and `expected.toml` the findings of
that rule in fail.xml, as (rule, child) pairs. A change the XML form cannot say (a child in a table but not in
Header, a column of a row kept in <HEADER> that differs from <HEADER>'s) is written as the return's CSV files
instead, in `cases/<code>/fail/` or `pass/`: every document is read back as caregate reads the XML form, and
written as CSV when that does not give its rows.

The change of a rule is, in order of preference:
- written in CASES below (by hand), or
- the rule's fault in the pack's generate.toml ([faults] child), made in the first child of the base it fits,
  as the generator makes it; its pass case is then the base itself, unless PASS gives one.

The XML form has no place for the social worker episodes (SWEpisodes): the cases of the rules of that table are
made from `base-sw/`, the base with the rows of SW, as CSV.

Every case is run with the suite's [inputs] (written into suite.toml): `la_code`, the postcode file
`postcodes.csv` (a copy of ../postcodes-sample.csv), Ofsted's provider list `ofsted-providers.csv` (a copy of
../ofsted-providers-sample.csv with the base's providers, OFSTED, added) and last year's return `previous.xml`
(made from the base: each child's Header and its first episode, open at the end of last year, and the rows of
PREVIOUS), so that the rules reading them run.

To add a rule (the tool rewrites cases/ and suite.toml whole, so a rule's cases come and go with the rule):
1. If generate.toml has a fault for it, run this tool: nothing is written by hand. Add a PASS change when a
   document just across the rule's line shows more than the base does.
2. If the tool says the fault fits no child of the base, or the rule has no fault (an UNBREAKABLE rule of
   tests/engine/ssda903_generate.rs), write its change in CASES: (fail, pass, children with a finding[, a change
   to last year's return, for a rule that reads `previous`]).
3. Run `cargo test --test engine ssda903_rules`. If the fail document gives the rule in other children than the
   changed one (or in none), write the case in CASES with the children it does give, when that is right by the
   DfE text; if the base itself now gives a finding, change BASE (every case is made from it).

Run from anywhere: python3 conformance-suite/ssda903/2025-26/tools/make_cases.py
"""
import copy
import csv
import io
import pathlib
import shutil
import tomllib
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from xml.sax.saxutils import escape

SUITE = pathlib.Path(__file__).resolve().parent.parent
ROOT = SUITE.parent.parent.parent
PACK = ROOT / "schemas" / "ssda903" / "2025-26"
STANDARD = tomllib.loads((PACK / "standard.toml").read_text())
GENERATE = tomllib.loads((PACK / "generate.toml").read_text())
RULES = tomllib.loads((PACK / "rules.toml").read_text())["rule"]
SEVERITY = {r["id"]: r["severity"] for r in RULES}

TABLES = STANDARD["tables"]["table"]
COLUMNS = {t["name"]: t["columns"] for t in TABLES}
FORM = STANDARD["tables"]["xml"]
KEY = STANDARD["tables"]["key"]
# Column -> element, for the columns named otherwise in XML (CHILD is <CHILDID>, PLACE is <PL>).
ELEMENT = {column: element for element, column in FORM.get("rename", {}).items()}
COLUMN = {element: column for column, element in ELEMENT.items()}
FILES = GENERATE["files"]

LA_CODE = "E09000027"
NOW = "2026-05-15T10:00:00Z"


# ---------------------------------------------------------------------------------------------------------
# The base return: each child's rows by table, each row its non-blank cells (dates dd/mm/yyyy). The XML form
# has no place for SWEpisodes, so the base has none. Postcodes are those of ../postcodes-sample.csv: TW9 1AA
# and TW9 2BB lie in the council's own area (E09000027), SW1A 9ZZ in another London borough.

BASE = [
    # 1001: a girl looked after all year and for more than 12 months, three placements (changes of placement
    # with REC X1), OC2 outcomes, reviews, missing episodes and a previous permanence option.
    {
        "Header": [{"CHILD": "1001", "SEX": "F", "DOB": "31/01/2011", "ETHNIC": "WBRI", "UPN": "E878200011016", "MOTHER": "0", "UASC": "0"}],
        "Episodes": [
            {"CHILD": "1001", "DECOM": "25/12/2023", "RNE": "S", "LS": "C2", "CIN": "N1", "PLACE": "U4",
             "PLACE_PROVIDER": "PR1", "DEC": "08/04/2025", "REC": "X1", "REASON_PLACE_CHANGE": "CREQB",
             "HOME_POST": "TW9 1AA", "PL_POST": "TW9 2BB", "URN": "SC048494"},
            {"CHILD": "1001", "DECOM": "08/04/2025", "RNE": "P", "LS": "C2", "CIN": "N1", "PLACE": "U6",
             "PLACE_PROVIDER": "PR1", "DEC": "08/10/2025", "REC": "X1", "REASON_PLACE_CHANGE": "CARPL",
             "HOME_POST": "TW9 1AA", "PL_POST": "TW9 2BB", "URN": "SC048494"},
            {"CHILD": "1001", "DECOM": "08/10/2025", "RNE": "P", "LS": "C2", "CIN": "N1", "PLACE": "K2",
             "PLACE_PROVIDER": "PR4", "HOME_POST": "TW9 1AA", "PL_POST": "SW1A 9ZZ", "URN": "SC439554"},
        ],
        "Reviews": [
            {"CHILD": "1001", "DOB": "31/01/2011", "REVIEW": "08/07/2025", "REVIEW_CODE": "PN6"},
            {"CHILD": "1001", "DOB": "31/01/2011", "REVIEW": "21/12/2025", "REVIEW_CODE": "PN3"},
        ],
        "OC2": [{"CHILD": "1001", "DOB": "31/01/2011", "SDQ_SCORE": "24", "CONVICTED": "0", "IMMUNISATIONS": "1",
                 "TEETH_CHECK": "1", "HEALTH_ASSESSMENT": "1", "SUBSTANCE_MISUSE": "0"}],
        "PrevPerm": [{"CHILD": "1001", "DOB": "31/01/2011", "PREV_PERM": "P1", "LA_PERM": "210", "DATE_PERM": "24/12/2014"}],
        "Missing": [
            {"CHILD": "1001", "DOB": "31/01/2011", "MISSING": "A", "MIS_START": "07/06/2025", "MIS_END": "08/06/2025"},
            {"CHILD": "1001", "DOB": "31/01/2011", "MISSING": "M", "MIS_START": "16/08/2025", "MIS_END": "20/08/2025"},
        ],
    },
    # 1002: an unaccompanied asylum-seeking boy who started to be looked after in the year (no home postcode:
    # no distance for a UASC), with a missing episode.
    {
        "Header": [{"CHILD": "1002", "SEX": "M", "DOB": "08/11/2010", "ETHNIC": "OOTH", "UPN": "G878200011027", "UASC": "1"}],
        "UASC": [{"CHILD": "1002", "SEX": "M", "DOB": "08/11/2010", "DUC": "08/11/2028"}],
        "Episodes": [
            {"CHILD": "1002", "DECOM": "05/04/2025", "RNE": "S", "LS": "V2", "CIN": "N8", "PLACE": "U6",
             "PLACE_PROVIDER": "PR1", "DEC": "08/02/2026", "REC": "X1", "REASON_PLACE_CHANGE": "APPRR",
             "PL_POST": "TW9 2BB", "URN": "SC048494"},
            {"CHILD": "1002", "DECOM": "08/02/2026", "RNE": "P", "LS": "V2", "CIN": "N8", "PLACE": "U4",
             "PLACE_PROVIDER": "PR1", "PL_POST": "TW9 2BB", "URN": "SC048494"},
        ],
        "Reviews": [
            {"CHILD": "1002", "DOB": "08/11/2010", "REVIEW": "25/04/2025", "REVIEW_CODE": "PN4"},
            {"CHILD": "1002", "DOB": "08/11/2010", "REVIEW": "16/07/2025", "REVIEW_CODE": "PN4"},
        ],
        "PrevPerm": [{"CHILD": "1002", "DOB": "08/11/2010", "PREV_PERM": "Z1"}],
        "Missing": [{"CHILD": "1002", "DOB": "08/11/2010", "MISSING": "M", "MIS_START": "02/11/2025", "MIS_END": "05/11/2025"}],
    },
    # 1003: a little boy placed for adoption, then adopted (REC E11) in the year.
    {
        "Header": [{"CHILD": "1003", "SEX": "M", "DOB": "14/04/2023", "ETHNIC": "WBRI", "UPN": "UN1", "UASC": "0"}],
        "Episodes": [
            {"CHILD": "1003", "DECOM": "15/11/2024", "RNE": "S", "LS": "E1", "CIN": "N1", "PLACE": "U6",
             "PLACE_PROVIDER": "PR4", "DEC": "08/05/2025", "REC": "X1", "REASON_PLACE_CHANGE": "CARPL",
             "HOME_POST": "TW9 1AA", "PL_POST": "SW1A 9ZZ", "URN": "SC471993"},
            {"CHILD": "1003", "DECOM": "08/05/2025", "RNE": "P", "LS": "E1", "CIN": "N1", "PLACE": "A4",
             "PLACE_PROVIDER": "PR2", "DEC": "19/11/2025", "REC": "E11", "HOME_POST": "TW9 1AA",
             "PL_POST": "SW1A 9ZZ", "URN": "SC436649"},
        ],
        "Reviews": [
            {"CHILD": "1003", "DOB": "14/04/2023", "REVIEW": "27/05/2025", "REVIEW_CODE": "PN0"},
            {"CHILD": "1003", "DOB": "14/04/2023", "REVIEW": "17/11/2025", "REVIEW_CODE": "PN0"},
        ],
        "AD1": [{"CHILD": "1003", "DOB": "14/04/2023", "DATE_INT": "15/11/2024", "DATE_MATCH": "19/04/2025",
                 "FOSTER_CARE": "0", "NB_ADOPTR": "2", "SEX_ADOPTR": "MF", "LS_ADOPTR": "L11"}],
        "PlacedAdoption": [{"CHILD": "1003", "DOB": "14/04/2023", "DATE_PLACED": "15/11/2024"}],
        "PrevPerm": [{"CHILD": "1003", "DOB": "14/04/2023", "PREV_PERM": "Z1"}],
    },
    # 1004: a care leaver whose 19th birthday falls in the year: OC3 only.
    {
        "Header": [{"CHILD": "1004", "SEX": "M", "DOB": "31/03/2006", "ETHNIC": "WBRI", "UPN": "Q878200011015", "UASC": "0"}],
        "OC3": [{"CHILD": "1004", "DOB": "31/03/2006", "IN_TOUCH": "YES", "ACTIV": "F4", "ACCOM": "U2"}],
    },
]


# Ofsted's providers of the base's placements, added to ../ofsted-providers-sample.csv's in the suite's
# ofsted-providers.csv (columns as there): each takes the placement type, provider code and postcode of the
# base's episodes that name it. SC048494 is the council's own fostering service (PR1, in its own area).
OFSTED = [
    ["Richmond upon Thames", "SC048494", "Local authority fostering agency", "Made-up Fostering (the council's own)",
     "01/04/2010", "Active", "-", '"U4,U5,U6"', "TW9 2BB", "PR1"],
    ["Westminster", "SC439554", "Children's home", "Made-up Place (a private home)", "01/04/2014", "Active", "-",
     "K2", "SW1A 9ZZ", "PR4"],
    ["Westminster", "SC471993", "Independent fostering agency", "Made-up Carers", "01/04/2013", "Active", "-",
     '"U4,U5,U6"', "SW1A 9ZZ", "PR4"],
    ["Westminster", "SC436649", "Local authority adoption agency", "Made-up Adoption (another council's)",
     "01/04/2011", "Active", "-", '"A3,A4,A5,A6"', "SW1A 9ZZ", "PR2"],
]

# Last year's rows beyond what previous_return() takes from the base: 1002 was UASC (its status ceasing on his
# 18th birthday, as this year's says), 1003's adoption decision was made, and 1004 was looked after until just
# after his 18th birthday.
PREVIOUS = [
    {},
    {"UASC": [{"CHILD": "1002", "SEX": "M", "DOB": "08/11/2010", "DUC": "08/11/2028"}]},
    {"PlacedAdoption": [{"CHILD": "1003", "DOB": "14/04/2023", "DATE_PLACED": "15/11/2024"}]},
    {"Episodes": [{"CHILD": "1004", "DECOM": "01/05/2022", "RNE": "S", "LS": "C2", "CIN": "N1", "PLACE": "U4",
                   "PLACE_PROVIDER": "PR1", "DEC": "01/04/2024", "REC": "E8", "HOME_POST": "TW9 1AA",
                   "PL_POST": "TW9 2BB", "URN": "SC048494"}]},
]

# Social worker episodes (SWEpisodes), which the XML form has no place for: the base's CSV form, base-sw/, is
# the base with these rows, and the cases of the rules of that table are made from it (written as CSV). 1001
# has had three social workers (first contact, a change by management, the last one leaving); 1002 one, from
# the day he came into care.
SW = [
    [{"CHILD": "1001", "DOB": "31/01/2011", "SW_ID": "SW1000001", "SW_DECOM": "25/12/2023", "SW_DEC": "10/06/2025",
      "SW_REASON": "FCONTA"},
     {"CHILD": "1001", "DOB": "31/01/2011", "SW_ID": "SW1000002", "SW_DECOM": "10/06/2025", "SW_DEC": "01/12/2025",
      "SW_REASON": "MANAGE"},
     {"CHILD": "1001", "DOB": "31/01/2011", "SW_ID": "SW1000003", "SW_DECOM": "01/12/2025", "SW_REASON": "LEFTRL"}],
    [{"CHILD": "1002", "DOB": "08/11/2010", "SW_ID": "SW1000004", "SW_DECOM": "05/04/2025", "SW_REASON": "FCONTA"}],
    [],
    [],
]


def with_sw(doc):
    """The base with its social worker episodes."""
    return [dict(child, SWEpisodes=rows) for child, rows in zip(doc, SW)]

def normalised(doc):
    """Every table of every child, every row with every column (blank as '')."""
    out = []
    for child in doc:
        out.append({t: [{c: row.get(c, "") for c in COLUMNS[t]} for row in child.get(t, [])] for t in COLUMNS})
    return out


# ---------------------------------------------------------------------------------------------------------
# The XML form (EXPSSDA903), as the pack's [tables.xml] says: one <CHILD> per child; the tables at the
# inherited element (HEADER) itself are kept in it (their columns once; a row is there when one of its `when`
# elements says so, not blank nor a value of `unless`, else a `when` element of its own flags it), the
# tables at HEADER/X are elements inside it, the others beside it; a row element leaves out a column it
# inherits with the same value.

def xml_layout():
    kept, inside, beside = [], [], []
    for t in TABLES:
        at = t.get("xml")
        if at is None:
            continue
        steps = [s for s in at["path"].split("/") if s]
        if steps == [FORM["inherit"]]:
            kept.append((t["name"], whens(at), at.get("unless", [])))
        elif len(steps) == 1:
            beside.append((t["name"], steps[0]))
        else:
            inside.append((t["name"], steps[1]))
    kept.sort(key=lambda k: bool(k[1]))
    return kept, inside, beside


def whens(at):
    """The `when` elements of a table's XML form, as a list (standard.toml gives one or several)."""
    when = at.get("when", [])
    return [when] if isinstance(when, str) else when


KEPT, INSIDE, BESIDE = xml_layout()


def leaf(name, value, depth):
    name = ELEMENT.get(name, name)
    pad = "  " * depth
    return f"{pad}<{name} />\n" if value == "" else f"{pad}<{name}>{escape(value)}</{name}>\n"


def xml_document(doc):
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{FORM["root"]}>\n']
    for child in doc:
        out.append(f"  <{FORM['record']}>\n")
        # The n-th rows of the tables kept in <HEADER> make its n-th element; rows are inherited from the first.
        first = {}
        for h in range(max([1] + [len(child[t]) for t, *_ in KEPT])):
            own = {}
            out.append(f"    <{FORM['inherit']}>\n")
            for table, when, unless in KEPT:
                if h >= len(child[table]):
                    continue
                row = child[table][h]
                said = [row[w] if w in row else own[w] for w in when if w in row or w in own]
                if when and not said:
                    out.append(leaf(when[0], "1", 3))
                elif when and not any(v != "" and v not in unless for v in said):
                    continue
                for column, value in row.items():
                    if column in own or value == "":
                        continue
                    out.append(leaf(column, value, 3))
                    own[column] = value
            if h == 0:
                first = own
                for table, element in INSIDE:
                    for row in child[table]:
                        out.append(row_element(row, element, first, 3))
            out.append(f"    </{FORM['inherit']}>\n")
        for table, element in BESIDE:
            for row in child[table]:
                out.append(row_element(row, element, first, 2))
        out.append(f"  </{FORM['record']}>\n")
    out.append(f"</{FORM['root']}>\n")
    return "".join(out)


def row_element(row, element, inherited, depth):
    pad = "  " * depth
    inner = []
    for column, value in row.items():
        if column in inherited:
            if inherited[column] == value:
                continue
            inner.append(leaf(column, value, depth + 1))
        elif value != "":
            inner.append(leaf(column, value, depth + 1))
    return f"{pad}<{element}>\n{''.join(inner)}{pad}</{element}>\n"


def read_back(text):
    """The rows caregate reads from the XML form (validate/tables/xml.rs `record_rows`), per child."""
    root = ET.fromstring(text)
    out = []
    for record in root.findall(FORM["record"]):
        def leaves(element):
            return [(COLUMN.get(e.tag, e.tag), (e.text or "").strip()) for e in element if len(e) == 0]
        first = record.find(FORM["inherit"])
        inherited = leaves(first) if first is not None else []
        child = {}
        for t in TABLES:
            at = t.get("xml")
            found = [record]
            for step in [s for s in at["path"].split("/") if s] if at else []:
                found = [c for e in found for c in e if c.tag == step]
            table_rows = []
            for element in found if at else []:
                own = leaves(element)

                def cell(column):
                    for c, v in own + inherited:
                        if c == column:
                            return v
                    return None
                said = [cell(w) for w in whens(at)]
                if said and not any(v and v not in at.get("unless", []) for v in said):
                    continue
                table_rows.append({c: cell(c) or "" for c in t["columns"]})
            child[t["name"]] = table_rows
        out.append(child)
    return out


def csv_files(doc):
    """The return as CSV files: name -> text (every table, with its header row), as DfE's CSV form has them:
    without the optional columns (the Header's UASC status), which only the XML form carries."""
    files = {}
    for t in TABLES:
        columns = [c for c in t["columns"] if c not in t.get("optional", [])]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(columns)
        for child in doc:
            for row in child[t["name"]]:
                w.writerow([row[c] for c in columns])
        files[FILES[t["name"]]] = buf.getvalue()
    return files


def write_document(doc, folder, name):
    """Writes `folder/name.xml`, or `folder/name/` as CSV when the XML form cannot say `doc`; returns the
    document's path in the suite."""
    doc = normalised(doc)
    text = xml_document(doc)
    xml_path, csv_dir = folder / f"{name}.xml", folder / name
    if read_back(text) == doc:
        if csv_dir.exists():
            shutil.rmtree(csv_dir)
        xml_path.write_text(text)
        return xml_path.relative_to(SUITE).as_posix()
    xml_path.unlink(missing_ok=True)
    csv_dir.mkdir(parents=True, exist_ok=True)
    for file, body in csv_files(doc).items():
        (csv_dir / file).write_text(body, newline="")
    return csv_dir.relative_to(SUITE).as_posix() + "/"


# ---------------------------------------------------------------------------------------------------------
# generate.toml's changes, made as the generator makes them (crates/caregate-generate/src/ssda903/recipe.rs):
# in the first row of the target table that they fit, in a child with rows in the `needs` table.

def parse_date(text):
    try:
        d, m, y = text.split("/")
        if len(d) == 2 and len(m) == 2 and len(y) == 4:
            return date(int(y), int(m), int(d))
    except ValueError:
        pass
    return None


def fmt(d):
    return f"{d.day:02}/{d.month:02}/{d.year:04}"


def date_as(d, pattern):
    return (pattern.replace("yyyy", f"{d.year:04}").replace("yy", f"{d.year % 100:02}")
            .replace("mm", f"{d.month:02}").replace("dd", f"{d.day:02}"))


def fits(recipe, row):
    reads = list(recipe.get("blank", [])) + list(recipe.get("lower", [])) + list(recipe.get("pad", [])) \
        + list(recipe.get("shift", {})) + list(recipe.get("date_as", {})) + list(recipe.get("recode", {}))
    if not all(row.get(c, "") for c in reads):
        return False
    if not all(row.get(c, "") == v for c, v in recipe.get("when", {}).items()):
        return False
    if any(parse_date(row[c]) is None for c in list(recipe.get("shift", {})) + list(recipe.get("date_as", {}))):
        return False
    if any(row[c] not in m for c, m in recipe.get("recode", {}).items()):
        return False
    if recipe.get("lower") and not any(any(ch.isupper() for ch in row[c]) for c in recipe["lower"]):
        return False
    return True


# The keys of a fault this tool knows how to make: a change recipe.rs learns is refused here until it is taught.
KNOWN = {"rule", "table", "needs", "when", "set", "blank", "shift", "date_as", "recode", "lower", "pad", "duplicate", "drop"}


def apply_recipe(recipe, child):
    """Makes the change in a child's rows (normalised); False, nothing changed, when no row fits."""
    unknown = set(recipe) - KNOWN
    if unknown:
        raise SystemExit(f"rule {recipe.get('rule')}: generate.toml's {sorted(unknown)} is not known to this tool")
    target = recipe.get("drop") or recipe.get("duplicate") or recipe["table"]
    needs = recipe.get("needs") or recipe.get("table") or target
    if not child[needs]:
        return False
    table = child[target]
    fitting = [i for i, row in enumerate(table) if fits(recipe, row)]
    if "drop" in recipe:
        if not table:
            return False
        table.clear()
        return True
    if not fitting:
        return False
    i = fitting[0]
    if "duplicate" in recipe:
        table.insert(i + 1, dict(table[i]))
        return True
    row = table[i]
    for c, v in recipe.get("set", {}).items():
        row[c] = v
    for c in recipe.get("blank", []):
        row[c] = ""
    for c, n in recipe.get("shift", {}).items():
        row[c] = fmt(parse_date(row[c]) + timedelta(days=n))
    for c, p in recipe.get("date_as", {}).items():
        row[c] = date_as(parse_date(row[c]), p)
    for c, m in recipe.get("recode", {}).items():
        row[c] = m.get(row[c], row[c])
    for c in recipe.get("lower", []):
        row[c] = row[c].lower()
    for c in recipe.get("pad", []):
        row[c] = row[c] + " "
    return True


FAULTS = {}
for recipe in GENERATE["faults"]["child"]:
    FAULTS.setdefault(recipe["rule"], recipe)


def fault(code):
    """The rule's generate.toml fault, made in the first child of the base it fits; the changed child."""
    recipe = FAULTS[code]

    def change(doc):
        for child in doc:
            key = next(row[KEY] for table in child.values() for row in table)
            if apply_recipe(recipe, child):
                return key
        raise ValueError(f"rule {code}: its fault fits no child of the base")
    return change


# ---------------------------------------------------------------------------------------------------------
# Hand-written changes. Children by index: A = 1001, B = 1002 (UASC), C = 1003 (adopted), D = 1004 (OC3).
A, B, C, D = 0, 1, 2, 3


def setv(i, table, r=0, **cells):
    """Sets cells of row r of child i's table ('' blanks one)."""
    def change(doc):
        doc[i][table][r].update(cells)
    return change


def add(i, table, **cells):
    def change(doc):
        row = {c: "" for c in COLUMNS[table]}
        row.update({KEY: doc[i]["Header"][0][KEY]}, **cells)
        doc[i][table].append(row)
    return change


def drop(i, table, r=None):
    def change(doc):
        if r is None:
            doc[i][table].clear()
        else:
            del doc[i][table][r]
    return change


def seq(*changes):
    def change(doc):
        for c in changes:
            c(doc)
    return change


NOTHING = seq()


def another(i, key):
    """Adds a copy of child i as a new child `key`: one in neither year's return before."""
    def change(doc):
        child = copy.deepcopy(doc[i])
        for rows in child.values():
            for row in rows:
                row[KEY] = key
        doc.append(child)
    return change


def oc3(i, dob, **cells):
    """Adds a care leaver (OC3) row with data to child i."""
    return add(i, "OC3", DOB=dob, **({"IN_TOUCH": "YES", "ACTIV": "F4", "ACCOM": "U2"} | cells))

E = "Episodes"
PA = "PlacedAdoption"
# code: (fail change, pass change, children with a finding in fail[, change to last year's return for both])
CASES = {
    "104": (setv(B, "UASC", DUC="2025-09-01"), setv(B, "UASC", DUC="01/09/2025"), ["1002"]),
    "116": (setv(C, "PlacedAdoption", DATE_PLACED_CEASED="2025-05-01"),
            setv(C, "PlacedAdoption", DATE_PLACED_CEASED="01/05/2025"), ["1003"]),
    "171": (setv(A, "Header", MC_DOB="2025-01-01"), setv(A, "Header", MC_DOB="01/01/2025"), ["1001"]),
    # 1001's second episode (RNE P) changes placement (U4 to U6) but not legal status (C2).
    "434": (setv(A, E, 1, RNE="L"), setv(A, E, 1, RNE="L", LS="C1", PLACE="U4"), ["1001"]),
    "435": (setv(A, E, 1, PLACE="U4"), NOTHING, ["1001"]),
    "436": (setv(A, E, 1, RNE="B"), setv(A, E, 1, RNE="B", LS="C1"), ["1001"]),
    "431": (setv(A, E, 1, RNE="S"), seq(setv(A, E, 1, RNE="S"), setv(A, E, 0, DEC="07/04/2025")), ["1001"]),
    "426": (seq(setv(B, E, 0, LS="V3"), setv(B, E, 1, LS="V4")), seq(setv(B, E, 0, LS="V3"), setv(B, E, 1, LS="V3")), ["1002"]),
    # 1002's first episode lasts 309 days of the year, its second 51.
    "367": (setv(B, E, 0, LS="V3"), setv(B, E, 1, LS="V3"), ["1002"]),
    "383": (setv(A, E, 1, PLACE="T1"), seq(setv(A, E, 1, PLACE="T1"), setv(A, E, 2, PLACE="U4", PL_POST="TW9 2BB")), ["1001"]),
    "377": (seq(setv(A, E, 0, PLACE="T3", DECOM="08/01/2025"), setv(A, E, 1, PLACE="T3"), setv(A, E, 2, PLACE="T3")),
            seq(setv(A, E, 0, PLACE="T3", DECOM="07/10/2024"), setv(A, E, 1, PLACE="T3"), setv(A, E, 2, PLACE="T3")), ["1001"]),
    "373": (setv(C, E, 1, PLACE="S1"), setv(A, E, 2, PLACE="S1"), ["1003"]),
    "336": (setv(C, E, 0, PLACE="K2"), setv(C, E, 0, PLACE="U1"), ["1003"]),
    "334": (setv(C, "AD1", DATE_INT="14/11/2024"), setv(C, "AD1", DATE_INT="15/11/2024"), ["1003"]),
    "634": (seq(drop(B, E, 1), setv(B, E, 0, DECOM="05/04/2015")), seq(drop(B, E, 1), setv(B, E, 0, DECOM="01/04/2016")), ["1002"]),
    "399": (seq(setv(B, E, 0, LS="V3"), setv(B, E, 1, LS="V3")), setv(B, E, 0, LS="V3"), ["1002"]),
    "185": (add(B, "OC2", DOB="08/11/2010", SDQ_SCORE="10"), NOTHING, ["1002"]),
    "198": (add(B, "OC2", DOB="08/11/2010", SDQ_REASON="SDQ1"), setv(A, "OC2", SDQ_REASON="SDQ1"), ["1002"]),
    "187": (add(A, "OC3", DOB="31/01/2011", IN_TOUCH="YES", ACTIV="F4", ACCOM="U2"), NOTHING, ["1001"]),
    "215": (add(D, "OC2", DOB="31/03/2006", CONVICTED="0"), add(D, "OC2", DOB="31/03/2006", SDQ_SCORE="10"), ["1004"]),
    # The postcode rules (postcodes.csv): KW15 9ZZ is 530 miles from TW9 1AA, ZZ9 9ZZ over 1000; EH1 9ZZ is in
    # Scotland; GY1 9ZZ has no grid reference; XX1 1XX is not listed.
    "164": (setv(A, E, 2, PL_POST="ZZ9 9ZZ"), setv(A, E, 2, PL_POST="KW15 9ZZ"), ["1001"]),
    "169": (setv(A, E, 2, PL_POST="XX1 1XX"), setv(A, E, 2, PL_POST="CT1 9ZZ"), ["1001"]),
    "179": (setv(A, E, 2, PL_POST="XX1 1XX"), setv(A, E, 2, PL_POST="CT1 9ZZ"), ["1001"]),
    "218": (setv(A, E, 2, URN=""), setv(A, E, 2, URN="", PL_POST="EH1 9ZZ"), ["1001"]),
    "243": (setv(A, E, 2, PL_POST="EH1 9ZZ"), setv(A, E, 2, PL_POST="EH1 9ZZ", URN=""), ["1001"]),
    "392a": (setv(A, E, 2, HOME_POST=""), setv(B, E, 0, HOME_POST=""), ["1001"]),
    "392c": (setv(A, E, 2, PL_POST="XX1 1XX"), setv(A, E, 2, PL_POST="CT1 9ZZ"), ["1001"]),
    "406": (setv(B, E, 0, HOME_POST="TW9 1AA"), setv(B, E, 0, HOME_POST="GY1 9ZZ"), ["1002"]),
    "420": (setv(B, E, 1, LS="V3"), setv(B, E, 1, LS="V3", PL_POST=""), ["1002"]),
    "454": (setv(A, E, 2, PL_POST="KW15 9ZZ"), setv(A, E, 2, PL_POST="CT1 9ZZ"), ["1001"]),
    # 1001's third placement (a children's home, K2) is in another London borough.
    "1015": (setv(A, E, 2, PLACE_PROVIDER="PR1"), setv(A, E, 2, PLACE_PROVIDER="PR1", PL_POST="TW9 2BB"), ["1001"]),
    # The rules read against last year's return (previous.xml: each child's Header and first episode).
    "202": (setv(A, "Header", SEX="M"), setv(A, "Header", SEX="2"), ["1001"]),
    "203": (setv(D, "Header", DOB="30/03/2006"), NOTHING, ["1004"]),
    "204": (setv(A, "Header", ETHNIC="WIRI"), NOTHING, ["1001"]),
    "207": (NOTHING, setv(A, "Header", MOTHER="1"), ["1001"], setv(A, "Header", MOTHER="1")),
    "208": (setv(D, "Header", UPN="UN1"), setv(C, "Header", UPN="UN2"), ["1004"]),
    "503A": (setv(A, E, 0, RNE="B"), NOTHING, ["1001"]),
    "503B": (setv(A, E, 0, LS="C1"), NOTHING, ["1001"]),
    "503C": (setv(A, E, 0, CIN="N2"), NOTHING, ["1001"]),
    "503D": (setv(A, E, 0, PLACE="U5"), NOTHING, ["1001"]),
    "503E": (setv(A, E, 0, PLACE_PROVIDER="PR2"), NOTHING, ["1001"]),
    "503F": (setv(A, E, 0, URN="SC000001"), NOTHING, ["1001"]),
    # The care leaver rules (OC3). An OC3 row's own DOB dates the 17th and 18th birthdays 1007 and 1016 read.
    "1000": (seq(setv(A, E, 2, DEC="01/03/2026", REC="E2"), oc3(A, "31/01/2011", IN_TOUCH="DIED", ACTIV="", ACCOM="")),
             setv(A, E, 2, DEC="01/03/2026", REC="E2"), ["1001"]),
    "1007": (oc3(A, "31/01/2009"), oc3(A, "31/03/2007"), ["1001"]),
    "1011": (seq(setv(A, E, 2, DEC="01/03/2026", REC="E3"), oc3(A, "31/01/2011")),
             seq(setv(A, E, 2, DEC="01/03/2026", REC="E4A"), oc3(A, "31/01/2011")), ["1001"]),
    # A UASC row says the status is 1 (105, 303): so the XML form can say it.
    "1014": (seq(add(D, "UASC", SEX="M", DOB="31/03/2006"), setv(D, "Header", UASC="1")), oc3(B, "08/11/2010"),
             ["1004"]),
    "1016": (seq(setv(A, E, 2, DEC="01/02/2026", REC="E4A"), oc3(A, "31/01/2009")),
             seq(setv(A, E, 2, DEC="31/01/2026", REC="E4A"), oc3(A, "31/01/2009")), ["1001"]),
    "3001": (seq(setv(D, "Header", DOB="31/03/2009"), setv(D, "OC3", ACCOM="Z1")),
             seq(setv(D, "Header", DOB="01/04/2009"), setv(D, "OC3", ACCOM="Z1")), ["1004"]),
    "134": (oc3(C, "14/04/2023"), add(C, "OC3", DOB="14/04/2023"), ["1003"]),
    # 1001 (15) is no relevant child; 1004 born a day later, 20 after the year, is one by last year's episode.
    "1001": (oc3(A, "31/01/2011"), setv(D, "Header", DOB="01/04/2006"), ["1001"]),
    # 1005, a copy of 1004, has episodes in neither year.
    "1002": (another(D, "1005"), NOTHING, ["1005"]),
    "1010": (NOTHING, drop(D, "OC3"), ["1004"], setv(D, E, 0, DEC="", REC="")),
    "348": (NOTHING, setv(D, "OC3", IN_TOUCH="DIED"), ["1004"], add(D, "OC3", DOB="31/03/2006", IN_TOUCH="DIED")),
    # UASC against last year's (1002's, ceasing on 08/11/2028 both years).
    "205A": (seq(drop(B, "UASC"), setv(B, "Header", UASC="0")), NOTHING, ["1002"]),
    "205B": (setv(B, "UASC", DUC="09/11/2028"), setv(B, "UASC", DUC="01/03/2026"), ["1002"]),
    "205D": (add(C, "UASC", SEX="M", DOB="14/04/2023", DUC="14/04/2041"), NOTHING, ["1003"]),
    # 1001's first episode against last year's open one (TW9 2BB, 0.3 miles from home, in the council's area).
    "452": (setv(A, E, 0, PL_POST="SW1A 9ZZ"), setv(A, E, 0, PL_POST="TW9 1AA"), ["1001"]),
    "453": (setv(A, E, 0, PL_POST="SW1A 9ZZ"), setv(A, E, 0, PL_POST="SW1A 9ZZ", RNE="B"), ["1001"]),
    "503G": (setv(A, E, 0, PL_POST="SW1A 9ZZ"), setv(A, E, 0, HOME_POST="TW9 2BB", PL_POST="TW9 1AA"), ["1001"]),
    "503H": (setv(A, E, 0, PL_POST="SW1A 9ZZ"), setv(A, E, 0, PL_POST="TW9 1AA"), ["1001"]),
    "503J": (setv(A, E, 0, PL_POST="SW1A 9ZZ"), setv(A, E, 0, PL_POST="TW9 1AA"), ["1001"]),
    "502": (setv(A, E, 0, DECOM="26/12/2023"), NOTHING, ["1001"]),
    "562": (setv(A, E, 0, DECOM="26/12/2023"), setv(A, E, 0, DECOM="01/04/2025"), ["1001"]),
    # 1005, a copy of 1001, was not in last year's return.
    "NoE": (another(A, "1005"), NOTHING, ["1005"]),
    "576": (NOTHING, add(A, "Missing", DOB="31/01/2011", MISSING="M", MIS_START="20/03/2025", MIS_END="02/04/2025"),
            ["1001"], add(A, "Missing", DOB="31/01/2011", MISSING="M", MIS_START="20/03/2025")),
    "624": (setv(A, "Header", MOTHER="1", MC_DOB="02/01/2025"), setv(A, "Header", MOTHER="1", MC_DOB="01/01/2025"),
            ["1001"], setv(A, "Header", MOTHER="1", MC_DOB="01/01/2025")),
    "626": (setv(A, "Header", MOTHER="1", MC_DOB="01/03/2025"), setv(A, "Header", MOTHER="1", MC_DOB="01/04/2025"),
            ["1001"]),
    # 1003's decision to place for adoption (15/11/2024, the day of the placement order) against last year's.
    "559": (add(A, PA, DOB="31/01/2011", DATE_PLACED="01/03/2025"),
            add(A, PA, DOB="31/01/2011", DATE_PLACED="01/04/2025"),
            ["1001"]),
    "560": (setv(C, PA, DATE_PLACED="14/11/2024"), NOTHING, ["1003"]),
    "561": (NOTHING, setv(C, PA, DATE_PLACED="01/05/2025"), ["1003"],
            setv(C, PA, DATE_PLACED_CEASED="01/03/2025", REASON_PLACED_CEASED="RD1")),
    "584": (setv(C, PA, DATE_PLACED="14/11/2024"), setv(C, PA, DATE_PLACED="16/11/2024"), ["1003"],
            setv(C, PA, DATE_PLACED_CEASED="01/03/2025", REASON_PLACED_CEASED="RD1")),
    # The URN rules (ofsted-providers.csv): SC439554 is a private children's home (K2, PR4) at SW1A 9ZZ,
    # SC048494 the council's fostering (U4-U6, PR1), SC100003 a home that closed on 30/06/2025.
    "219": (setv(A, E, 1, PLACE="U3"), setv(A, E, 1, PLACE="U5"), ["1001"]),
    "221": (setv(A, E, 2, PL_POST="M1 9ZZ"), setv(A, E, 2, PL_POST="M1 9ZZ", URN="SC100002"), ["1001"]),
    "224": (setv(A, E, 2, PLACE_PROVIDER="PR3"), setv(A, E, 2, PLACE_PROVIDER="PR1", URN="SC100001", PL_POST="TW9 2BB"),
            ["1001"]),
    "227": (setv(A, E, 2, URN="SC100003", PL_POST="CT1 9ZZ"),
            setv(A, E, 1, URN="SC100003", PL_POST="CT1 9ZZ", PLACE="K2", PLACE_PROVIDER="PR4"), ["1001"]),
    "228": (setv(A, E, 1, URN="SC100003", PL_POST="CT1 9ZZ", PLACE="K2", PLACE_PROVIDER="PR4"),
            seq(setv(A, E, 1, URN="SC100003", PL_POST="CT1 9ZZ", PLACE="K2", PLACE_PROVIDER="PR4", DEC="30/06/2025"),
                setv(A, E, 2, DECOM="30/06/2025")), ["1001"]),
    # SC100006 is Manchester's own home (PR1/PR2 in its list): another council's, so PR2 here.
    "229": (setv(A, E, 2, URN="SC100006", PL_POST="M1 9ZZ", PLACE_PROVIDER="PR1"),
            setv(A, E, 2, URN="SC100006", PL_POST="M1 9ZZ", PLACE_PROVIDER="PR2"), ["1001"]),
    # SA100001 has supported accommodation in Kent and Westminster.
    "241": (setv(A, E, 2, PLACE="K3", URN="SA100001", PL_POST="M1 9ZZ"),
            setv(A, E, 2, PLACE="K3", URN="SA100001", PL_POST="CT1 9ZZ"), ["1001"]),
    "1008": (setv(A, E, 2, URN="SC999999"), setv(A, E, 2, URN="SC100002", PL_POST="M1 9ZZ"), ["1001"]),
    # A UPN given twice is a finding in both children; the UN codes may repeat.
    "444": (setv(B, "Header", UPN="E878200011016"), setv(B, "Header", UPN="UN1"), ["1001", "1002"]),
    # OC2's own DOB dates the ages of 542 and 545: 10 and 5 on 31/03/2026 is not under.
    "542": (add(C, "OC2", DOB="01/04/2016", CONVICTED="0"), add(C, "OC2", DOB="31/03/2016", CONVICTED="0"), ["1003"]),
    "545": (setv(A, "OC2", DOB="01/04/2021"), setv(A, "OC2", DOB="31/03/2021"), ["1001"]),
    "547": (setv(A, "OC2", HEALTH_CHECK="1", IMMUNISATIONS=""), setv(A, "OC2", HEALTH_CHECK="1"), ["1001"]),
    "607": (seq(setv(A, "Header", MOTHER=""), setv(A, E, 2, DEC="01/03/2026", REC="E4A")),
            setv(A, E, 2, DEC="01/03/2026", REC="E4A"), ["1001"]),
    # 1003 was adopted (E11) on 19/11/2025.
    "558": (seq(setv(C, PA, DATE_PLACED_CEASED="01/02/2025", REASON_PLACED_CEASED="RD1"),
                add(C, PA, DOB="14/04/2023", DATE_PLACED="01/03/2025", DATE_PLACED_CEASED="19/11/2025",
                    REASON_PLACED_CEASED="RD1")),
            seq(setv(C, PA, DATE_PLACED_CEASED="01/02/2025", REASON_PLACED_CEASED="RD1"),
                add(C, PA, DOB="14/04/2023", DATE_PLACED="01/03/2025")), ["1003"]),
    "578": (add(C, "Missing", DOB="14/04/2023", MISSING="M", MIS_START="20/11/2025", MIS_END="21/11/2025"),
            add(C, "Missing", DOB="14/04/2023", MISSING="M", MIS_START="19/11/2025", MIS_END="21/11/2025"), ["1003"]),
    "582": (setv(C, "AD1", DATE_MATCH="19/11/2025"), setv(C, "AD1", DATE_MATCH="18/11/2025"), ["1003"]),
    # Missing's own DOB: 18 on the day 1001's care and her missing period end.
    "580": (seq(setv(A, E, 2, DEC="01/03/2026", REC="E4A"),
                add(A, "Missing", DOB="01/03/2008", MISSING="M", MIS_START="25/02/2026", MIS_END="01/03/2026")),
            seq(setv(A, E, 2, DEC="01/03/2026", REC="E8"),
                add(A, "Missing", DOB="01/03/2008", MISSING="M", MIS_START="25/02/2026", MIS_END="01/03/2026")),
            ["1001"]),
    # 1001's first missing period began in her second episode, which ended on 08/10/2025; her third is open.
    "575": (setv(A, "Missing", 0, MIS_END=""), setv(A, "Missing", 0, MIS_START="09/10/2025", MIS_END=""), ["1001"]),
    # 1002 started to be looked after in the year.
    "630": (setv(B, "PrevPerm", PREV_PERM="P1"), setv(B, "PrevPerm", PREV_PERM="P1", LA_PERM="210", DATE_PERM="01/01/2020"),
            ["1002"]),
}

# Pass changes for rules whose fail change is their generate.toml fault (the base otherwise): the same kind of
# change, on the other side of the rule's line.
PASS = {
    # 1003 ceased to be looked after on 19/11/2025 (adopted, E11).
    "117": setv(C, PA, DATE_PLACED="19/11/2025"),
    "118": setv(C, PA, DATE_PLACED_CEASED="01/04/2025", REASON_PLACED_CEASED="RD1"),
    "525": seq(setv(C, PA, DATE_PLACED_CEASED="01/02/2026", REASON_PLACED_CEASED="RD1"), drop(C, "AD1")),
    "571": setv(A, "Missing", 0, MIS_END="31/03/2026"),
    # 17 on 2 April 2025: under 17 on the first day of the year.
    "189": setv(A, "OC2", DOB="02/04/2008"),
    # 1001 (born 31/01/2011) is 14 when her third placement starts, 15 at the end of the year.
    "358": setv(A, E, 2, LS="J1"),
    "387": setv(A, E, 2, REC="E5", DEC="31/03/2026"),
    # 1003 (born 14/04/2023) is 16 on 14/04/2039 and 18 on 14/04/2041.
    "386": setv(C, E, 0, REC="E11", DEC="13/04/2041"),
    "389": setv(C, E, 0, REC="E7", DEC="14/04/2039"),
    "460": setv(C, E, 0, REC="E17", DEC="14/04/2041"),
    # 1001's first episode ends on 08/04/2025: these last 3, 21, 7, 21 and 17 days.
    "361": setv(A, E, 0, LS="L1", DECOM="05/04/2025", RNE="S"),
    "362": setv(A, E, 0, LS="L2", DECOM="18/03/2025", RNE="S"),
    "363": setv(A, E, 0, LS="L3", DECOM="01/04/2025", RNE="S"),
    "364": setv(A, E, 0, LS="J2", DECOM="18/03/2025", RNE="S"),
    "365": setv(A, E, 0, LS="V3", RNE="S", DECOM="22/03/2025"),
    # Six weeks in hospital.
    "375": setv(A, E, 1, PLACE="T1", DEC="20/05/2025"),
    # The next episode starts on the day the previous one ends, moved.
    "433": seq(setv(A, E, 0, DEC="03/04/2025"), setv(A, E, 1, DECOM="03/04/2025")),
    "501": seq(setv(A, E, 0, DEC="13/04/2025"), setv(A, E, 1, DECOM="13/04/2025")),
    # Care that ended (not X1) before the year does not break 12 months' continuous care in it.
    "190": setv(A, E, 0, DEC="31/03/2025", REC="E4A"),
}


# ---------------------------------------------------------------------------------------------------------

def previous_return(doc):
    """Last year's return: each child's Header and its first episode, still open at the end of last year, and
    the rows of PREVIOUS."""
    prev = []
    for child, extra in zip(normalised(doc), normalised(PREVIOUS)):
        p = {t: copy.deepcopy(rows) for t, rows in extra.items()}
        p["Header"] = copy.deepcopy(child["Header"])
        if child["Episodes"]:
            first = dict(child["Episodes"][0], DEC="", REC="", REASON_PLACE_CHANGE="")
            p["Episodes"] = [first]
        prev.append(p)
    return prev


def expected_toml(code, children):
    rows = [f'  {{ rule = "{code}" }},' if c is None else f'  {{ rule = "{code}", child = "{c}" }},' for c in children]
    return ("# The findings of rule {0} in the fail case (written by tools/make_cases.py).\nfail = [\n{1}\n]\n"
            .format(code, "\n".join(rows)))


def toml_list(items):
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def main():
    codes = list(dict.fromkeys(r["id"] for r in RULES))
    missing = [c for c in codes if c not in CASES and c not in FAULTS]
    shutil.rmtree(SUITE / "cases", ignore_errors=True)
    (SUITE / "postcodes.csv").write_text((SUITE.parent / "postcodes-sample.csv").read_text())
    (SUITE / "ofsted-providers.csv").write_text(
        (SUITE.parent / "ofsted-providers-sample.csv").read_text() + "".join(",".join(row) + "\n" for row in OFSTED))
    base = normalised(BASE)
    (SUITE / "previous.xml").write_text(xml_document(normalised(previous_return(BASE))))
    base_path = write_document(BASE, SUITE, "base")
    assert base_path == "base.xml", "the base return must be one the XML form can say"
    base_sw = normalised(with_sw(BASE))
    assert write_document(with_sw(BASE), SUITE, "base-sw") == "base-sw/"
    # The rules of SWEpisodes are the ones whose fault changes that table.
    sw_codes = {code for code, r in FAULTS.items()
                if "SWEpisodes" in (r.get("table"), r.get("duplicate"), r.get("drop"))}
    manifest = [
        "# Conformance suite: DfE SSDA903 children looked after return 2025-26 — a manifest over the per-rule",
        "# cases of cases/<code>/ (the fail document gives the findings expected.toml lists; the pass document none",
        "# of that rule), written with this file by tools/make_cases.py: do not edit it, run the tool. A case is",
        "# about its one rule, so a fail case is `invalid` when the rule is an error and `any` otherwise.",
        "# Format: conformance-suite/README.md.",
        'standard = "ssda903@2025-26"',
        'title = "DfE SSDA903 children looked after return 2025-26"',
        f'now = "{NOW}"',
        "",
        "[carry]",
        'as = "not-carried"',
        'reason = "An SSDA903 return is a bulk return submitted to the DfE, not a message carried in an envelope through the gateway."',
        "",
        "# Every case is run with the council's code, the postcode file, Ofsted's provider list and last year's",
        "# return, so that the rules that read them run.",
        "[inputs]",
        f'params = {{ la_code = "{LA_CODE}" }}',
        'references = { postcodes = "postcodes.csv", ofsted-providers = "ofsted-providers.csv" }',
        'previous = ["previous.xml"]',
        "",
        "[[requirement]]",
        'id = "SSDA903-S01"',
        'level = "structure"',
        'text = "A return of every table in the 2025-26 XML form (EXPSSDA903), with no error, is conformant."',
        'clause = "DfE SSDA903 2025-26 technical specification"',
        "",
        "[[case]]",
        'id = "base-return"',
        'title = "The base return every case is made from has no finding"',
        'document = "base.xml"',
        'verdict = "valid"',
        "exact = true",
        'requirements = ["SSDA903-S01"]',
        "",
        "[[case]]",
        'id = "base-return-sw"',
        'title = "The base return with social worker episodes, as CSV (the XML form has none), has no finding but '
        'that 105 and 303 were not run (the CSV form has no UASC status)"',
        'document = "base-sw/"',
        'verdict = "valid"',
        'rules = ["rules-not-run"]',
        "exact = true",
        'requirements = ["SSDA903-S01"]',
    ]
    written, unfit = 0, []
    for code in codes:
        if code in missing:
            continue
        last_year = None
        if code in CASES:
            fail, passing, children, *last_year = CASES[code]
            last_year = last_year[0] if last_year else None
        else:
            fail, passing, children = fault(code), PASS.get(code, NOTHING), None
        folder = SUITE / "cases" / code
        start = base_sw if code in sw_codes else base
        doc = copy.deepcopy(start)
        try:
            changed = fail(doc)
        except ValueError as e:
            unfit.append(str(e))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        if children is None:
            children = [changed]
        fail_path = write_document(doc, folder, "fail")
        doc = copy.deepcopy(start)
        passing(doc)
        pass_path = write_document(doc, folder, "pass")
        (folder / "expected.toml").write_text(expected_toml(code, children))
        inputs = []
        if last_year is not None:
            # Its own last year's return, for both documents.
            prev = normalised(previous_return(BASE))
            last_year(prev)
            (folder / "previous.xml").write_text(xml_document(prev))
            inputs = [f'inputs = {{ previous = ["cases/{code}/previous.xml"] }}']
        # A case is about its one rule: its document may break others, so its verdict is `any` unless the rule
        # is an error (then the return is invalid).
        verdict = "invalid" if SEVERITY[code] == "error" else "any"
        manifest += ["", "[[case]]", f'id = "{code}-fail"', f'document = "{fail_path}"', f'verdict = "{verdict}"',
                     f"rules = {toml_list([code])}", f"requirements = {toml_list([code])}", *inputs,
                     "", "[[case]]", f'id = "{code}-pass"', f'document = "{pass_path}"', 'verdict = "any"',
                     f"absent = {toml_list([code])}", f"requirements = {toml_list([code])}", *inputs]
        written += 1
    (SUITE / "suite.toml").write_text("\n".join(manifest) + "\n")
    print(f"{written} rules' cases written to {SUITE / 'cases'}")
    for problem in unfit:
        print(f"{problem}: give it a change in CASES")
    if missing:
        print(f"{len(missing)} rules have neither a fault in generate.toml nor a change in CASES: {' '.join(missing)}")


if __name__ == "__main__":
    main()
