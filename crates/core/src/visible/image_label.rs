//! The on-image text label (GB 45438-2025 5.2): text with an AI element and a generation element,
//! at an edge or corner, on a contrast plate and/or with an outline, its inked glyphs at least
//! 5 % of the image's shortest side tall.
//!
//! Sizing is measured on rasterized ink, not on the font size: the label is rasterized, the
//! inked height of every glyph that belongs to a required element (`A`, `I`, `生`, `成`, …) is
//! measured on the coverage mask (rows with coverage ≥ ½), and the scale is raised until the
//! smallest of them reaches the target. The line's union ink box is therefore taller still.

use std::fmt;
use std::str::FromStr;

use ab_glyph::{point, Font as _, FontRef, PxScale, ScaleFont as _};
use image::{DynamicImage, ImageBuffer, Pixel, Primitive};
use num_traits::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::font::{font, glyph_for, FONT_NAME};
use super::text::LabelText;
use crate::{Error, Result};

/// Where the label sits: a corner or the middle of an edge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelPosition {
    /// Top-left corner.
    TopLeft,
    /// Middle of the top edge.
    Top,
    /// Top-right corner.
    TopRight,
    /// Middle of the left edge.
    Left,
    /// Middle of the right edge.
    Right,
    /// Bottom-left corner.
    BottomLeft,
    /// Middle of the bottom edge.
    Bottom,
    /// Bottom-right corner (the default; GB 45438-2025 Annex C.2's example).
    #[default]
    BottomRight,
}

impl LabelPosition {
    /// Every position, in declaration order.
    pub const ALL: [Self; 8] = [
        Self::TopLeft,
        Self::Top,
        Self::TopRight,
        Self::Left,
        Self::Right,
        Self::BottomLeft,
        Self::Bottom,
        Self::BottomRight,
    ];

    /// The kebab-case name (`bottom-right`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::TopLeft => "top-left",
            Self::Top => "top",
            Self::TopRight => "top-right",
            Self::Left => "left",
            Self::Right => "right",
            Self::BottomLeft => "bottom-left",
            Self::Bottom => "bottom",
            Self::BottomRight => "bottom-right",
        }
    }

    /// Horizontal anchor: 0 left, 1 centre, 2 right.
    fn column(self) -> u8 {
        match self {
            Self::TopLeft | Self::Left | Self::BottomLeft => 0,
            Self::Top | Self::Bottom => 1,
            Self::TopRight | Self::Right | Self::BottomRight => 2,
        }
    }

    /// Vertical anchor: 0 top, 1 centre, 2 bottom.
    fn row(self) -> u8 {
        match self {
            Self::TopLeft | Self::Top | Self::TopRight => 0,
            Self::Left | Self::Right => 1,
            Self::BottomLeft | Self::Bottom | Self::BottomRight => 2,
        }
    }
}

impl fmt::Display for LabelPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LabelPosition {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|p| p.name()).collect();
            Error::params("label position", format!("`{s}`; expected one of {}", names.join(", ")))
        })
    }
}

/// What keeps the text legible on any background.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backing {
    /// A semi-opaque plate behind the text (the default).
    #[default]
    Plate,
    /// An outline around each glyph, no plate: hides less of the picture.
    Outline,
    /// Both.
    PlateAndOutline,
}

impl Backing {
    fn plate(self) -> bool {
        matches!(self, Self::Plate | Self::PlateAndOutline)
    }

    fn outline(self) -> bool {
        matches!(self, Self::Outline | Self::PlateAndOutline)
    }
}

impl FromStr for Backing {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "plate" => Ok(Self::Plate),
            "outline" => Ok(Self::Outline),
            "plate-and-outline" => Ok(Self::PlateAndOutline),
            _ => Err(Error::params(
                "label backing",
                format!("`{s}`; expected plate, outline or plate-and-outline"),
            )),
        }
    }
}

/// How the label looks. Build with [`LabelStyle::builder`]; [`LabelStyle::default`] is
/// `AI生成`, bottom-right, white on a 75 % black plate, inked height 6 % of the short side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelStyle {
    text: LabelText,
    position: LabelPosition,
    backing: Backing,
    min_height_fraction: f32,
    min_height_px: u32,
    margin_fraction: f32,
    text_color: [u8; 3],
    backing_color: [u8; 3],
    plate_opacity: f32,
}

