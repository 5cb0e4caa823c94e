//! Perceptual strength: how much each sub-band of a frame may be modulated.
//!
//! The detector works on log energies, so a sub-band's contribution to detection depends
//! only on its relative modulation, not on its level; the change it makes to the signal is
//! proportional to its energy. Each frame therefore gets a budget of change energy, a fixed
//! fraction of the frame's own energy (so the mark hides under the frame, in time and in level),
//! and the budget is water-filled over the sub-bands: weak sub-bands get the largest relative
//! modulation up to a cap, strong ones the rest. The cap keeps every sub-band's change at least
//! `-20·log10(cap)` dB below that sub-band, well inside its own masking.

/// Water-fills `budget` (change energy) over sub-bands of `energy`, writing relative
/// modulation depths into `depth` (each in `[0, cap]`).
pub(crate) fn waterfill(energy: &[f32], budget: f32, cap: f32, depth: &mut [f32]) {
    let n = energy.len();
    let cap2 = cap * cap;
    let capped_total: f32 = energy.iter().sum::<f32>() * cap2;
    if budget.is_nan() || budget <= 0.0 {
        depth.iter_mut().for_each(|d| *d = 0.0);
        return;
    }
    if capped_total <= budget {
        depth.iter_mut().for_each(|d| *d = cap);
        return;
    }
    // Energies in ascending order (on the stack for the usual sub-band count: this runs
    // once per hop for every feature computation).
    let mut stack = [0.0f32; 64];
    let mut heap = Vec::new();
    let sorted: &mut [f32] = if n <= stack.len() {
        stack[..n].copy_from_slice(energy);
        &mut stack[..n]
    } else {
        heap.extend_from_slice(energy);
        &mut heap
    };
    sorted.sort_unstable_by(f32::total_cmp);
    // With the `i` weakest sub-bands capped, the rest share `lambda` each: a_k^2 * E_k = lambda.
    let mut capped_sum = 0.0f32;
    let mut lambda = budget / n as f32;
    for (i, &e) in sorted.iter().enumerate() {
        let l = (budget - cap2 * capped_sum) / (n - i) as f32;
        lambda = l;
        if e * cap2 >= l {
            break;
        }
        capped_sum += e;
    }
    for (k, d) in depth.iter_mut().enumerate() {
        let e = energy[k];
        *d = if e * cap2 <= lambda { cap } else { (lambda / e).sqrt() };
    }
}
