//! A small, bounded XMP packet reader and merger.
//!
//! It is not a general XML parser: it tokenizes tags, attributes, text and CDATA, resolves
//! namespace prefixes, and works on byte ranges, so that merging our properties into a
//! packet keeps every other byte of it (other namespaces, C2PA `dcterms:provenance`, padding)
//! exactly as it was.

use crate::manifest::provenance::{self, Provenance};
use crate::manifest::{IPTC_EXT_NS, TC260_NS};
use crate::{Error, Result};

/// Largest XMP packet we parse (bytes).
pub const MAX_PACKET: usize = 8 * 1024 * 1024;
const MAX_DEPTH: usize = 256;
/// Largest number of tokens plus attributes in one packet (real packets have a few hundred).
const MAX_ITEMS: usize = 100_000;
const RDF_NS: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// What a packet holds that we care about.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct XmpFindings {
    /// `AIGC` property values (entity-decoded) with remarks about their placement.
    pub labels: Vec<(String, Vec<String>)>,
    /// `Iptc4xmpExt:DigitalSourceType` values.
    pub digital_source_types: Vec<String>,
    /// The provenance manifest, if any property of its namespace is present.
    pub provenance: Option<Provenance>,
}

/// The properties [`merge`] writes.
#[derive(Debug, Clone, Copy)]
pub struct XmpProps<'a> {
    /// The label JSON (bare object) for `TC260:AIGC`, if the label goes into XMP.
    pub label_json: Option<&'a str>,
    /// The `Iptc4xmpExt:DigitalSourceType` URI.
    pub digital_source_type: Option<&'a str>,
    /// The provenance manifest.
    pub provenance: Option<&'a Provenance>,
}

#[derive(Debug)]
struct Attr<'a> {
    name: &'a str,
    raw: &'a str,
    /// From the whitespace before the name to after the closing quote.
    span: (usize, usize),
}

#[derive(Debug)]
enum Kind<'a> {
    Open { name: &'a str, attrs: Vec<Attr<'a>>, empty: bool },
    Close { name: &'a str },
    Text(&'a str),
    CData(&'a str),
}

#[derive(Debug)]
struct Token<'a> {
    kind: Kind<'a>,
    start: usize,
    end: usize,
}

fn err(reason: impl Into<String>) -> Error {
    Error::decode("XMP packet", reason)
}

fn find(hay: &str, from: usize, needle: &str) -> Option<usize> {
    hay.get(from..)?.find(needle).map(|i| i + from)
}

fn tokenize(s: &str) -> Result<Vec<Token<'_>>> {
    if s.len() > MAX_PACKET {
        return Err(Error::Limits {
            what: "XMP packet bytes",
            actual: s.len() as u64,
            limit: MAX_PACKET as u64,
        });
    }
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut items = 0usize;
    while i < b.len() {
        items += 1 + out.last().map_or(0, |t: &Token<'_>| match &t.kind {
            Kind::Open { attrs, .. } => attrs.len(),
            _ => 0,
        });
        if items > MAX_ITEMS {
            return Err(Error::Limits {
                what: "XMP tokens",
                actual: items as u64,
                limit: MAX_ITEMS as u64,
            });
        }
        if b[i] != b'<' {
            let end = find(s, i, "<").unwrap_or(b.len());
            out.push(Token { kind: Kind::Text(&s[i..end]), start: i, end });
            i = end;
            continue;
        }
        let rest = &s[i..];
        if rest.starts_with("<?") {
            i = find(s, i, "?>").ok_or_else(|| err("unterminated processing instruction"))? + 2;
        } else if rest.starts_with("<!--") {
            i = find(s, i, "-->").ok_or_else(|| err("unterminated comment"))? + 3;
        } else if rest.starts_with("<![CDATA[") {
            let end = find(s, i, "]]>").ok_or_else(|| err("unterminated CDATA"))?;
            out.push(Token { kind: Kind::CData(&s[i + 9..end]), start: i, end: end + 3 });
            i = end + 3;
        } else if rest.starts_with("<!") {
            i = find(s, i, ">").ok_or_else(|| err("unterminated declaration"))? + 1;
        } else if rest.starts_with("</") {
            let end = find(s, i, ">").ok_or_else(|| err("unterminated end tag"))?;
            let name = s[i + 2..end].trim();
            out.push(Token { kind: Kind::Close { name }, start: i, end: end + 1 });
            i = end + 1;
        } else {
            let (tok, next) = open_tag(s, i)?;
            out.push(tok);
            i = next;
        }
    }
    Ok(out)
}