/// Default inked height of the smallest required-element glyph, as a fraction of the shortest
/// side: 6 %, a margin above the 5 % floor of GB 45438-2025 5.2 e).
pub const DEFAULT_MIN_HEIGHT_FRACTION: f32 = 0.06;
/// The floor of GB 45438-2025 5.2 e); styles below it are rejected.
pub const REQUIRED_MIN_HEIGHT_FRACTION: f32 = 0.05;
/// Default minimum inked height in pixels, so that tiny images still get a readable label.
pub const DEFAULT_MIN_HEIGHT_PX: u32 = 10;
/// Largest label raster, in pixels.
const MAX_RASTER_PIXELS: usize = 64_000_000;
/// Minimum WCAG 2 contrast ratio between text and the backing in the worst case.
pub const MIN_CONTRAST: f32 = 4.5;

impl Default for LabelStyle {
    fn default() -> Self {
        Self {
            text: LabelText::default(),
            position: LabelPosition::default(),
            backing: Backing::default(),
            min_height_fraction: DEFAULT_MIN_HEIGHT_FRACTION,
            min_height_px: DEFAULT_MIN_HEIGHT_PX,
            margin_fraction: 0.02,
            text_color: [255, 255, 255],
            backing_color: [0, 0, 0],
            plate_opacity: 0.75,
        }
    }
}

impl LabelStyle {
    /// A builder starting from the defaults.
    pub fn builder() -> LabelStyleBuilder {
        LabelStyleBuilder { style: Self::default() }
    }

    /// The label text.
    #[must_use]
    pub fn text(&self) -> &LabelText {
        &self.text
    }

    /// The position.
    #[must_use]
    pub fn position(&self) -> LabelPosition {
        self.position
    }

    /// The backing.
    #[must_use]
    pub fn backing(&self) -> Backing {
        self.backing
    }
}

/// Builds a validated [`LabelStyle`].
#[derive(Clone, Debug)]
#[must_use]
pub struct LabelStyleBuilder {
    style: LabelStyle,
}

impl LabelStyleBuilder {
    /// Label text (validated by [`LabelText`]).
    pub fn text(mut self, text: LabelText) -> Self {
        self.style.text = text;
        self
    }

    /// Position (default bottom-right).
    pub fn position(mut self, position: LabelPosition) -> Self {
        self.style.position = position;
        self
    }

    /// Backing (default plate).
    pub fn backing(mut self, backing: Backing) -> Self {
        self.style.backing = backing;
        self
    }

    /// Inked height of the smallest required-element glyph as a fraction of the shortest side
    /// (default 0.06, at least 0.05, at most 0.3).
    pub fn min_height_fraction(mut self, f: f32) -> Self {
        self.style.min_height_fraction = f;
        self
    }

    /// Minimum inked height in pixels (default 10, at most 200).
    pub fn min_height_px(mut self, px: u32) -> Self {
        self.style.min_height_px = px;
        self
    }

    /// Gap between the label and the image edge, as a fraction of the shortest side
    /// (default 0.02, 0 to 0.1).
    pub fn margin_fraction(mut self, f: f32) -> Self {
        self.style.margin_fraction = f;
        self
    }

    /// Text colour (sRGB, default white).
    pub fn text_color(mut self, rgb: [u8; 3]) -> Self {
        self.style.text_color = rgb;
        self
    }

    /// Plate and outline colour (sRGB, default black).
    pub fn backing_color(mut self, rgb: [u8; 3]) -> Self {
        self.style.backing_color = rgb;
        self
    }

    /// Plate opacity (default 0.75, 0.5 to 1).
    pub fn plate_opacity(mut self, a: f32) -> Self {
        self.style.plate_opacity = a;
        self
    }

