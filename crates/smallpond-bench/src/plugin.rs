//! The `gensort` plugin: record generation and validation as engine tasks.
//!
//! * `generate` (map_batches): each input row `(start, count)` becomes `count` records from
//!   record `start`, as columns `key` (10 bytes), `value` (90 bytes) and `part`, the range
//!   partition of the key among `partitions` (by its first 4 bytes, so partitions in order
//!   hold ascending key ranges).
//! * `validate` (map_batches): one partition's `(key, value)` rows in file order become one
//!   summary row: first and last key, records, keys out of order, duplicate keys, and the sum
//!   of the records' CRC-32s (valsort's order-independent checksum).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryArray, BinaryBuilder, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use duckdb::Connection;
use smallpond_core::plan::ExternalFunction;
use smallpond_duckdb::plugin::{Plugin, PluginError};

use crate::gensort::{crc32, Generator, KEY_LEN, RECORD_LEN};

pub const RUNTIME: &str = "gensort";
const BATCH: u64 = 65_536;

pub struct GensortPlugin;

/// The `generate` function: `partitions` output ranges; ASCII or binary records.
pub fn generate_fn(partitions: u32, ascii: bool) -> ExternalFunction {
    ExternalFunction {
        runtime: RUNTIME.into(),
        name: "generate".into(),
        payload: serde_json::json!({"op": "generate", "partitions": partitions, "ascii": ascii})
            .to_string(),
    }
}

pub fn validate_fn() -> ExternalFunction {
    ExternalFunction {
        runtime: RUNTIME.into(),
        name: "validate".into(),
        payload: serde_json::json!({"op": "validate"}).to_string(),
    }
}

pub fn generated_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Binary, false),
        Field::new("value", DataType::Binary, false),
        Field::new("part", DataType::UInt32, false),
    ]))
}

pub fn summary_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("first_key", DataType::Binary, true),
        Field::new("last_key", DataType::Binary, true),
        Field::new("records", DataType::UInt64, false),
        Field::new("unordered", DataType::UInt64, false),
        Field::new("duplicates", DataType::UInt64, false),
        Field::new("checksum", DataType::UInt64, false),
    ]))
}

/// The range partition of a key: `partitions` equal ranges of its first 4 bytes.
pub fn partition_of(key: &[u8], partitions: u32) -> u32 {
    let prefix = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    ((u64::from(prefix) * u64::from(partitions)) >> 32) as u32
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, PluginError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| format!("input column {name} is missing or has another type"))
}

fn generate(
    partitions: u32,
    ascii: bool,
    input: &mut dyn Iterator<Item = RecordBatch>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<(), PluginError>,
) -> Result<(), PluginError> {
    if partitions == 0 {
        return Err("partitions must be at least 1".into());
    }
    let mut buf = [0u8; RECORD_LEN];
    for batch in input {
        let starts = column::<UInt64Array>(&batch, "start")?;
        let counts = column::<UInt64Array>(&batch, "count")?;
        for row in 0..batch.num_rows() {
            let (start, count) = (starts.value(row), counts.value(row));
            let mut generator = Generator::new(u128::from(start), ascii);
            let mut done = 0;
            while done < count {
                let n = (count - done).min(BATCH) as usize;
                let mut keys = BinaryBuilder::with_capacity(n, n * KEY_LEN);
                let mut values = BinaryBuilder::with_capacity(n, n * (RECORD_LEN - KEY_LEN));
                let mut parts = Vec::with_capacity(n);
                for _ in 0..n {
                    generator.next_into(&mut buf);
                    keys.append_value(&buf[..KEY_LEN]);
                    values.append_value(&buf[KEY_LEN..]);
                    parts.push(partition_of(&buf, partitions));
                }
                let columns: Vec<ArrayRef> = vec![
                    Arc::new(keys.finish()),
                    Arc::new(values.finish()),
                    Arc::new(UInt32Array::from(parts)),
                ];
                let out =
                    RecordBatch::try_new(generated_schema(), columns).map_err(|e| e.to_string())?;
                emit(out)?;
                done += n as u64;
            }
        }
    }
    Ok(())
}

/// What valsort reports for a run of records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub first_key: Option<Vec<u8>>,
    pub last_key: Option<Vec<u8>>,
    pub records: u64,
    pub unordered: u64,
    pub duplicates: u64,
    pub checksum: u64,
}

