"""The original smallpond's quick start, unchanged, on smallpond-rs (Python API).

    .venv/bin/python examples/quickstart.py [DATA_DIR]
"""

import os
import sys

import smallpond

data = sys.argv[1] if len(sys.argv) > 1 else "data"
prices = os.path.join(data, "prices")
if not os.path.isdir(prices):
    sys.exit(f"{prices} is missing: run ./scripts/quickstart.sh (it generates the prices)")

# Initialize session
sp = smallpond.init()

# Load data
df = sp.read_parquet(os.path.join(prices, "*.parquet"))

# Process data
df = df.repartition(3, hash_by="ticker")
df = sp.partial_sql(
    "SELECT ticker, min(price) AS min_price, max(price) AS max_price FROM {0} GROUP BY ticker",
    df,
)

# Save results
df.write_parquet(os.path.join(data, "output-py"))
# Show results
print(df.to_pandas().sort_values("ticker").head(10).to_string(index=False))