    /// Validates and returns the style.
    ///
    /// # Errors
    ///
    /// [`Error::Params`] when a value is out of range, when the text has a character the
    /// bundled font lacks, or when text and backing colours contrast less than
    /// [`MIN_CONTRAST`] in the worst case (for a plate: over a black and over a white picture).
    pub fn build(self) -> Result<LabelStyle> {
        let s = self.style;
        if !(REQUIRED_MIN_HEIGHT_FRACTION..=0.3).contains(&s.min_height_fraction) {
            return Err(Error::params(
                "label min_height_fraction",
                format!(
                    "{} not in [0.05, 0.3] (GB 45438-2025 5.2 e) requires ≥ 5 %)",
                    s.min_height_fraction
                ),
            ));
        }
        if !(1..=200).contains(&s.min_height_px) {
            return Err(Error::params(
                "label min_height_px",
                format!("{} not in [1, 200]", s.min_height_px),
            ));
        }
        if !(0.0..=0.1).contains(&s.margin_fraction) {
            return Err(Error::params(
                "label margin_fraction",
                format!("{} not in [0, 0.1]", s.margin_fraction),
            ));
        }
        if !(0.5..=1.0).contains(&s.plate_opacity) {
            return Err(Error::params(
                "label plate_opacity",
                format!("{} not in [0.5, 1]", s.plate_opacity),
            ));
        }
        let f = font()?;
        for c in s.text.as_str().chars().filter(|c| !c.is_whitespace()) {
            glyph_for(&f, c)?;
        }
        let contrast = worst_contrast(&s);
        if contrast < MIN_CONTRAST {
            return Err(Error::params(
                "label colours",
                format!("worst-case contrast {contrast:.2}:1 is below {MIN_CONTRAST}:1"),
            ));
        }
        Ok(s)
    }
}

/// WCAG 2 relative luminance of an sRGB colour.
fn luminance(rgb: [f32; 3]) -> f32 {
    let lin = |v: f32| if v <= 0.040_45 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) };
    0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2])
}

fn contrast(a: [f32; 3], b: [f32; 3]) -> f32 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

fn unit(rgb: [u8; 3]) -> [f32; 3] {
    rgb.map(|v| f32::from(v) / 255.0)
}

/// The lowest contrast between the text and what is behind it, over all pictures.
fn worst_contrast(s: &LabelStyle) -> f32 {
    let text = unit(s.text_color);
    let back = unit(s.backing_color);
    if s.backing.plate() {
        // Behind the text: the plate composited over the darkest and the brightest picture.
        let a = s.plate_opacity;
        let over = |bg: f32| back.map(|c| c * a + bg * (1.0 - a));
        contrast(text, over(0.0)).min(contrast(text, over(1.0)))
    } else {
        contrast(text, back)
    }
}

/// A rectangle in image pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixelRect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// What [`apply_image_label`] drew and where: recorded in the ledger record and the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelPlacement {
    /// The label text.
    pub text: String,
    /// Where it sits.
    pub position: LabelPosition,
    /// The backing used.
    pub backing: Backing,
    /// The font used.
    pub font: String,
    /// Image width in pixels.
    pub image_width: u32,
    /// Image height in pixels.
    pub image_height: u32,
    /// Everything the label touched (plate, outline and text).
    pub region: PixelRect,
    /// The union of the inked glyph boxes.
    pub ink: PixelRect,
    /// Inked height of the smallest required-element glyph, in pixels.
    pub element_ink_height: u32,
    /// The height it had to reach: max(fraction × shortest side, minimum pixels).
    pub required_height: u32,
}

/// A label rasterized to coverage masks, before compositing.
struct Raster {
    width: usize,
    height: usize,
    /// Text coverage, row-major.
    text: Vec<f32>,
    /// Outline coverage (empty when there is no outline).
    outline: Vec<f32>,
    /// Union ink box inside the raster.
    ink: (usize, usize, usize, usize),
    element_ink_height: u32,
    /// Padding around the ink box inside the raster (plate margin).
    pad: usize,
}

