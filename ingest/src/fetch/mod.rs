//! Import by link: fetch an http(s) URL to a file with a size cap and timeouts, refusing
//! loopback, private and other non-public addresses unless allowed.
//!
//! - [`fetch_to_file`] is the driver: it resolves each hop's host itself, vets **every**
//!   address ([`address`]), and connects only to the vetted addresses (so a second DNS answer
//!   cannot rebind the host to an internal address); redirects are followed by hand, each
//!   hop vetted the same way; the body streams to a temporary file that is renamed into
//!   place only when complete.
//! - [`address`] classifies IP addresses (pure); [`name`] picks the suggested file name
//!   (pure); [`FetchError`] carries stable codes and zh-CN / English messages.

pub mod address;
pub mod error;
pub mod fetcher;
pub mod name;

pub use address::{AddressClass, classify};
pub use error::FetchError;
pub use fetcher::{FetchLimits, FetchedFile, fetch_to_file};
