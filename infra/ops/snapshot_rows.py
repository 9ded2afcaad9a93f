#!/usr/bin/env python3
"""snapshot_rows.py - what pyiceberg reads in every snapshot of a table (time travel by snapshot id).

    snapshot_rows.py METADATA_JSON KEY_COLUMN

Run with the reference readers kit's interpreter (`$KIT/pyiceberg/setup-python` prints it): pyiceberg
0.9.1 opens the table with StaticTable.from_metadata and scans every snapshot of the metadata. Prints one
JSON line: {"snapshots": {"<id>": {"rows": N, "keys_sha256": "...", "distinct": N}}}, where keys_sha256
is the SHA-256 of the snapshot's KEY_COLUMN values, sorted, one per line (so a lost, duplicated or
foreign row changes it). A snapshot that cannot be read makes the script exit 1 naming it.
The keys are cast to strings and sorted by pyarrow (UTF-8 byte order, which is code point order) and
joined in one buffer, so a day of several million rows per snapshot costs seconds, not minutes.
"""

import hashlib
import json
import sys

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.table import StaticTable


def keys_digest(column: pa.ChunkedArray) -> tuple[int, str, int]:
    """(rows, SHA-256 of the sorted keys joined by newlines, distinct keys) of one key column."""
    keys = pc.fill_null(pc.cast(column.combine_chunks(), pa.large_string()), "None")
    keys = pc.take(keys, pc.sort_indices(keys))
    if len(keys) == 0:
        return 0, hashlib.sha256(b"").hexdigest(), 0
    one_list = pa.LargeListArray.from_arrays(pa.array([0, len(keys)], pa.int64()), keys)
    joined = pc.binary_join(one_list, pa.scalar("\n", pa.large_string()))
    digest = hashlib.sha256(joined[0].as_buffer()).hexdigest()
    return len(keys), digest, pc.count_distinct(keys).as_py()


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
        rows, digest, distinct = keys_digest(arrow.column(key))
        out[str(snap.snapshot_id)] = {"rows": rows, "keys_sha256": digest, "distinct": distinct}
    print(json.dumps({"snapshots": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
