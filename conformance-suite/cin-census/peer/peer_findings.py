"""Runs the peer CIN validator (Data to Insight's csc-validator-be-cin) on one return and prints its findings
as JSON: {"findings": [[rule, child], ...], "return_level": [rule, ...], "crashed": [rule, ...]}.

Runs inside the peer's virtual environment (see run.sh). The peer's own loop catches a rule that raises and
goes on with the others; such rules are listed under "crashed".
"""
import contextlib
import copy
import importlib
import io
import json
import sys
import xml.etree.ElementTree as ET

from cin_validator import cin_validator


def run(path, ruleset="cin2025_26"):
    root = ET.parse(path).getroot()
    module = importlib.import_module(f"cin_validator.rules.{ruleset}")
    registry = getattr(module, "registry")
    codes = [str(code) for code in registry]
    data = cin_validator.process_data(cin_validator.convert_data(root))
    raw = copy.deepcopy(data)
    # The peer's own rule loop (it catches a rule that raises and prints it), without its user report.
    validator = cin_validator.CinValidator.__new__(cin_validator.CinValidator)
    validator.data_files = data
    validator.ruleset_registry = registry
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        validator.create_issue_report_df(None)
    crashed = []
    try:
        tables = [cin_validator.include_issue_child(validator.full_issue_df, copy.deepcopy(raw))]
    except Exception:  # noqa: BLE001 - the peer fails to name the children of some rule's issues: rule by rule
        tables = []
        frame = validator.full_issue_df
        for code in sorted(set(frame["rule_code"].astype(str))):
            part = frame[frame["rule_code"].astype(str) == code].reset_index(drop=True)
            try:
                tables.append(cin_validator.include_issue_child(part, copy.deepcopy(raw)))
            except Exception as error:  # noqa: BLE001
                crashed.append(f"{code}: {type(error).__name__} naming the children: {error}")
    findings = {(str(row["rule_code"]), str(row["LAchildID"])) for table in tables for _, row in table.iterrows()}
    return_level = set()
    la = getattr(validator, "la_rule_issues", None)
    if la is not None and len(la):
        return_level = {str(code) for code in la["rule_code"]}
    # Header rules are reported in the child table with no child.
    crashed += [line[len("Error with rule "):] for line in printed.getvalue().splitlines() if line.startswith("Error with rule ")]
    return {
        "findings": sorted(findings),
        "return_level": sorted(return_level),
        "crashed": crashed,
        "rules": codes,
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1])))