fn is_name_byte(c: u8) -> bool {
    !c.is_ascii_whitespace() && !matches!(c, b'=' | b'>' | b'/' | b'<' | b'"' | b'\'')
}

fn open_tag(s: &str, start: usize) -> Result<(Token<'_>, usize)> {
    let b = s.as_bytes();
    let mut i = start + 1;
    let name_start = i;
    while i < b.len() && is_name_byte(b[i]) {
        i += 1;
    }
    if i == name_start {
        return Err(err(format!("empty tag name at byte {start}")));
    }
    let name = &s[name_start..i];
    let mut attrs = Vec::new();
    loop {
        let ws = i;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i) {
            None => return Err(err("unterminated start tag")),
            Some(b'>') => {
                return Ok((
                    Token { kind: Kind::Open { name, attrs, empty: false }, start, end: i + 1 },
                    i + 1,
                ));
            }
            Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                return Ok((
                    Token { kind: Kind::Open { name, attrs, empty: true }, start, end: i + 2 },
                    i + 2,
                ));
            }
            Some(_) => {}
        }
        let an = i;
        while i < b.len() && is_name_byte(b[i]) {
            i += 1;
        }
        if i == an {
            return Err(err(format!("bad attribute at byte {i}")));
        }
        if attrs.len() >= MAX_ITEMS {
            return Err(err("too many attributes"));
        }
        let aname = &s[an..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return Err(err(format!("attribute `{aname}` has no value")));
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let q = *b.get(i).ok_or_else(|| err("unterminated start tag"))?;
        if q != b'"' && q != b'\'' {
            return Err(err(format!("attribute `{aname}` value is not quoted")));
        }
        let vend = find(s, i + 1, if q == b'"' { "\"" } else { "'" })
            .ok_or_else(|| err("unterminated attribute value"))?;
        attrs.push(Attr { name: aname, raw: &s[i + 1..vend], span: (ws, vend + 1) });
        i = vend + 1;
    }
}

/// Decodes the five XML entities and numeric character references.
#[must_use]
pub fn decode_entities(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let Some(semi) = rest.find(';').filter(|&s| s <= 12) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..semi];
        let c = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .or_else(|| ent.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for an XML element or attribute value.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// What kind of property a qualified name is, for us.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Prop {
    Label,
    Dst,
    Provmark,
}

fn classify(ns: &str, local: &str) -> Option<Prop> {
    if local == "AIGC" && !provenance::is_namespace(ns) {
        Some(Prop::Label)
    } else if ns == IPTC_EXT_NS && local == "DigitalSourceType" {
        Some(Prop::Dst)
    } else if provenance::is_namespace(ns) {
        Some(Prop::Provmark)
    } else {
        None
    }
}

struct Scope<'a> {
    stack: Vec<Vec<(&'a str, String)>>,
}

impl<'a> Scope<'a> {
    fn push(&mut self, attrs: &[Attr<'a>]) -> Result<()> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(err("elements nested too deeply"));
        }
        let mut frame = Vec::new();
        for a in attrs {
            if a.name == "xmlns" {
                frame.push(("", decode_entities(a.raw)));
            } else if let Some(p) = a.name.strip_prefix("xmlns:") {
                frame.push((p, decode_entities(a.raw)));
            }
        }
        self.stack.push(frame);
        Ok(())
    }

    fn resolve(&self, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        self.stack
            .iter()
            .rev()
            .flat_map(|f| f.iter().rev())
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| u.as_str())
    }

    /// (namespace, local name); attributes without a prefix have no namespace.
    fn qname(&self, name: &'a str, is_attr: bool) -> (String, &'a str) {
        match name.split_once(':') {
            Some((p, l)) => (self.resolve(p).unwrap_or("").to_owned(), l),
            None if is_attr => (String::new(), name),
            None => (self.resolve("").unwrap_or("").to_owned(), name),
        }
    }
}

/// A property occurrence: its byte range and its value.
struct Occurrence {
    prop: Prop,
    ns: String,
    local: String,
    span: (usize, usize),
    value: String,
}

struct Parsed<'a> {
    occurrences: Vec<Occurrence>,
    /// Start offset and tag name of the last `rdf:RDF` end tag.
    rdf_close: Option<(usize, &'a str)>,
}

