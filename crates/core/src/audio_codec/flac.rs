//! FLAC output (flacenc), whole or as a stream.
//!
//! Frames are independent (each carries its number and reads only the stream's fixed
//! parameters), so the frames of whatever samples have arrived are encoded in parallel and
//! written in order. The `STREAMINFO` block, whose frame-size bounds are only known at the
//! end, is written as a placeholder first and rewritten in place by
//! [`FlacStreamWriter::finish`]; the output must therefore be seekable (a file, or a
//! `Cursor` for [`encode_flac`]).

use std::io::{Seek, SeekFrom, Write};

use flacenc::bitsink::BitSink as _;
use flacenc::component::{BitRepr as _, Frame, StreamInfo};
use flacenc::error::Verify as _;
use flacenc::source::Fill as _;
use rayon::prelude::*;

use crate::audio::{quantize_into, AudioBuffer, SampleFormat};
use crate::{Error, Result};

/// The encoder's smallest block (frames); the last block is never shorter.
const MIN_BLOCK: u64 = flacenc::constant::MIN_BLOCK_SIZE as u64;
/// Bytes before the first frame: `fLaC`, the block header, the 34-byte `STREAMINFO`.
const HEADER_LEN: usize = 4 + 4 + 34;

fn err(e: &dyn std::fmt::Debug) -> Error {
    Error::encode("FLAC", format!("{e:?}"))
}

fn io_err(e: &std::io::Error) -> Error {
    Error::encode("FLAC", e.to_string())
}

/// Encodes a FLAC file (16- or 24-bit: integer sources keep their depth up to 24 bits, float
/// sources are written as 24-bit).
///
/// # Errors
/// [`Error::Encode`] if the encoder rejects the stream.
pub fn encode_flac(audio: &AudioBuffer) -> Result<Vec<u8>> {
    let mut w = FlacStreamWriter::new(
        std::io::Cursor::new(Vec::new()),
        audio.channels(),
        audio.sample_rate(),
        audio.format(),
        audio.frames() as u64,
    )?;
    w.write(audio.samples())?;
    Ok(w.finish()?.into_inner())
}

/// Writes a FLAC file as a stream of interleaved samples whose total is known in advance, in
/// memory bounded by the chunks given (plus less than one block): the same bytes as
/// [`encode_flac`] on the whole buffer, however the samples are split.
pub struct FlacStreamWriter<W: Write + Seek> {
    out: W,
    config: flacenc::error::Verified<flacenc::config::Encoder>,
    /// Parameters every frame is encoded with (as the stream starts).
    fixed: StreamInfo,
    /// `fixed` plus the frame statistics so far.
    info: StreamInfo,
    channels: usize,
    bits: u16,
    /// Samples (all channels) per block.
    block: usize,
    /// Samples not yet announced-and-received.
    remaining: u64,
    /// Quantised samples waiting for a whole block.
    pending: Vec<i32>,
    /// Number of the next frame.
    number: usize,
    /// Where the placeholder header starts in `out`.
    start: u64,
}

impl<W: Write + Seek> std::fmt::Debug for FlacStreamWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlacStreamWriter")
            .field("remaining", &self.remaining)
            .field("frames_written", &self.number)
            .finish_non_exhaustive()
    }
}

impl<W: Write + Seek> FlacStreamWriter<W> {
    /// Writes a placeholder header for `frames` frames of `channels` channels to `out`.
    ///
    /// # Errors
    /// [`Error::Encode`] if the encoder rejects the shape or `out` fails.
    pub fn new(
        mut out: W,
        channels: u16,
        sample_rate: u32,
        format: SampleFormat,
        frames: u64,
    ) -> Result<Self> {
        let bits: u16 = match format {
            SampleFormat::Int(b) if b <= 16 => 16,
            _ => 24,
        };
        let config = flacenc::config::Encoder::default().into_verified().map_err(|e| err(&e))?;
        let n = usize::from(channels);
        let fixed =
            StreamInfo::new(sample_rate as usize, n, usize::from(bits)).map_err(|e| err(&e))?;
        if frames < MIN_BLOCK {
            return Err(Error::encode("FLAC", format!("{frames} frames: the encoder needs 64")));
        }
        // Every frame but the last has the same block size, and the last keeps its true
        // length (at least the encoder's minimum block), so nothing is padded.
        let block = (3800..=config.block_size.max(3800))
            .rev()
            .map(|b| b as u64)
            .find(|b| frames % b == 0 || frames % b >= MIN_BLOCK)
            .map_or(config.block_size, |b| b as usize);
        let start = out.stream_position().map_err(|e| io_err(&e))?;
        out.write_all(&[0u8; HEADER_LEN]).map_err(|e| io_err(&e))?;
        Ok(Self {
            out,
            config,
            info: fixed.clone(),
            fixed,
            channels: n,
            bits,
            block: block * n,
            remaining: frames.saturating_mul(u64::from(channels)),
            pending: Vec::new(),
            number: 0,
            start,
        })
    }

