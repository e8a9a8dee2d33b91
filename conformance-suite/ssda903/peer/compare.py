"""Agreement, rule by rule, between the peer SSDA903 validator and caregate on the same return.

usage: compare.py --peer PEER.json --caregate REPORT.json [--out-json FILE] [--out-md FILE]
                  [--examples 20] [--min-agreement 0.0]

PEER.json is run_peer.py's output; REPORT.json is `caregate validate --format json`'s report. Both are
reduced to (rule, CHILD) pairs: the peer's flagged rows by their CHILD as written; caregate's findings by
`record` (the CHILD as written), or by each of `records` for a finding about several children, or by `-`
for a finding about none. Rule codes are compared as strings, as the peer spells them (caregate uses the
same DfE codes). Only the peer's rules count: caregate's other codes (structural checks) are tallied apart.

Per rule the peer ran: pairs both flag, only the peer, only caregate, and agreement = both / union (none
when neither flags anything). Rules the peer crashed on or skipped are left out of the agreement (it gave
no answer), with caregate's findings on them counted, so a rule caregate has and the peer lacks is seen.
Given `--documented peer-differences.md`, the rules that file's tables give the DfE text for (the rows of every
table headed `| rule | DfE text …`: rules where caregate reads the DfE text and the peer reads it otherwise) are
named in the summary, and the agreement is given twice: over every rule, and over the other rules alone, where
caregate and the peer are meant to agree child for child.

Writes a JSON summary and a markdown table (for reports/); exits 1 when the agreement on flagged pairs (over the
rules without a documented difference, when --documented is given) is below --min-agreement.
"""
import argparse
import json
import re
import sys

# How a missing child is written on both sides: a blank CHILD cell, or a finding with no record.
NO_CHILD = "-"


# A rule code as the peer and caregate spell it: 101, 197B, 392a, SW10aSTG2, INT01, NoE, EPI.
RULE_CODE = re.compile(r"\b(\d{3,4}[A-Za-z]?(?![-–]\d)|SW\d+[a-z]?(?:STG\d)?|INT\d+|NoE|EPI)\b")
LETTER_RANGE = re.compile(r"\b(\d{3})([A-Z])[–-]([A-Z])\b")


def documented_rules(markdown_text):
    """The rule codes in the first cell of each row of the tables headed `| rule | DfE text`."""
    codes, in_table = set(), False
    for line in markdown_text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells is None:
            in_table = False
        elif cells[:1] == ["rule"]:
            in_table = len(cells) > 1 and cells[1].startswith("DfE text")
        elif in_table and not set(cells[0]) <= set("-: "):
            # `503A–F` is 503A to 503F.
            for number, first, last in LETTER_RANGE.findall(cells[0]):
                codes.update(f"{number}{chr(c)}" for c in range(ord(first), ord(last) + 1))
            codes.update(RULE_CODE.findall(cells[0]))
    return codes


def is_documented(rule, documented):
    """Whether peer-differences.md names `rule`; it names the social worker rules without their stage
    (`SW17` for SW17STG2)."""
    return rule in documented or (rule.startswith("SW") and re.sub(r"STG\d$", "", rule) in documented)


def child_key(value):
    return NO_CHILD if value is None or value == "" else str(value)


def rule_order(code):
    """101 < 197B < 197a < 1000 < EPI < INT01: numbers by value, then the peer's own codes by name."""
    match = re.match(r"(\d+)(.*)", code)
    return (0, int(match.group(1)), match.group(2)) if match else (1, 0, code)


def peer_pairs(peer):
    if "error" in peer:
        raise SystemExit(f"compare: the peer did not run: {peer['error']}")
    return {(str(rule), child_key(child)) for rule, child in peer["findings"]}


def caregate_pairs(report, peer_rules):
    """The report's (rule, CHILD) pairs of the peer's rules, and a count of findings of other codes."""
    pairs, other = set(), {}
    for document in report.get("documents", []):
        for finding in document.get("findings", []):
            rule = str(finding["rule"])
            if rule not in peer_rules:
                other[rule] = other.get(rule, 0) + 1
                continue
            if finding.get("record") not in (None, ""):
                children = [finding["record"]]
            elif finding.get("records"):
                children = finding["records"]
            else:
                children = [None]
            pairs.update((rule, child_key(child)) for child in children)
    return pairs, other