/// Draws the label into `image` in place and says what it drew.
///
/// Every `DynamicImage` layout with 8-bit, 16-bit or float channels is supported; luma images
/// get the luminance of the colours, alpha channels become opaque under the label.
///
/// # Errors
///
/// [`Error::Params`] when the label does not fit (image too small or text too long for it) or
/// the layout is not one of `image`'s standard ones.
pub fn apply_image_label(image: &mut DynamicImage, style: &LabelStyle) -> Result<LabelPlacement> {
    match image {
        DynamicImage::ImageLuma8(b) => apply_to_buffer(b, style),
        DynamicImage::ImageLumaA8(b) => apply_to_buffer(b, style),
        DynamicImage::ImageRgb8(b) => apply_to_buffer(b, style),
        DynamicImage::ImageRgba8(b) => apply_to_buffer(b, style),
        DynamicImage::ImageLuma16(b) => apply_to_buffer(b, style),
        DynamicImage::ImageLumaA16(b) => apply_to_buffer(b, style),
        DynamicImage::ImageRgb16(b) => apply_to_buffer(b, style),
        DynamicImage::ImageRgba16(b) => apply_to_buffer(b, style),
        DynamicImage::ImageRgb32F(b) => apply_to_buffer(b, style),
        DynamicImage::ImageRgba32F(b) => apply_to_buffer(b, style),
        _ => Err(Error::params("image layout", "unsupported pixel layout for a label")),
    }
}

/// [`apply_image_label`] on any `image` buffer of Luma, LumaA, Rgb or Rgba pixels.
///
/// # Errors
///
/// As [`apply_image_label`].
pub fn apply_to_buffer<P>(
    image: &mut ImageBuffer<P, Vec<P::Subpixel>>,
    style: &LabelStyle,
) -> Result<LabelPlacement>
where
    P: Pixel,
{
    let (w, h) = image.dimensions();
    let short = w.min(h);
    let required = required_height(short, style);
    let raster = rasterize(style, required)?;
    let margin = (style.margin_fraction * short as f32).round() as u32;
    let (rw, rh) = (to_u32(raster.width)?, to_u32(raster.height)?);
    if rw.saturating_add(2 * margin) > w || rh.saturating_add(2 * margin) > h {
        return Err(Error::params(
            "label",
            format!(
                "`{}` needs {rw}×{rh} px plus margins but the image is {w}×{h}; use a shorter text or a larger image",
                style.text
            ),
        ));
    }
    let x0 = match style.position.column() {
        0 => margin,
        1 => (w - rw) / 2,
        _ => w - margin - rw,
    };
    let y0 = match style.position.row() {
        0 => margin,
        1 => (h - rh) / 2,
        _ => h - margin - rh,
    };
    composite(image, &raster, style, x0, y0);
    let (ix, iy, iw, ih) = raster.ink;
    Ok(LabelPlacement {
        text: style.text.to_string(),
        position: style.position,
        backing: style.backing,
        font: FONT_NAME.to_owned(),
        image_width: w,
        image_height: h,
        region: PixelRect { x: x0, y: y0, width: rw, height: rh },
        ink: PixelRect {
            x: x0 + to_u32(ix)?,
            y: y0 + to_u32(iy)?,
            width: to_u32(iw)?,
            height: to_u32(ih)?,
        },
        element_ink_height: raster.element_ink_height,
        required_height: required,
    })
}

fn to_u32(v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::params("label", "raster too large"))
}

/// max(ceil(fraction × short side), minimum pixels).
#[must_use]
pub fn required_height(short_side: u32, style: &LabelStyle) -> u32 {
    let frac = (f64::from(style.min_height_fraction) * f64::from(short_side)).ceil() as u32;
    frac.max(style.min_height_px)
}

/// Rasterizes the label so that the smallest required-element glyph is `required` px tall.
fn rasterize(style: &LabelStyle, required: u32) -> Result<Raster> {
    let f = font()?;
    let elements = style.text.element_char_indices();
    // Unscaled ink height of the smallest element glyph gives the first guess.
    let mut min_units = f32::INFINITY;
    for (i, c) in style.text.as_str().chars().enumerate() {
        if elements.contains(&i) {
            let outline = f
                .outline(glyph_for(&f, c)?)
                .ok_or_else(|| Error::params("label text", format!("no outline for {c:?}")))?;
            // ab_glyph keeps font-unit bounds with y flipped (min.y = y_max): take the magnitude.
            min_units = min_units.min((outline.bounds.max.y - outline.bounds.min.y).abs());
        }
    }
    if !min_units.is_finite() || min_units <= 0.0 {
        return Err(Error::params("label text", "no inked element glyphs"));
    }
    let mut px =
        f32::from(u16::try_from(required).unwrap_or(u16::MAX)) * f.height_unscaled() / min_units;
    // The rasterized height can fall a pixel short of the analytic one; grow until it does not.
    for _ in 0..8 {
        let r = rasterize_at(&f, style, &elements, px, required)?;
        if r.element_ink_height >= required {
            return Ok(r);
        }
        px *= (required as f32 + 0.75) / r.element_ink_height.max(1) as f32;
    }
    Err(Error::params("label", "could not reach the required glyph height"))
}