/// An open element: name, property being captured (kind, namespace, local name), start
/// offset, collected text.
type OpenElement<'a> = (&'a str, Option<(Prop, String, String)>, usize, String);

fn parse(s: &str) -> Result<Parsed<'_>> {
    let toks = tokenize(s)?;
    let mut scope = Scope { stack: Vec::new() };
    // Open elements: (name, property being captured, start offset, collected text).
    let mut open: Vec<OpenElement<'_>> = Vec::new();
    let mut occurrences = Vec::new();
    let mut rdf_close = None;
    let mut capturing = 0usize;
    for t in &toks {
        match &t.kind {
            Kind::Open { name, attrs, empty } => {
                scope.push(attrs)?;
                for a in attrs {
                    if a.name == "xmlns" || a.name.starts_with("xmlns:") {
                        continue;
                    }
                    let (ns, local) = scope.qname(a.name, true);
                    if let Some(prop) = classify(&ns, local) {
                        occurrences.push(Occurrence {
                            prop,
                            ns,
                            local: local.to_owned(),
                            span: a.span,
                            value: decode_entities(a.raw),
                        });
                    }
                }
                let (ns, local) = scope.qname(name, false);
                let capture = classify(&ns, local).map(|p| (p, ns, local.to_owned()));
                if *empty {
                    if let Some((prop, ns, local)) = capture {
                        // `<Iptc4xmpExt:DigitalSourceType rdf:resource="…"/>`.
                        let value = attrs
                            .iter()
                            .find(|a| scope.qname(a.name, true) == (RDF_NS.to_owned(), "resource"))
                            .map(|a| decode_entities(a.raw))
                            .unwrap_or_default();
                        occurrences.push(Occurrence {
                            prop,
                            ns,
                            local,
                            span: (t.start, t.end),
                            value,
                        });
                    }
                    scope.stack.pop();
                } else {
                    capturing += usize::from(capture.is_some());
                    open.push((name, capture, t.start, String::new()));
                }
            }
            Kind::Close { name } => {
                let Some((oname, capture, start, text)) = open.pop() else {
                    return Err(err(format!("unexpected end tag `{name}`")));
                };
                if oname != *name {
                    return Err(err(format!("end tag `{name}` does not match `{oname}`")));
                }
                if scope.qname(name, false) == (RDF_NS.to_owned(), "RDF") {
                    rdf_close = Some((t.start, *name));
                }
                scope.stack.pop();
                if let Some((prop, ns, local)) = capture {
                    capturing -= 1;
                    occurrences.push(Occurrence {
                        prop,
                        ns,
                        local,
                        span: (start, t.end),
                        value: text.trim().to_owned(),
                    });
                } else if let Some(parent) = open.last_mut() {
                    // Nested structure (e.g. rdf:Alt/rdf:li) inside a captured property.
                    if capturing > 0 {
                        parent.3.push_str(&text);
                    }
                }
            }
            Kind::Text(raw) if capturing > 0 => {
                if let Some(top) = open.last_mut() {
                    top.3.push_str(&decode_entities(raw));
                }
            }
            Kind::CData(raw) if capturing > 0 => {
                if let Some(top) = open.last_mut() {
                    top.3.push_str(raw);
                }
            }
            Kind::Text(_) | Kind::CData(_) => {}
        }
    }
    if let Some((name, ..)) = open.last() {
        return Err(err(format!("element `{name}` is not closed")));
    }
    Ok(Parsed { occurrences, rdf_close })
}

/// Reads the labels, digital source types and provenance manifest of a packet.
///
/// # Errors
/// [`Error::Decode`] if the packet is not well-formed enough to read; [`Error::Limits`] if
/// it is larger than [`MAX_PACKET`].
pub fn scan(packet: &str) -> Result<XmpFindings> {
    let parsed = parse(packet)?;
    let mut out = XmpFindings::default();
    let mut prov = Provenance::default();
    let mut any_prov = false;
    for o in parsed.occurrences {
        match o.prop {
            Prop::Label => {
                let mut remarks = Vec::new();
                if o.ns != TC260_NS {
                    let ns = if o.ns.is_empty() { "no namespace" } else { o.ns.as_str() };
                    remarks.push(format!(
                        "`AIGC` XMP property in {ns}, not the TC260 namespace `{TC260_NS}`"
                    ));
                }
                out.labels.push((o.value, remarks));
            }
            Prop::Dst => out.digital_source_types.push(o.value),
            Prop::Provmark => {
                any_prov = true;
                if o.local == provenance::SIGNATURE_FIELD {
                    prov.signature = o.value;
                } else {
                    prov.set(&o.local, o.value);
                }
            }
        }
    }
    if any_prov {
        out.provenance = Some(prov);
    }
    Ok(out)
}

