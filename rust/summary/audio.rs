//! Audio: torch's scaling to 16-bit PCM and a WAV file written directly.
//!
//! torch (`summary.audio`) clips to [-1, 1], multiplies by 32767 in the array's own
//! float type and truncates toward zero, then writes a 44-byte-header WAV with Python's
//! `wave` module. Mono and tensorboardX's interleaved stereo `(L, 2)` use the same rule.

use crate::error::FerroError;
use crate::format::proto::{summary_value, SummaryAudio, SummaryValue};
use crate::summary::image::shape_text;
use crate::summary::job::ValueEncoder;
use crate::summary::raw_array::{DType, RawArray};

/// An audio summary: `samples` holds `frames * channels` values, frame-major.
pub struct AudioJob {
    tag: String,
    samples: RawArray,
    channels: usize,
    sample_rate: f64,
}

impl AudioJob {
    /// `samples`: `(L,)`, `(1, L)` (any size-1 axes) mono, or `(L, 2)` stereo.
    pub fn new(tag: String, samples: RawArray, sample_rate: f64) -> Result<AudioJob, FerroError> {
        if !(sample_rate.is_finite() && sample_rate.round_ties_even() >= 1.0 && sample_rate < 4.3e9)
        {
            return Err(FerroError::InvalidArgument(format!(
                "sample_rate must be a positive number of samples per second, got {sample_rate}"
            )));
        }
        let shape = &samples.shape;
        let squeezed: Vec<i64> = shape.iter().copied().filter(|&d| d != 1).collect();
        let channels = match squeezed.as_slice() {
            _ if samples.is_empty() => {
                return Err(FerroError::InvalidArgument(format!(
                    "snd_tensor has no samples: shape {}",
                    shape_text(shape)
                )))
            }
            [] | [_] => 1,
            [_, 2] => 2,
            _ => {
                return Err(FerroError::InvalidArgument(format!(
                "snd_tensor must be (L,) or (1, L) for mono, or (L, 2) for stereo, got shape {}",
                shape_text(shape)
            )))
            }
        };
        Ok(AudioJob {
            tag,
            samples,
            channels,
            sample_rate,
        })
    }
}

impl ValueEncoder for AudioJob {
    fn tag(&self) -> &str {
        &self.tag
    }

    fn cost(&self) -> usize {
        self.tag.len() + self.samples.nbytes()
    }

    fn encode(self: Box<Self>) -> Result<Vec<SummaryValue>, FerroError> {
        let pcm = to_pcm16(&self.samples);
        let frames = pcm.len() / self.channels.max(1);
        let wav = wav_bytes(&pcm, self.channels as u16, self.sample_rate)?;
        Ok(vec![SummaryValue {
            tag: self.tag,
            value: Some(summary_value::Value::Audio(SummaryAudio {
                sample_rate: self.sample_rate as f32,
                num_channels: self.channels as i64,
                length_frames: frames as i64,
                encoded_audio_string: wav,
                content_type: "audio/wav".into(),
            })),
            ..Default::default()
        }])
    }
}