fn rasterize_at(
    f: &FontRef<'_>,
    style: &LabelStyle,
    elements: &[usize],
    px: f32,
    required: u32,
) -> Result<Raster> {
    let scaled = f.as_scaled(PxScale::from(px));
    let outline_r = if style.backing.outline() {
        ((required as f32) * 0.12).ceil().max(2.0) as usize
    } else {
        0
    };
    let pad = if style.backing.plate() {
        ((required as f32) * 0.3).ceil() as usize + outline_r
    } else {
        outline_r
    };
    // Lay out on a baseline at y = ascent, pen from x = 0.
    let mut pen = 0.0f32;
    let mut prev = None;
    let mut glyphs = Vec::new();
    for (i, c) in style.text.as_str().chars().enumerate() {
        let id = if c.is_whitespace() { f.glyph_id(' ') } else { glyph_for(f, c)? };
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scaled.scale(), point(pen, scaled.ascent()));
        pen += scaled.h_advance(id);
        prev = Some(id);
        if let Some(o) = f.outline_glyph(glyph) {
            glyphs.push((elements.contains(&i), o));
        }
    }
    let (mut minx, mut miny, mut maxx, mut maxy) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (_, o) in &glyphs {
        let b = o.px_bounds();
        minx = minx.min(b.min.x);
        miny = miny.min(b.min.y);
        maxx = maxx.max(b.max.x);
        maxy = maxy.max(b.max.y);
    }
    if glyphs.is_empty() || maxx <= minx || maxy <= miny {
        return Err(Error::params("label text", "nothing to draw"));
    }
    let (gw, gh) = ((maxx - minx).ceil() as usize, (maxy - miny).ceil() as usize);
    let (width, height) = (gw + 2 * pad, gh + 2 * pad);
    // Two f32 masks of this size are held: cap them at 64 Mpx (512 MiB) — a picture whose short
    // side is about 75 000 px.
    let area = width.saturating_mul(height);
    if area > MAX_RASTER_PIXELS {
        return Err(Error::Limits {
            what: "label raster pixels",
            actual: area as u64,
            limit: MAX_RASTER_PIXELS as u64,
        });
    }
    let mut text = vec![0.0f32; width * height];
    let mut element_ink_height = u32::MAX;
    let (mut ix0, mut iy0, mut ix1, mut iy1) = (usize::MAX, usize::MAX, 0usize, 0usize);
    for (is_element, o) in &glyphs {
        let b = o.px_bounds();
        let ox = (b.min.x - minx).round() as usize + pad;
        let oy = (b.min.y - miny).round() as usize + pad;
        let (mut top, mut bottom) = (usize::MAX, 0usize);
        o.draw(|x, y, c| {
            let (x, y) = (ox + x as usize, oy + y as usize);
            if x < width && y < height {
                let v = &mut text[y * width + x];
                *v = (*v + c).min(1.0);
                if c >= 0.5 {
                    top = top.min(y);
                    bottom = bottom.max(y);
                    ix0 = ix0.min(x);
                    ix1 = ix1.max(x);
                    iy0 = iy0.min(y);
                    iy1 = iy1.max(y);
                }
            }
        });
        if *is_element {
            let inked = if bottom >= top && top != usize::MAX { bottom - top + 1 } else { 0 };
            element_ink_height = element_ink_height.min(u32::try_from(inked).unwrap_or(u32::MAX));
        }
    }
    if ix0 == usize::MAX {
        return Err(Error::params("label text", "nothing inked"));
    }
    let outline = if outline_r > 0 { dilate(&text, width, height, outline_r) } else { Vec::new() };
    Ok(Raster {
        width,
        height,
        text,
        outline,
        ink: (ix0, iy0, ix1 - ix0 + 1, iy1 - iy0 + 1),
        element_ink_height,
        pad,
    })
}

