"""Differential harness: caregate and the peer CIN validator on the same generated returns.

For each seed, `caregate generate cin-census` makes a return; both validators judge it; the sets of
(rule, child) findings of the 109 DfE rules are compared (return-level rules as (rule, -)). Writes, under
the output folder: agreement.json (per rule and overall), disagreements.csv (every pair one side found and
the other did not) and summary.md. Every remaining difference must be explained in
conformance-suite/cin-census/2025-26/peer-differences.md.

usage: python3 compare.py --caregate BIN --peer-python PY --out DIR [--seeds 20] [--children 2000]
       [--invalid-rate 0.05] [--min-agreement 0.0]
"""
import argparse
import collections
import csv
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def caregate_findings(binary, path, rules):
    out = subprocess.run(
        [binary, "validate", "--format", "json", "--now", "2026-05-15T10:00:00Z", path],
        capture_output=True, text=True, check=False,
    )
    if out.returncode not in (0, 1):
        raise SystemExit(f"caregate failed on {path}: {out.stderr}")
    report = json.loads(out.stdout)
    pairs = set()
    for document in report["documents"]:
        for finding in document["findings"]:
            if finding["rule"] in rules:
                pairs.add((finding["rule"], finding.get("record") or "-"))
    return pairs


def peer_findings(python, path):
    out = subprocess.run(
        [python, os.path.join(HERE, "peer_findings.py"), path], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"the peer failed on {path}: {out.stderr[-2000:]}")
    data = json.loads(out.stdout)
    missing = {"<NA>", "nan", "None", "NaN", ""}
    pairs = {(rule, "-" if child in missing else child) for rule, child in data["findings"]}
    pairs |= {(rule, "-") for rule in data["return_level"]}
    return pairs, data["crashed"], set(data["rules"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--caregate", required=True)
    parser.add_argument("--peer-python", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--children", type=int, default=2000)
    parser.add_argument("--invalid-rate", type=float, default=0.05)
    parser.add_argument("--min-agreement", type=float, default=0.0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    per_rule = collections.defaultdict(lambda: {"both": 0, "caregate_only": 0, "peer_only": 0, "peer_crashed": 0})
    disagreements = []
    crashes = collections.Counter()
    rules = None
    children_total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, args.seeds + 1):
            path = os.path.join(tmp, f"return-{seed}.xml")
            subprocess.run(
                [args.caregate, "generate", "cin-census", "--count", str(args.children), "--seed", str(seed),
                 "--invalid-rate", str(args.invalid_rate), "--output", path],
                check=True, capture_output=True,
            )
            peer, crashed, peer_rules = peer_findings(args.peer_python, path)
            rules = rules or peer_rules
            ours = caregate_findings(args.caregate, path, rules)
            children_total += args.children
            crashed_rules = {line.split(":")[0] for line in crashed}
            for rule in crashed_rules:
                crashes[rule] += 1
            for pair in ours | peer:
                rule, child = pair
                if rule in crashed_rules:
                    # The peer gave no answer for this rule on this return: caregate's findings stand alone.
                    per_rule[rule]["peer_crashed"] += 1
                    continue
                if pair in ours and pair in peer:
                    per_rule[rule]["both"] += 1
                elif pair in ours:
                    per_rule[rule]["caregate_only"] += 1
                    disagreements.append((seed, rule, child, "caregate only"))
                else:
                    per_rule[rule]["peer_only"] += 1
                    disagreements.append((seed, rule, child, "peer only"))
            print(f"seed {seed}: caregate {len(ours)}, peer {len(peer)}, both {len(ours & peer)}", file=sys.stderr)

    both = sum(r["both"] for r in per_rule.values())
    differ = sum(r["caregate_only"] + r["peer_only"] for r in per_rule.values())
    flagged = both + differ
    evaluated = len(rules or []) * children_total
    summary = {
        "seeds": args.seeds,
        "children_per_return": args.children,
        "invalid_rate": args.invalid_rate,
        "pairs_flagged_by_either": flagged,
        "pairs_flagged_by_both": both,
        "disagreements": differ,
        "agreement_on_flagged_pairs": both / flagged if flagged else 1.0,
        "agreement_on_all_rule_child_pairs": 1 - differ / evaluated if evaluated else 1.0,
        "peer_crashes": dict(crashes),
        "per_rule": {rule: {**counts, "agreement": counts["both"] / max(1, counts["both"] + counts["caregate_only"] + counts["peer_only"])}
                     for rule, counts in sorted(per_rule.items())},
    }
    with open(os.path.join(args.out, "agreement.json"), "w") as f:
        json.dump(summary, f, indent=2)
    with open(os.path.join(args.out, "disagreements.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["seed", "rule", "child", "who"])
        writer.writerows(sorted(disagreements, key=lambda d: (d[1], d[0], d[2])))
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(f"# caregate and the peer CIN validator: {args.seeds} returns x {args.children} children\n\n")
        f.write(f"- (rule, child) pairs flagged by either: {flagged}; by both: {both}; disagreements: {differ}\n")
        f.write(f"- agreement on flagged pairs: {summary['agreement_on_flagged_pairs']:.4f}\n")
        f.write(f"- agreement on all {evaluated} (rule, child) pairs: {summary['agreement_on_all_rule_child_pairs']:.6f}\n")
        f.write(f"- peer crashes (rule: returns): {dict(crashes) or 'none'}\n\n")
        f.write("| rule | both | caregate only | peer only | agreement | caregate's findings where the peer crashed |\n|---|---|---|---|---|---|\n")
        for rule, counts in summary["per_rule"].items():
            f.write(f"| {rule} | {counts['both']} | {counts['caregate_only']} | {counts['peer_only']} | {counts['agreement']:.3f} | {counts['peer_crashed']} |\n")
    print(open(os.path.join(args.out, "summary.md")).read().split("| rule")[0])
    if summary["agreement_on_all_rule_child_pairs"] < args.min_agreement:
        raise SystemExit(f"agreement {summary['agreement_on_all_rule_child_pairs']:.4f} is below {args.min_agreement}")


if __name__ == "__main__":
    main()
