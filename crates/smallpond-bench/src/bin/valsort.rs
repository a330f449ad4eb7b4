//! `valsort [-o SUMMARY] FILE[,options]` checks that a file of 100-byte records is sorted by
//! their 10-byte keys and prints its record count, checksum and duplicate keys; with `-o` it
//! also writes a summary of the file. `valsort -s SUMMARIES` checks a concatenation of
//! summaries (the parts of a sorted output, in order). Exit status 0: in order; 1: not.
//! As Chris Nyberg's valsort, with a summary format of our own (fixed 64-byte entries).

use std::io::{Read, Write};

use smallpond_bench::gensort::{KEY_LEN, RECORD_LEN};
use smallpond_bench::plugin::Summary;

const ENTRY: usize = 64;

fn fail(message: &str) -> ! {
    eprintln!("valsort: {message}");
    std::process::exit(2)
}

fn encode(s: &Summary) -> [u8; ENTRY] {
    let mut out = [0u8; ENTRY];
    out[..8].copy_from_slice(&s.records.to_le_bytes());
    out[8..16].copy_from_slice(&s.unordered.to_le_bytes());
    out[16..24].copy_from_slice(&s.duplicates.to_le_bytes());
    out[24..32].copy_from_slice(&s.checksum.to_le_bytes());
    if let (Some(first), Some(last)) = (&s.first_key, &s.last_key) {
        out[32] = 1;
        out[33..33 + KEY_LEN].copy_from_slice(first);
        out[33 + KEY_LEN..33 + 2 * KEY_LEN].copy_from_slice(last);
    }
    out
}

fn decode(b: &[u8]) -> Summary {
    let u = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
    let keys = b[32] == 1;
    Summary {
        records: u(0),
        unordered: u(8),
        duplicates: u(16),
        checksum: u(24),
        first_key: keys.then(|| b[33..33 + KEY_LEN].to_vec()),
        last_key: keys.then(|| b[33 + KEY_LEN..33 + 2 * KEY_LEN].to_vec()),
    }
}

fn report(s: &Summary) -> i32 {
    println!("Records: {}", s.records);
    println!("Checksum: {:x}", s.checksum);
    println!("Duplicate keys: {}", s.duplicates);
    if s.unordered == 0 {
        println!("SUCCESS - all records are in order");
        0
    } else {
        println!("FAILURE - {} records out of order", s.unordered);
        1
    }
}

fn read_all(path: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .unwrap_or_else(|e| fail(&format!("cannot read {path}: {e}")));
    bytes
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut summary_out = None;
    let mut summaries = None;
    let mut file = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-o" => {
                summary_out = Some(it.next().unwrap_or_else(|| fail("-o needs a file")).clone())
            }
            "-s" => summaries = Some(it.next().unwrap_or_else(|| fail("-s needs a file")).clone()),
            "-q" => {}
            a if a.starts_with("-t") => {}
            a if a.starts_with('-') => fail(&format!("unknown option {a}")),
            a => file = Some(a.split(',').next().unwrap_or(a).to_string()),
        }
    }
    if let Some(path) = summaries {
        let bytes = read_all(&path);
        if !bytes.len().is_multiple_of(ENTRY) {
            fail(&format!(
                "{path} is not a concatenation of valsort summaries"
            ));
        }
        let total = bytes
            .chunks_exact(ENTRY)
            .map(decode)
            .fold(Summary::default(), |acc, s| acc.then(&s));
        std::process::exit(report(&total));
    }
    let path =
        file.unwrap_or_else(|| fail("usage: valsort [-o SUMMARY] FILE | valsort -s SUMMARIES"));
    let bytes = read_all(&path);
    if !bytes.len().is_multiple_of(RECORD_LEN) {
        fail(&format!(
            "{path}: {} bytes is not a whole number of {RECORD_LEN}-byte records",
            bytes.len()
        ));
    }
    let mut summary = Summary::default();
    for record in bytes.chunks_exact(RECORD_LEN) {
        summary.add(&record[..KEY_LEN], &record[KEY_LEN..]);
    }
    if let Some(out) = summary_out {
        std::fs::File::create(&out)
            .and_then(|mut f| f.write_all(&encode(&summary)))
            .unwrap_or_else(|e| fail(&format!("cannot write {out}: {e}")));
    }
    std::process::exit(report(&summary));
}