def compare(peer, report, examples=20, ours_only=None, documented=None):
    """`ours_only`: when given, the rule codes caregate has; the peer's other rules are not compared.
    `documented`: the rule codes whose differences peer-differences.md gives the DfE text for."""
    rules = [str(code) for code in peer["rules"] if ours_only is None or str(code) in ours_only]
    ours_all, other = caregate_pairs(report, set(rules))
    theirs_all = peer_pairs(peer)
    crashed = {str(code): error for code, error in peer.get("crashed", {}).items()}
    skipped = {str(code) for code in peer.get("skipped", [])}
    ran = {str(code) for code in peer.get("ran", [])}

    by_rule = {}
    for rule, child in ours_all:
        by_rule.setdefault(rule, (set(), set()))[0].add(child)
    for rule, child in theirs_all:
        by_rule.setdefault(rule, (set(), set()))[1].add(child)

    per_rule, not_compared = {}, {}
    for rule in sorted(rules, key=rule_order):
        ours, theirs = by_rule.get(rule, (set(), set()))
        if rule not in ran:
            # The peer gave no answer on this rule: caregate's findings stand alone.
            why = "crashed" if rule in crashed else "skipped" if rule in skipped else "not run"
            not_compared[rule] = {"peer": why, "caregate": len(ours)}
            if rule in crashed:
                not_compared[rule]["error"] = crashed[rule]
            continue
        both, union = ours & theirs, ours | theirs
        per_rule[rule] = {
            "both": len(both),
            "peer_only": len(theirs - ours),
            "caregate_only": len(ours - theirs),
            "agreement": round(len(both) / len(union), 6) if union else None,
        }
        if examples and (theirs - ours or ours - theirs):
            per_rule[rule]["examples"] = {
                "peer_only": sorted(theirs - ours)[:examples],
                "caregate_only": sorted(ours - theirs)[:examples],
            }

    both = sum(r["both"] for r in per_rule.values())
    union = sum(r["both"] + r["peer_only"] + r["caregate_only"] for r in per_rule.values())
    flagged = [r for r in per_rule.values() if r["agreement"] is not None]
    standard = report.get("standard") or {}
    documented = set(documented or ())
    rest = [r for rule, r in per_rule.items() if not is_documented(rule, documented)]
    rest_both = sum(r["both"] for r in rest)
    rest_union = sum(r["both"] + r["peer_only"] + r["caregate_only"] for r in rest)
    return {
        "peer": peer.get("peer"),
        "collection_year": peer.get("collection_year"),
        "la_code": peer.get("la_code"),
        "caregate": {"tool": report.get("tool"), "standard": standard},
        "rules_compared": len(per_rule),
        "rules_flagged_by_either": len(flagged),
        "rules_in_full_agreement": sum(1 for r in flagged if r["agreement"] == 1),
        "pairs_both": both,
        "pairs_peer_only": sum(r["peer_only"] for r in per_rule.values()),
        "pairs_caregate_only": sum(r["caregate_only"] for r in per_rule.values()),
        "agreement": round(both / union, 6) if union else None,
        "documented": sorted((r for r in per_rule if is_documented(r, documented)), key=rule_order),
        "agreement_undocumented": round(rest_both / rest_union, 6) if rest_union else None,
        "per_rule": per_rule,
        "not_compared": not_compared,
        "caregate_other_codes": dict(sorted(other.items())),
    }


def ratio(value):
    return "–" if value is None else f"{value:.3f}"


