//! Turning command-line inputs into a list of image files.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;

pub use lrpo_shared::image::is_image_path;

/// Whether `name` matches a glob `pattern` with `*` (any run of characters) and `?` (one
/// character).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative matcher with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    while i < p.len() && p[i] == '*' {
        i += 1;
    }
    i == p.len()
}

/// Expands inputs: files are taken as they are (whatever their extension, so that a wrong file
/// gets a clear decoding error), folders are searched (not recursively) for PNG and JPEG files
/// in name order, and a file name with `*` or `?` (quoted, so the shell leaves it) matches the
/// files of its folder. A folder without images is reported on stderr. Fails when nothing is
/// left.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !input.exists() && (name.contains('*') || name.contains('?')) {
            let dir = match input.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .with_context(|| {
                    format!("{}: cannot list folder for pattern {name:?}", dir.display())
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.file_name()
                            .is_some_and(|f| glob_match(&name, &f.to_string_lossy()))
                })
                .collect();
            files.sort();
            if files.is_empty() {
                bail!("{}: no file matches", input.display());
            }
            out.extend(files);
        } else if input.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("{}: cannot list folder", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image_path(p))
                .collect();
            files.sort();
            if files.is_empty() {
                say!(
                    "warning: {}: a folder without PNG or JPEG files (nothing taken from it)",
                    input.display()
                );
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.jpg", "obama.jpg"));
        assert!(glob_match("obama?.jpg", "obama2.jpg"));
        assert!(!glob_match("obama?.jpg", "obama.jpg"));
        assert!(glob_match("*a*e*", "grace_hopper"));
        assert!(!glob_match("*.png", "a.jpg"));
        assert!(glob_match("*", ""));
    }
}