/// Separable max filter with a square of radius `r`: the outline mask.
fn dilate(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut tmp = vec![0.0f32; src.len()];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r).min(w - 1));
            tmp[y * w + x] = row[a..=b].iter().copied().fold(0.0, f32::max);
        }
    }
    let mut out = vec![0.0f32; src.len()];
    for x in 0..w {
        for y in 0..h {
            let (a, b) = (y.saturating_sub(r), (y + r).min(h - 1));
            out[y * w + x] = (a..=b).map(|yy| tmp[yy * w + x]).fold(0.0, f32::max);
        }
    }
    out
}

/// Blends plate, outline and text into the image at (x0, y0).
fn composite<P: Pixel>(
    image: &mut ImageBuffer<P, Vec<P::Subpixel>>,
    r: &Raster,
    style: &LabelStyle,
    x0: u32,
    y0: u32,
) {
    let max = <P::Subpixel as Primitive>::DEFAULT_MAX_VALUE.to_f32().unwrap_or(1.0);
    let n = usize::from(P::CHANNEL_COUNT);
    let (colour_channels, alpha) = match n {
        1 => (1, None),
        2 => (1, Some(1)),
        3 => (3, None),
        _ => (3, Some(3)),
    };
    let to_channels = |rgb: [u8; 3]| -> [f32; 3] {
        let u = unit(rgb);
        if colour_channels == 1 {
            let l = 0.299 * u[0] + 0.587 * u[1] + 0.114 * u[2];
            [l; 3]
        } else {
            u
        }
    };
    let text_c = to_channels(style.text_color);
    let back_c = to_channels(style.backing_color);
    let plate_a = if style.backing.plate() { style.plate_opacity } else { 0.0 };
    // Rounded plate corners, radius a third of the padding.
    let corner = (r.pad as f32 / 3.0).max(0.0);
    for ry in 0..r.height {
        for rx in 0..r.width {
            let i = ry * r.width + rx;
            let plate = plate_a * corner_coverage(rx, ry, r.width, r.height, corner);
            let outline = r.outline.get(i).copied().unwrap_or(0.0);
            let text = r.text[i];
            if plate <= 0.0 && outline <= 0.0 && text <= 0.0 {
                continue;
            }
            let px = image.get_pixel_mut(x0 + rx as u32, y0 + ry as u32);
            let ch = px.channels_mut();
            for (layer_a, colour) in [(plate, back_c), (outline, back_c), (text, text_c)] {
                if layer_a <= 0.0 {
                    continue;
                }
                for (c, target) in ch.iter_mut().take(colour_channels).zip(colour) {
                    let v = c.to_f32().unwrap_or(0.0) / max;
                    let blended = v * (1.0 - layer_a) + target * layer_a;
                    *c = from_unit(blended, max).unwrap_or(*c);
                }
                if let Some(a) = alpha {
                    let v = ch[a].to_f32().unwrap_or(0.0) / max;
                    let blended = v + layer_a * (1.0 - v);
                    ch[a] = from_unit(blended, max).unwrap_or(ch[a]);
                }
            }
        }
    }
}

/// A unit value as a channel value: rounded for integer channels, scaled for float ones.
fn from_unit<S: Primitive>(v: f32, max: f32) -> Option<S> {
    let scaled = v.clamp(0.0, 1.0) * max;
    num_traits::NumCast::from(if max > 1.0 { scaled.round() } else { scaled })
}

/// 1 inside the rounded rectangle, 0 outside, a linear ramp across the corner arc.
fn corner_coverage(x: usize, y: usize, w: usize, h: usize, radius: f32) -> f32 {
    if radius < 1.0 {
        return 1.0;
    }
    let fx = x as f32 + 0.5;
    let fy = y as f32 + 0.5;
    let cx = if fx < radius {
        radius
    } else if fx > w as f32 - radius {
        w as f32 - radius
    } else {
        return 1.0;
    };
    let cy = if fy < radius {
        radius
    } else if fy > h as f32 - radius {
        h as f32 - radius
    } else {
        return 1.0;
    };
    let d = ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt();
    (radius + 0.5 - d).clamp(0.0, 1.0)
}
