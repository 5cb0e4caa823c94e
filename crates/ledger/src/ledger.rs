//! [`Ledger`]: records in, proofs and signed checkpoints out, over any [`LogStore`].

use std::path::Path;

use provmark_core::ContentId;

use crate::checkpoint::Checkpoint;
use crate::merkle::{self, ConsistencyProof, Hash, InclusionProof};
use crate::note::{NoteSigner, NoteVerifier};
use crate::record::Record;
use crate::store::memory::MemoryStore;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::store::LogStore;
use crate::{Error, Result};

/// How many records [`Ledger::verify`] and the exports read at a time.
pub(crate) const SCAN_CHUNK: u64 = 10_000;

/// A record found by a lookup, with everything an investigator needs to check it offline:
/// the canonical record bytes, the inclusion proof and the signed checkpoint it leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The record's index in the log.
    pub index: u64,
    /// The decoded record.
    pub record: Record,
    /// Its canonical bytes (the leaf data).
    pub record_bytes: Vec<u8>,
    /// Inclusion proof against `checkpoint`.
    pub proof: InclusionProof,
    /// The signed checkpoint the proof leads to.
    pub checkpoint: Checkpoint,
    /// For a fingerprint lookup, the Hamming distance of the match; 0 otherwise.
    pub distance: u32,
}

impl Found {
    /// RFC 6962 leaf hash of the record.
    #[must_use]
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&self.record_bytes)
    }

    /// Checks everything offline: the checkpoint's signature by `verifier`, that the bytes
    /// encode the record, and the inclusion proof against the checkpoint's root.
    ///
    /// # Errors
    /// [`Error::Note`], [`Error::Record`] or [`Error::Proof`] for the first check that fails.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<()> {
        let cp = Checkpoint::open(self.checkpoint.note(), verifier)?;
        if Record::decode(&self.record_bytes)? != self.record {
            return Err(Error::record("record bytes do not encode the record"));
        }
        if self.proof.tree_size != cp.size() || self.proof.index != self.index {
            return Err(merkle::ProofError::OutOfRange.into());
        }
        self.proof.verify(&self.leaf_hash(), cp.root())?;
        Ok(())
    }
}

/// What [`Ledger::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub size: u64,
    /// Stored hashes checked.
    pub hashes: u64,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// The first problem, if any; `None` means the whole log checked out.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    /// Whether everything checked out.
    #[must_use]
    pub const fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Which part of the stored log is bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A record's bytes are not a canonical record.
    Record,
    /// A stored hash differs from the one recomputed from the records.
    Hash,
    /// An index column (content ID, media hash, fingerprint) disagrees with its record.
    Index,
    /// A checkpoint is malformed, badly signed, or its root is not the log's.
    Checkpoint,
    /// Records or hashes are missing or surplus.
    Size,
}

/// The first problem [`Ledger::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What kind of data is bad.
    pub kind: ProblemKind,
    /// The first bad entry (record index; for a checkpoint, its tree size), if it has one.
    pub index: Option<u64>,
    /// A sentence describing it.
    pub detail: String,
}

/// Log statistics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Backend name.
    pub backend: &'static str,
    /// Number of records.
    pub size: u64,
    /// Number of stored hashes.
    pub stored_hashes: u64,
    /// Number of stored checkpoints.
    pub checkpoints: usize,
    /// Tree size of the latest checkpoint.
    pub latest_checkpoint: Option<u64>,
    /// Sum of the encoded record lengths.
    pub record_bytes: u64,
    /// Bytes on disk, if the backend can tell.
    pub storage_bytes: Option<u64>,
}

/// The traceability ledger over one store.
///
/// ```
/// use provmark_core::{ContentId, KeyId, SigningKey};
/// use provmark_ledger::{Ledger, LabelFlags, MediaKind, NoteSigner, Record};
///
/// let mut ledger = Ledger::open("memory:")?;
/// let key = SigningKey::from_seed(&[1; 32]);
/// let record = Record {
///     content_id: ContentId::from_u64(42),
///     kind: MediaKind::Image,
///     producer_code: "00DEVABCDEFGHIJKLMNOPQ1DEV0".parse()?,
///     key_id: key.key_id(),
///     model: "example-model".into(),
///     created_unix: 1_760_000_000,
///     media_sha256: [7; 32],
///     fingerprint: None,
///     watermark_algorithm: "provmark-ss".into(),
///     watermark_version: 1,
///     visible_label: LabelFlags::NONE,
///     batch_id: 1,
/// };
/// assert_eq!(ledger.append_batch(&[record.clone()])?, vec![0]);
/// // Appending the same content ID again returns the existing index.
/// assert_eq!(ledger.append_batch(&[record])?, vec![0]);
/// let signer = NoteSigner::from_signing_key("example.com/log", &key)?;
/// ledger.checkpoint(&signer)?;
/// let found = ledger.find_by_id(ContentId::from_u64(42))?.expect("logged");
/// found.verify(signer.verifier())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Ledger {
    store: Box<dyn LogStore>,
    signer: Option<NoteSigner>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("backend", &self.store.backend()).finish_non_exhaustive()
    }
}

