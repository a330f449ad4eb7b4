import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import smallpond


@pytest.fixture
def sp(tmp_path):
    session = smallpond.init(data_root=str(tmp_path / "root"), progress=False)
    yield session
    session.shutdown()


@pytest.fixture
def prices(tmp_path):
    """Three Parquet files of (ticker, price): 10 tickers x 30 rows."""
    d = tmp_path / "prices"
    d.mkdir()
    for f in range(3):
        rows = [
            {"ticker": f"T{i % 10}", "price": float(f * 100 + i)} for i in range(100)
        ]
        pq.write_table(pa.Table.from_pylist(rows), d / f"part-{f}.parquet")
    return str(d)


def all_rows(d):
    return pa.concat_tables(
        [pq.read_table(os.path.join(d, f)) for f in sorted(os.listdir(d))]
    )
