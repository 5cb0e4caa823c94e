//! The GB 45438-2025 Annex E label: seven string fields, a compact JSON encoding and a
//! tolerant parser for the serializations seen in the wild.

use serde_json::Value;

/// The seven Annex E keys, in the order the standard lists them (and we write them).
pub const ANNEX_E_KEYS: [&str; 7] = [
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
];

/// Largest label text the parser accepts (bytes). Real labels are a few hundred bytes.
pub const MAX_LABEL_TEXT: usize = 64 * 1024;

/// The value of the `Label` element (Annex E c)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabelValue {
    /// `"1"`: the content is AI-generated (属于).
    Generated,
    /// `"2"`: possibly AI-generated (可能).
    Possibly,
    /// `"3"`: suspected AI-generated (疑似).
    Suspected,
}

impl LabelValue {
    /// The string written into `Label`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Generated => "1",
            Self::Possibly => "2",
            Self::Suspected => "3",
        }
    }

    /// Parses `"1"`, `"2"` or `"3"`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "1" => Some(Self::Generated),
            "2" => Some(Self::Possibly),
            "3" => Some(Self::Suspected),
            _ => None,
        }
    }
}

/// One Annex E label. All fields are strings, as the standard requires; they are kept as
/// found so that a reader can report what is wrong with a foreign label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AigcLabel {
    /// `Label`: "1", "2" or "3".
    pub label: String,
    /// `ContentProducer`: the generation provider's code.
    pub content_producer: String,
    /// `ProduceID`: the provider's unique number for this content.
    pub produce_id: String,
    /// `ReservedCode1`: the producer's security data.
    pub reserved_code1: String,
    /// `ContentPropagator`: the propagation provider's code.
    pub content_propagator: String,
    /// `PropagateID`: the propagator's number for this content.
    pub propagate_id: String,
    /// `ReservedCode2`: the propagator's security data.
    pub reserved_code2: String,
}

/// How a label's JSON was framed where it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelForm {
    /// `{"AIGC":{…}}` (Annex E b) as quoted).
    Wrapped,
    /// The bare seven-field object (the guides' XMP and MP4 examples).
    Bare,
    /// `AIGC{…}`: the object glued to the key name (seen in some JPEG APPn segments).
    Glued,
    /// `{"AIGC":"{…}"}`: the object itself JSON-encoded as a string.
    WrappedString,
}

/// A label parsed from text, with everything the parser noticed about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedLabel {
    /// The fields (missing ones empty).
    pub label: AigcLabel,
    /// The framing.
    pub form: LabelForm,
    /// Deviations from Annex E (missing keys, non-string values, unknown keys).
    pub issues: Vec<String>,
}

impl AigcLabel {
    /// The Annex E field values in [`ANNEX_E_KEYS`] order.
    #[must_use]
    pub fn values(&self) -> [&str; 7] {
        [
            &self.label,
            &self.content_producer,
            &self.produce_id,
            &self.reserved_code1,
            &self.content_propagator,
            &self.propagate_id,
            &self.reserved_code2,
        ]
    }

    fn slot(&mut self, key: &str) -> Option<&mut String> {
        Some(match key {
            "Label" => &mut self.label,
            "ContentProducer" => &mut self.content_producer,
            "ProduceID" => &mut self.produce_id,
            "ReservedCode1" => &mut self.reserved_code1,
            "ContentPropagator" => &mut self.content_propagator,
            "PropagateID" => &mut self.propagate_id,
            "ReservedCode2" => &mut self.reserved_code2,
            _ => return None,
        })
    }

