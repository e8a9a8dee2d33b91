"""caregate and the peer CIN validator on the cases of the conformance suite.

For each case of conformance-suite/cin-census/2025-26/suite.toml whose id contains --match (all by default),
both validators judge the case's document, and the (rule, child) pairs of the rules the case is about (its
`rules` and `absent`) are compared. Prints one line per case that differs, then how many agree; a case whose
rule the peer could not run (it raised) is counted apart. Every difference must be explained in
conformance-suite/cin-census/2025-26/peer-differences.md.

usage: python3 cases.py --caregate BIN --peer-python PY [--match blank-]
"""
import argparse
import os
import sys
import tomllib

import compare

SUITE = os.path.join(os.path.dirname(compare.HERE), "2025-26")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--caregate", required=True)
    parser.add_argument("--peer-python", required=True)
    parser.add_argument("--match", default="")
    args = parser.parse_args()
    with open(os.path.join(SUITE, "suite.toml"), "rb") as f:
        cases = [c for c in tomllib.load(f)["case"] if args.match in c["id"]]
    agree, differ, crashed = 0, 0, 0
    for case in cases:
        path = os.path.join(SUITE, case["document"])
        about = set(case.get("rules", [])) | set(case.get("absent", []))
        peer, peer_crashed, _ = compare.peer_findings(args.peer_python, path)
        if about & {line.split(":")[0] for line in peer_crashed}:
            crashed += 1
            print(f"{case['id']}: the peer raised on {sorted(about)}", flush=True)
            continue
        theirs = {pair for pair in peer if pair[0] in about}
        ours = compare.caregate_findings(args.caregate, path, about)
        if ours == theirs:
            agree += 1
        else:
            differ += 1
            print(f"{case['id']}: caregate {sorted(ours)}, peer {sorted(theirs)}", flush=True)
    print(f"{len(cases)} cases: {agree} agree, {differ} differ, {crashed} where the peer raised")


if __name__ == "__main__":
    sys.exit(main())
