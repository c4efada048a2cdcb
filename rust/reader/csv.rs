//! CSV output of columns (the `ferroboard export` command): numbers printed as the
//! shortest text that reads back to the same value, missing values (NaN) as empty fields,
//! names quoted only when they hold a comma, quote or line break.

use std::io::{BufWriter, Write};
use std::path::Path;

/// One column of the output.
pub enum Column<'a> {
    I64(&'a [i64]),
    F64(&'a [f64]),
    /// Values that were float32 in the file, printed as float32.
    F32(&'a [f64]),
    /// Indices into a list of names.
    Names(&'a [u32], &'a [String]),
}

impl Column<'_> {
    fn len(&self) -> usize {
        match self {
            Column::I64(v) => v.len(),
            Column::F64(v) | Column::F32(v) => v.len(),
            Column::Names(c, _) => c.len(),
        }
    }
}

fn quoted(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

fn float(out: &mut Vec<u8>, buf: &mut ryu::Buffer, x: f64, as_f32: bool) {
    if x.is_nan() {
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    let text = if as_f32 {
        buf.format_finite(x as f32)
    } else {
        buf.format_finite(x)
    };
    // ryu writes "1.0" and "1e20"; both read back everywhere.
    out.extend_from_slice(text.as_bytes());
}

/// Writes `header` and the rows of `columns` (all of one length) to `path`; returns the
/// number of rows.
pub fn write_csv(path: &Path, header: &[String], columns: &[Column<'_>]) -> std::io::Result<u64> {
    let rows = columns.first().map_or(0, Column::len);
    if columns.iter().any(|c| c.len() != rows) || header.len() != columns.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "columns of different lengths",
        ));
    }
    let quoted_names: Vec<Vec<String>> = columns
        .iter()
        .map(|c| match c {
            Column::Names(_, names) => names.iter().map(|n| quoted(n)).collect(),
            _ => Vec::new(),
        })
        .collect();
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let head: Vec<String> = header.iter().map(|h| quoted(h)).collect();
    w.write_all(head.join(",").as_bytes())?;
    w.write_all(b"\n")?;
    let mut line = Vec::with_capacity(256);
    let mut buf = ryu::Buffer::new();
    let mut ints = itoa_buffer();
    for r in 0..rows {
        line.clear();
        for (k, c) in columns.iter().enumerate() {
            if k > 0 {
                line.push(b',');
            }
            match c {
                Column::I64(v) => {
                    ints.clear();
                    write!(ints, "{}", v[r])?;
                    line.extend_from_slice(&ints);
                }
                Column::F64(v) => float(&mut line, &mut buf, v[r], false),
                Column::F32(v) => float(&mut line, &mut buf, v[r], true),
                Column::Names(codes, _) => {
                    if let Some(name) = quoted_names[k].get(codes[r] as usize) {
                        line.extend_from_slice(name.as_bytes());
                    }
                }
            }
        }
        line.push(b'\n');
        w.write_all(&line)?;
    }
    w.flush()?;
    Ok(rows as u64)
}

fn itoa_buffer() -> Vec<u8> {
    Vec::with_capacity(24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_numbers_names_and_missing_values() {
        let path = std::env::temp_dir().join(format!("ferroboard-csv-{}", std::process::id()));
        let names = vec!["a".to_owned(), "b,\"c\"".to_owned()];
        let header = vec!["step".to_owned(), "tag".to_owned(), "value".to_owned()];
        let cols = [
            Column::I64(&[0, -5]),
            Column::Names(&[0, 1], &names),
            Column::F32(&[f64::from(0.1f32), f64::NAN]),
        ];
        assert_eq!(write_csv(&path, &header, &cols).unwrap(), 2);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(text, "step,tag,value\n0,a,0.1\n-5,\"b,\"\"c\"\"\",\n");
    }
}
