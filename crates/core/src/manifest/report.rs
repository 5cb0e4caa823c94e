//! What the container readers found in a file, independent of the format.

use crate::manifest::label::ParsedLabel;
use crate::manifest::provenance::Provenance;

/// Where a label (or another record) was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Carrier {
    /// A short, stable name such as `png iTXt XMP`, `wav AIGC chunk`, `mp3 ID3v2 TXXX:AIGC`.
    pub name: String,
    /// Byte offset of the carrier (chunk, segment, frame or block) in the file.
    pub offset: usize,
}

/// One label occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundLabel {
    /// Where it was.
    pub carrier: Carrier,
    /// The text as found (entity-decoded for XMP).
    pub text: String,
    /// The parse result; `Err` holds why the text is not a label.
    pub parsed: Result<ParsedLabel, String>,
    /// Extra remarks about the placement (e.g. a non-standard XMP namespace).
    pub remarks: Vec<String>,
}

/// A C2PA manifest store found in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct C2paStore {
    /// Where it is (`jpeg APP11 JUMBF`, `png caBX`, `riff C2PA`, `id3 GEOB application/c2pa`).
    pub carrier: Carrier,
    /// Size of the carrier payload in bytes.
    pub len: usize,
}

/// Everything [`crate::container::read_metadata`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataReport {
    /// The detected format name (`png`, `jpeg`, `webp`, `wav`, `mp3`, `flac`), if known.
    pub format: Option<&'static str>,
    /// Every `AIGC` label occurrence, in file order.
    pub labels: Vec<FoundLabel>,
    /// Every `Iptc4xmpExt:DigitalSourceType` value found in XMP.
    pub digital_source_types: Vec<String>,
    /// Every provenance manifest (our XMP namespace) found.
    pub provenance: Vec<Provenance>,
    /// C2PA manifest stores.
    pub c2pa: Vec<C2paStore>,
    /// Parts of the file that could not be read (truncated chunk, compressed text that failed
    /// to inflate, malformed XMP). Any entry makes a clean-looking result inconclusive.
    pub problems: Vec<String>,
}

impl MetadataReport {
    /// The labels that parsed.
    pub fn parsed_labels(&self) -> impl Iterator<Item = (&FoundLabel, &ParsedLabel)> {
        self.labels.iter().filter_map(|f| f.parsed.as_ref().ok().map(|p| (f, p)))
    }

    /// Whether a C2PA store is present.
    #[must_use]
    pub fn has_c2pa(&self) -> bool {
        !self.c2pa.is_empty()
    }
}
