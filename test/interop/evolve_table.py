#!/usr/bin/env python3
"""evolve_table.py - table changes another engine may make that the readers kit's foreign-writer does not
offer, made with pyiceberg 0.9.1 through the kit's Hadoop catalog (one commit per call).

    PY="$(KIT/pyiceberg/setup-python)"
    "$PY" evolve_table.py KIT TABLE_DIR drop-column NAME
    "$PY" evolve_table.py KIT TABLE_DIR rename-column NAME NEW_NAME
    "$PY" evolve_table.py KIT TABLE_DIR add-partition-field SOURCE TRANSFORM NAME   # bucket[8], identity, ...
    "$PY" evolve_table.py KIT TABLE_DIR upgrade-v3

upgrade-v3 writes the next metadata version as format-version 3 the way an engine upgrading the table
would leave it (next-row-id added), create-exclusive, then the version hint. Prints one JSON line.
"""

import json
import os
import sys


def main(argv):
    kit, table_dir, op = argv[1], os.path.abspath(argv[2]), argv[3]
    sys.path.insert(0, os.path.join(kit, "pyiceberg"))
    from hadoop_catalog import HadoopTableCatalog, metadata_file

    catalog = HadoopTableCatalog(table_dir)
    if op == "upgrade-v3":
        version = catalog.current_version()
        with open(metadata_file(catalog.meta_dir, version), encoding="utf-8") as f:
            md = json.load(f)
        location = md["location"].rstrip("/")
        md["metadata-log"] = md.get("metadata-log", []) + [
            {"timestamp-ms": md["last-updated-ms"], "metadata-file": f"{location}/metadata/v{version}.metadata.json"}]
        md["format-version"] = 3
        md["next-row-id"] = 0
        target = os.path.join(catalog.meta_dir, f"v{version + 1}.metadata.json")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(md, f)
        with open(os.path.join(catalog.meta_dir, "version-hint.text"), "w", encoding="utf-8") as f:
            f.write(str(version + 1))
        print(json.dumps({"ok": True, "op": op, "version": version + 1}))
        return 0
    table = catalog.load_table()
    if op == "drop-column":
        with table.update_schema() as update:
            update.delete_column(argv[4])
    elif op == "rename-column":
        with table.update_schema() as update:
            update.rename_column(argv[4], argv[5])
    elif op == "add-partition-field":
        from pyiceberg.transforms import parse_transform

        with table.update_spec() as update:
            update.add_field(argv[4], parse_transform(argv[5]), argv[6])
    else:
        raise SystemExit(f"unknown operation {op}")
    print(json.dumps({"ok": True, "op": op, "version": catalog.current_version()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
