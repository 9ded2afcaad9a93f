#!/usr/bin/env python3
"""Checks an Iceberg v2 table written by streamjoin with tools nobody here wrote.

Usage: iceberg_check.py <table-dir> [<table-dir> ...]    (local paths of hadoop-catalog tables)

For every snapshot in the newest metadata file:
  - fastavro reads the manifest list and every manifest; their embedded Avro schemas must carry the
    spec's field ids (manifest_file 500..519, field_summary 508..518, manifest_entry 0..4,
    data_file 100..140 with map key/value ids and logicalType map, partition fields 1000+), and the
    header metadata readers require (schema, schema-id, partition-spec, partition-spec-id,
    format-version, content; snapshot-id, parent-snapshot-id, sequence-number, format-version);
  - manifest list counts equal the entries in each manifest; ADDED entries with null sequence numbers
    inherit the manifest's; every live data file exists and pyarrow reads it, its row count equals the
    manifest's record_count, its size equals file_size_in_bytes, its Parquet columns carry the table's
    field ids; DuckDB's read_parquet counts the same rows; the sum equals the summary's total-records.
The DuckDB iceberg extension is tried with LOAD only (it is downloaded on INSTALL; offline it is not
there): when it loads, iceberg_scan must count the same rows.
Prints one JSON report; exit status 1 when any check fails.
"""

import glob
import json
import os
import re
import sys
from urllib.parse import unquote, urlparse

import duckdb
import fastavro
import pyarrow.parquet as pq

MANIFEST_FILE_IDS = {
    "manifest_path": 500, "manifest_length": 501, "partition_spec_id": 502, "content": 517,
    "sequence_number": 515, "min_sequence_number": 516, "added_snapshot_id": 503,
    "added_files_count": 504, "existing_files_count": 505, "deleted_files_count": 506,
    "added_rows_count": 512, "existing_rows_count": 513, "deleted_rows_count": 514,
    "partitions": 507, "key_metadata": 519,
}
FIELD_SUMMARY_IDS = {"contains_null": 509, "contains_nan": 518, "lower_bound": 510, "upper_bound": 511}
ENTRY_IDS = {"status": 0, "snapshot_id": 1, "sequence_number": 3, "file_sequence_number": 4, "data_file": 2}
DATA_FILE_IDS = {
    "content": 134, "file_path": 100, "file_format": 101, "partition": 102, "record_count": 103,
    "file_size_in_bytes": 104, "column_sizes": 108, "value_counts": 109, "null_value_counts": 110,
    "nan_value_counts": 137, "lower_bounds": 125, "upper_bounds": 128, "key_metadata": 131,
    "split_offsets": 132, "equality_ids": 135, "sort_order_id": 140,
}
MAP_IDS = {
    "column_sizes": (117, 118), "value_counts": (119, 120), "null_value_counts": (121, 122),
    "nan_value_counts": (138, 139), "lower_bounds": (126, 127), "upper_bounds": (129, 130),
}
LIST_IDS = {"split_offsets": 133, "equality_ids": 136}

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
    return cond


def local_path(uri):
    u = urlparse(uri)
    return unquote(u.path) if u.scheme in ("file", "") else None


def non_null(t):
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        return rest[0] if len(rest) == 1 else t
    return t


def check_record_ids(where, record, expected):
    fields = {f["name"]: f for f in record["fields"]}
    for name, fid in expected.items():
        if check(name in fields, f"{where}: field {name} missing"):
            check(fields[name].get("field-id") == fid,
                  f"{where}: field {name} has field-id {fields[name].get('field-id')}, expected {fid}")
    return fields


def check_manifest_list_schema(where, schema):
    fields = check_record_ids(where, schema, MANIFEST_FILE_IDS)
    parts = non_null(fields["partitions"]["type"])
    check(parts.get("type") == "array" and parts.get("element-id") == 508, f"{where}: partitions element-id 508")
    check_record_ids(f"{where}.partitions", parts["items"], FIELD_SUMMARY_IDS)