/// An empty packet (xpacket wrapper, `x:xmpmeta`, empty `rdf:RDF`).
#[must_use]
pub fn empty_packet() -> String {
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n <rdf:RDF xmlns:rdf=\"{RDF_NS}\">\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"w\"?>"
    )
}

/// Removes every `AIGC`, `DigitalSourceType` and provenance property (element or attribute
/// form, any prefix), then inserts `props` in a new `rdf:Description` before `</rdf:RDF>`.
/// Everything else in the packet is kept byte for byte. `None` starts from
/// [`empty_packet`].
///
/// # Errors
/// [`Error::Decode`] if the existing packet cannot be parsed or has no `rdf:RDF`: we refuse
/// to overwrite a packet we do not understand.
pub fn merge(existing: Option<&str>, props: &XmpProps<'_>) -> Result<String> {
    let base = existing.map_or_else(empty_packet, str::to_owned);
    let parsed = parse(&base)?;
    let (close_at, close_name) = parsed.rdf_close.ok_or_else(|| err("no `rdf:RDF` element"))?;
    let rdf = close_name.split_once(':').map_or("", |(p, _)| p);
    let q = |local: &str| if rdf.is_empty() { local.to_owned() } else { format!("{rdf}:{local}") };

    let mut desc = format!(
        "<{} {}=\"\" xmlns:TC260=\"{TC260_NS}\" xmlns:Iptc4xmpExt=\"{IPTC_EXT_NS}\" xmlns:{}=\"{}\">\n",
        q("Description"),
        q("about"),
        provenance::PREFIX,
        provenance::NS
    );
    if let Some(json) = props.label_json {
        desc.push_str(&format!("   <TC260:AIGC>{}</TC260:AIGC>\n", escape(json)));
    }
    if let Some(dst) = props.digital_source_type {
        desc.push_str(&format!(
            "   <Iptc4xmpExt:DigitalSourceType>{}</Iptc4xmpExt:DigitalSourceType>\n",
            escape(dst)
        ));
    }
    if let Some(p) = props.provenance {
        for (name, value) in p.properties() {
            desc.push_str(&format!(
                "   <{0}:{name}>{1}</{0}:{name}>\n",
                provenance::PREFIX,
                escape(value)
            ));
        }
    }
    desc.push_str(&format!("  </{}>\n ", q("Description")));

    let mut spans: Vec<(usize, usize)> = parsed.occurrences.iter().map(|o| o.span).collect();
    spans.sort_unstable();
    let mut out = String::with_capacity(base.len() + desc.len());
    let mut pos = 0;
    let mut inserted = false;
    for (start, end) in spans {
        if start < pos {
            continue; // nested inside a removed range
        }
        if (start..end).contains(&close_at) {
            return Err(err("`rdf:RDF` end tag inside a property"));
        }
        if !inserted && close_at < start {
            out.push_str(&base[pos..close_at]);
            out.push_str(&desc);
            pos = close_at;
            inserted = true;
        }
        out.push_str(&base[pos..start]);
        pos = end;
    }
    if !inserted {
        out.push_str(&base[pos..close_at]);
        out.push_str(&desc);
        pos = close_at;
    }
    out.push_str(&base[pos..]);
    Ok(out)
}

/// Removes our properties and every `AIGC` property from a packet, keeping the rest.
///
/// # Errors
/// As [`merge`].
pub fn strip(packet: &str) -> Result<String> {
    let parsed = parse(packet)?;
    let mut spans: Vec<(usize, usize)> = parsed.occurrences.iter().map(|o| o.span).collect();
    spans.sort_unstable();
    let mut out = String::with_capacity(packet.len());
    let mut pos = 0;
    for (start, end) in spans {
        if start < pos {
            continue;
        }
        out.push_str(&packet[pos..start]);
        pos = end;
    }
    out.push_str(&packet[pos..]);
    Ok(out)
}

#[cfg(test)]
mod tests;
