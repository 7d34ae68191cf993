//! Incremental digests for the checksum extension (sha1, md5, sha256).

use sha1::Digest as _;

use super::protocol::ChecksumAlgorithm;

/// A running digest of one of the offered algorithms.
#[derive(Debug, Clone)]
pub enum ChunkHasher {
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// MD5.
    Md5(md5::Md5),
    /// SHA-256.
    Sha256(sha2::Sha256),
}

impl ChunkHasher {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: ChecksumAlgorithm) -> ChunkHasher {
        match algorithm {
            ChecksumAlgorithm::Sha1 => ChunkHasher::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Md5 => ChunkHasher::Md5(md5::Md5::new()),
            ChecksumAlgorithm::Sha256 => ChunkHasher::Sha256(sha2::Sha256::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            ChunkHasher::Sha1(h) => h.update(bytes),
            ChunkHasher::Md5(h) => h.update(bytes),
            ChunkHasher::Sha256(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Vec<u8> {
        match self {
            ChunkHasher::Sha1(h) => h.finalize().to_vec(),
            ChunkHasher::Md5(h) => h.finalize().to_vec(),
            ChunkHasher::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_values_of_abc() {
        let hex_of = |alg| {
            let mut h = ChunkHasher::new(alg);
            h.update(b"a");
            h.update(b"bc");
            hex::encode(h.finish())
        };
        assert_eq!(
            hex_of(ChecksumAlgorithm::Sha1),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex_of(ChecksumAlgorithm::Md5),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex_of(ChecksumAlgorithm::Sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