def check_manifest_schema(where, schema, spec_fields):
    fields = check_record_ids(where, schema, ENTRY_IDS)
    data_file = fields["data_file"]["type"]
    dfields = check_record_ids(f"{where}.data_file", data_file, DATA_FILE_IDS)
    for name, (kid, vid) in MAP_IDS.items():
        t = non_null(dfields[name]["type"])
        ok = isinstance(t, dict) and t.get("type") == "array" and t.get("logicalType") == "map"
        if check(ok, f"{where}: {name} must be an array with logicalType map"):
            kv = {f["name"]: f.get("field-id") for f in t["items"]["fields"]}
            check(kv == {"key": kid, "value": vid}, f"{where}: {name} key/value ids {kv}, expected {kid}/{vid}")
    for name, eid in LIST_IDS.items():
        t = non_null(dfields[name]["type"])
        check(t.get("element-id") == eid, f"{where}: {name} element-id {t.get('element-id')}, expected {eid}")
    pfields = {f["name"]: f.get("field-id") for f in dfields["partition"]["type"]["fields"]}
    expected = {f["name"]: f["field-id"] for f in spec_fields}
    check(pfields == expected, f"{where}: partition fields {pfields}, expected {expected}")


def read_avro(path):
    with open(path, "rb") as fh:
        reader = fastavro.reader(fh)
        return reader.writer_schema, dict(reader.metadata), list(reader)


def parquet_field_ids(pf):
    out = {}
    for field in pf.schema_arrow:
        meta = field.metadata or {}
        if b"PARQUET:field_id" in meta:
            out[field.name] = int(meta[b"PARQUET:field_id"])
    return out


