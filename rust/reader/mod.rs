//! Reading event files back: framing and checksums (`scan`), one file into columns with
//! tbparse's semantics (`decode`), which files a log directory holds and reading them in
//! parallel (`walk`), many files' scalars as one sorted table (`table`), and CSV output
//! (`csv`). docs/reader.md describes the semantics and the damage policy.

pub mod csv;
pub mod decode;
pub mod scan;
pub mod table;
pub mod walk;
