//! Where the DuckDB library is found at run time.
//!
//! This one file is the build script of every crate that links DuckDB into something that
//! runs (`smallpond-duckdb`'s tests, the CLI, the Rust API's tests and examples, the
//! benchmarks, the Python extension): each points `package.build` here.
//!
//! By default DuckDB is the official prebuilt `libduckdb.so` in `DUCKDB_LIB_DIR` (fetched and
//! checked by `scripts/duckdb.sh`, set by `scripts/env.sh`). The `duckdb` crate links it but
//! records no run path, so every executable would need `LD_LIBRARY_PATH`. This script
//! records the directory as the run path of the crate's binaries, tests, examples and
//! cdylibs instead. A wheel does not depend on it: maturin copies the library into the wheel
//! and points the extension at that copy, and `SMALLPOND_WHEEL=1` (scripts/wheel.sh) leaves
//! the build machine's path out of the extension altogether. (Only the extension's build
//! looks at that variable, so setting it relinks the extension and nothing else.)
//!
//! With the `bundled-duckdb` feature (`SMALLPOND_DUCKDB=bundled`) DuckDB is compiled from
//! source and linked statically: there is nothing to find.
use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    let package = env::var("CARGO_PKG_NAME").unwrap_or_default();
    let wheel = package == "smallpond-python" && {
        println!("cargo:rerun-if-env-changed=SMALLPOND_WHEEL");
        env::var_os("SMALLPOND_WHEEL").is_some_and(|v| v == "1")
    };
    let unix = env::var_os("CARGO_CFG_UNIX").is_some();
    // Only smallpond-duckdb knows the feature; every other crate depends on it, so its build
    // script (this file, run first) has explained any problem already.
    let explain =
        package == "smallpond-duckdb" && env::var_os("CARGO_FEATURE_BUNDLED_DUCKDB").is_none();
    let library = match env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos") => "libduckdb.dylib",
        Ok("windows") => "duckdb.dll",
        _ => "libduckdb.so",
    };
    match env::var("DUCKDB_LIB_DIR") {
        Ok(dir) if explain && !Path::new(&dir).join(library).exists() => {
            panic!(
                "DUCKDB_LIB_DIR={dir} holds no {library}. `scripts/duckdb.sh` fetches the \
                 official one into the build cache (`source scripts/env.sh` does it too)."
            )
        }
        Ok(dir) if unix && !wheel => println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}"),
        Ok(_) => {}
        Err(_) if explain => {
            panic!(
                "DUCKDB_LIB_DIR is not set, so there is no DuckDB library to link.\n\
                 `source scripts/env.sh` sets it to the official libduckdb.so that \
                 `scripts/setup.sh` fetches and verifies (scripts/duckdb.sh); or set \
                 SMALLPOND_DUCKDB=bundled (scripts) / `--features smallpond-duckdb/bundled-duckdb` \
                 (cargo) to compile DuckDB from source (~55 CPU-minutes)."
            )
        }
        Err(_) => {}
    }
}
