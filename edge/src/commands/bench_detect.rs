//! `lrpo-edge bench-detect`: face detection's time per camera frame and its recall on the
//! face set's labelled photos.
//!
//! Every photo of the source table (`data/face-sources.toml`) is placed in a frame of each
//! size asked for, as a camera would see it: shrunk to fit when it is larger (antialiased),
//! centred on mid-gray. Each labelled face (its `at`, scaled into the frame) counts as found
//! when a detection's landmark centre lies within the table's `match_radius` eye distances of
//! it, each detection matching at most one face; detections matching no label are counted as
//! unmatched (false positives, or faces the table does not label).

use super::common::{DetectorArgs, MAX_THREADS, nearest_rank};
use anyhow::{Context, Result, bail};
use clap::Args;
use lrpo_shared::align::landmarks_centre;
use lrpo_shared::faceset::{SourceTable, photo_path};
use lrpo_shared::onnx::detect::Detection;
use lrpo_shared::onnx::detect::mtcnn::MtcnnTimings;
use ndarray::{Array3, s};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `lrpo-edge bench-detect`.
#[derive(Args, Debug)]
pub struct BenchDetectArgs {
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// The source table listing the photos and their labelled faces.
    #[arg(long, default_value = "data/face-sources.toml")]
    pub sources: PathBuf,
    /// Folder the table's packages are extracted into (`scripts/build-face-set.sh OUT` puts
    /// them in `OUT/sources`).
    #[arg(long, default_value = "runs/face-set/sources")]
    pub photos: PathBuf,
    /// Frame sizes, `WIDTHxHEIGHT`, comma-separated.
    #[arg(
        long,
        default_value = "640x480,1280x720,1920x1080",
        value_delimiter = ','
    )]
    pub frame: Vec<String>,
    /// Threads for tract's matrix products.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Timed detections per photo and frame size (the median is kept), after one untimed one.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Print one line per photo and frame size (time per stage, candidates, faces found).
    #[arg(long)]
    pub per_photo: bool,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One frame size's results.
#[derive(Debug, Serialize)]
pub struct FrameResult {
    /// Frame width and height in pixels.
    pub frame: [usize; 2],
    /// Photos placed in the frame.
    pub photos: usize,
    /// Median over photos of the per-photo median detection time (ms).
    pub median_ms: f64,
    /// 90th percentile over photos (ms).
    pub p90_ms: f64,
    /// Largest per-photo median (ms).
    pub max_ms: f64,
    /// Median over photos of each stage's time (ms): convert, pyramid, P-Net, R-Net, O-Net.
    pub stage_ms: [f64; 5],
    /// Median over photos of the candidates kept after P-Net and after R-Net.
    pub candidates: [f64; 2],
    /// Labelled faces, and how many were found.
    pub labelled: usize,
    /// Labelled faces found.
    pub found: usize,
    /// Detections that match no labelled face.
    pub unmatched: usize,
    /// Eye distance (px, in the frame) of every labelled face that was missed.
    pub missed_eye_px: Vec<f64>,
}

fn parse_frame(s: &str) -> Result<[usize; 2]> {
    let (w, h) = s
        .split_once('x')
        .with_context(|| format!("--frame {s:?} is not WIDTHxHEIGHT"))?;
    let (w, h): (usize, usize) = (
        w.trim().parse().with_context(|| format!("--frame {s:?}"))?,
        h.trim().parse().with_context(|| format!("--frame {s:?}"))?,
    );
    if !(12..=8192).contains(&w) || !(12..=8192).contains(&h) {
        bail!("--frame {s:?}: each side must be 12-8192 px");
    }
    Ok([w, h])
}

