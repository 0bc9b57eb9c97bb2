//! Building a face set from a source table (see `lrpo_shared::faceset`): detect every face of
//! every listed photo (MTCNN), match it to the table's labelled faces, reject the unusable ones
//! with a reason, align the rest to the FFHQ template at the largest side the face supports,
//! and write the crops with a manifest (`faces.json`) that holds identity-disjoint splits.
//!
//! Crop side: `accept.max_size` (512) unless that would upsample the photo by more than
//! `accept.max_upsample` (1.5×); then the largest multiple of 8 that does not. The face region
//! checked for being cut off by the photo's edge is the box x ∈ [160, 352], y ∈ [176, 432] of
//! the 512-px template (brows to chin), sampled on a 16 × 16 grid.
//!
//! With a face-descriptor network the labels are cross-checked (never changed): pairs of faces
//! from different photos whose label and descriptor distance disagree (different labels closer
//! than 0.6, or one label farther) are listed in the manifest's `label_checks` for a person to
//! look at.

use crate::error::{Error, Result};
use lrpo_shared::align::{Border, Interp, face_to_crop, landmarks_centre, warp_to_crop};
use lrpo_shared::faceset::{
    FaceEntry, LabelCheck, MANIFEST_FILE, MANIFEST_VERSION, Manifest, SourceTable, assign_splits,
    crop_file_name, photo_path,
};
use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_shared::onnx::detect::{Detection, FaceDetector};
use lrpo_shared::onnx::identity::{FaceDescriptor, SAME_PERSON_DISTANCE, distance};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;

/// Fraction of the template's face region (brows to chin) that maps outside a `w × h` photo.
pub fn outside_fraction(d: &Detection, w: usize, h: usize) -> Result<f64> {
    let inv = face_to_crop(&d.landmarks, 512)?.inverse()?;
    let n = 16;
    let mut out = 0;
    for i in 0..n {
        for j in 0..n {
            let u = 160.0 + 192.0 * (i as f64 + 0.5) / n as f64;
            let v = 176.0 + 256.0 * (j as f64 + 0.5) / n as f64;
            let [x, y] = inv.apply([u, v]);
            if x < 0.0 || y < 0.0 || x > w as f64 - 1.0 || y > h as f64 - 1.0 {
                out += 1;
            }
        }
    }
    Ok(out as f64 / (n * n) as f64)
}

/// Crop side for a face: `max_size`, or the largest multiple of 8 whose upsampling of the photo
/// stays within `max_upsample`. Returns the side and its upsampling factor.
pub fn crop_side(d: &Detection, max_size: usize, max_upsample: f64) -> Result<(usize, f64)> {
    let s_max = face_to_crop(&d.landmarks, max_size)?.scale();
    if s_max <= max_upsample {
        return Ok((max_size, s_max));
    }
    let side = ((max_size as f64 * max_upsample / s_max) as usize / 8 * 8).max(8);
    Ok((side, face_to_crop(&d.landmarks, side)?.scale()))
}

