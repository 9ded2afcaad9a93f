#!/usr/bin/env python3
"""commit_deletes.py - commit a merge-on-read DELETE to a Hadoop-layout table, as another engine would.

    PY="$(KIT/pyiceberg/setup-python)"
    "$PY" commit_deletes.py KIT TABLE_DIR position < deletes.json     # [{"file_path": ..., "pos": N}, ...]
    "$PY" commit_deletes.py KIT TABLE_DIR equality COLUMN < values.json   # ["o-1", "o-2", ...]

pyiceberg 0.9.1 (the readers kit's writer) has no merge-on-read deletes, so this test-only committer does
what Spark does with `write.delete.mode=merge-on-read`, with pyiceberg's own pieces: a Parquet delete
file written by pyarrow (position deletes: the spec's reserved field ids 2147483546 file_path and
2147483545 pos; equality deletes: the column's own field id), one delete manifest per partition
(pyiceberg's v2 manifest writer with content "deletes"), a manifest list holding the parent's
manifests and the new ones, and a `delete` snapshot committed through the kit's Hadoop catalog (the
table must still be at the version it was loaded at: create-exclusive v<N+1>.metadata.json). Position
deletes go in the partition of the data file they name; equality deletes in the partition given
(--partition-of FILE: that data file's) or, by default, unpartitioned (spec 0 when it is unpartitioned,
else the partition of every data file holding a match — here: of the first matching file).
Prints one JSON line: {"ok": true, "snapshot_id": ..., "delete_files": [...], "version": N}.
"""

import json
import os
import sys
import time
import uuid


