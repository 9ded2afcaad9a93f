#!/usr/bin/env python3
"""snapshot_rows.py - what pyiceberg reads in every snapshot of a table (time travel by snapshot id).

    snapshot_rows.py METADATA_JSON KEY_COLUMN

Run with the reference readers kit's interpreter (`$KIT/pyiceberg/setup-python` prints it): pyiceberg
0.9.1 opens the table with StaticTable.from_metadata and scans every snapshot of the metadata. Prints one
JSON line: {"snapshots": {"<id>": {"rows": N, "keys_sha256": "...", "distinct": N}}}, where keys_sha256
is the SHA-256 of the snapshot's KEY_COLUMN values, sorted, one per line (so a lost, duplicated or
foreign row changes it). A snapshot that cannot be read makes the script exit 1 naming it.
"""

import hashlib
import json
import sys

from pyiceberg.table import StaticTable


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: snapshot_rows.py METADATA_JSON KEY_COLUMN", file=sys.stderr)
        return 2
    metadata, key = sys.argv[1], sys.argv[2]
    table = StaticTable.from_metadata(metadata)
    out = {}
    for snap in table.metadata.snapshots:
        try:
            arrow = table.scan(snapshot_id=snap.snapshot_id, selected_fields=(key,)).to_arrow()
        except Exception as err:  # noqa: BLE001 - report which snapshot failed
            print(f"snapshot {snap.snapshot_id}: pyiceberg could not read it: {err!r}", file=sys.stderr)
            return 1
        keys = sorted(str(v) for v in arrow.column(key).to_pylist())
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()
        out[str(snap.snapshot_id)] = {"rows": len(keys), "keys_sha256": digest, "distinct": len(set(keys))}
    print(json.dumps({"snapshots": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