/// The log origin (checkpoint key name) provmark uses for a provider's ledger:
/// `provmark/<producer code>`. The stamping pipeline and the CLI both use it, so their
/// checkpoints name the same log.
#[must_use]
pub fn default_origin(producer_code: &provmark_core::ProducerCode) -> String {
    format!("provmark/{producer_code}")
}

/// Opens a ledger by URL: `sqlite:PATH` (created if missing, with its parent directory),
/// `postgres://…` / `postgresql://…`, or `memory:` (nothing kept).
///
/// # Errors
/// [`Error::Params`] for an unknown scheme; [`Error::Storage`] if the store cannot open.
pub fn open(url: &str) -> Result<Ledger> {
    let store: Box<dyn LogStore> = if let Some(path) = url.strip_prefix("sqlite:") {
        let path = Path::new(path);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::Storage {
                backend: "sqlite",
                reason: format!("cannot create `{}`: {e}", parent.display()),
            })?;
        }
        Box::new(SqliteStore::open(path)?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Box::new(PostgresStore::connect(url)?)
    } else if url == "memory:" {
        Box::new(MemoryStore::new())
    } else {
        return Err(Error::params(
            "ledger URL",
            format!("`{url}`: expected `sqlite:PATH`, `postgres://…` or `memory:`"),
        ));
    };
    Ok(Ledger::new(store))
}

impl Ledger {
    /// A ledger over `store`.
    #[must_use]
    pub fn new(store: Box<dyn LogStore>) -> Self {
        Self { store, signer: None }
    }

    /// Opens a ledger by URL; see [`open`].
    ///
    /// # Errors
    /// As [`open`].
    pub fn open(url: &str) -> Result<Self> {
        open(url)
    }

    /// Lets lookups sign a fresh checkpoint when no stored one covers the record found.
    pub fn set_signer(&mut self, signer: NoteSigner) {
        self.signer = Some(signer);
    }

    /// The store's backend name.
    #[must_use]
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Direct access to the store (for tests and tools).
    pub fn store_mut(&mut self) -> &mut dyn LogStore {
        self.store.as_mut()
    }

    /// Number of records.
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    pub fn size(&mut self) -> Result<u64> {
        self.store.size()
    }

    /// Appends records in one durable commit and returns each record's index, in input
    /// order. A record whose content ID is already logged is not logged again: its
    /// existing index is returned, so re-running a pipeline never duplicates.
    ///
    /// # Errors
    /// [`Error::Record`] if a record cannot be encoded; [`Error::Storage`] if the commit
    /// fails (then nothing of the batch is logged).
    pub fn append_batch(&mut self, records: &[Record]) -> Result<Vec<u64>> {
        let encoded: Vec<Vec<u8>> = records.iter().map(Record::encode).collect::<Result<_>>()?;
        self.store.append(&encoded)
    }

    /// Appends already encoded records (checked to decode canonically first).
    ///
    /// # Errors
    /// As [`Ledger::append_batch`].
    pub fn append_encoded(&mut self, records: &[Vec<u8>]) -> Result<Vec<u64>> {
        for r in records {
            Record::decode(r)?;
        }
        self.store.append(records)
    }

    /// The record at `index` with its canonical bytes.
    ///
    /// # Errors
    /// [`Error::Record`] if the stored bytes do not decode; [`Error::Storage`] on failure.
    pub fn record(&mut self, index: u64) -> Result<Option<(Record, Vec<u8>)>> {
        let Some(bytes) = self.store.records(index, index.saturating_add(1))?.pop() else {
            return Ok(None);
        };
        Ok(Some((Record::decode(&bytes)?, bytes)))
    }