def markdown(summary):
    peer = summary.get("peer") or {}
    standard = summary["caregate"]["standard"]
    lines = [
        f"# SSDA903: caregate and the peer ({peer.get('package')} {peer.get('version')})",
        "",
        f"- collection year {summary['collection_year']} (caregate: "
        f"{standard.get('id', '?')}@{standard.get('version', '?')}), council {summary['la_code']}",
        f"- rules compared (the peer ran them): {summary['rules_compared']}; flagged by either: "
        f"{summary['rules_flagged_by_either']}; in full agreement: {summary['rules_in_full_agreement']}",
        f"- (rule, CHILD) pairs: both {summary['pairs_both']}, peer only {summary['pairs_peer_only']}, "
        f"caregate only {summary['pairs_caregate_only']}; agreement (both / union): {ratio(summary['agreement'])}",
    ]
    if summary.get("documented"):
        lines.append(f"- over the rules without a documented difference: agreement "
                     f"{ratio(summary['agreement_undocumented'])}; rules whose differences peer-differences.md "
                     f"decides by the DfE text: " + ", ".join(summary["documented"]))
    crashed = {r: v for r, v in summary["not_compared"].items() if v["peer"] == "crashed"}
    skipped = {r: v for r, v in summary["not_compared"].items() if v["peer"] != "crashed"}
    if crashed:
        lines.append("- the peer crashed on (left out; caregate's findings in brackets): "
                     + ", ".join(f"{r} ({v['caregate']})" for r, v in crashed.items()))
    if skipped:
        lines.append("- the peer skipped (a table or input it needs was not given; caregate's findings in brackets): "
                     + ", ".join(f"{r} ({v['caregate']})" for r, v in skipped.items()))
    if summary["caregate_other_codes"]:
        lines.append("- caregate's findings of codes the peer does not have: "
                     + ", ".join(f"{r} ({n})" for r, n in summary["caregate_other_codes"].items()))
    quiet = [r for r, v in summary["per_rule"].items() if v["agreement"] is None]
    if quiet:
        lines.append(f"- flagged by neither ({len(quiet)}): " + ", ".join(quiet))
    lines += ["", "| rule | both | peer only | caregate only | agreement |", "|---|---:|---:|---:|---:|"]
    for rule, v in summary["per_rule"].items():
        if v["agreement"] is not None:
            lines.append(f"| {rule} | {v['both']} | {v['peer_only']} | {v['caregate_only']} | {ratio(v['agreement'])} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", required=True, help="run_peer.py's JSON")
    parser.add_argument("--caregate", required=True, help="caregate's JSON report")
    parser.add_argument("--out-json", help="the summary (default: stdout)")
    parser.add_argument("--out-md", help="the markdown table")
    parser.add_argument("--examples", type=int, default=20, help="disagreeing children listed per rule and side")
    parser.add_argument("--min-agreement", type=float, default=0.0)
    parser.add_argument("--rules-toml", help="compare only the rules of this caregate rules.toml (those written)")
    parser.add_argument("--documented", help="peer-differences.md: gate on the rules without a documented difference")
    args = parser.parse_args()
    documented = None
    if args.documented:
        with open(args.documented, encoding="utf-8") as f:
            documented = documented_rules(f.read())
    ours_only = None
    if args.rules_toml:
        import tomllib
        with open(args.rules_toml, "rb") as f:
            ours_only = {str(rule["id"]) for rule in tomllib.load(f).get("rule", [])}
    with open(args.peer) as f:
        peer = json.load(f)
    with open(args.caregate) as f:
        report = json.load(f)
    summary = compare(peer, report, args.examples, ours_only, documented)
    text = json.dumps(summary, indent=1) + "\n"
    if args.out_json:
        with open(args.out_json, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    if args.out_md:
        with open(args.out_md, "w") as f:
            f.write(markdown(summary))
    agreement = summary["agreement"]
    print(f"compare: agreement {ratio(agreement)} over {summary['rules_compared']} rules "
          f"(both {summary['pairs_both']}, peer only {summary['pairs_peer_only']}, "
          f"caregate only {summary['pairs_caregate_only']})", file=sys.stderr)
    if documented is not None:
        agreement = summary["agreement_undocumented"]
        print(f"compare: agreement {ratio(agreement)} over the rules without a difference documented in "
              f"{args.documented} ({len(summary['documented'])} rules left out)", file=sys.stderr)
    if agreement is not None and agreement < args.min_agreement:
        sys.exit(1)


if __name__ == "__main__":
    main()