/// torch's `(clip(x, -1, 1) * 32767).astype("<i2")`, computed in the array's type.
pub fn to_pcm16(samples: &RawArray) -> Vec<i16> {
    // Float-to-int `as` casts truncate toward zero like numpy's astype; NaN becomes 0.
    fn ints<T: Copy + Into<i64>>(values: &[T]) -> Vec<i16> {
        values
            .iter()
            .map(|&v| (v.into().clamp(-1, 1) * 32767) as i16)
            .collect()
    }
    match samples.dtype {
        DType::Float32 => samples
            .typed::<f32>()
            .iter()
            .map(|&v| (v.clamp(-1.0, 1.0) * 32767.0) as i16)
            .collect(),
        DType::Float64 => samples
            .typed::<f64>()
            .iter()
            .map(|&v| (v.clamp(-1.0, 1.0) * 32767.0) as i16)
            .collect(),
        // numpy multiplies float16 in float32 and rounds the product back to float16,
        // where 32767 becomes 32768: torch then wraps full scale to -32768 (a click);
        // this saturates to 32767 instead (a documented deviation).
        DType::Float16 => samples
            .typed::<u16>()
            .iter()
            .map(|&v| {
                let x = half::f16::from_bits(v).to_f32().clamp(-1.0, 1.0);
                half::f16::from_f32(x * 32767.0).to_f32() as i16
            })
            .collect(),
        DType::BFloat16 => samples
            .typed::<u16>()
            .iter()
            .map(|&v| (crate::summary::raw_array::bf16_to_f32(v).clamp(-1.0, 1.0) * 32767.0) as i16)
            .collect(),
        DType::Bool | DType::UInt8 => ints(samples.typed::<u8>()),
        DType::Int8 => ints(samples.typed::<i8>()),
        DType::Int16 => ints(samples.typed::<i16>()),
        DType::UInt16 => ints(samples.typed::<u16>()),
        DType::Int32 => ints(samples.typed::<i32>()),
        DType::UInt32 => ints(samples.typed::<u32>()),
        DType::Int64 => ints(samples.typed::<i64>()),
        DType::UInt64 => samples
            .typed::<u64>()
            .iter()
            .map(|&v| (v.min(1) as i16) * 32767)
            .collect(),
    }
}

/// A PCM16 WAV file, byte for byte what Python's `wave` module writes.
pub fn wav_bytes(pcm: &[i16], channels: u16, sample_rate: f64) -> Result<Vec<u8>, FerroError> {
    // `wave.setframerate` stores int(round(rate)): Python rounds half to even.
    let rate = sample_rate.round_ties_even();
    if !(1.0..=f64::from(u32::MAX)).contains(&rate) || channels == 0 {
        return Err(FerroError::InvalidArgument(format!(
            "sample_rate must be a positive number of samples per second, got {sample_rate}"
        )));
    }
    let rate = rate as u32;
    let data_len = pcm.len() * 2;
    if data_len > (u32::MAX - 36) as usize {
        return Err(FerroError::InvalidArgument(format!(
            "a WAV file holds at most 4 GiB of samples, got {data_len} bytes"
        )));
    }
    let block_align = channels * 2;
    let mut out = crate::runtime::fallible::with_capacity(44 + data_len, "the WAV file")?;
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate.wrapping_mul(u32::from(block_align))).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    for s in pcm {
        out.extend_from_slice(&s.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(values: &[f32]) -> RawArray {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
        RawArray::copy_from(DType::Float32, vec![values.len() as i64], &bytes).unwrap()
    }

    #[test]
    fn scales_clips_and_truncates_like_torch() {
        let pcm = to_pcm16(&f32s(&[
            0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.0,
            -3.0,
            1e-5,
            f32::NAN,
        ]));
        assert_eq!(
            pcm,
            vec![0, 16383, -16383, 32767, -32767, 32767, -32767, 0, 0]
        );
    }

    #[test]
    fn wav_header_is_pythons() {
        let wav = wav_bytes(&[1, -2, 3], 1, 16000.4).unwrap();
        assert_eq!(wav.len(), 44 + 6);
        assert_eq!(&wav[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes([wav[4], wav[5], wav[6], wav[7]]), 42);
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!(
            u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]),
            16000
        );
        assert_eq!(
            u32::from_le_bytes([wav[28], wav[29], wav[30], wav[31]]),
            32000
        );
        assert_eq!(&wav[36..40], b"data");
        assert_eq!(&wav[44..], &[1, 0, 0xfe, 0xff, 3, 0]);
        let stereo = wav_bytes(&[1, 2], 2, 8000.0).unwrap();
        assert_eq!(u16::from_le_bytes([stereo[22], stereo[23]]), 2);
        assert_eq!(u16::from_le_bytes([stereo[32], stereo[33]]), 4);
        assert!(wav_bytes(&[], 1, 0.0).is_err());
    }
}