    /// The bare compact JSON object, keys in Annex E order:
    /// `{"Label":"1","ContentProducer":"…",…,"ReservedCode2":""}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        let pairs: Vec<(&str, &str)> = ANNEX_E_KEYS.iter().copied().zip(self.values()).collect();
        format!("{{{}}}", a1_message(&pairs))
    }

    /// The wrapped form `{"AIGC":{…}}`.
    #[must_use]
    pub fn to_wrapped_json(&self) -> String {
        format!("{{\"AIGC\":{}}}", self.to_json())
    }

    /// The producer's Appendix A.1 message: `"Label":"…","ContentProducer":"…","ProduceID":"…"`
    /// (JSON-quoted pairs joined by commas, no braces), with `label` in place of the current
    /// `Label` value.
    #[must_use]
    pub fn producer_message(&self, label: &str) -> String {
        a1_message(&[
            ("Label", label),
            ("ContentProducer", &self.content_producer),
            ("ProduceID", &self.produce_id),
        ])
    }

    /// The propagator's message, built like A.1 over its own fields:
    /// `"Label":"…","ContentPropagator":"…","PropagateID":"…"`.
    #[must_use]
    pub fn propagator_message(&self) -> String {
        a1_message(&[
            ("Label", &self.label),
            ("ContentPropagator", &self.content_propagator),
            ("PropagateID", &self.propagate_id),
        ])
    }

    /// Checks the label against Annex E and 6.1: `Label` ∈ {1,2,3}; `Label`,
    /// `ContentProducer`, `ProduceID` non-empty; every value in the Annex E j) character set.
    /// Returns the list of violations (empty when compliant).
    #[must_use]
    pub fn check(&self) -> Vec<String> {
        let mut issues = Vec::new();
        if LabelValue::parse(&self.label).is_none() {
            issues.push(format!("`Label` is `{}`, expected \"1\", \"2\" or \"3\"", self.label));
        }
        for (key, value) in
            [("ContentProducer", &self.content_producer), ("ProduceID", &self.produce_id)]
        {
            if value.is_empty() {
                issues.push(format!("`{key}` is empty"));
            }
        }
        for (key, value) in ANNEX_E_KEYS.iter().zip(self.values()) {
            if let Some(bad) = value.chars().find(|&c| !annex_e_char(c)) {
                issues.push(format!(
                    "`{key}` contains {bad:?} (U+{:04X}), outside the Annex E j) character set",
                    u32::from(bad)
                ));
            }
        }
        issues
    }
}

/// Whether `c` may appear in a decoded Annex E value: 0x21, 0x22 (written `\"`), 0x23–0x5B,
/// 0x5D–0x7E. Space, backslash, control characters and non-ASCII are outside the set.
#[must_use]
pub fn annex_e_char(c: char) -> bool {
    matches!(c, '\u{21}'..='\u{5B}' | '\u{5D}'..='\u{7E}')
}

/// `"key":"value"` pairs joined by commas, values escaped as JSON strings (no braces).
fn a1_message(pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(256);
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
        push_json_string(&mut out, value);
    }
    out
}

/// Appends `value` as a JSON string literal (quotes, `\"`, `\\` and control escapes).
pub(crate) fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses label text in any of the framings of [`LabelForm`].
///
/// # Errors
/// A human-readable reason if the text is not a JSON object with at least one Annex E key.
pub fn parse_label(text: &str) -> Result<ParsedLabel, String> {
    if text.len() > MAX_LABEL_TEXT {
        return Err(format!(
            "label text is {} bytes, above the {MAX_LABEL_TEXT}-byte limit",
            text.len()
        ));
    }
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    let (json, glued) = match trimmed.strip_prefix("AIGC") {
        Some(rest) if rest.trim_start().starts_with('{') => (rest.trim_start(), true),
        _ => (trimmed, false),
    };
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("label is not valid JSON: {e}"))?;
    let Value::Object(outer) = value else {
        return Err("label JSON is not an object".into());
    };
    let (object, form) = match outer.get("AIGC") {
        Some(Value::Object(inner)) if outer.len() == 1 && !glued => {
            (inner.clone(), LabelForm::Wrapped)
        }
        Some(Value::String(inner)) if outer.len() == 1 && !glued => {
            match serde_json::from_str::<Value>(inner) {
                Ok(Value::Object(inner)) => (inner, LabelForm::WrappedString),
                _ => return Err("`AIGC` holds a string that is not a JSON object".into()),
            }
        }
        _ if glued => (outer, LabelForm::Glued),
        _ => (outer, LabelForm::Bare),
    };
    let mut label = AigcLabel::default();
    let mut issues = Vec::new();
    let mut known = 0;
    for (key, value) in &object {
        let Some(slot) = label.slot(key) else {
            issues.push(format!("unknown key `{key}`"));
            continue;
        };
        known += 1;
        *slot = match value {
            Value::String(s) => s.clone(),
            other => {
                issues.push(format!("`{key}` is not a string"));
                other.to_string()
            }
        };
    }
    if known == 0 {
        return Err("JSON object has none of the Annex E keys".into());
    }
    for key in ANNEX_E_KEYS {
        if !object.contains_key(key) {
            issues.push(format!("key `{key}` is missing"));
        }
    }
    Ok(ParsedLabel { label, form, issues })
}

#[cfg(test)]
mod tests;