/// The photo shrunk to fit `[w, h]` (never enlarged) and centred on mid-gray; returns the
/// frame, the scale per axis and the offset applied to photo coordinates.
fn place(photo: &Array3<f32>, [w, h]: [usize; 2]) -> Result<(Array3<f32>, [f64; 2], [f64; 2])> {
    let (ph, pw) = (photo.shape()[1], photo.shape()[2]);
    let scale = (w as f64 / pw as f64).min(h as f64 / ph as f64).min(1.0);
    let small;
    let img = if scale < 1.0 {
        let (nw, nh) = (
            ((pw as f64 * scale).round() as usize).clamp(1, w),
            ((ph as f64 * scale).round() as usize).clamp(1, h),
        );
        small = lrpo_shared::resize::resize_antialiased(&photo.view(), nh, nw)?
            .mapv(|v| v.clamp(0.0, 1.0));
        &small
    } else {
        photo
    };
    let (ih, iw) = (img.shape()[1], img.shape()[2]);
    let (ox, oy) = ((w - iw) / 2, (h - ih) / 2);
    let mut frame = Array3::<f32>::from_elem((3, h, w), 0.5);
    frame
        .slice_mut(s![.., oy..oy + ih, ox..ox + iw])
        .assign(img);
    // Photo pixel centres map to frame pixel centres through the resize's geometry.
    let scale = [iw as f64 / pw as f64, ih as f64 / ph as f64];
    Ok((frame, scale, [ox as f64, oy as f64]))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn quantile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    nearest_rank(v, p)
}

/// Greedy matching of labelled centres to detections; returns (found, unmatched detections,
/// indices of missed labels).
fn match_faces(labels: &[[f64; 2]], dets: &[Detection], radius: f64) -> (usize, usize, Vec<usize>) {
    let mut used = vec![false; dets.len()];
    let mut missed = Vec::new();
    let mut found = 0;
    for (i, at) in labels.iter().enumerate() {
        let best = dets
            .iter()
            .enumerate()
            .filter(|(k, _)| !used[*k])
            .map(|(k, d)| {
                let c = landmarks_centre(&d.landmarks);
                (
                    k,
                    (c[0] - at[0]).hypot(c[1] - at[1]),
                    radius * d.eye_distance().max(1.0),
                )
            })
            .filter(|(_, dist, lim)| dist <= lim)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((k, _, _)) => {
                used[k] = true;
                found += 1;
            }
            None => missed.push(i),
        }
    }
    (found, used.iter().filter(|u| !**u).count(), missed)
}

