use smallpond::Session;
use smallpond_bench::gensort::{Generator, KEY_LEN, RECORD_LEN};
use smallpond_bench::graysort::{self, records_for_size, Config};
use smallpond_bench::plugin::Summary;

fn session(root: &std::path::Path) -> Session {
    Session::builder()
        .data_root(root)
        .plugins(smallpond_bench::plugins())
        .build()
        .unwrap()
}

#[test]
fn graysort_sorts_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let sp = session(&dir.path().join("root"));
    let output = dir.path().join("sorted");
    let report = graysort::run(
        &sp,
        &Config {
            records: 20_000,
            partitions: 5,
            generators: 3,
            ascii: false,
            output: output.clone(),
            compression: "snappy".into(),
            shuffle_compression: "uncompressed".into(),
            input_dir: None,
            global_sort: false,
        },
    )
    .unwrap();
    report.valid().unwrap();
    assert_eq!(report.input.records, 20_000);
    assert_eq!(report.output.records, 20_000);
    assert_eq!(report.output.checksum, report.input.checksum);
    assert_eq!(report.output.duplicates, 0);
    // The first key of the whole output is the smallest generated key.
    let mut g = Generator::new(0, false);
    let mut smallest = vec![0xFFu8; KEY_LEN];
    let mut buf = [0u8; RECORD_LEN];
    for _ in 0..20_000 {
        g.next_into(&mut buf);
        smallest = smallest.min(buf[..KEY_LEN].to_vec());
    }
    assert_eq!(
        report.output.first_key.as_deref(),
        Some(smallest.as_slice())
    );
    let files = std::fs::read_dir(&output).unwrap().count();
    assert!(files >= 1, "sorted output was written");
    sp.shutdown().unwrap();
}

#[test]
fn validator_catches_disorder_duplicates_and_changed_records() {
    let mut g = Generator::new(0, false);
    let mut records: Vec<[u8; RECORD_LEN]> = (0..100)
        .map(|_| {
            let mut b = [0u8; RECORD_LEN];
            g.next_into(&mut b);
            b
        })
        .collect();
    records.sort();
    let summary = |rs: &[[u8; RECORD_LEN]]| {
        let mut s = Summary::default();
        for r in rs {
            s.add(&r[..KEY_LEN], &r[KEY_LEN..]);
        }
        s
    };
    let good = summary(&records);
    assert_eq!((good.records, good.unordered, good.duplicates), (100, 0, 0));
    // Split in two partitions and join: same as the whole.
    let joined = summary(&records[..40]).then(&summary(&records[40..]));
    assert_eq!(joined, good);
    // Partitions in the wrong order.
    let swapped = summary(&records[40..]).then(&summary(&records[..40]));
    assert_eq!(swapped.unordered, 1);
    // A duplicate key.
    let mut dup = records.clone();
    dup[10] = dup[9];
    assert_eq!(summary(&dup).duplicates, 1);
    // A changed value changes the checksum.
    let mut changed = records.clone();
    changed[50][99] ^= 1;
    assert_ne!(summary(&changed).checksum, good.checksum);
    // Reordering does not.
    let mut shuffled = records.clone();
    shuffled.reverse();
    assert_eq!(summary(&shuffled).checksum, good.checksum);
}

#[test]
fn sizes() {
    assert_eq!(records_for_size("2GiB").unwrap(), (2u64 << 30) / 100);
    assert_eq!(records_for_size("1MB").unwrap(), 10_000);
    assert_eq!(records_for_size("1000").unwrap(), 10);
    assert!(records_for_size("50").is_err());
    assert!(records_for_size("2 parsecs").is_err());
}