impl Summary {
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        if let Some(last) = &self.last_key {
            match last.as_slice().cmp(key) {
                std::cmp::Ordering::Greater => self.unordered += 1,
                std::cmp::Ordering::Equal => self.duplicates += 1,
                std::cmp::Ordering::Less => {}
            }
        }
        if self.first_key.is_none() {
            self.first_key = Some(key.to_vec());
        }
        self.last_key = Some(key.to_vec());
        let mut record = [0u8; RECORD_LEN];
        record[..KEY_LEN].copy_from_slice(key);
        record[KEY_LEN..].copy_from_slice(value);
        self.checksum = self.checksum.wrapping_add(u64::from(crc32(&record)));
        self.records += 1;
    }

    /// `next` follows `self` (partitions in order).
    pub fn then(mut self, next: &Summary) -> Summary {
        if let (Some(last), Some(first)) = (&self.last_key, &next.first_key) {
            match last.cmp(first) {
                std::cmp::Ordering::Greater => self.unordered += 1,
                std::cmp::Ordering::Equal => self.duplicates += 1,
                std::cmp::Ordering::Less => {}
            }
        }
        if self.first_key.is_none() {
            self.first_key = next.first_key.clone();
        }
        if next.last_key.is_some() {
            self.last_key = next.last_key.clone();
        }
        self.records += next.records;
        self.unordered += next.unordered;
        self.duplicates += next.duplicates;
        self.checksum = self.checksum.wrapping_add(next.checksum);
        self
    }

    pub fn to_batch(&self) -> Result<RecordBatch, PluginError> {
        let key =
            |k: &Option<Vec<u8>>| -> ArrayRef { Arc::new(BinaryArray::from(vec![k.as_deref()])) };
        RecordBatch::try_new(
            summary_schema(),
            vec![
                key(&self.first_key),
                key(&self.last_key),
                Arc::new(UInt64Array::from(vec![self.records])),
                Arc::new(UInt64Array::from(vec![self.unordered])),
                Arc::new(UInt64Array::from(vec![self.duplicates])),
                Arc::new(UInt64Array::from(vec![self.checksum])),
            ],
        )
        .map_err(|e| e.to_string())
    }

    /// Summaries from `validate` output rows.
    pub fn from_batch(batch: &RecordBatch) -> Result<Vec<Summary>, PluginError> {
        let first = column::<BinaryArray>(batch, "first_key")?;
        let last = column::<BinaryArray>(batch, "last_key")?;
        let u = |name| column::<UInt64Array>(batch, name);
        let (records, unordered, duplicates, checksum) = (
            u("records")?,
            u("unordered")?,
            u("duplicates")?,
            u("checksum")?,
        );
        let key = |a: &BinaryArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_vec());
        Ok((0..batch.num_rows())
            .map(|i| Summary {
                first_key: key(first, i),
                last_key: key(last, i),
                records: records.value(i),
                unordered: unordered.value(i),
                duplicates: duplicates.value(i),
                checksum: checksum.value(i),
            })
            .collect())
    }
}

fn validate(
    input: &mut dyn Iterator<Item = RecordBatch>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<(), PluginError>,
) -> Result<(), PluginError> {
    let mut summary = Summary::default();
    for batch in input {
        let keys = column::<BinaryArray>(&batch, "key")?;
        let values = column::<BinaryArray>(&batch, "value")?;
        for i in 0..batch.num_rows() {
            let (k, v) = (keys.value(i), values.value(i));
            if k.len() != KEY_LEN || v.len() != RECORD_LEN - KEY_LEN {
                return Err(format!(
                    "record {} has a {}-byte key and a {}-byte value (want {KEY_LEN} and {})",
                    summary.records,
                    k.len(),
                    v.len(),
                    RECORD_LEN - KEY_LEN
                ));
            }
            summary.add(k, v);
        }
    }
    emit(summary.to_batch()?)
}

impl Plugin for GensortPlugin {
    fn runtime(&self) -> &str {
        RUNTIME
    }

    fn register_scalar(&self, _: &Connection, f: &ExternalFunction) -> Result<(), PluginError> {
        Err(format!(
            "the gensort runtime has no SQL function {}",
            f.name
        ))
    }

    fn map_batches(
        &self,
        function: &ExternalFunction,
        _input_schema: SchemaRef,
        input: &mut dyn Iterator<Item = RecordBatch>,
        emit: &mut dyn FnMut(RecordBatch) -> Result<(), PluginError>,
    ) -> Result<Option<SchemaRef>, PluginError> {
        let spec: serde_json::Value =
            serde_json::from_str(&function.payload).map_err(|e| e.to_string())?;
        match spec["op"].as_str() {
            Some("generate") => {
                let partitions = spec["partitions"].as_u64().unwrap_or(1) as u32;
                let ascii = spec["ascii"].as_bool().unwrap_or(false);
                generate(partitions, ascii, input, emit)?;
                Ok(Some(generated_schema()))
            }
            Some("validate") => {
                validate(input, emit)?;
                Ok(Some(summary_schema()))
            }
            other => Err(format!("unknown gensort operation {other:?}")),
        }
    }
}