    /// Appends interleaved samples; whole blocks are encoded and written.
    ///
    /// # Errors
    /// [`Error::Encode`] past the announced length, if the encoder fails or `out` fails.
    pub fn write(&mut self, samples: &[f32]) -> Result<()> {
        if samples.len() as u64 > self.remaining {
            return Err(Error::encode("FLAC", "more samples than the header announced"));
        }
        self.remaining -= samples.len() as u64;
        let bits = self.bits;
        let start = self.pending.len();
        self.pending.resize(start + samples.len(), 0);
        self.pending[start..]
            .par_chunks_mut(1 << 16)
            .zip(samples.par_chunks(1 << 16))
            .for_each(|(o, s)| quantize_into(s, bits, o));
        let whole = self.pending.len() / self.block * self.block;
        if whole > 0 {
            let mut ints = std::mem::take(&mut self.pending);
            self.encode(&ints[..whole])?;
            // The partial block left stays in the same buffer (no allocation per chunk).
            ints.drain(..whole);
            self.pending = ints;
        }
        Ok(())
    }

    /// Encodes the last (short) block, rewrites the header with the stream's statistics,
    /// flushes and returns the writer (positioned after the last frame).
    ///
    /// # Errors
    /// [`Error::Encode`] if fewer samples came than announced, the encoder fails or `out`
    /// fails.
    pub fn finish(mut self) -> Result<W> {
        if self.remaining != 0 {
            return Err(Error::encode("FLAC", "fewer samples than the header announced"));
        }
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.encode(&rest)?;
        }
        let mut sink = flacenc::bitsink::ByteSink::new();
        // The one metadata block: last-block flag, type 0 (STREAMINFO), 34 bytes.
        sink.write_bytes_aligned(b"fLaC\x80\x00\x00\x22").map_err(|e| err(&e))?;
        self.info.write(&mut sink).map_err(|e| err(&e))?;
        let mut header = sink.as_slice().to_vec();
        if header.len() != HEADER_LEN {
            return Err(Error::encode("FLAC", "unexpected STREAMINFO size"));
        }
        // STREAMINFO's minimum block size excludes the last block (RFC 9639 §8.2); flacenc
        // counts it, which makes frame-numbered decoders (symphonia) reject the stream.
        // Set min = max.
        let (min, max) = (8, 10);
        let max_block = [header[max], header[max + 1]];
        header[min..min + 2].copy_from_slice(&max_block);
        let end = self.out.stream_position().map_err(|e| io_err(&e))?;
        self.out.seek(SeekFrom::Start(self.start)).map_err(|e| io_err(&e))?;
        self.out.write_all(&header).map_err(|e| io_err(&e))?;
        self.out.seek(SeekFrom::Start(end)).map_err(|e| io_err(&e))?;
        self.out.flush().map_err(|e| io_err(&e))?;
        Ok(self.out)
    }

    /// Encodes `ints` (whole blocks, or the last one) as frames, in parallel, and writes
    /// them in order.
    fn encode(&mut self, ints: &[i32]) -> Result<()> {
        let (config, fixed, channels, first) =
            (&self.config, &self.fixed, self.channels, self.number);
        let frames: Vec<(Frame, Vec<u8>)> = ints
            .par_chunks(self.block)
            .enumerate()
            .map(|(i, chunk)| {
                let len = chunk.len() / channels;
                let mut fb =
                    flacenc::source::FrameBuf::with_size(channels, len).map_err(|e| err(&e))?;
                fb.fill_interleaved(chunk).map_err(|e| err(&e))?;
                let frame = flacenc::encode_fixed_size_frame(config, &fb, first + i, fixed)
                    .map_err(|e| err(&e))?;
                let mut sink = flacenc::bitsink::ByteSink::new();
                frame.write(&mut sink).map_err(|e| err(&e))?;
                let bytes = sink.as_slice().to_vec();
                Ok((frame, bytes))
            })
            .collect::<Result<_>>()?;
        for (frame, bytes) in &frames {
            self.info.update_frame_info(frame);
            self.out.write_all(bytes).map_err(|e| io_err(&e))?;
        }
        self.number += frames.len();
        Ok(())
    }
}
