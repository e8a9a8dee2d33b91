"""Runs the peer SSDA903 validator (Data to Insight's csc-validator-be-903) on one return and writes its
findings as JSON.

Runs inside the peer's virtual environment (see run.sh).

usage: run_peer.py --year 2025-26 --la-code E09000027 [--prev FILE ...] [--ofsted-ch XLSX]
                   [--ofsted-scp XLSX] [--postcodes CSV] [--rules CODE,CODE] [--with-rows] [--out FILE]
                   FILE ...

FILE: the return's CSV tables (each known by its header row, as the peer knows them) or one XML file.
--year: the ruleset, as 2025-26 or as the peer's collection year (2026).
--prev: last year's CSV tables (the peer reads last year only as CSV).
--ofsted-ch / --ofsted-scp: Ofsted's children's homes and social care providers lists (or one combined
  list as --ofsted-ch); without them the peer skips its URN rules.
--postcodes: a CSV with columns pcd, oseast1m, osnrth1m, laua that replaces the peer's bundled ONS postcode
  directory, so that the peer and caregate can be given the same small directory.

The JSON:
  {"peer": {...}, "collection_year", "ruleset", "la_code", "inputs": {table: rows},
   "rules": [every code of the ruleset], "ran": [...], "skipped": [...], "crashed": {code: error},
   "findings": [[rule, CHILD], ...], "per_rule": {code: {"status", "rows", "children", "seconds", ...}},
   "unmapped": {code: [[table, row], ...]}, "wall_time_s": {...}, "peak_rss_mb"}
A finding's CHILD is the value as the file wrote it: the peer upper-cases every value it reads, so the
rows it flags are mapped back to the same rows read again without that.

The peer's own entry point, rpc_main.lac_validate (and lac_validator.LacValidator under it), runs each rule
in a try and keeps only the codes of those that raise; it then marks flagged rows with .loc outside that
try, so one rule returning a row that is not in its table aborts the whole run. This script uses the same
pieces in the same order (process_uploaded_files, read_from_text, create_datastore, each registry rule on a
fresh copy_datastore) but keeps each rule's error text, its time, and any row it cannot place, and goes on.
"""
import argparse
import contextlib
import importlib.metadata
import json
import logging
import os
import resource
import sys
import tempfile
import time
import traceback
import warnings


@contextlib.contextmanager
def working_folder(path):
    """contextlib.chdir, which Python 3.9 and 3.10 (which the peer supports) lack."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def collection_year(year):
    """2025-26 -> 2026 (the peer names a ruleset by the calendar year the collection ends in)."""
    if "-" in year:
        start, end = year.split("-", 1)
        if len(start) != 4 or not end.isdigit() or int(end) != (int(start) + 1) % 100:
            raise SystemExit(f"run_peer: year {year!r} is not of the form 2025-26")
        return str(int(start) + 1)
    if not (year.isdigit() and len(year) == 4):
        raise SystemExit(f"run_peer: year {year!r} is neither 2025-26 nor 2026")
    return year


def use_postcodes(datastore, path):
    """Replaces the peer's bundled postcode directory with the CSV at path (pcd, oseast1m, osnrth1m, laua)."""
    import pandas as pd

    frame = pd.read_csv(path, dtype={"pcd": str, "laua": str})
    missing = {"pcd", "oseast1m", "osnrth1m", "laua"} - set(frame.columns)
    if missing:
        raise SystemExit(f"run_peer: {path} lacks the column(s) {sorted(missing)}")
    frame = frame[["pcd", "oseast1m", "osnrth1m", "laua"]].copy()
    frame["pcd"] = frame["pcd"].str.upper()
    # The peer joins on the postcode with its spaces removed, as its own loader builds it.
    frame["pcd_abbr"] = frame["pcd"].str.replace(" ", "")
    frame["laua"] = frame["laua"].astype("category")
    postcodes = datastore.postcodes
    postcodes._df = frame
    # Marks every letter as loaded, so that the peer never reads its bundled files on top of this one.
    postcodes._read = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def tables_as_written(ingress, uploaded):
    """The tables as the peer reads them but without its upper-casing: the same rows under the same index."""
    saved = ingress.capitalise_object_dtype_cols
    ingress.capitalise_object_dtype_cols = lambda frame: frame
    try:
        files = [f for f in uploaded if f["description"] in ("This year", "Prev year")]
        if files and files[0]["name"].lower().endswith(".xml"):
            # As read_from_text does: the peer reads the first XML file only.
            return ingress.read_xml_from_text(files[0]["file_content"])
        return ingress.read_csvs_from_text(files)
    finally:
        ingress.capitalise_object_dtype_cols = saved