    fn hashes_of(&mut self, ranges: &[(u64, u64)]) -> Result<Vec<Hash>> {
        let subtrees: Vec<Vec<merkle::NodeId>> =
            ranges.iter().map(|&(s, e)| merkle::range_subtrees(s, e)).collect();
        let ids: Vec<u64> = subtrees.iter().flatten().map(|id| id.stored_index()).collect();
        let hashes = self.store.stored_hashes(&ids)?;
        let mut at = 0;
        subtrees
            .iter()
            .map(|ids| {
                let h = hashes.get(at..at + ids.len()).and_then(merkle::fold_range);
                at += ids.len();
                h.ok_or_else(|| Error::integrity("stored hashes missing for a proof"))
            })
            .collect()
    }

    fn check_size(&mut self, tree_size: u64) -> Result<()> {
        let size = self.store.size()?;
        if tree_size > size {
            return Err(Error::params(
                "tree size",
                format!("{tree_size} is larger than the log ({size} records)"),
            ));
        }
        Ok(())
    }

    /// The Merkle tree hash of the first `tree_size` records, from `O(log n)` stored hashes.
    ///
    /// # Errors
    /// [`Error::Params`] if the log is shorter; [`Error::Storage`] on failure.
    pub fn root(&mut self, tree_size: u64) -> Result<Hash> {
        self.check_size(tree_size)?;
        if tree_size == 0 {
            return Ok(merkle::EMPTY_ROOT);
        }
        Ok(self.hashes_of(&[(0, tree_size)])?[0])
    }

    /// The inclusion proof of record `index` in the tree of `tree_size` records.
    ///
    /// # Errors
    /// [`Error::Params`] if `index >= tree_size` or the log is shorter than `tree_size`.
    pub fn prove_inclusion(&mut self, index: u64, tree_size: u64) -> Result<InclusionProof> {
        self.check_size(tree_size)?;
        if index >= tree_size {
            return Err(Error::params("index", format!("{index} is not below {tree_size}")));
        }
        let hashes = self.hashes_of(&merkle::inclusion_ranges(index, tree_size))?;
        Ok(InclusionProof { index, tree_size, hashes })
    }

