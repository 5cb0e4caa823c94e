//! The time-frequency layout of the audio mark: frame size, sub-bands, the repeating block of
//! symbols and the keyed assignment of its slots to sync chips and coded payload bits.
//!
//! Everything here is defined in seconds and hertz, not samples, so one layout serves every
//! sample rate from 8 kHz to 96 kHz and a file resampled after marking still lines up.

use crate::spread;
use crate::WatermarkKey;

/// Frame length in seconds (2048 samples at 44.1 kHz). Hop = half a frame.
pub(crate) const FRAME_SECONDS: f64 = 2048.0 / 44_100.0;
/// Lowest sub-band edge (Hz): above a 300 Hz high-pass and telephone band's lower edge.
pub(crate) const BAND_LO_HZ: f64 = 480.0;
/// Highest sub-band edge (Hz). Sub-bands above 3.6 kHz add capacity; a 4 kHz low-pass or an
/// 8 kHz sample rate turns them into erasures, which the detector's per-sub-band reliability
/// weights and the code absorb.
pub(crate) const BAND_HI_HZ: f64 = 6500.0;
/// Number of sub-bands between [`BAND_LO_HZ`] and [`BAND_HI_HZ`], equally spaced in
/// `ln(f + WARP_HZ)`: ≈ 61 Hz (2.8 FFT bins) wide at the bottom, ≈ 310 Hz at the top.
pub(crate) const SUBBANDS: usize = 40;
/// Warp of the sub-band scale: log-like above it, linear-like below. Sub-bands narrower than
/// about three FFT bins lose most of their modulation to the window's spectral leakage into
/// neighbours that carry independent chips, so the lowest ones are kept that wide.
pub(crate) const WARP_HZ: f64 = 1000.0;
/// Hops per symbol (a symbol is ≈ 93 ms: long against WSOLA tempo jitter).
pub(crate) const HOPS_PER_SYMBOL: usize = 4;
/// Symbols per block (≈ 2.8 s, so a clip of 3 s holds the whole payload and any excerpt of
/// a few seconds holds a whole block; longer audio repeats it and the detector folds the
/// repeats together, so the energy per bit grows with the duration).
pub(crate) const BLOCK_SYMBOLS: usize = 30;
/// Slots per block.
pub(crate) const BLOCK_SLOTS: usize = BLOCK_SYMBOLS * SUBBANDS;

/// The role of one slot (symbol, sub-band) of the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A sync chip: known to the detector, used to find the block's position and scale.
    Sync,
    /// Carries the coded payload bit with this index.
    Data(u16),
}

/// A keyed block layout: role and chip sign of every slot. Built once per key.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// Role of slot `b * SUBBANDS + k`.
    pub(crate) roles: Vec<Role>,
    /// Chip sign (±1) of each slot.
    pub(crate) chips: Vec<f32>,
    /// Sync slots as (symbol, sub-band, chip), sorted by symbol.
    pub(crate) sync: Vec<(u16, u16, f32)>,
    /// Data slots as (symbol, sub-band, chip, coded bit index).
    pub(crate) data: Vec<(u16, u16, f32, u16)>,
    /// Number of coded bits carried.
    pub(crate) coded_bits: usize,
}

impl Layout {
    /// Builds the layout for `coded_bits` payload bits: each bit gets the same number of slots,
    /// the rest are sync; positions and chips come from the key.
    pub(crate) fn new(key: &WatermarkKey, coded_bits: usize) -> Self {
        let per_bit = (BLOCK_SLOTS * 9 / 10) / coded_bits.max(1);
        let data_slots = per_bit * coded_bits;
        let perm = spread::keyed_permutation(key, "audio/v2/slots", BLOCK_SLOTS);
        let mut roles = vec![Role::Sync; BLOCK_SLOTS];
        for (i, &slot) in perm.iter().enumerate().take(data_slots) {
            #[allow(clippy::cast_possible_truncation, reason = "coded_bits < 65536")]
            let bit = (i % coded_bits) as u16;
            roles[slot] = Role::Data(bit);
        }
        let chips = spread::pn_chips(key, "audio/v2/chips", BLOCK_SLOTS);
        let mut sync = Vec::new();
        let mut data = Vec::new();
        for (slot, role) in roles.iter().enumerate() {
            #[allow(clippy::cast_possible_truncation, reason = "slot indices < 65536")]
            let (b, k) = ((slot / SUBBANDS) as u16, (slot % SUBBANDS) as u16);
            match *role {
                Role::Sync => sync.push((b, k, chips[slot])),
                Role::Data(c) => data.push((b, k, chips[slot], c)),
            }
        }
        Self { roles, chips, sync, data, coded_bits }
    }
}

/// The STFT grid for one sample rate.
#[derive(Clone, Debug)]
pub(crate) struct Grid {
    /// Frame length in samples (even).
    pub(crate) frame: usize,
    /// Hop in samples (`frame / 2`).
    pub(crate) hop: usize,
    /// Hertz per FFT bin.
    pub(crate) bin_hz: f64,
}

impl Grid {
    /// The grid for a sample rate.
    pub(crate) fn new(sample_rate: u32) -> Self {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "small positive"
        )]
        let half = ((f64::from(sample_rate) * FRAME_SECONDS) / 2.0).round().max(16.0) as usize;
        let frame = half * 2;
        Self { frame, hop: half, bin_hz: f64::from(sample_rate) / frame as f64 }
    }

    /// Sub-band edges in Hz scaled by `freq_scale` (`SUBBANDS + 1` values).
    pub(crate) fn edges_hz(freq_scale: f64) -> Vec<f64> {
        let (lo, hi) = ((BAND_LO_HZ + WARP_HZ).ln(), (BAND_HI_HZ + WARP_HZ).ln());
        (0..=SUBBANDS)
            .map(|k| ((lo + (hi - lo) * k as f64 / SUBBANDS as f64).exp() - WARP_HZ) * freq_scale)
            .collect()
    }

    /// Per sub-band, the fraction of a slot's log-magnitude modulation that survives the
    /// window's spectral leakage into neighbours (an empirical fit over the sub-band width `w`
    /// in bins: `w / (w + 1.5)`).
    pub(crate) fn efficiency(&self) -> [f32; SUBBANDS] {
        let edges = Self::edges_hz(1.0);
        let mut out = [0.0f32; SUBBANDS];
        for (k, e) in out.iter_mut().enumerate() {
            let w = (edges[k + 1] - edges[k]) / self.bin_hz;
            *e = (w / (w + 1.5)) as f32;
        }
        out
    }

    /// For each FFT bin, the sub-band it belongs to (or `None`), at the nominal frequency scale.
    pub(crate) fn bin_bands(&self) -> Vec<Option<u16>> {
        let edges = Self::edges_hz(1.0);
        (0..=self.frame / 2)
            .map(|i| {
                let f = i as f64 * self.bin_hz;
                if f < edges[0] || f >= edges[SUBBANDS] {
                    return None;
                }
                let k = edges.partition_point(|&e| e <= f) - 1;
                #[allow(clippy::cast_possible_truncation, reason = "k < SUBBANDS")]
                Some(k.min(SUBBANDS - 1) as u16)
            })
            .collect()
    }
}
