//! One `add_embedding` call: planned by the caller, its files written by the embedding thread.

use super::*;

/// One `add_embedding` call, validated and copied by the caller.
pub struct EmbeddingJob {
    /// `{logdir}/{subdir}`, created by the caller.
    pub dir: PathBuf,
    pub logdir: PathBuf,
    /// `(N, D)`.
    pub mat: RawArray,
    /// The whole `metadata.tsv`.
    pub metadata: Option<Vec<u8>>,
    pub label_img: Option<(RawArray, SpriteLayout)>,
    /// This embedding's config entry (its tensor file decided by [`EmbeddingJob::plan`]).
    pub info: EmbeddingInfo,
    /// Every entry of the config to write afterwards, this one last.
    pub config: Vec<EmbeddingInfo>,
}

impl EmbeddingJob {
    /// Checks that `mat` is `(N, D)`.
    pub fn check_mat(mat: &RawArray) -> Result<(), FerroError> {
        if mat.shape.len() != 2 {
            return Err(FerroError::InvalidArgument(format!(
                "mat must be 2-D (N, D), got shape {:?}",
                mat.shape
            )));
        }
        Ok(())
    }

    /// The sprite of `label_img` for the `(N, D)` `mat`: one image per data point.
    pub fn sprite_layout(mat: &RawArray, label_img: &RawArray) -> Result<SpriteLayout, FerroError> {
        let layout = SpriteLayout::new(&label_img.shape)?;
        let n = mat.shape.first().copied().unwrap_or(0);
        if layout.n as i64 != n {
            return Err(FerroError::InvalidArgument(format!(
                "label_img must have one image per data point: {} images for {n} points",
                layout.n
            )));
        }
        Ok(layout)
    }

    /// The config entry of an embedding in `subdir` (relative to the logdir), with a
    /// binary tensor file only if asked and readable as such.
    pub fn plan(
        subdir: &str,
        tensor_name: String,
        mat: &RawArray,
        binary: bool,
        has_metadata: bool,
        sprite: Option<&SpriteLayout>,
    ) -> EmbeddingInfo {
        let rel = |name: &str| format!("{subdir}{MAIN_SEPARATOR_STR}{name}");
        let (n, d) = matrix_dims(mat);
        let binary = binary && binary_readable(mat);
        EmbeddingInfo {
            tensor_name,
            metadata_path: if has_metadata {
                rel("metadata.tsv")
            } else {
                String::new()
            },
            tensor_shape: if binary {
                vec![n as u64, d as u64]
            } else {
                Vec::new()
            },
            sprite: sprite.map(|l| (rel("sprite.png"), [l.width as u64, l.height as u64])),
            tensor_path: rel(if binary {
                "tensors.bytes"
            } else {
                "tensors.tsv"
            }),
        }
    }

    pub fn cost(&self) -> usize {
        self.mat.nbytes()
            + self.metadata.as_ref().map_or(0, Vec::len)
            + self.label_img.as_ref().map_or(0, |(a, _)| a.nbytes())
    }

    /// Writes the files of this embedding, then the config.
    pub fn run(self) -> Result<(), FerroError> {
        let dir = &self.dir;
        if let Some(metadata) = &self.metadata {
            write_file(&dir.join("metadata.tsv"), metadata)?;
        }
        if let Some((img, layout)) = &self.label_img {
            let png = sprite_png(img, layout)?;
            write_file(&dir.join("sprite.png"), &png)?;
        }
        if self.info.tensor_shape.is_empty() {
            let path = dir.join("tensors.tsv");
            let file = std::fs::File::create(&path).map_err(|e| io_error(&path, e))?;
            let mut sink = std::io::BufWriter::with_capacity(1 << 20, file);
            write_tsv(&self.mat, &mut sink)
                .and_then(|()| sink.flush())
                .map_err(|e| io_error(&path, e))?;
        } else {
            write_file(&dir.join("tensors.bytes"), &binary_bytes(&self.mat)?)?;
        }
        write_config(&self.logdir, &self.config)
    }
}
