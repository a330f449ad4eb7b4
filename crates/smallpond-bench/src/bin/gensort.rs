//! `gensort [-a] [-tN] [-bSTART] COUNT FILE[,options]`: writes records START..START+COUNT of
//! the Sort Benchmark's sequence (binary; ASCII with `-a`), as Chris Nyberg's gensort does.
//! `-t` (threads) and the `,buf,trans=...` file options are accepted and change nothing.

use std::io::Write;

use smallpond_bench::gensort::{Generator, RECORD_LEN};

fn usage(message: &str) -> ! {
    eprintln!("gensort: {message}\nusage: gensort [-a] [-tN] [-bSTART] COUNT FILE[,options]");
    std::process::exit(2)
}

fn main() {
    let mut ascii = false;
    let mut start: u128 = 0;
    let mut positional = Vec::new();
    for arg in std::env::args().skip(1) {
        if arg == "-a" {
            ascii = true;
        } else if let Some(v) = arg.strip_prefix("-b") {
            start = v
                .parse()
                .unwrap_or_else(|_| usage(&format!("bad start record {v:?}")));
        } else if arg.starts_with("-t") || arg == "-c" || arg == "-s" {
            // Threads, checksum printing, skew: the output records are the same.
        } else if arg.starts_with('-') && arg.len() > 1 {
            usage(&format!("unknown option {arg}"));
        } else {
            positional.push(arg);
        }
    }
    let [count, file] = positional.as_slice() else {
        usage("needs COUNT and FILE")
    };
    let count: u64 = count
        .parse()
        .unwrap_or_else(|_| usage(&format!("bad record count {count:?}")));
    let path = file.split(',').next().unwrap_or(file);
    let out = std::fs::File::create(path).unwrap_or_else(|e| {
        eprintln!("gensort: cannot create {path}: {e}");
        std::process::exit(1)
    });
    let mut out = std::io::BufWriter::with_capacity(8 << 20, out);
    let mut generator = Generator::new(start, ascii);
    let mut record = [0u8; RECORD_LEN];
    for _ in 0..count {
        generator.next_into(&mut record);
        if let Err(e) = out.write_all(&record) {
            eprintln!("gensort: cannot write {path}: {e}");
            std::process::exit(1)
        }
    }
    if let Err(e) = out.flush() {
        eprintln!("gensort: cannot write {path}: {e}");
        std::process::exit(1)
    }
}