/// Runs the benchmark and prints one line per frame size.
pub fn run(args: &BenchDetectArgs) -> Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if args.threads == 0 || args.threads > MAX_THREADS {
        bail!(
            "--threads must be in 1..={MAX_THREADS}, got {}",
            args.threads
        );
    }
    lrpo_edge::threads::set_threads(args.threads);
    let frames: Vec<[usize; 2]> = args
        .frame
        .iter()
        .map(|f| parse_frame(f))
        .collect::<Result<_>>()?;
    let mtcnn = args.detector.load_mtcnn()?;
    let table = SourceTable::load(&args.sources)?;
    let mut photos = Vec::new();
    for pkg in &table.package {
        for ph in &pkg.photo {
            let path = photo_path(&args.photos, pkg, ph);
            let img = lrpo_shared::image::load_rgb(&path).with_context(|| {
                format!(
                    "photo of the source table {} (build the face set with scripts/build-face-set.sh, or pass --photos)",
                    args.sources.display()
                )
            })?;
            let labels: Vec<[f64; 2]> = ph.face.iter().map(|f| f.at).collect();
            photos.push((path, img, labels));
        }
    }
    if photos.is_empty() {
        bail!(
            "the source table {} lists no photos",
            args.sources.display()
        );
    }
    let radius = table.accept.match_radius;
    let mut results = Vec::new();
    let mut out = std::io::stdout().lock();
    for &frame in &frames {
        let (mut per_photo, mut stages) = (Vec::new(), vec![Vec::new(); 5]);
        let mut cands = [Vec::new(), Vec::new()];
        let (mut labelled, mut found, mut unmatched, mut missed_eye_px) = (0, 0, 0, Vec::new());
        for (path, img, labels) in &photos {
            let (f, scale, [ox, oy]) = place(img, frame)
                .with_context(|| format!("placing {} in a frame", path.display()))?;
            let at: Vec<[f64; 2]> = labels
                .iter()
                .map(|p| {
                    [
                        (p[0] + 0.5) * scale[0] - 0.5 + ox,
                        (p[1] + 0.5) * scale[1] - 0.5 + oy,
                    ]
                })
                .collect();
            let (dets, first) = mtcnn.detect_timed(&f.view())?;
            cands[0].push(first.candidates[0] as f64);
            cands[1].push(first.candidates[1] as f64);
            let mut times: Vec<MtcnnTimings> = Vec::new();
            for _ in 0..args.runs {
                times.push(mtcnn.detect_timed(&f.view())?.1);
            }
            per_photo.push(median(
                &mut times.iter().map(MtcnnTimings::total_ms).collect::<Vec<_>>(),
            ));
            for (k, st) in stages.iter_mut().enumerate() {
                st.push(median(
                    &mut times
                        .iter()
                        .map(|t| [t.convert_ms, t.pyramid_ms, t.pnet_ms, t.rnet_ms, t.onet_ms][k])
                        .collect::<Vec<_>>(),
                ));
            }
            let (n_found, n_unmatched, missed) = match_faces(&at, &dets, radius);
            if args.per_photo {
                let t = &times[times.len() / 2];
                writeln!(
                    out,
                    "  {}: {:.1} ms (pyramid {:.1}, P-Net {:.1}, R-Net {:.1}, O-Net {:.1}; {} levels, {:?} candidates); {n_found}/{} found, {n_unmatched} unmatched",
                    path.display(),
                    per_photo[per_photo.len() - 1],
                    t.pyramid_ms,
                    t.pnet_ms,
                    t.rnet_ms,
                    t.onet_ms,
                    t.levels,
                    first.candidates,
                    at.len()
                )?;
            }
            labelled += at.len();
            found += n_found;
            unmatched += n_unmatched;
            // The photo's own eye distance is unknown for a missed face; its detection at the
            // photo's full size (once per photo) gives it, or nothing when that misses it too.
            if !missed.is_empty() {
                let own = mtcnn.detect_timed(&img.view())?.0;
                for i in missed {
                    let eye = own
                        .iter()
                        .find(|d| {
                            let c = landmarks_centre(&d.landmarks);
                            (c[0] - labels[i][0]).hypot(c[1] - labels[i][1])
                                <= radius * d.eye_distance()
                        })
                        .map_or(f64::NAN, |d| d.eye_distance() * scale[0]);
                    missed_eye_px.push(eye);
                }
            }
        }
        let stage_ms: [f64; 5] = std::array::from_fn(|k| median(&mut stages[k]));
        let r = FrameResult {
            frame,
            photos: photos.len(),
            median_ms: median(&mut per_photo),
            p90_ms: quantile(&mut per_photo, 0.9),
            max_ms: quantile(&mut per_photo, 1.0),
            stage_ms,
            candidates: [median(&mut cands[0]), median(&mut cands[1])],
            labelled,
            found,
            unmatched,
            missed_eye_px,
        };
        writeln!(
            out,
            "{}x{}, {} thread(s), {}: median {:.1} ms, p90 {:.1} ms, max {:.1} ms over {} photos (convert {:.1}, pyramid {:.1}, P-Net {:.1}, R-Net {:.1}, O-Net {:.1}; {} and {} candidates); found {}/{} labelled faces, {} unmatched detections; missed faces' eye distance in the frame {:?} px",
            frame[0],
            frame[1],
            args.threads,
            lrpo_shared::onnx::detect::FaceDetector::name(&mtcnn),
            r.median_ms,
            r.p90_ms,
            r.max_ms,
            r.photos,
            stage_ms[0],
            stage_ms[1],
            stage_ms[2],
            stage_ms[3],
            stage_ms[4],
            r.candidates[0],
            r.candidates[1],
            r.found,
            r.labelled,
            r.unmatched,
            r.missed_eye_px
                .iter()
                .map(|v| (v * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        )?;
        results.push(r);
    }
    if let Some(p) = &args.json {
        let doc = serde_json::json!({
            "detector": lrpo_shared::onnx::detect::FaceDetector::name(&mtcnn),
            "config": mtcnn.config(),
            "threads": args.threads,
            "runs": args.runs,
            "sources": args.sources,
            "frames": results,
        });
        lrpo_shared::fsio::write_atomic(p, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