    /// The consistency proof from the tree of `old_size` records to that of `new_size`.
    ///
    /// # Errors
    /// [`Error::Params`] if `old_size > new_size` or the log is shorter than `new_size`.
    pub fn prove_consistency(&mut self, old_size: u64, new_size: u64) -> Result<ConsistencyProof> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(Error::params("tree sizes", format!("{old_size} > {new_size}")));
        }
        let hashes = self.hashes_of(&merkle::consistency_ranges(old_size, new_size))?;
        Ok(ConsistencyProof { old_size, new_size, hashes })
    }

    /// Signs and stores a checkpoint of the whole log as it is now. If the latest stored
    /// checkpoint already has this size and origin, it is returned instead.
    ///
    /// # Errors
    /// [`Error::Note`] if signing fails; [`Error::Storage`] on failure.
    pub fn checkpoint(&mut self, signer: &NoteSigner) -> Result<Checkpoint> {
        let size = self.store.size()?;
        if let Some(cp) = self.latest_checkpoint()? {
            if cp.size() == size && cp.origin() == signer.name() {
                return Ok(cp);
            }
        }
        let root = self.root(size)?;
        let cp = Checkpoint::sign(signer, size, &root)?;
        self.store.add_checkpoint(&cp)?;
        Ok(cp)
    }

    /// A signed checkpoint of exactly `size` records: the stored one if there is one, else
    /// a new one, signed and stored. (Signing an earlier size is safe: its root is fixed by
    /// the append-only log, so the new checkpoint cannot contradict any other.)
    ///
    /// # Errors
    /// [`Error::Params`] if the log is shorter; [`Error::Note`] if signing fails.
    pub fn checkpoint_at_size(&mut self, signer: &NoteSigner, size: u64) -> Result<Checkpoint> {
        if let Some(cp) = self.checkpoint_at(size)? {
            if cp.origin() == signer.name() {
                return Ok(cp);
            }
        }
        let root = self.root(size)?;
        let cp = Checkpoint::sign(signer, size, &root)?;
        self.store.add_checkpoint(&cp)?;
        Ok(cp)
    }

    /// The latest stored checkpoint (parsed, signature not checked).
    ///
    /// # Errors
    /// [`Error::Note`] if it is malformed; [`Error::Storage`] on failure.
    pub fn latest_checkpoint(&mut self) -> Result<Option<Checkpoint>> {
        self.store
            .latest_checkpoint()?
            .map(|(_, note)| Checkpoint::parse_unverified(&note))
            .transpose()
    }

    /// The stored checkpoint of exactly `size` records, if one was signed.
    ///
    /// # Errors
    /// [`Error::Note`] if it is malformed; [`Error::Storage`] on failure.
    pub fn checkpoint_at(&mut self, size: u64) -> Result<Option<Checkpoint>> {
        self.store.checkpoint_at(size)?.map(|note| Checkpoint::parse_unverified(&note)).transpose()
    }

    /// A checkpoint covering `index`: the latest stored one, or a fresh one from the
    /// signer set with [`Ledger::set_signer`].
    fn covering_checkpoint(&mut self, index: u64) -> Result<Checkpoint> {
        if let Some(cp) = self.latest_checkpoint()? {
            if cp.size() > index {
                return Ok(cp);
            }
        }
        let Some(signer) = self.signer.take() else {
            return Err(Error::params(
                "checkpoint",
                format!("no signed checkpoint covers entry {index} yet; sign one first"),
            ));
        };
        let cp = self.checkpoint(&signer);
        self.signer = Some(signer);
        cp
    }

    /// The record at `index` with its inclusion proof against a signed checkpoint.
    ///
    /// # Errors
    /// [`Error::Params`] if no checkpoint covers it and no signer is set; storage errors.
    pub fn prove(&mut self, index: u64) -> Result<Option<Found>> {
        self.found(index, 0)
    }

    fn found(&mut self, index: u64, distance: u32) -> Result<Option<Found>> {
        let Some((record, record_bytes)) = self.record(index)? else {
            return Ok(None);
        };
        let checkpoint = self.covering_checkpoint(index)?;
        let proof = self.prove_inclusion(index, checkpoint.size())?;
        Ok(Some(Found { index, record, record_bytes, proof, checkpoint, distance }))
    }

    /// Looks a record up by content ID.
    ///
    /// # Errors
    /// As [`Ledger::prove`].
    pub fn find_by_id(&mut self, id: ContentId) -> Result<Option<Found>> {
        match self.store.find_content_id(id.as_u64())? {
            Some(i) => self.found(i, 0),
            None => Ok(None),
        }
    }

    /// Looks records up by the SHA-256 of the stamped file's media bytes, oldest first.
    ///
    /// # Errors
    /// As [`Ledger::prove`].
    pub fn find_by_content_hash(&mut self, sha256: &[u8; 32]) -> Result<Vec<Found>> {
        let indexes = self.store.find_media_sha256(sha256)?;
        let mut out = Vec::with_capacity(indexes.len());
        for i in indexes {
            if let Some(f) = self.found(i, 0)? {
                out.push(f);
            }
        }
        Ok(out)
    }

    /// The record whose perceptual fingerprint is nearest to `fingerprint`, if one is
    /// within `max_distance` bits (Hamming distance; lowest index on ties).
    ///
    /// # Errors
    /// As [`Ledger::prove`].
    pub fn find_nearest_fingerprint(
        &mut self,
        fingerprint: &[u8; 32],
        max_distance: u32,
    ) -> Result<Option<Found>> {
        match self.store.nearest_fingerprint(fingerprint, max_distance)? {
            Some((i, d)) => self.found(i, d),
            None => Ok(None),
        }
    }

    /// Statistics (reads every record once to sum their sizes).
    ///
    /// # Errors
    /// [`Error::Storage`] on failure.
    pub fn stats(&mut self) -> Result<Stats> {
        let size = self.store.size()?;
        let mut record_bytes = 0u64;
        let mut start = 0;
        while start < size {
            let end = (start + SCAN_CHUNK).min(size);
            record_bytes +=
                self.store.records(start, end)?.iter().map(|r| r.len() as u64).sum::<u64>();
            start = end;
        }
        let cps = self.store.checkpoints()?;
        Ok(Stats {
            backend: self.store.backend(),
            size,
            stored_hashes: self.store.stored_hash_count()?,
            checkpoints: cps.len(),
            latest_checkpoint: cps.last().map(|(s, _)| *s),
            record_bytes,
            storage_bytes: self.store.storage_bytes()?,
        })
    }

    /// Recomputes everything: decodes every record, recomputes every stored hash from the
    /// records, checks the index columns against the records, and checks every stored
    /// checkpoint's root (and, given `verifier`, its signature). Stops at the first problem
    /// and names it.
    ///
    /// # Errors
    /// [`Error::Storage`] if the store cannot be read; a bad log is a report, not an error.
    pub fn verify(&mut self, verifier: Option<&NoteVerifier>) -> Result<VerifyReport> {
        crate::verify::verify(self.store.as_mut(), verifier)
    }
}
