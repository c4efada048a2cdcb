//! `projector_config.pbtxt`: the projector's list of embeddings, in protobuf text format,
//! rewritten atomically after each embedding.

use super::*;

/// `projector_config.proto` `EmbeddingInfo`, as far as writers fill it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EmbeddingInfo {
    pub tensor_name: String,
    pub metadata_path: String,
    pub tensor_shape: Vec<u64>,
    /// `sprite.image_path` and `sprite.single_image_dim` ([W, H]).
    pub sprite: Option<(String, [u64; 2])>,
    pub tensor_path: String,
}

/// protobuf's text-format string escaping, as Python's `text_format.MessageToString`
/// does it by default (`as_utf8=True`): `\n \r \t \" \' \\`, other ASCII control
/// characters as 3-digit octal escapes, everything else (UTF-8 included) as is.
pub(crate) fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            _ => out.push(c),
        }
    }
}

pub(crate) fn push_string_field(out: &mut String, indent: &str, name: &str, value: &str) {
    if value.is_empty() {
        return;
    }
    out.push_str(indent);
    out.push_str(name);
    out.push_str(": \"");
    push_escaped(out, value);
    out.push_str("\"\n");
}

/// `text_format.MessageToString(ProjectorConfig(embeddings=infos))`.
pub fn projector_config_text(infos: &[EmbeddingInfo]) -> String {
    let mut out = String::new();
    for info in infos {
        out.push_str("embeddings {\n");
        push_string_field(&mut out, "  ", "tensor_name", &info.tensor_name);
        push_string_field(&mut out, "  ", "metadata_path", &info.metadata_path);
        for d in &info.tensor_shape {
            let _ = writeln!(out, "  tensor_shape: {d}");
        }
        if let Some((path, dims)) = &info.sprite {
            out.push_str("  sprite {\n");
            push_string_field(&mut out, "    ", "image_path", path);
            for d in dims {
                let _ = writeln!(out, "    single_image_dim: {d}");
            }
            out.push_str("  }\n");
        }
        push_string_field(&mut out, "  ", "tensor_path", &info.tensor_path);
        out.push_str("}\n");
    }
    out
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> FerroError {
    FerroError::Io {
        path: path.to_path_buf(),
        lost: 1,
        source,
    }
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), FerroError> {
    std::fs::write(path, bytes).map_err(|e| io_error(path, e))
}

/// Writes `projector_config.pbtxt` through a temporary file and a rename, so that a
/// reader never sees half a config.
pub fn write_config(logdir: &Path, infos: &[EmbeddingInfo]) -> Result<(), FerroError> {
    // Unique per write: several writers (a pickled copy, a forked child) may share the
    // directory, and each rename must move its own file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = logdir.join(CONFIG_FILE);
    let tmp = logdir.join(format!(".{CONFIG_FILE}.{}.{n}.tmp", std::process::id()));
    write_file(&tmp, projector_config_text(infos).as_bytes())?;
    std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))
}
