"""Tests of compare.py (and run_peer.py's year parsing) on a hand-made peer output and caregate report.

Standard library only, no peer needed:
  python3 -B -m unittest discover -s conformance-suite/ssda903/peer -p 'test_*.py'
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
# No __pycache__ here (run with -B, as .ci/run does, for this file itself): caregate embeds the
# conformance-suite folder in its binary (include_dir!).
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)

import compare  # noqa: E402
import run_peer  # noqa: E402

# What run_peer.py writes, cut down: six rules, one crashed, one skipped.
PEER = {
    "peer": {"package": "csc-validator-be-903", "version": "0.1.17"},
    "collection_year": "2026",
    "la_code": "E09000027",
    "rules": ["101", "102", "197a", "231", "202", "INT01", "1015"],
    "ran": ["101", "102", "197a", "INT01", "1015"],
    "skipped": ["202"],
    "crashed": {"231": "KeyError: 'UASC_STATUS' (rule_231.py:27)"},
    "findings": [
        ["101", "C1"], ["101", "c2"], ["101", "C3"],
        ["197a", "C1"],
        ["INT01", ""],
        ["1015", "C9"],
    ],
}


def finding(rule, record=None, records=None):
    f = {"rule": rule, "severity": "error", "message": "m", "location": {"line": 2, "column": 1, "path": "/x"}}
    if record is not None:
        f["record"] = record
    if records:
        f["records"] = records
    return f


# A caregate report as report/json.rs writes it, findings spread over two documents (two CSV tables).
CAREGATE = {
    "tool": {"name": "caregate", "version": "0.0.0"},
    "standard": {"id": "ssda903", "version": "2025-26", "digest": "sha256:0"},
    "documents": [
        {"path": "header.csv", "format": "csv", "valid": False, "counts": {"error": 4, "query": 0, "warning": 0},
         "findings": [
             finding("101", "C1"),
             finding("101", "c2"),       # as written: agrees with the peer's c2
             finding("101", "C2"),       # not the same child as c2
             finding("required", "C5"),  # a structural code: not the peer's
         ]},
        {"path": "episodes.csv", "format": "csv", "valid": False, "counts": {"error": 5, "query": 0, "warning": 0},
         "findings": [
             finding("197a", records=["C1", "C4"]),  # a finding about several children
             finding("INT01"),                       # about no child: the peer's blank CHILD
             finding("231", "C1"),                   # the peer crashed: left out
             finding("202", "C7"),                   # the peer skipped: left out
             finding("102", "C8"),
         ]},
    ],
}


class CompareTest(unittest.TestCase):
    def setUp(self):
        self.summary = compare.compare(PEER, CAREGATE)

    def test_per_rule_counts(self):
        rules = self.summary["per_rule"]
        self.assertEqual({k: rules["101"][k] for k in ("both", "peer_only", "caregate_only")},
                         {"both": 2, "peer_only": 1, "caregate_only": 1})
        self.assertAlmostEqual(rules["101"]["agreement"], 0.5)
        self.assertEqual(rules["101"]["examples"], {"peer_only": ["C3"], "caregate_only": ["C2"]})
        self.assertEqual((rules["197a"]["both"], rules["197a"]["caregate_only"]), (1, 1))
        self.assertEqual(rules["INT01"]["agreement"], 1.0)
        self.assertEqual((rules["102"]["caregate_only"], rules["102"]["agreement"]), (1, 0.0))
        self.assertEqual((rules["1015"]["peer_only"], rules["1015"]["agreement"]), (1, 0.0))

    def test_left_out_rules(self):
        self.assertNotIn("231", self.summary["per_rule"])
        self.assertNotIn("202", self.summary["per_rule"])
        self.assertEqual(self.summary["not_compared"]["231"]["peer"], "crashed")
        self.assertEqual(self.summary["not_compared"]["231"]["caregate"], 1)
        self.assertEqual(self.summary["not_compared"]["202"], {"peer": "skipped", "caregate": 1})
        self.assertEqual(self.summary["caregate_other_codes"], {"required": 1})

    def test_totals(self):
        s = self.summary
        self.assertEqual((s["pairs_both"], s["pairs_peer_only"], s["pairs_caregate_only"]), (4, 2, 3))
        self.assertAlmostEqual(s["agreement"], 4 / 9, places=5)
        self.assertEqual((s["rules_compared"], s["rules_flagged_by_either"], s["rules_in_full_agreement"]), (5, 5, 1))

    def test_only_the_rules_caregate_has(self):
        # The rules not written in caregate yet are left out of the comparison, not counted as disagreements.
        s = compare.compare(PEER, CAREGATE, ours_only={"101", "102"})
        self.assertEqual(sorted(s["per_rule"]), ["101", "102"])
        self.assertEqual((s["pairs_both"], s["pairs_peer_only"], s["pairs_caregate_only"]), (2, 1, 2))

    def test_documented_differences(self):
        # Only the tables headed `| rule | DfE text …` name rules; other tables (measurements) do not.
        text = (
            "# Differences\n\n| rule | DfE text that decides | peer code | caregate |\n|---|---|---|---|\n"
            "| 101, 1015 (PL_LA) | \"…\" | x | y |\n| SW10a | \"…\" | x | y |\n| 503A–C | \"…\" | x | y |\n\n"
            "| rule | caregate | peer |\n|---|---:|---:|\n| 197a | 1 | 2 |\n"
        )
        self.assertEqual(compare.documented_rules(text), {"101", "1015", "SW10a", "503A", "503B", "503C"})
        self.assertTrue(compare.is_documented("SW10aSTG2", {"SW10a"}))
        self.assertFalse(compare.is_documented("SW10STG2", {"SW10a"}))
        s = compare.compare(PEER, CAREGATE, documented={"101", "1015"})
        self.assertEqual(s["documented"], ["101", "1015"])
        # Left: 197a (both C1, caregate only C4), INT01 (both), 102 (caregate only C8).
        self.assertAlmostEqual(s["agreement_undocumented"], 2 / 4, places=5)
        self.assertAlmostEqual(s["agreement"], 4 / 9, places=5)
        self.assertIn("over the rules without a documented difference: agreement 0.500", compare.markdown(s))

    def test_markdown_table(self):
        text = compare.markdown(self.summary)
        self.assertIn("| 101 | 2 | 1 | 1 | 0.500 |", text)
        self.assertIn("231 (1)", text)
        self.assertLess(text.index("| 197a |"), text.index("| 1015 |"))  # codes in the DfE's order

    def test_command_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            paths = {name: os.path.join(tmp, name) for name in ("peer.json", "caregate.json", "out.json", "out.md")}
            for name, value in (("peer.json", PEER), ("caregate.json", CAREGATE)):
                with open(paths[name], "w") as f:
                    json.dump(value, f)
            command = [sys.executable, os.path.join(HERE, "compare.py"), "--peer", paths["peer.json"],
                       "--caregate", paths["caregate.json"], "--out-json", paths["out.json"], "--out-md", paths["out.md"]]
            self.assertEqual(subprocess.run(command, capture_output=True).returncode, 0)
            with open(paths["out.json"]) as f:
                self.assertEqual(json.load(f)["pairs_both"], 4)
            self.assertTrue(os.path.getsize(paths["out.md"]) > 0)
            below = subprocess.run(command + ["--min-agreement", "0.5"], capture_output=True)
            self.assertEqual(below.returncode, 1)
            # With the documented differences left out of the gate, 0.5 is met.
            differences = os.path.join(tmp, "differences.md")
            with open(differences, "w") as f:
                f.write("| rule | DfE text that decides |\n|---|---|\n| 101, 1015 | … |\n")
            gated = subprocess.run(command + ["--min-agreement", "0.5", "--documented", differences], capture_output=True)
            self.assertEqual(gated.returncode, 0, gated.stderr)


class YearTest(unittest.TestCase):
    def test_collection_year(self):
        self.assertEqual(run_peer.collection_year("2025-26"), "2026")
        self.assertEqual(run_peer.collection_year("2026"), "2026")
        self.assertEqual(run_peer.collection_year("2099-00"), "2100")
        for bad in ("2025-27", "26", "2025/26"):
            with self.assertRaises(SystemExit):
                run_peer.collection_year(bad)


if __name__ == "__main__":
    unittest.main()
