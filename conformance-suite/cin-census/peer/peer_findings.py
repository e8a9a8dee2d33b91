"""Runs the peer CIN validator (Data to Insight's csc-validator-be-cin) on one return and prints its findings
as JSON: {"findings": [[rule, child], ...], "return_level": [rule, ...], "crashed": [rule, ...]}.

Runs inside the peer's virtual environment (see run.sh). Rules that raise are run one at a time so that one
crashing rule does not hide the others; they are listed under "crashed".
"""
import contextlib
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
    findings, return_level, crashed = set(), set(), []

    def one(selected):
        data = cin_validator.process_data(cin_validator.convert_data(root))
        with contextlib.redirect_stdout(io.StringIO()):
            v = cin_validator.CinValidator(data, registry, selected_rules=selected)
        for _, row in v.full_issue_df.iterrows():
            findings.add((str(row["rule_code"]), str(row["child_id"])))
        for _, row in v.multichild_issues.iterrows():
            return_level.add(str(row["rule_code"]))

    try:
        one(None)
    except Exception:  # a rule raised: run them one by one
        findings.clear()
        return_level.clear()
        for code in codes:
            try:
                one([code])
            except Exception as error:  # noqa: BLE001 - the peer's failure is the finding here
                crashed.append(f"{code}: {type(error).__name__}: {error}")
    return {
        "findings": sorted(findings),
        "return_level": sorted(return_level),
        "crashed": crashed,
        "rules": codes,
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1])))