def main(argv):
    kit, table_dir, mode = argv[1], os.path.abspath(argv[2]), argv[3]
    sys.path.insert(0, os.path.join(kit, "pyiceberg"))
    import pyarrow as pa
    import pyarrow.parquet as pq
    from hadoop_catalog import HadoopTableCatalog
    from pyiceberg.manifest import (
        DataFile,
        DataFileContent,
        FileFormat,
        ManifestContent,
        ManifestEntry,
        ManifestEntryStatus,
        ManifestWriterV2,
        write_manifest_list,
    )
    from pyiceberg.table.snapshots import Operation, Snapshot, Summary
    from pyiceberg.table.update import AddSnapshotUpdate, AssertRefSnapshotId, SetSnapshotRefUpdate

    # pyiceberg 0.9.1 types equality_ids as list<long>; the spec (and Java, which then fails with a
    # ClassCastException) has list<int>. Write what the spec says.
    import pyiceberg.manifest as manifest_module
    from pyiceberg.types import IntegerType, ListType, NestedField, StructType

    v2 = manifest_module.DATA_FILE_TYPE[2]
    manifest_module.DATA_FILE_TYPE[2] = StructType(*[
        NestedField(field_id=135, name="equality_ids", field_type=ListType(element_id=136, element_type=IntegerType(),
                    element_required=True), required=False, doc=f.doc) if f.field_id == 135 else f
        for f in v2.fields
    ])

    class DeleteManifestWriter(ManifestWriterV2):
        def content(self):
            return ManifestContent.DELETES

        @property
        def _meta(self):
            return {**super()._meta, "content": "deletes"}

    catalog = HadoopTableCatalog(table_dir)
    table = catalog.load_table()
    md = table.metadata
    io = table.io
    parent = md.current_snapshot()
    if parent is None:
        raise SystemExit("the table has no snapshot to delete from")
    schema = md.schema()

    # The live data files of main, with their partition and spec.
    live = {}
    for manifest in parent.manifests(io):
        if manifest.content != ManifestContent.DATA:
            continue
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
            live[entry.data_file.file_path] = (manifest.partition_spec_id, entry.data_file.partition)

    payload = json.load(sys.stdin)
    groups = {}  # (spec_id, partition key) -> (spec_id, partition, rows)
    if mode == "position":
        for d in payload:
            if d["file_path"] not in live:
                raise SystemExit(f"{d['file_path']} is not a live data file of main")
            spec_id, partition = live[d["file_path"]]
            key = (spec_id, repr(partition))
            groups.setdefault(key, (spec_id, partition, []))[2].append((d["file_path"], int(d["pos"])))
        arrow_schema = pa.schema(
            [
                pa.field("file_path", pa.string(), nullable=False, metadata={b"PARQUET:field_id": b"2147483546"}),
                pa.field("pos", pa.int64(), nullable=False, metadata={b"PARQUET:field_id": b"2147483545"}),
            ]
        )
        equality_ids = None
    elif mode == "equality":
        column = argv[4]
        field = schema.find_field(column)
        spec_id, partition = next(iter(live.values()))
        if len(argv) > 6 and argv[5] == "--partition-of":
            spec_id, partition = live[argv[6]]
        groups[(spec_id, repr(partition))] = (spec_id, partition, [(v,) for v in payload])
        arrow_type = pa.string() if str(field.field_type) == "string" else pa.int64()
        arrow_schema = pa.schema(
            [pa.field(column, arrow_type, nullable=False, metadata={b"PARQUET:field_id": str(field.field_id).encode()})]
        )
        equality_ids = [field.field_id]
    else:
        raise SystemExit(f"unknown mode {mode}: expected position or equality")

    snapshot_id = uuid.uuid4().int & ((1 << 63) - 1)
    sequence_number = md.next_sequence_number()
    location = md.location.rstrip("/")
    delete_files = []
    new_manifests = []
    total = 0
    for spec_id, partition, rows in groups.values():
        rows.sort()
        columns = list(zip(*rows))
        arrow = pa.Table.from_arrays([pa.array(list(c), type=f.type) for c, f in zip(columns, arrow_schema)], schema=arrow_schema)
        path = f"{location}/data/{uuid.uuid4()}-deletes.parquet"
        local = path[len("file://"):] if path.startswith("file://") else path
        os.makedirs(os.path.dirname(local), exist_ok=True)
        pq.write_table(arrow, local, compression="zstd")
        data_file = DataFile(
            content=DataFileContent.POSITION_DELETES if mode == "position" else DataFileContent.EQUALITY_DELETES,
            file_path=path,
            file_format=FileFormat.PARQUET,
            partition=partition,
            record_count=len(rows),
            file_size_in_bytes=os.path.getsize(local),
            column_sizes={},
            value_counts={},
            null_value_counts={},
            nan_value_counts={},
            lower_bounds={},
            upper_bounds={},
            key_metadata=None,
            split_offsets=None,
            equality_ids=equality_ids,
            sort_order_id=None,
            spec_id=spec_id,
        )
        out = io.new_output(f"{location}/metadata/{uuid.uuid4()}-m0.avro")
        with DeleteManifestWriter(md.specs()[spec_id], schema, out, snapshot_id) as writer:
            writer.add_entry(
                ManifestEntry(
                    status=ManifestEntryStatus.ADDED, snapshot_id=snapshot_id, sequence_number=None,
                    file_sequence_number=None, data_file=data_file,
                )
            )
        new_manifests.append(writer.to_manifest_file())
        delete_files.append(path)
        total += len(rows)

    list_path = f"{location}/metadata/snap-{snapshot_id}-0-{uuid.uuid4()}.avro"
    with write_manifest_list(
        format_version=2, output_file=io.new_output(list_path), snapshot_id=snapshot_id,
        parent_snapshot_id=parent.snapshot_id, sequence_number=sequence_number,
    ) as writer:
        writer.add_manifests(new_manifests + list(parent.manifests(io)))

    prev = parent.summary.additional_properties if parent.summary else {}
    kind = "position" if mode == "position" else "equality"
    summary = {
        "added-delete-files": str(len(delete_files)),
        f"added-{kind}-delete-files": str(len(delete_files)),
        f"added-{kind}-deletes": str(total),
        "changed-partition-count": str(len(groups)),
        "engine-name": "test-merge-on-read",
    }
    for key, delta in [("total-delete-files", len(delete_files)), (f"total-{kind}-deletes", total)]:
        if key in prev:
            summary[key] = str(int(prev[key]) + delta)
    for key in ["total-records", "total-files-size", "total-data-files",
                "total-position-deletes" if kind == "equality" else "total-equality-deletes"]:
        if key in prev:
            summary[key] = prev[key]
    if "total-files-size" in summary:
        summary["total-files-size"] = str(int(summary["total-files-size"]) + sum(
            os.path.getsize(p[len("file://"):] if p.startswith("file://") else p) for p in delete_files))
    snapshot = Snapshot(
        snapshot_id=snapshot_id,
        parent_snapshot_id=parent.snapshot_id,
        sequence_number=sequence_number,
        timestamp_ms=max(int(time.time() * 1000), md.last_updated_ms + 1),
        manifest_list=list_path,
        summary=Summary(operation=Operation.DELETE, **summary),
        schema_id=md.current_schema_id,
    )
    catalog.commit_table(
        table,
        (AssertRefSnapshotId(snapshot_id=parent.snapshot_id, ref="main"),),
        (
            AddSnapshotUpdate(snapshot=snapshot),
            SetSnapshotRefUpdate(snapshot_id=snapshot_id, parent_snapshot_id=parent.snapshot_id, ref_name="main", type="branch"),
        ),
    )
    print(json.dumps({"ok": True, "snapshot_id": snapshot_id, "delete_files": delete_files,
                      "version": catalog.current_version()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