fn centre(d: &Detection) -> [f64; 2] {
    landmarks_centre(&d.landmarks)
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read", e))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Builds the face set of `table` (read from `table_path`) with photos under `root`
/// (`ROOT/NAME@VERSION/PATH`) into `out`: crops, then `out/faces.json`. Fails, after writing
/// nothing, when a listed photo is missing or unreadable or a labelled face is not found.
pub fn build(
    table: &SourceTable,
    table_path: &Path,
    root: &Path,
    detector: &dyn FaceDetector,
    descriptor: Option<&FaceDescriptor>,
    out: &Path,
) -> Result<Manifest> {
    let acc = &table.accept;
    let mut faces: Vec<FaceEntry> = Vec::new();
    let mut crops = Vec::new();
    let mut problems = Vec::new();
    for pkg in &table.package {
        for photo in &pkg.photo {
            let path = photo_path(root, pkg, photo);
            let img = match load_rgb(&path) {
                Ok(i) => i,
                Err(e) => {
                    problems.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            let (_, h, w) = img.dim();
            let dets = detector.detect(&img.view())?;
            // Match labelled faces to detections, closest pairs first.
            let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
            for (fi, f) in photo.face.iter().enumerate() {
                for (di, d) in dets.iter().enumerate() {
                    let c = centre(d);
                    let dist = (c[0] - f.at[0]).hypot(c[1] - f.at[1]);
                    if dist <= acc.match_radius * d.eye_distance().max(1.0) {
                        pairs.push((dist, fi, di));
                    }
                }
            }
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut face_of_det: Vec<Option<usize>> = vec![None; dets.len()];
            let mut matched = vec![false; photo.face.len()];
            for (_, fi, di) in pairs {
                if !matched[fi] && face_of_det[di].is_none() {
                    matched[fi] = true;
                    face_of_det[di] = Some(fi);
                }
            }
            for (fi, m) in matched.iter().enumerate() {
                if !m {
                    let f = &photo.face[fi];
                    problems.push(format!(
                        "{}: labelled face {:?} at ({:.0}, {:.0}) was not detected (detections at {})",
                        path.display(),
                        f.identity,
                        f.at[0],
                        f.at[1],
                        dets.iter()
                            .map(|d| {
                                let c = centre(d);
                                format!("({:.0}, {:.0})", c[0], c[1])
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            // In left-to-right order, so that face numbers read like the photo.
            let mut order: Vec<usize> = (0..dets.len()).collect();
            order.sort_by(|&a, &b| centre(&dets[a])[0].total_cmp(&centre(&dets[b])[0]));
            for (k, &di) in order.iter().enumerate() {
                let d = &dets[di];
                let label = face_of_det[di].map(|fi| &photo.face[fi]);
                let outside = outside_fraction(d, w, h)?;
                let reason = match label {
                    Some(f) if f.reject.is_some() => f.reject.clone(),
                    _ if d.eye_distance() < acc.min_eye_distance => {
                        Some(format!("eye distance under {:.0} px", acc.min_eye_distance))
                    }
                    None => Some("not in the source table".to_string()),
                    Some(_) if outside > acc.max_outside => {
                        Some("cut off by the photo's edge".to_string())
                    }
                    Some(_) => None,
                };
                let mut e = FaceEntry {
                    file: None,
                    package: pkg.id(),
                    source_path: photo.path.clone(),
                    licence: photo.licence.clone().unwrap_or_else(|| pkg.licence.clone()),
                    identity: label.map(|f| f.identity.clone()),
                    bbox: d.bbox,
                    score: d.score,
                    landmarks: d.landmarks,
                    eye_distance: d.eye_distance(),
                    outside,
                    crop_size: None,
                    upsample: None,
                    sha256: None,
                    accepted: reason.is_none(),
                    reason,
                    split: None,
                };
                if e.accepted {
                    let (side, up) = crop_side(d, acc.max_size, acc.max_upsample)?;
                    let t = face_to_crop(&d.landmarks, side)?;
                    let crop =
                        warp_to_crop(&img.view(), &t, side, Interp::Bicubic, Border::Replicate)?;
                    let name = crop_file_name(&pkg.id(), &photo.path, k);
                    e.file = Some(name.clone());
                    e.crop_size = Some(side);
                    e.upsample = Some(up);
                    crops.push((faces.len(), name, crop));
                }
                faces.push(e);
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::data(
            table_path,
            format!(
                "{} problem(s) with the source table:\n  {}",
                problems.len(),
                problems.join("\n  ")
            ),
        ));
    }
    let train_only: BTreeSet<String> = table
        .package
        .iter()
        .filter(|p| p.train_only)
        .map(|p| p.id())
        .collect();
    let (mut dealt, mut train_only_ids) = (Vec::new(), Vec::new());
    for f in faces.iter().filter(|f| f.accepted) {
        if let Some(id) = &f.identity {
            if train_only.contains(&f.package) {
                train_only_ids.push(id.clone());
            } else {
                dealt.push(id.clone());
            }
        }
    }
    let splits = assign_splits(&dealt, &train_only_ids, &table.split)
        .map_err(|e| Error::data(table_path, format!("splitting identities: {e}")))?;
    // A check of the labels, not a source of them: faces of different photos labelled as
    // different people whose descriptors say "same person" (or the other way round).
    let mut label_checks = Vec::new();
    if let Some(net) = descriptor {
        let views: Vec<_> = crops.iter().map(|(_, _, c)| c.view()).collect();
        let d = net.describe_crops(&views)?;
        for i in 0..crops.len() {
            for j in i + 1..crops.len() {
                let (fi, fj) = (&faces[crops[i].0], &faces[crops[j].0]);
                let dist = distance(&d[i], &d[j]);
                let same = fi.identity == fj.identity;
                let other_photo = (&fi.package, &fi.source_path) != (&fj.package, &fj.source_path);
                if other_photo && same != (dist < SAME_PERSON_DISTANCE) {
                    label_checks.push(LabelCheck {
                        a: crops[i].1.clone(),
                        b: crops[j].1.clone(),
                        same_label: same,
                        distance: dist,
                    });
                }
            }
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, "cannot create", e))?;
    for (i, name, crop) in crops {
        let dst = out.join(&name);
        save_rgb(&dst, &crop.view())?;
        let f = &mut faces[i];
        f.sha256 = Some(sha256_file(&dst)?);
        f.split = f.identity.as_deref().and_then(|id| splits.of(id));
    }
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        sources: table_path.display().to_string(),
        split: table.split.clone(),
        accept: table.accept.clone(),
        splits,
        faces,
        label_checks,
    };
    lrpo_shared::fsio::write_atomic(
        &out.join(MANIFEST_FILE),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lrpo_shared::align::ffhq_template;

    fn template_face() -> Detection {
        let lm = ffhq_template(512);
        Detection {
            bbox: [150.0, 150.0, 360.0, 440.0],
            score: 1.0,
            landmarks: lm,
        }
    }

    #[test]
    fn the_outside_fraction_counts_grid_samples_past_the_edge() {
        let d = template_face();
        assert_eq!(outside_fraction(&d, 512, 512).unwrap(), 0.0);
        // Face region x ∈ [160, 352] sampled at 166, 178, …, 346: those past x = 299 are
        // 310, 322, 334, 346, i.e. 4 of 16 columns.
        assert_eq!(outside_fraction(&d, 300, 512).unwrap(), 0.25);
        // Region y ∈ [176, 432] at 184, 200, …, 424: past y = 399 are 408 and 424, 2 of 16 rows.
        assert_eq!(outside_fraction(&d, 512, 400).unwrap(), 0.125);
    }

    #[test]
    fn the_crop_side_is_the_largest_within_the_upsampling_limit() {
        // Landmarks of the 512 template halved: a 512 crop upsamples 2×, beyond 1.5×.
        let mut d = template_face();
        for p in d.landmarks.iter_mut() {
            p[0] *= 0.5;
            p[1] *= 0.5;
        }
        let (side, up) = crop_side(&d, 512, 1.5).unwrap();
        assert_eq!(side, 384);
        assert!((up - 1.5).abs() < 1e-9);
        let (side, up) = crop_side(&template_face(), 512, 1.5).unwrap();
        assert_eq!(side, 512);
        assert!((up - 1.0).abs() < 1e-9);
    }
}
