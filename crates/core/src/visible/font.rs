//! The bundled label font: a subset of Noto Sans CJK SC Bold (SIL Open Font License 1.1), see
//! `crates/core/fonts/README.md` for its origin and the exact subsetting command.

use ab_glyph::{Font as _, FontRef, GlyphId};

use crate::{Error, Result};

/// The bundled font file (ASCII plus the label characters, CFF outlines, about 12 KiB).
pub const FONT_BYTES: &[u8] = include_bytes!("../../fonts/NotoSansCJKsc-Bold-subset.otf");

/// Human-readable name of the bundled font, recorded in every [`super::LabelPlacement`].
pub const FONT_NAME: &str = "Noto Sans CJK SC Bold (subset, OFL-1.1)";

/// Parses the bundled font.
pub(crate) fn font() -> Result<FontRef<'static>> {
    FontRef::try_from_slice(FONT_BYTES)
        .map_err(|e| Error::decode("bundled label font", e.to_string()))
}

/// The glyph for `c`, or an error naming the character when the bundled subset lacks it.
pub(crate) fn glyph_for(font: &FontRef<'_>, c: char) -> Result<GlyphId> {
    let id = font.glyph_id(c);
    if id.0 == 0 {
        return Err(Error::params(
            "label text",
            format!(
                "the bundled font subset has no glyph for {c:?} (it covers printable ASCII and {})",
                EXTRA_CHARS
            ),
        ));
    }
    Ok(id)
}

/// The non-ASCII characters kept in the subset (must match the README's `pyftsubset --text`).
pub const EXTRA_CHARS: &str = "人工智能生成合内容由本图片音频视";
