"""The peer SSDA903 validator on the cases of the conformance suite.

For each case of conformance-suite/ssda903/2025-26/suite.toml whose id contains --match (all by default), the
peer is run on the case's document (its XML file, or the CSV files of its folder) with the suite's council code
and postcode file, for the case's rule alone (`run_peer.py --rules`, so that no other rule's changes to the
shared tables reach it), and the children it flags for that rule are compared with caregate's, which
tests/engine/ssda903_rules.rs holds to expected.toml (a fail case) or to none (a pass case). Prints one line
per case that differs, then how many agree; a case whose rule the peer skipped or could not run (it raised) is
counted apart. Every difference should be explained in
conformance-suite/ssda903/2025-26/peer-differences.md.

The peer reads the XML form otherwise than the DfE layout says (it flattens each <CHILD> into one set of
fields, so a field an element leaves out is taken from another element): `--as-csv` gives it each XML case as
the CSV tables caregate reads from it (tools/make_cases.py `read_back`), to tell its reading from its rules.

usage: python3 cases.py [--peer-python PY] [--match 164-] [--as-csv]
  --peer-python: the peer venv's python (default $CAREGATE_SSDA903_PEER_VENV/bin/python)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.join(os.path.dirname(HERE), "2025-26")


def as_tables(path, folder):
    """The CSV tables caregate reads from an XML return, written to `folder`."""
    sys.path.insert(0, os.path.join(SUITE, "tools"))
    sys.dont_write_bytecode = True
    import make_cases
    with open(path) as f:
        tables = make_cases.csv_files(make_cases.read_back(f.read()))
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name, text in tables.items():
        paths.append(os.path.join(folder, name))
        with open(paths[-1], "w", newline="") as f:
            f.write(text)
    return paths


def documents(case, as_csv, tmp):
    path = os.path.join(SUITE, case["document"])
    if case["document"].endswith("/"):
        return sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".csv"))
    return as_tables(path, os.path.join(tmp, "csv")) if as_csv else [path]


def previous(manifest, case, tmp):
    """`--prev` for the peer: last year's return the case is run with, as CSV (the peer reads it only so)."""
    files = case.get("inputs", {}).get("previous", manifest["inputs"].get("previous", []))
    args = []
    for i, name in enumerate(files):
        args += ["--prev", *as_tables(os.path.join(SUITE, name), os.path.join(tmp, f"prev{i}"))]
    return args


def expected(case, rule):
    """The (rule, child) pairs caregate gives: expected.toml's for a fail case, none for a pass case."""
    if rule not in case.get("rules", []):
        return set()
    with open(os.path.join(SUITE, "cases", rule, "expected.toml"), "rb") as f:
        return {(row["rule"], row.get("child")) for row in tomllib.load(f)["fail"]}


def main():
    parser = argparse.ArgumentParser()
    venv = os.environ.get("CAREGATE_SSDA903_PEER_VENV", "target/ssda903-peer-venv")
    parser.add_argument("--peer-python", default=os.path.join(venv, "bin", "python"))
    parser.add_argument("--match", default="")
    parser.add_argument("--as-csv", action="store_true")
    args = parser.parse_args()
    with open(os.path.join(SUITE, "suite.toml"), "rb") as f:
        manifest = tomllib.load(f)
    la_code = manifest["inputs"]["params"]["la_code"]
    postcodes = os.path.join(SUITE, manifest["inputs"]["references"]["postcodes"])
    cases = [c for c in manifest["case"] if args.match in c["id"] and (c.get("rules") or c.get("absent"))]
    agree, differ, not_run = 0, 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "peer.json")
        for case in cases:
            rule = (case.get("rules") or case.get("absent"))[0]
            # The peer reads last year's return only alongside this year's CSV tables, and `--prev` takes every
            # file after it, so it comes last.
            prev = previous(manifest, case, tmp)
            this_year = documents(case, args.as_csv or bool(prev), tmp)
            subprocess.run([args.peer_python, os.path.join(HERE, "run_peer.py"), "--year", "2025-26", "--la-code",
                            la_code, "--postcodes", postcodes, "--rules", rule, "--out", out, *this_year, *prev],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(out) as f:
                peer = json.load(f)
            status = peer["per_rule"].get(rule, {}).get("status", "not in the peer's ruleset")
            if status != "ran":
                not_run += 1
                reason = peer["crashed"].get(rule, status) if isinstance(peer["crashed"], dict) else status
                print(f"{case['id']}: the peer did not run {rule}: {reason}", flush=True)
                continue
            theirs = {(r, c) for r, c in peer["findings"] if r == rule}
            ours = expected(case, rule)
            if ours == theirs:
                agree += 1
            else:
                differ += 1
                print(f"{case['id']}: caregate {sorted(c for _, c in ours)}, peer {sorted(c for _, c in theirs)}",
                      flush=True)
    print(f"{agree} of {agree + differ} cases the peer ran agree; {differ} differ; {not_run} not run by the peer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
