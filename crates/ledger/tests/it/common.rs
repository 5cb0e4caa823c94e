//! Shared helpers: sample records, backends under test.

use std::sync::atomic::{AtomicU64, Ordering};

use provmark_core::{ContentId, SigningKey};
use provmark_ledger::store::memory::MemoryStore;
use provmark_ledger::store::postgres::PostgresStore;
use provmark_ledger::store::sqlite::SqliteStore;
use provmark_ledger::{Fingerprint, LabelFlags, Ledger, MediaKind, NoteSigner, Record};

pub const PG_ENV: &str = "PROVMARK_TEST_POSTGRES_URL";

/// A deterministic 64-bit mix (splitmix64), for content IDs and fingerprints.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

pub fn fingerprint_of(n: u64) -> [u8; 32] {
    let mut fp = [0u8; 32];
    for (k, chunk) in fp.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(n * 4 + k as u64).to_be_bytes());
    }
    fp
}

/// Record number `n`: content ID `mix(n)`, every third without fingerprint, media hash
/// shared by pairs (n / 2) so content-hash lookups can return two records.
pub fn record(n: u64) -> Record {
    // Deriving the public key costs a scalar multiplication: do it once.
    static KEY_ID: std::sync::OnceLock<provmark_core::KeyId> = std::sync::OnceLock::new();
    static CODE: std::sync::OnceLock<provmark_core::ProducerCode> = std::sync::OnceLock::new();
    let mut sha = [0u8; 32];
    sha[..8].copy_from_slice(&(n / 2).to_be_bytes());
    Record {
        content_id: ContentId::from_u64(mix(n)),
        kind: if n % 2 == 0 { MediaKind::Image } else { MediaKind::Audio },
        producer_code: CODE.get_or_init(|| "00DEVABCDEFGHIJKLMNOPQ1DEV0".parse().unwrap()).clone(),
        key_id: *KEY_ID.get_or_init(|| signing_key().key_id()),
        model: format!("model-{}", n % 5),
        created_unix: 1_760_000_000 + n,
        media_sha256: sha,
        fingerprint: (n % 3 != 0).then(|| Fingerprint(fingerprint_of(n))),
        watermark_algorithm: "provmark-ss".into(),
        watermark_version: 1,
        visible_label: if n % 4 == 0 { LabelFlags::IMAGE_TEXT } else { LabelFlags::NONE },
        batch_id: n / 100,
    }
}

pub fn records(range: std::ops::Range<u64>) -> Vec<Record> {
    range.map(record).collect()
}

pub fn signing_key() -> SigningKey {
    SigningKey::from_seed(&[42; 32])
}

pub fn signer() -> NoteSigner {
    NoteSigner::from_signing_key("provmark.example/test-log", &signing_key()).unwrap()
}

/// A backend under test; keeps what it needs alive (temp dir, PostgreSQL schema).
pub struct Backend {
    pub name: &'static str,
    pub ledger: Ledger,
    pub sqlite_path: Option<std::path::PathBuf>,
    pub pg: Option<PgSchema>,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    /// Opens another handle on the same log (a second writer, or after a restart).
    pub fn reopen(&self) -> Ledger {
        match (self.name, &self.sqlite_path, &self.pg) {
            ("sqlite", Some(p), _) => open_sqlite(p),
            ("postgres", _, Some(pg)) => pg.open(),
            _ => panic!("memory logs cannot be reopened"),
        }
    }
}

pub fn memory() -> Backend {
    Backend {
        name: "memory",
        ledger: Ledger::new(Box::new(MemoryStore::new())),
        sqlite_path: None,
        pg: None,
        _dir: None,
    }
}

/// Small index sizes, so that the suite's logs (tens to hundreds of records) build and
/// merge fingerprint segments and merge the lookup indexes many times.
pub const TEST_SEGMENT: u64 = 4;
pub const TEST_LOOKUP_MERGE: u64 = 8;

pub fn open_sqlite(path: &std::path::Path) -> Ledger {
    let mut store = SqliteStore::open(path).unwrap();
    store.set_index_sizes(TEST_SEGMENT, TEST_LOOKUP_MERGE);
    Ledger::new(Box::new(store))
}

pub fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let ledger = open_sqlite(&path);
    Backend { name: "sqlite", ledger, sqlite_path: Some(path), pg: None, _dir: Some(dir) }
}

/// The PostgreSQL server URL, or `None` (with a notice) outside CI. In CI (`CI=true`) a
/// missing server fails the test instead of skipping it.
pub fn postgres_url() -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "{PG_ENV} is not set in CI: `.ci/run` must start PostgreSQL and export it"
            );
            eprintln!("notice: {PG_ENV} not set; skipping the PostgreSQL backend");
            None
        }
    }
}

/// A fresh schema in the test database, dropped at the end.
pub struct PgSchema {
    pub url: String,
    pub schema: String,
}

impl PgSchema {
    pub fn open(&self) -> Ledger {
        let mut store = PostgresStore::connect_in_schema(&self.url, Some(&self.schema)).unwrap();
        store.set_index_sizes(TEST_SEGMENT);
        Ledger::new(Box::new(store))
    }

    /// A writer with the default index sizes (for the scale tests).
    pub fn open_default(&self) -> Ledger {
        Ledger::new(Box::new(
            PostgresStore::connect_in_schema(&self.url, Some(&self.schema)).unwrap(),
        ))
    }

    pub fn client(&self) -> postgres::Client {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
        c.batch_execute(&format!("SET search_path TO {}", self.schema)).unwrap();
        c
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn postgres() -> Option<Backend> {
    let url = postgres_url()?;
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let schema =
        format!("t_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), nanos);
    let pg = PgSchema { url, schema };
    let ledger = pg.open();
    Some(Backend { name: "postgres", ledger, sqlite_path: None, pg: Some(pg), _dir: None })
}
