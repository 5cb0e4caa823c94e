//! Visible and audible identifiers (GB 45438-2025 clause 5, "explicit labels").
//!
//! - [`apply_image_label`] draws a text label such as `AI生成` at an edge or corner of a picture,
//!   on a contrast plate and/or with an outline, its inked glyphs at least 5 % of the shortest
//!   side tall (measured on the rasterized ink).
//! - [`apply_audio_cue`] adds the rhythm "short-long short-short" (Morse `·− ··`, "AI") at the
//!   start and/or end of a recording, or a spoken clip; [`detect_cue_rhythm`] finds the rhythm
//!   again from the envelope alone.
//!
//! Both work on in-memory buffers and return a serializable description
//! ([`VisibleIdentifier`]) for the ledger record and the provenance manifest. The label is meant
//! to be applied before the watermark, so that the mark covers the final content.
//!
//! ```
//! use image::{DynamicImage, RgbImage};
//! use provmark_core::visible::{apply_image_label, LabelStyle};
//!
//! let mut picture = DynamicImage::ImageRgb8(RgbImage::new(640, 480));
//! let placement = apply_image_label(&mut picture, &LabelStyle::default())?;
//! assert_eq!(placement.text, "AI生成");
//! assert!(placement.element_ink_height as f32 >= 0.05 * 480.0);
//! # Ok::<(), provmark_core::Error>(())
//! ```

mod audio_cue;
mod clip;
mod font;
mod image_label;
mod text;

#[cfg(test)]
mod tests;

/// Helpers shared with other modules' tests.
#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) use super::clip::resample;
    pub(crate) use super::tests::{corpus, read_wav};
}

use serde::{Deserialize, Serialize};

pub use audio_cue::{
    apply_audio_cue, audio_cue_frames, detect_cue_rhythm, CueFrames, CuePlacement, CuePosition,
    CueSegment, CueSource, CueStyle, CueStyleBuilder, RhythmMatch, SpokenClip, ToneParams,
    RHYTHM_UNITS,
};
pub use font::{EXTRA_CHARS, FONT_BYTES, FONT_NAME};
pub use image_label::{
    apply_image_label, apply_to_buffer, required_height, Backing, LabelPlacement, LabelPosition,
    LabelStyle, LabelStyleBuilder, PixelRect, DEFAULT_MIN_HEIGHT_FRACTION, DEFAULT_MIN_HEIGHT_PX,
    MIN_CONTRAST, REQUIRED_MIN_HEIGHT_FRACTION,
};
pub use text::{
    ElementSpan, LabelText, AI_ELEMENTS, DEFAULT_LABEL_TEXT, GENERATION_ELEMENTS, MAX_LABEL_CHARS,
};

/// Which visible identifier was applied to a file, for the ledger record and the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum VisibleIdentifier {
    /// A text label drawn on a picture.
    ImageLabel(LabelPlacement),
    /// An audio rhythm or spoken cue.
    AudioCue(CuePlacement),
}
