//! Turning command-line inputs into a list of image files.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// Whether a path has an image extension this project reads (png, jpg, jpeg; any case).
pub fn is_image_path(p: &Path) -> bool {
    p.extension().is_some_and(|e| {
        matches!(
            e.to_string_lossy().to_ascii_lowercase().as_str(),
            "png" | "jpg" | "jpeg"
        )
    })
}

/// Expands inputs: files are taken as they are (whatever their extension, so that a wrong file
/// gets a clear decoding error), folders are searched (not recursively) for PNG and JPEG files
/// in name order. Fails when nothing is left.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("{}: cannot list folder", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image_path(p))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(input.clone());
        }
    }
    if out.is_empty() {
        bail!("no input images found in {inputs:?}");
    }
    Ok(out)
}