def check_table(table_dir):
    report = {"table": table_dir, "snapshots": 0, "manifest_lists": 0, "manifests": 0, "data_files": 0}
    meta_dir = os.path.join(table_dir, "metadata")
    versions = sorted(int(m.group(1)) for p in glob.glob(os.path.join(meta_dir, "v*.metadata.json"))
                      if (m := re.search(r"/v(\d+)\.metadata\.json$", p)))
    if not check(versions, f"{table_dir}: no metadata files"):
        return report
    with open(os.path.join(meta_dir, "version-hint.text")) as fh:
        hint = int(fh.read().strip())
    check(hint == versions[-1], f"{table_dir}: version-hint {hint}, newest metadata v{versions[-1]}")
    with open(os.path.join(meta_dir, f"v{versions[-1]}.metadata.json")) as fh:
        md = json.load(fh)
    check(md["format-version"] == 2, "format-version must be 2")
    for key in ("table-uuid", "location", "last-sequence-number", "last-updated-ms", "last-column-id", "schemas",
                "current-schema-id", "partition-specs", "default-spec-id", "last-partition-id", "sort-orders",
                "default-sort-order-id"):
        check(key in md, f"metadata field {key} missing")
    schema = next(s for s in md["schemas"] if s["schema-id"] == md["current-schema-id"])
    column_ids = {f["name"]: f["id"] for f in schema["fields"]}
    spec = next(s for s in md["partition-specs"] if s["spec-id"] == md["default-spec-id"])
    snaps = sorted(md.get("snapshots", []), key=lambda s: s["sequence-number"])
    report["snapshots"] = len(snaps)
    seqs = [s["sequence-number"] for s in snaps]
    check(seqs == sorted(set(seqs)), f"sequence numbers must be strictly increasing: {seqs}")
    check(md["last-sequence-number"] == (seqs[-1] if seqs else 0), "last-sequence-number must match the newest snapshot")
    ids = {s["snapshot-id"] for s in snaps}
    for s in snaps[1:]:
        check(s.get("parent-snapshot-id") in ids or s.get("parent-snapshot-id") is None,
              f"snapshot {s['snapshot-id']} has an unknown parent")
    seen_manifests = set()
    rows_per_snapshot = {}
    for snap in snaps:
        where = f"snapshot {snap['snapshot-id']}"
        ml_path = local_path(snap["manifest-list"])
        ml_schema, ml_meta, manifests = read_avro(ml_path)
        report["manifest_lists"] += 1
        check_manifest_list_schema(f"{where} manifest list", ml_schema)
        check(ml_meta.get("snapshot-id") == str(snap["snapshot-id"]), f"{where}: manifest list snapshot-id header")
        check(ml_meta.get("sequence-number") == str(snap["sequence-number"]), f"{where}: sequence-number header")
        check(ml_meta.get("format-version") == "2", f"{where}: format-version header")
        check("parent-snapshot-id" in ml_meta, f"{where}: parent-snapshot-id header")
        live_rows = 0
        live_paths = set()
        for mf in manifests:
            mpath = local_path(mf["manifest_path"])
            m_schema, m_meta, entries = read_avro(mpath)
            if mpath not in seen_manifests:
                seen_manifests.add(mpath)
                report["manifests"] += 1
                check_manifest_schema(f"manifest {os.path.basename(mpath)}", m_schema, spec["fields"])
                for key in ("schema", "schema-id", "partition-spec", "partition-spec-id", "format-version", "content"):
                    check(key in m_meta, f"manifest {mpath}: header {key} missing")
                check(m_meta.get("content") == "data" and m_meta.get("format-version") == "2",
                      f"manifest {mpath}: content/format-version headers")
                check(json.loads(m_meta["partition-spec"]) == spec["fields"], f"manifest {mpath}: partition-spec header")
            check(os.path.getsize(mpath) == mf["manifest_length"], f"{mpath}: manifest_length")
            counts = {0: [0, 0], 1: [0, 0], 2: [0, 0]}
            for e in entries:
                df = e["data_file"]
                counts[e["status"]][0] += 1
                counts[e["status"]][1] += df["record_count"]
                if e["status"] == 1:
                    seq = e["sequence_number"] if e["sequence_number"] is not None else mf["sequence_number"]
                    check(e["sequence_number"] is None or e["sequence_number"] <= mf["sequence_number"],
                          f"{mpath}: ADDED entry sequence number above the manifest's")
                else:
                    seq = e["sequence_number"]
                    check(seq is not None and e["file_sequence_number"] is not None,
                          f"{mpath}: EXISTING/DELETED entries must carry sequence numbers")
                if e["status"] == 2:
                    continue
                check(seq is not None and seq >= mf["min_sequence_number"], f"{mpath}: min_sequence_number")
                path = local_path(df["file_path"])
                check(path not in live_paths, f"{where}: {path} live twice")
                live_paths.add(path)
                live_rows += df["record_count"]
            check([mf["added_files_count"], mf["added_rows_count"]] == counts[1], f"{mpath}: added counts {counts[1]}")
            check([mf["existing_files_count"], mf["existing_rows_count"]] == counts[0], f"{mpath}: existing counts")
            check([mf["deleted_files_count"], mf["deleted_rows_count"]] == counts[2], f"{mpath}: deleted counts")
        total = snap["summary"].get("total-records")
        check(total is None or int(total) == live_rows, f"{where}: total-records {total} but manifests hold {live_rows}")
        rows_per_snapshot[snap["snapshot-id"]] = (live_rows, live_paths)
    # Data files of the current snapshot (and every retained one) against the files themselves.
    checked = {}
    for sid, (live_rows, paths) in rows_per_snapshot.items():
        actual = 0
        for path in sorted(paths):
            if path not in checked:
                if not check(os.path.exists(path), f"snapshot {sid}: data file {path} is missing"):
                    checked[path] = 0
                    continue
                pf = pq.ParquetFile(path)
                ids = parquet_field_ids(pf)
                for name, fid in ids.items():
                    check(column_ids.get(name) == fid, f"{path}: column {name} field id {fid}, table says {column_ids.get(name)}")
                check(set(ids) == set(column_ids), f"{path}: columns {sorted(ids)} vs table {sorted(column_ids)}")
                n = pf.read().num_rows
                dn = duckdb.sql(f"select count(*) from read_parquet('{path}')").fetchone()[0]
                check(n == dn, f"{path}: pyarrow {n} rows, duckdb {dn}")
                checked[path] = n
                report["data_files"] += 1
            actual += checked[path]
        check(actual == live_rows, f"snapshot {sid}: manifests say {live_rows} rows, files hold {actual}")
    report["current_rows"] = rows_per_snapshot.get(md.get("current-snapshot-id"), (0, set()))[0]
    try:
        con = duckdb.connect()
        con.execute("LOAD iceberg")
        n = con.execute(f"select count(*) from iceberg_scan('{table_dir}', version = '{hint}')").fetchone()[0]
        check(n == report["current_rows"], f"duckdb iceberg_scan counts {n}, expected {report['current_rows']}")
        report["duckdb_iceberg"] = n
    except duckdb.Error as e:
        report["duckdb_iceberg"] = f"unavailable: {str(e).splitlines()[0][:120]}"
    return report


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    reports = [check_table(d) for d in sys.argv[1:]]
    print(json.dumps({"ok": not failures, "failures": failures[:50], "tables": reports}, indent=2, default=str))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
