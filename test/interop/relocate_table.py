#!/usr/bin/env python3
"""relocate_table.py - copy an Iceberg table to a local directory, rewriting its absolute locations.

    relocate_table.py SRC_DIR SRC_LOCATION DST_DIR

SRC_DIR is where the table's objects are on this disk (for a table on the local GCS server:
<gcs data dir>/<bucket>/<path>), SRC_LOCATION the location the table's metadata names (gs://bucket/path),
DST_DIR an empty directory. Every string starting with SRC_LOCATION in the metadata JSON files, the
manifest lists and the manifests becomes file://DST_DIR...; data files are copied byte for byte. Avro is
re-encoded by fastavro with the writer's own schema (field ids kept), header metadata and codec, and
each manifest list's manifest_length is updated. The reference readers accept only local tables, so the
chaos suite checks a table written to the GCS server through this copy. Prints one JSON line.
"""

import io
import json
import os
import shutil
import sys

import fastavro


def rewrite(value, src, dst):
    if isinstance(value, str):
        return dst + value[len(src):] if value.startswith(src) else value
    if isinstance(value, list):
        return [rewrite(v, src, dst) for v in value]
    if isinstance(value, dict):
        return {k: rewrite(v, src, dst) for k, v in value.items()}
    return value


def rewrite_avro(path_in, path_out, src, dst, lengths=None):
    with open(path_in, "rb") as f:
        reader = fastavro.reader(f)
        raw_schema = json.loads(reader.metadata["avro.schema"])
        codec = reader.metadata.get("avro.codec", "null")
        meta = {k: v for k, v in reader.metadata.items() if not k.startswith("avro.")}
        records = [rewrite(r, src, dst) for r in reader]
    if lengths is not None:
        for r in records:
            if r.get("manifest_path") in lengths:
                r["manifest_length"] = lengths[r["manifest_path"]]
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(raw_schema), records, metadata=meta, codec=codec)
    with open(path_out, "wb") as f:
        f.write(out.getvalue())
    return len(out.getvalue())


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    src_dir, src, dst_dir = argv[1], argv[2].rstrip("/"), os.path.abspath(argv[3])
    dst = "file://" + dst_dir
    os.makedirs(dst_dir, exist_ok=True)
    meta_in = os.path.join(src_dir, "metadata")
    meta_out = os.path.join(dst_dir, "metadata")
    os.makedirs(meta_out, exist_ok=True)
    # Data (and anything else outside metadata/) as is.
    for root, _dirs, files in os.walk(src_dir):
        rel = os.path.relpath(root, src_dir)
        if rel == "metadata" or rel.startswith("metadata" + os.sep):
            continue
        os.makedirs(os.path.join(dst_dir, rel), exist_ok=True)
        for name in files:
            shutil.copyfile(os.path.join(root, name), os.path.join(dst_dir, rel, name))
    names = sorted(os.listdir(meta_in))
    avro = [n for n in names if n.endswith(".avro")]
    lists = set()
    for n in avro:
        with open(os.path.join(meta_in, n), "rb") as f:
            if "manifest_path" in fastavro.reader(f).metadata["avro.schema"]:
                lists.add(n)
    lengths = {}
    for n in avro:
        if n not in lists:
            size = rewrite_avro(os.path.join(meta_in, n), os.path.join(meta_out, n), src, dst)
            lengths[f"{dst}/metadata/{n}"] = size
    for n in lists:
        rewrite_avro(os.path.join(meta_in, n), os.path.join(meta_out, n), src, dst, lengths)
    metadata_files = 0
    for n in names:
        if n.endswith(".metadata.json"):
            with open(os.path.join(meta_in, n), encoding="utf-8") as f:
                doc = json.load(f)
            with open(os.path.join(meta_out, n), "w", encoding="utf-8") as f:
                json.dump(rewrite(doc, src, dst), f)
            metadata_files += 1
        elif not n.endswith(".avro"):
            shutil.copyfile(os.path.join(meta_in, n), os.path.join(meta_out, n))
    print(json.dumps({"ok": True, "table": dst_dir, "metadata_files": metadata_files, "avro_files": len(avro)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
