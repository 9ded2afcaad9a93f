"""Reads Parquet data files written by shared/parquet with pyarrow and checks them against a JSON spec
(argv[1]) that test/integration/parquet-pyarrow.test.ts writes: rows, Arrow types, nullability
(REQUIRED <-> not nullable), field ids, ZSTD on every column chunk, and statistics (present, null counts
and min/max agreeing with the Iceberg bounds the writer computed). Prints one JSON line
{"files": n, "errors": [...]} and exits 1 if there is any error."""

import json
import sys

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as err:
    print(json.dumps({"files": 0, "errors": [f"pyarrow is not installed: pip install pyarrow ({err})"]}))
    sys.exit(2)

ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int32(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}


def as_key(kind: str, value):
    """Order values as Iceberg bounds are ordered: strings by UTF-8 bytes, numbers numerically."""
    if kind == "string":
        return value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return int(value)


def check_file(spec: dict, errors: list) -> None:
    path = spec["path"]
    columns = spec["columns"]

    def fail(message: str) -> None:
        errors.append(f"{path}: {message}")

    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    if schema.names != [c["name"] for c in columns]:
        fail(f"column names {schema.names}, expected {[c['name'] for c in columns]}")
        return
    for c in columns:
        field = schema.field(c["name"])
        if field.type != ARROW_TYPES[c["type"]]:
            fail(f"{c['name']}: arrow type {field.type}, expected {ARROW_TYPES[c['type']]}")
        if field.nullable == c["required"]:
            fail(f"{c['name']}: nullable={field.nullable}, expected nullable={not c['required']}")
        field_id = (field.metadata or {}).get(b"PARQUET:field_id")
        if field_id != str(c["id"]).encode():
            fail(f"{c['name']}: PARQUET:field_id {field_id!r}, expected {c['id']}")

    # Rows, with timestamps compared as epoch microseconds.
    table = pf.read()
    casts = [
        table.column(c["name"]).cast(pa.int64()) if c["type"] == "timestamptz" else table.column(c["name"])
        for c in columns
    ]
    actual = pa.table(casts, names=[c["name"] for c in columns]).to_pylist()
    expected = spec["rows"]
    if len(actual) != len(expected):
        fail(f"{len(actual)} rows, expected {len(expected)}")
    else:
        for n, (a, e) in enumerate(zip(actual, expected)):
            if a != e:
                fail(f"row {n}: {a}, expected {e}")
                break

    meta = pf.metadata
    if meta.num_row_groups != spec["rowGroupCount"]:
        fail(f"{meta.num_row_groups} row groups, expected {spec['rowGroupCount']}")
    stats = spec["stats"]
    for j, c in enumerate(columns):
        name, fid = c["name"], str(c["id"])
        nulls = 0
        lows, highs = [], []
        for g in range(meta.num_row_groups):
            chunk = meta.row_group(g).column(j)
            if chunk.compression != "ZSTD":
                fail(f"{name}, row group {g}: codec {chunk.compression}, expected ZSTD")
            if not chunk.is_stats_set or chunk.statistics is None:
                fail(f"{name}, row group {g}: no statistics")
                continue
            st = chunk.statistics
            if not st.has_null_count:
                fail(f"{name}, row group {g}: statistics without null_count")
            nulls += st.null_count
            rows_in_group = meta.row_group(g).num_rows
            if st.null_count < rows_in_group:
                if not st.has_min_max:
                    fail(f"{name}, row group {g}: statistics without min/max")
                    continue
                lows.append(st.min_raw)
                highs.append(st.max_raw)
        if nulls != stats["nullValueCounts"][fid]:
            fail(f"{name}: null_count {nulls} in the footer, Iceberg stats say {stats['nullValueCounts'][fid]}")
        if stats["valueCounts"][fid] != meta.num_rows:
            fail(f"{name}: Iceberg value count {stats['valueCounts'][fid]}, file has {meta.num_rows} rows")
        kind = c["type"]
        if lows:
            low = min(lows, key=lambda v: as_key(kind, v))
            high = max(highs, key=lambda v: as_key(kind, v))
            if fid not in stats["lowerBounds"] or as_key(kind, low) != as_key(kind, stats["lowerBounds"][fid]):
                fail(f"{name}: footer min {low!r}, Iceberg lower bound {stats['lowerBounds'].get(fid)!r}")
            if fid not in stats["upperBounds"] or as_key(kind, high) != as_key(kind, stats["upperBounds"][fid]):
                fail(f"{name}: footer max {high!r}, Iceberg upper bound {stats['upperBounds'].get(fid)!r}")
        elif fid in stats["lowerBounds"] or fid in stats["upperBounds"]:
            fail(f"{name}: all null, yet Iceberg bounds {stats['lowerBounds'].get(fid)!r}..{stats['upperBounds'].get(fid)!r}")


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    errors: list = []
    for file_spec in spec["files"]:
        try:
            check_file(file_spec, errors)
        except Exception as err:  # a file pyarrow cannot read at all
            errors.append(f"{file_spec['path']}: {type(err).__name__}: {err}")
    print(json.dumps({"files": len(spec["files"]), "pyarrow": pa.__version__, "errors": errors}))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