def child_of(raw, table, label):
    """The CHILD value as written of row `label` of `table`, or None when the peer's row is not there."""
    frame = raw.get(table)
    if frame is None or "CHILD" not in frame.columns or label not in frame.index:
        return None
    value = frame.at[label, "CHILD"]
    if not isinstance(value, str):
        # A blank CHILD cell, which the peer reads as NaN.
        return ""
    return value


def run(args):
    year = collection_year(args.year)
    files = [os.path.abspath(f) for f in args.files]
    prev = [os.path.abspath(f) for f in args.prev]
    postcodes = os.path.abspath(args.postcodes) if args.postcodes else None
    for path in files + prev + [p for p in (args.ofsted_ch, args.ofsted_scp, postcodes) if p]:
        if not os.path.isfile(path):
            raise SystemExit(f"run_peer: no such file: {path}")
    if prev and any(f.lower().endswith(".xml") for f in files):
        # read_from_text reads only the first XML file, and refuses CSV and XML together.
        raise SystemExit("run_peer: the peer reads last year's return only alongside CSV tables")
    started = time.perf_counter()

    # The peer's modules write into the working folder (rpc_main a log file, its CLI output_data/): run
    # them in a folder of their own, with every path made absolute above.
    # Some of the peer's rules print to stdout: send that to stderr, so that stdout carries only the JSON.
    with tempfile.TemporaryDirectory(prefix="ssda903-peer-") as work, working_folder(work), \
            contextlib.redirect_stdout(sys.stderr):
        from lac_validator import datastore, ingress
        from lac_validator.rules.ruleset_utils import get_year_ruleset
        from lac_validator.utils import process_uploaded_files

        # lac_validator.lac_validator sets the root logger to INFO on import; this script does not import it,
        # but keep the peer's own chatter down to warnings, which are on stderr.
        logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.WARNING)
        if postcodes:
            use_postcodes(datastore, postcodes)
        imported = time.perf_counter()

        registry = get_year_ruleset(year)
        inputs = {"This year": files, "Prev year": prev}
        if args.ofsted_ch:
            inputs["CH lookup"] = [os.path.abspath(args.ofsted_ch)]
        if args.ofsted_scp:
            inputs["SCP lookup"] = [os.path.abspath(args.ofsted_scp)]
        uploaded = process_uploaded_files(inputs)
        dfs, extras = ingress.read_from_text(uploaded)
        raw = tables_as_written(ingress, uploaded)
        metadata = {"collectionYear": year, "localAuthority": args.la_code}
        metadata.update(extras)
        store = datastore.create_datastore(dfs, metadata)
        prepared = time.perf_counter()

        selected = set(args.rules.split(",")) if args.rules else None
        per_rule, crashed, skipped, ran, unmapped = {}, {}, [], [], {}
        findings = set()
        for code, rule in registry.items():
            code = str(code)
            if selected is not None and code not in selected:
                continue
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    # pandas' SettingWithCopy and dtype warnings from the rules' own code: noise here.
                    warnings.simplefilter("ignore")
                    result = rule.func(datastore.copy_datastore(store))
            except Exception as error:  # noqa: BLE001 - one rule's crash must not lose the others
                # Name the peer's line that failed, not the pandas internals under it.
                frames = traceback.extract_tb(error.__traceback__)
                where = next((f for f in reversed(frames) if "lac_validator" in f.filename), frames[-1])
                crashed[code] = f"{type(error).__name__}: {error} ({os.path.basename(where.filename)}:{where.lineno})"
                per_rule[code] = {"status": "crashed", "error": crashed[code], "seconds": round(time.perf_counter() - t0, 4)}
                continue
            seconds = round(time.perf_counter() - t0, 4)
            if not isinstance(result, dict):
                # The peer's loop would fail on this outside its try, ending the whole run.
                crashed[code] = f"returned {type(result).__name__}, not {{table: [rows]}}"
                per_rule[code] = {"status": "crashed", "error": crashed[code], "seconds": seconds}
                continue
            if not result:
                # The peer's convention: a rule returns {} when a table it needs was not given.
                skipped.append(code)
                per_rule[code] = {"status": "skipped", "seconds": seconds}
                continue
            ran.append(code)
            rows, children, lost = [], set(), []
            for table, labels in result.items():
                for label in labels:
                    # The peer drops NaN row labels some rules return (with a warning); so does this.
                    if label is None or (isinstance(label, float) and label != label):
                        continue
                    try:
                        child = child_of(raw, table, label)
                    except TypeError:  # an unhashable label: no row of any table
                        child = None
                    if child is None:
                        # A label not in the table: the peer's own loop would end the whole run on it (.loc).
                        lost.append([table, str(label)])
                        continue
                    rows.append([table, int(label) if hasattr(label, "__int__") else str(label), child])
                    children.add(child)
            for child in children:
                findings.add((code, child))
            per_rule[code] = {"status": "ran", "rows": len(rows), "children": len(children), "seconds": seconds}
            if args.with_rows:
                per_rule[code]["flagged"] = sorted(rows, key=lambda r: (r[0], isinstance(r[1], str), str(r[1]).zfill(12)))
            if lost:
                unmapped[code] = lost
        finished = time.perf_counter()

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "peer": {"package": "csc-validator-be-903", "version": importlib.metadata.version("csc-validator-be-903")},
        "collection_year": year,
        "ruleset": f"lac{int(year) - 1}_{year[2:]}",
        "la_code": args.la_code,
        "inputs": {
            "files": [os.path.basename(f) for f in files],
            "prev": [os.path.basename(f) for f in prev],
            "ofsted": bool(args.ofsted_ch or args.ofsted_scp),
            "postcodes": os.path.basename(args.postcodes) if args.postcodes else "bundled",
            "tables": {name: len(frame) for name, frame in dfs.items()},
        },
        "rules": [str(code) for code in registry],
        "ran": ran,
        "skipped": skipped,
        "crashed": crashed,
        "findings": sorted([list(pair) for pair in findings]),
        "per_rule": per_rule,
        "unmapped": unmapped,
        "wall_time_s": {
            "import": round(imported - started, 3),
            "read_and_prepare": round(prepared - imported, 3),
            "rules": round(finished - prepared, 3),
            "total": round(finished - started, 3),
        },
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--year", required=True, help="2025-26 or the peer's collection year, 2026")
    parser.add_argument("--la-code", required=True, help="the council's code, e.g. E09000027")
    parser.add_argument("--prev", nargs="+", action="extend", default=[], help="last year's CSV tables (repeatable)")
    parser.add_argument("--ofsted-ch", help="Ofsted's children's homes list (or the combined list)")
    parser.add_argument("--ofsted-scp", help="Ofsted's social care providers list")
    parser.add_argument("--postcodes", help="CSV of pcd, oseast1m, osnrth1m, laua to use instead of the peer's")
    parser.add_argument("--rules", help="run only these codes, comma-separated")
    parser.add_argument("--with-rows", action="store_true", help="list each flagged (table, row, CHILD)")
    parser.add_argument("--out", help="write the JSON here rather than to stdout")
    parser.add_argument("--verbose", action="store_true", help="let the peer log at debug level")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    try:
        report = run(args)
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001 - reading the return failed: no rule ran; say why, as JSON too
        report = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        status = 2
    else:
        status = 0
    text = json.dumps(report, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    if status:
        print(f"run_peer: {report['error']}", file=sys.stderr)
    sys.exit(status)


if __name__ == "__main__":
    main()
