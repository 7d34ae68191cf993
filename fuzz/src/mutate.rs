//! A small deterministic mutator for the smoke test that runs in CI
//! (`cargo test`): a seeded xorshift generator and libFuzzer-like edits
//! (bit flips, interesting bytes and lengths, inserts, deletes, duplicated
//! ranges, splices with another seed). No coverage feedback: it only
//! widens the seeds so a regression in a parser shows up without nightly.

/// xorshift64* pseudo-random numbers; the same seed gives the same run.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a seed (0 is replaced by a fixed odd constant).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            return 0;
        }
        // The remainder is below `bound`, so it fits in usize.
        usize::try_from(self.next_u64() % bound as u64).unwrap_or(0)
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64().to_le_bytes()[0]
    }
}

/// Bytes that often sit on parser edges.
const INTERESTING_BYTES: [u8; 8] = [0x00, 0x01, 0x03, 0x09, 0x7F, 0x80, 0xFE, 0xFF];
/// Big-endian lengths and counts that often sit on parser edges.
const INTERESTING_U32: [u32; 8] = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x00FF_FFFF, u32::MAX];

/// Applies one to four random edits to `input`; `other` is a second seed
/// to splice from. The result is at most `max_len` bytes.
pub fn mutate(rng: &mut XorShift, input: &[u8], other: &[u8], max_len: usize) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        edit(rng, &mut out, other);
    }
    out.truncate(max_len);
    out
}

fn edit(rng: &mut XorShift, out: &mut Vec<u8>, other: &[u8]) {
    let len = out.len();
    match rng.below(8) {
        0 if len > 0 => {
            let at = rng.below(len);
            out[at] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let at = rng.below(len);
            out[at] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
        }
        2 if len > 0 => {
            let at = rng.below(len);
            out[at] = rng.byte();
        }
        3 if len >= 4 => {
            let at = rng.below(len - 3);
            let value = INTERESTING_U32[rng.below(INTERESTING_U32.len())].to_be_bytes();
            // Two or four bytes: RTMP, AMF0 and avcC lengths are 16 or 32 bits.
            let width = if rng.below(2) == 0 { 2 } else { 4 };
            out[at..at + width].copy_from_slice(&value[4 - width..]);
        }
        4 => {
            let at = rng.below(len + 1);
            let count = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..count).map(|_| rng.byte()).collect();
            out.splice(at..at, bytes);
        }
        5 if len > 0 => {
            let at = rng.below(len);
            let count = 1 + rng.below((len - at).min(64));
            out.drain(at..at + count);
        }
        6 if len > 0 => {
            let at = rng.below(len);
            let count = 1 + rng.below((len - at).min(64));
            let copy = out[at..at + count].to_vec();
            let to = rng.below(len + 1);
            out.splice(to..to, copy);
        }
        _ if !other.is_empty() => {
            // Splice: our head, the other seed's tail.
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            out.truncate(cut);
            out.extend_from_slice(&other[from..]);
        }
        _ => out.push(rng.byte()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let (mut a, mut b) = (XorShift::new(7), XorShift::new(7));
        for _ in 0..100 {
            assert_eq!(
                mutate(&mut a, b"hello rtmp", b"other", 64),
                mutate(&mut b, b"hello rtmp", b"other", 64)
            );
        }
    }

    #[test]
    fn mutations_change_the_input_and_respect_the_length_limit() {
        let mut rng = XorShift::new(1);
        let seed = [0u8; 32];
        let mut changed = 0;
        for _ in 0..1000 {
            let out = mutate(&mut rng, &seed, &[1, 2, 3], 40);
            assert!(out.len() <= 40);
            changed += usize::from(out != seed);
        }
        assert!(
            changed > 900,
            "only {changed} of 1000 mutations changed the input"
        );
    }
}
