//! The `python` plugin: runs pickled Python functions inside tasks.
//!
//! Everything Python-specific about a function (unpickling, calling it row by row or
//! batch by batch, building the output table) is in `smallpond/_runtime.py`; this side
//! moves Arrow data across and turns Python exceptions into task errors with tracebacks.

use std::cell::RefCell;
use std::sync::Arc;

use arrow::array::{make_array, Array, ArrayData};
use arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use duckdb::vscalar::{ArrowFunctionSignature, VArrowScalar};
use duckdb::Connection;
use pyo3::prelude::*;
use pyo3::types::PyList;
use smallpond_core::plan::ExternalFunction;
use smallpond_duckdb::plugin::{Plugin, PluginError, ScriptCall};

pub const RUNTIME: &str = "python";

pub struct PythonPlugin;

/// A Python exception as text: its traceback (when it has one) and message.
pub fn describe(py: Python<'_>, err: &PyErr) -> String {
    let tb = err
        .traceback(py)
        .and_then(|tb| tb.format().ok())
        .unwrap_or_default();
    format!("{tb}{err}")
}

/// A Python exception as a plugin error: traceback and message.
fn text(err: PyErr) -> PluginError {
    Python::attach(|py| describe(py, &err))
}

fn runtime(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("smallpond._runtime")
}

/// The unpickled function object for `payload` (cached by `_runtime.load`).
fn load<'py>(py: Python<'py>, function: &ExternalFunction) -> PyResult<Bound<'py, PyAny>> {
    runtime(py)?.call_method1("load", (function.payload.as_str(),))
}

impl Plugin for PythonPlugin {
    fn runtime(&self) -> &str {
        RUNTIME
    }

    /// As the original smallpond hands tables to Python functions.
    fn large_strings(&self) -> bool {
        true
    }

    fn register_scalar(
        &self,
        conn: &Connection,
        function: &ExternalFunction,
    ) -> Result<(), PluginError> {
        let (udf, params, returns) = Python::attach(|py| -> PyResult<_> {
            let udf = load(py, function)?;
            let params: Option<Vec<String>> = udf.getattr("params")?.extract()?;
            let returns: String = udf.getattr("return_type")?.extract()?;
            Ok((udf.unbind(), params, returns))
        })
        .map_err(text)?;
        let return_type = arrow_type(&returns)?;
        let signature = match params {
            Some(params) => ArrowFunctionSignature::exact(
                params
                    .iter()
                    .map(|p| arrow_type(p))
                    .collect::<Result<_, _>>()?,
                return_type.clone(),
            ),
            None => return Err("UDFs with any parameters (UDFAnyParameters) are not supported; declare the parameter types".into()),
        };
        let state = UdfState(Some(Arc::new(PyUdf {
            func: udf,
            return_type,
        })));
        PENDING.with(|p| *p.borrow_mut() = Some(signature));
        let result =
            conn.register_scalar_function_with_state::<PythonScalar>(&function.name, &state);
        PENDING.with(|p| p.borrow_mut().take());
        result.map_err(|e| format!("could not register UDF {}: {e}", function.name))
    }

    fn map_batches(
        &self,
        function: &ExternalFunction,
        input_schema: SchemaRef,
        input: &mut dyn Iterator<Item = RecordBatch>,
        emit: &mut dyn FnMut(RecordBatch) -> Result<(), PluginError>,
    ) -> Result<Option<SchemaRef>, PluginError> {
        let func = Python::attach(|py| load(py, function).map(Bound::unbind)).map_err(text)?;
        for batch in input {
            let out = Python::attach(|py| -> PyResult<Vec<RecordBatch>> {
                let result = func
                    .bind(py)
                    .call_method1("apply", (batch.to_pyarrow(py)?,))?;
                to_batches(&result)
            })
            .map_err(text)?;
            for b in out {
                emit(b)?;
            }
        }
        let schema = Python::attach(|py| -> PyResult<Option<Schema>> {
            let s = func.bind(py).call_method1(
                "finish",
                (Arc::unwrap_or_clone(input_schema).to_pyarrow(py)?,),
            )?;
            if s.is_none() {
                Ok(None)
            } else {
                Schema::from_pyarrow_bound(&s).map(Some)
            }
        })
        .map_err(text)?;
        Ok(schema.map(Arc::new))
    }

