"""The pyarrow side of bench/parquet.ts: builds the same joined rows (same formula as
generateJoinedRows), times building a pyarrow Table from Python lists and writing it as Parquet (ZSTD,
the table's schema with field ids), optionally checks that another file holds exactly these rows, and
prints one JSON line."""

import argparse
import json
import os
import resource
import sys
import time

try:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
except ImportError as err:  # pragma: no cover - the message is the point
    sys.exit(f"bench/parquet_pyarrow.py needs pyarrow (and numpy): pip install pyarrow ({err})")

BASE_MS = 1714521600000  # 2024-05-01T00:00:00Z


def step_ms(rows: int) -> int:
    return max(1, min(37, 80_000_000 // rows))


def iso_seconds(ms: np.ndarray) -> pa.Array:
    return pc.strftime(pa.array(ms // 1000, pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")


def padded(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def generate_columns(rows: int) -> dict:
    """Columns as Python lists, the closest analogue of the JS row objects the Node writer consumes."""
    i = np.arange(rows, dtype=np.int64)
    t = BASE_MS + i * step_ms(rows)
    mix = (i * 7919) % 100_000
    amount = 100 + (i * 7919) % 99_900
    created = t + 250
    cols = {
        "order_id": padded("ORD", i, 9),
        "order_date": iso_seconds(t),
        "created_at": pc.binary_join_element_wise(iso_seconds(created), padded("", created % 1000, 3), "."),
        "customer_id": padded("CUST", mix, 6),
        "order_amount": pa.array(amount.astype(np.int32)),
        "payment_id": padded("PAY", i, 9),
        "payment_date": iso_seconds(t + 60_000),
        "payment_amount": pa.array(amount.astype(np.int32)),
        "joined_at": pa.array((t + 61_000) * 1000 + i % 1000),
    }
    return {name: col.to_pylist() for name, col in cols.items()}


def joined_schema() -> pa.Schema:
    fields = [
        ("order_id", pa.string()),
        ("order_date", pa.string()),
        ("created_at", pa.string()),
        ("customer_id", pa.string()),
        ("order_amount", pa.int32()),
        ("payment_id", pa.string()),
        ("payment_date", pa.string()),
        ("payment_amount", pa.int32()),
        ("joined_at", pa.timestamp("us", tz="UTC")),
    ]
    return pa.schema(
        [pa.field(name, typ, nullable=False, metadata={"PARQUET:field_id": str(n + 1)}) for n, (name, typ) in enumerate(fields)]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", required=True)
    parser.add_argument("--row-group-rows", type=int, default=50_000)
    parser.add_argument("--zstd-level", type=int, default=3)
    parser.add_argument("--check", help="a Parquet file that must hold exactly the generated rows")
    args = parser.parse_args()

    columns = generate_columns(args.rows)
    schema = joined_schema()

    t0 = time.perf_counter()
    table = pa.table(columns, schema=schema)
    t1 = time.perf_counter()
    pq.write_table(
        table,
        args.out,
        compression="zstd",
        compression_level=args.zstd_level,
        row_group_size=args.row_group_rows,
    )
    t2 = time.perf_counter()
    max_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    equal = None
    if args.check:
        equal = pq.read_table(args.check).equals(table)

    print(
        json.dumps(
            {
                "rows": table.num_rows,
                "build_seconds": t1 - t0,
                "write_seconds": t2 - t1,
                "max_rss_mib": max_rss_mib,
                "file_bytes": os.path.getsize(args.out),
                "node_file_equal": equal,
                "pyarrow_version": pa.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
