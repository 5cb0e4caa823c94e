//! The wording of a visible or spoken identifier and the GB 45438-2025 clause 5 rule it must
//! follow: it contains an AI element (`AI` or `人工智能`) and a generation element (`生成` and/or
//! `合成`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The default label text, `AI生成` ("AI-generated").
pub const DEFAULT_LABEL_TEXT: &str = "AI生成";

/// The accepted AI elements (GB 45438-2025 5.2 b).
pub const AI_ELEMENTS: [&str; 2] = ["人工智能", "AI"];

/// The accepted generation elements (GB 45438-2025 5.2 b).
pub const GENERATION_ELEMENTS: [&str; 2] = ["生成", "合成"];

/// Longest accepted label, in characters.
pub const MAX_LABEL_CHARS: usize = 48;

/// Label wording that has been checked to contain both required elements.
///
/// ```
/// use provmark_core::visible::LabelText;
///
/// assert!("AI生成".parse::<LabelText>().is_ok());
/// assert!("AI生成 AI-generated".parse::<LabelText>().is_ok());
/// assert!("AI-generated".parse::<LabelText>().is_err()); // no 生成/合成
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LabelText(String);

/// Where a required element occurs in a [`LabelText`], as a character range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElementSpan {
    /// Index of the first character.
    pub start: usize,
    /// Number of characters.
    pub len: usize,
}

impl LabelText {
    /// Validates `text`.
    ///
    /// # Errors
    ///
    /// [`Error::Params`] when the text is empty, too long, contains control characters, or
    /// lacks the AI element or the generation element. A Latin `AI` only counts as a word of its
    /// own (`AI-generated`, `AI生成`), not inside a word such as `SAID`.
    pub fn new(text: &str) -> Result<Self> {
        let text = text.trim();
        let count = text.chars().count();
        if count == 0 {
            return Err(Error::params("label text", "empty"));
        }
        if count > MAX_LABEL_CHARS {
            return Err(Error::params(
                "label text",
                format!("{count} characters, at most {MAX_LABEL_CHARS} fit on one line"),
            ));
        }
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(Error::params("label text", format!("control character {c:?}")));
        }
        let label = Self(text.to_owned());
        if label.ai_elements().is_empty() {
            return Err(Error::params(
                "label text",
                format!("`{text}` lacks the AI element (`AI` or `人工智能`) required by GB 45438-2025 5.2 b)"),
            ));
        }
        if label.generation_elements().is_empty() {
            return Err(Error::params(
                "label text",
                format!("`{text}` lacks the generation element (`生成` or `合成`) required by GB 45438-2025 5.2 b)"),
            ));
        }
        Ok(label)
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Every occurrence of an AI element.
    #[must_use]
    pub fn ai_elements(&self) -> Vec<ElementSpan> {
        let chars: Vec<char> = self.0.chars().collect();
        let mut spans = find_all(&chars, "人工智能");
        for span in find_all(&chars, "AI") {
            let before = span.start.checked_sub(1).and_then(|i| chars.get(i));
            let after = chars.get(span.start + span.len);
            let letter = |c: Option<&char>| c.is_some_and(char::is_ascii_alphabetic);
            if !letter(before) && !letter(after) {
                spans.push(span);
            }
        }
        spans
    }

    /// Every occurrence of a generation element.
    #[must_use]
    pub fn generation_elements(&self) -> Vec<ElementSpan> {
        let chars: Vec<char> = self.0.chars().collect();
        GENERATION_ELEMENTS.iter().flat_map(|e| find_all(&chars, e)).collect()
    }

    /// Character indices belonging to a required element, in order, without duplicates.
    #[must_use]
    pub fn element_char_indices(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = self
            .ai_elements()
            .into_iter()
            .chain(self.generation_elements())
            .flat_map(|s| s.start..s.start + s.len)
            .collect();
        idx.sort_unstable();
        idx.dedup();
        idx
    }
}

fn find_all(chars: &[char], needle: &str) -> Vec<ElementSpan> {
    let needle: Vec<char> = needle.chars().collect();
    chars
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle.as_slice())
        .map(|(start, _)| ElementSpan { start, len: needle.len() })
        .collect()
}

impl Default for LabelText {
    fn default() -> Self {
        Self(DEFAULT_LABEL_TEXT.to_owned())
    }
}

impl fmt::Display for LabelText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for LabelText {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl TryFrom<String> for LabelText {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        Self::new(&s)
    }
}

impl From<LabelText> for String {
    fn from(t: LabelText) -> Self {
        t.0
    }
}