    /// `smallpond._runtime.run_script`: the original's low-level nodes
    /// (`smallpond/execution/task.py` builds their task objects in the worker).
    fn run_script(
        &self,
        function: &ExternalFunction,
        call: &ScriptCall<'_>,
    ) -> Result<(), PluginError> {
        Python::attach(|py| -> PyResult<()> {
            runtime(py)?.call_method1(
                "run_script",
                (
                    function.payload.as_str(),
                    call.context.as_str(),
                    call.output_dir.to_string_lossy().as_ref(),
                    call.temp_dir.to_string_lossy().as_ref(),
                ),
            )?;
            Ok(())
        })
        .map_err(text)
    }
}

/// `result` is a list of `pyarrow.RecordBatch` (what `_runtime` returns).
fn to_batches(result: &Bound<'_, PyAny>) -> PyResult<Vec<RecordBatch>> {
    let list = result.cast::<PyList>()?;
    list.iter()
        .map(|b| RecordBatch::from_pyarrow_bound(&b))
        .collect()
}

/// DuckDB type names (as in the original's `UDFType`) to Arrow types.
pub fn arrow_type(name: &str) -> Result<DataType, PluginError> {
    let upper = name.trim().to_ascii_uppercase();
    if let Some(inner) = upper.strip_suffix("[]").or_else(|| {
        upper
            .strip_prefix("LIST(")
            .and_then(|s| s.strip_suffix(')'))
    }) {
        let item = arrow_type(inner)?;
        return Ok(DataType::List(Arc::new(arrow::datatypes::Field::new(
            "item", item, true,
        ))));
    }
    Ok(match upper.as_str() {
        "BOOLEAN" | "BOOL" => DataType::Boolean,
        "TINYINT" => DataType::Int8,
        "SMALLINT" => DataType::Int16,
        "INTEGER" | "INT" => DataType::Int32,
        "BIGINT" => DataType::Int64,
        "UTINYINT" => DataType::UInt8,
        "USMALLINT" => DataType::UInt16,
        "UINTEGER" => DataType::UInt32,
        "UBIGINT" => DataType::UInt64,
        "FLOAT" | "REAL" => DataType::Float32,
        "DOUBLE" => DataType::Float64,
        "VARCHAR" | "TEXT" | "STRING" => DataType::Utf8,
        "BLOB" => DataType::Binary,
        "DATE" => DataType::Date32,
        "TIMESTAMP" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "TIMESTAMP_MS" => DataType::Timestamp(TimeUnit::Millisecond, None),
        "TIMESTAMP_NS" => DataType::Timestamp(TimeUnit::Nanosecond, None),
        "TIMESTAMP_S" => DataType::Timestamp(TimeUnit::Second, None),
        _ => {
            return Err(format!(
                "UDF type {name} is not supported here; use BOOLEAN, integer types, FLOAT, \
                 DOUBLE, VARCHAR, BLOB, DATE, TIMESTAMP[_S|_MS|_NS] or lists of them"
            ))
        }
    })
}

struct PyUdf {
    func: Py<PyAny>,
    return_type: DataType,
}

#[derive(Default, Clone)]
struct UdfState(Option<Arc<PyUdf>>);

thread_local! {
    /// The signature of the UDF being registered: DuckDB's Rust API asks the function
    /// type (not the value) for its signatures, and a Python UDF's are only known at run
    /// time. Registration is synchronous, so the value set just before is the one read.
    static PENDING: RefCell<Option<ArrowFunctionSignature>> = const { RefCell::new(None) };
}

struct PythonScalar;

impl VArrowScalar for PythonScalar {
    type State = UdfState;

    fn invoke(
        state: &UdfState,
        input: RecordBatch,
    ) -> Result<Arc<dyn Array>, Box<dyn std::error::Error>> {
        let udf = state.0.as_ref().ok_or("the Python UDF has no function")?;
        let data = Python::attach(|py| -> PyResult<ArrayData> {
            let out = udf
                .func
                .bind(py)
                .call_method1("call_batch", (input.to_pyarrow(py)?,))?;
            ArrayData::from_pyarrow_bound(&out)
        })
        .map_err(text)?;
        let array = make_array(data);
        if array.data_type() != &udf.return_type {
            let cast = arrow::compute::cast(&array, &udf.return_type)?;
            return Ok(cast);
        }
        Ok(array)
    }

    fn signatures() -> Vec<ArrowFunctionSignature> {
        PENDING
            .with(|p| p.borrow_mut().take())
            .into_iter()
            .collect()
    }
}
