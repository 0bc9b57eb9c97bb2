//! Arguments shared by the commands that run a policy.

use anyhow::{Context, Result, bail};
use clap::Args;
use lrpo_edge::models::{DEFAULT_POLICY, DEFAULT_POLICY_F32, DETECTOR_DIR, faster_of};
use lrpo_edge::pipeline::{Pipeline, PipelineOptions};
use lrpo_edge::runtime::{Policy, SamplerOptions};
use lrpo_shared::onnx::detect::FaceDetector;
use lrpo_shared::onnx::detect::mtcnn::{Mtcnn, MtcnnConfig};
use std::path::{Path, PathBuf};

/// The `p` quantile (0–1, nearest rank) of `sorted` (ascending); NaN when it is empty.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    match sorted.len().checked_sub(1) {
        Some(last) => sorted[(last as f64 * p.clamp(0.0, 1.0)).round() as usize],
        None => f64::NAN,
    }
}

/// The shipped model folder, relative to the working folder or to the executable's folder.
pub const MODELS_DIR: &str = "models";

/// The path of file `name` of the shipped model folder, relative (see [`locate`]).
pub fn shipped(name: &str) -> String {
    format!("{MODELS_DIR}/{name}")
}

/// Most threads `--threads` accepts (more only oversubscribes a camera board's cores).
pub const MAX_THREADS: usize = 64;

/// Finds a shipped file: beside the executable or up to two folders above it first (a binary
/// copied to a board next to its `models/` folder, or run from `target/release/` in a
/// checkout), and only then relative to the working folder, so that a `models/` folder in
/// whatever folder the tool is run from cannot stand in for the shipped one.
pub fn locate(rel: &str) -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        .and_then(|exe_dir| {
            [
                exe_dir.join(rel),
                exe_dir.join("..").join(rel),
                exe_dir.join("../..").join(rel),
            ]
            .into_iter()
            .find(|c| c.exists())
            .map(|c| c.canonicalize().unwrap_or(c))
        });
    beside.or_else(|| Some(PathBuf::from(rel)).filter(|p| p.exists()))
}

/// Which policy to run and how.
#[derive(Args, Debug, Clone)]
pub struct PolicyArgs {
    /// Restoration policy (ONNX, with its `.card` beside it). Default: the shipped
    /// `models/gt_student_int8.onnx` (or its f32 twin, whichever is faster here), looked up
    /// beside the executable and up to two folders above it, then in the working folder.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Threads: for tract's matrix products, and for restoring a frame's faces at the same
    /// time (one face per thread).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// DDIM steps for ε-model policies (default: the card's).
    #[arg(long)]
    pub steps: Option<usize>,
    /// DDIM η for ε-model policies (default: the card's).
    #[arg(long)]
    pub eta: Option<f64>,
    /// Seed of ε-model sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl PolicyArgs {
    /// Applies the thread count and loads the policy.
    pub fn load(&self) -> Result<Policy> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if self.threads == 0 || self.threads > MAX_THREADS {
            bail!(
                "--threads must be in 1..={MAX_THREADS}, got {} (this machine has {cores} cores)",
                self.threads
            );
        }
        lrpo_edge::threads::set_threads(self.threads);
        let sampler = SamplerOptions {
            steps: self.steps,
            eta: self.eta,
            seed: self.seed,
        };
        match &self.model {
            Some(p) => Ok(Policy::load(p, sampler)?),
            None => {
                let rel = shipped(DEFAULT_POLICY);
                let int8 = locate(&rel).with_context(|| format!("the default policy {rel} was not found (looked next to the executable and in the working folder); pass --model"))?;
                let int8 = Policy::load(&int8, sampler)?;
                let Some(f32) = locate(&shipped(DEFAULT_POLICY_F32)) else {
                    return Ok(int8);
                };
                let (win, c) = faster_of(int8, Policy::load(&f32, sampler)?)?;
                say!(
                    "default policy: {} ({:.1} ms per {} px face on this CPU; {} takes {:.1} ms)",
                    win.model_path().display(),
                    c.chosen_ms,
                    c.side,
                    c.other.display(),
                    c.other_ms
                );
                Ok(win)
            }
        }
    }
}

/// Face detection settings.
#[derive(Args, Debug, Clone)]
pub struct DetectorArgs {
    /// Folder holding the MTCNN models (`pnet.onnx`, `rnet.onnx`, `onet.onnx`). Default: the
    /// shipped `models/mtcnn`.
    #[arg(long)]
    pub detector: Option<PathBuf>,
    /// Smallest face to detect: pixels, or `auto` (20 px or a tenth of the frame's shorter
    /// side, whichever is larger: detection's cost falls with the square of this). Default:
    /// `auto` for `stream` (camera frames), 20 for stills.
    #[arg(long)]
    pub min_face: Option<String>,
    /// Confidence a face needs (0–1).
    #[arg(long, default_value_t = 0.95)]
    pub min_confidence: f64,
    /// Longest side (px) of the frame the detector sees: larger frames are shrunk for
    /// detection (faces are still restored from the full frame), which bounds detection's time
    /// and memory on large photos; `off` detects on the full frame (finds smaller faces in
    /// large photos, at their cost). Default 1600
    /// (`lrpo_edge::pipeline::DEFAULT_DETECT_MAX_SIDE`).
    #[arg(long)]
    pub detect_max_side: Option<String>,
}

impl DetectorArgs {
    /// The value of `--detect-max-side`: absent → the default, `off` → none, else a side of
    /// 48–16384 px.
    pub fn detect_max_side(&self) -> Result<Option<usize>> {
        Ok(match self.detect_max_side.as_deref() {
            None => Some(lrpo_edge::pipeline::DEFAULT_DETECT_MAX_SIDE),
            Some("off") => None,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (48..=16384).contains(&n) => Some(n),
                _ => bail!("--detect-max-side must be a side of 48-16384 px or off, got {v:?}"),
            },
        })
    }

    /// Loads the detector; `camera`: for camera frames (see [`DetectorArgs::load_mtcnn_for`]).
    pub fn load(&self, camera: bool) -> Result<Box<dyn FaceDetector>> {
        Ok(Box::new(self.load_mtcnn_for(camera)?))
    }

    /// Loads MTCNN (the detector [`DetectorArgs::load`] gives), for stills.
    pub fn load_mtcnn(&self) -> Result<Mtcnn> {
        self.load_mtcnn_for(false)
    }

    /// Loads MTCNN; `camera`: the smallest face defaults to `auto` instead of 20 px.
    pub fn load_mtcnn_for(&self, camera: bool) -> Result<Mtcnn> {
        let auto = (
            20.0,
            Some(lrpo_shared::onnx::detect::mtcnn::CAMERA_MIN_FACE_FRACTION),
        );
        let (min_face, min_face_fraction) = match self.min_face.as_deref() {
            None if camera => auto,
            None => (20.0, None),
            Some("auto") => auto,
            Some(v) => match v.parse::<f64>() {
                Ok(px) if (12.0..=8192.0).contains(&px) => (px, None),
                _ => bail!("--min-face must be a size of 12-8192 px or auto, got {v:?}"),
            },
        };
        let dir = match &self.detector {
            Some(p) => p.clone(),
            None => {
                let rel = shipped(DETECTOR_DIR);
                locate(&rel).with_context(|| {
                    format!("the detector folder {rel} was not found; pass --detector")
                })?
            }
        };
        let config = MtcnnConfig {
            min_face,
            min_face_fraction,
            min_confidence: self.min_confidence,
            ..MtcnnConfig::default()
        };
        Ok(Mtcnn::load(&dir, config)?)
    }
}

/// What a pipeline is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Aligned face crops: no detector.
    Aligned,
    /// Photos: the detector looks for faces down to 20 px by default.
    Stills,
    /// Camera frames: the smallest face defaults to a tenth of the frame's shorter side.
    Camera,
}

/// Face selection and blending.
#[derive(Args, Debug, Clone)]
pub struct FaceArgs {
    /// Restore only the face closest to the image centre.
    #[arg(long)]
    pub only_center_face: bool,
    /// Restore at most N faces per image (most confident first).
    #[arg(long)]
    pub max_faces: Option<usize>,
    /// Soft edge of the paste-back mask, as a fraction of the crop side (0–0.5).
    #[arg(long, default_value_t = 0.1)]
    pub feather: f64,
    /// Where a restored face is pasted: `face` (an ellipse around the face, feathered: the
    /// edge follows the face) or `square` (the whole aligned crop, feathered at its edges).
    #[arg(long, default_value = "face")]
    pub mask: String,
    /// Detail gate in dB: a face larger than the policy's size whose shrink-and-enlarge round
    /// trip through that size scores at least this PSNR holds no finer detail and is restored
    /// at the policy's size; one that scores below holds detail the policy would blur and is
    /// left unchanged (reported). `off` restores every face (at its own side when the policy
    /// takes any side). Default 41.5 (`lrpo_edge::pipeline::DEFAULT_DETAIL_GATE_DB`).
    #[arg(long)]
    pub detail_gate: Option<String>,
    /// Upscale the output N times (1, 2 or 4): the frame is enlarged (bicubic) and every face
    /// restored at its enlarged size, so small faces come out larger and sharper.
    #[arg(long, default_value_t = 1)]
    pub upscale: usize,
}

impl FaceArgs {
    /// The pipeline options.
    pub fn options(&self) -> Result<PipelineOptions> {
        if !(self.feather > 0.0 && self.feather <= 0.5) {
            bail!("--feather must be in (0, 0.5], got {}", self.feather);
        }
        let detail_gate = parse_detail_gate(self.detail_gate.as_deref())?;
        let mask = match self.mask.as_str() {
            "face" => lrpo_shared::align::MaskShape::Face,
            "square" => lrpo_shared::align::MaskShape::Square,
            other => bail!("--mask must be face or square, got {other:?}"),
        };
        Ok(PipelineOptions {
            only_center_face: self.only_center_face,
            max_faces: self.max_faces,
            feather: self.feather,
            mask,
            detail_gate,
            upscale: lrpo_edge::pipeline::check_upscale(self.upscale)?,
            ..PipelineOptions::default()
        })
    }
}

/// The value of `--detail-gate`: absent → the default, `off` → no gate, else a PSNR in dB.
pub fn parse_detail_gate(arg: Option<&str>) -> Result<Option<f64>> {
    Ok(match arg {
        None => Some(lrpo_edge::pipeline::DEFAULT_DETAIL_GATE_DB),
        Some("off") => None,
        Some(v) => match v.parse::<f64>() {
            Ok(db) if db.is_finite() && db > 0.0 => Some(db),
            _ => bail!("--detail-gate must be a PSNR in dB (> 0) or off, got {v:?}"),
        },
    })
}

/// Builds a pipeline; the detector is skipped when `aligned`.
pub fn pipeline(
    policy_args: &PolicyArgs,
    detector_args: &DetectorArgs,
    faces: &FaceArgs,
    input: Input,
) -> Result<Pipeline> {
    let policy = policy_args.load()?;
    let detector = match input {
        Input::Aligned => None,
        Input::Stills => Some(detector_args.load(false)?),
        Input::Camera => Some(detector_args.load(true)?),
    };
    Ok(Pipeline {
        policy,
        detector,
        options: PipelineOptions {
            detect_max_side: detector_args.detect_max_side()?,
            // A frame's faces are restored on as many threads as `--threads` allows.
            face_workers: policy_args.threads,
            ..faces.options()?
        },
    })
}

/// Keeps a run from overwriting its own inputs or one of its own earlier outputs: every output
/// path is claimed before it is written, and a claim on an input file, or on a path another
/// input already claimed (`a/face.png` and `b/face.jpg` both giving `OUT/face.png`), is refused
/// with both names.
#[derive(Debug, Default)]
pub struct OutputGuard {
    inputs: std::collections::BTreeSet<PathBuf>,
    claimed: std::collections::BTreeMap<PathBuf, PathBuf>,
}

/// The absolute, symlink-resolved form of a path that may not exist yet (its folder resolved,
/// the file name kept).
fn resolved(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            dir.canonicalize()
                .map(|d| d.join(name))
                .unwrap_or_else(|_| p.to_path_buf())
        }
        _ => p.to_path_buf(),
    }
}

impl OutputGuard {
    /// A guard for a run reading `inputs`.
    pub fn new(inputs: &[PathBuf]) -> Self {
        OutputGuard {
            inputs: inputs.iter().map(|p| resolved(p)).collect(),
            claimed: Default::default(),
        }
    }

    /// Claims `out` as the output of `input`.
    pub fn claim(&mut self, out: &Path, input: &Path) -> Result<()> {
        let key = resolved(out);
        if self.inputs.contains(&key) {
            bail!(
                "{}: refusing to overwrite an input of this run with the output of {} (choose another -o folder or --suffix)",
                out.display(),
                input.display()
            );
        }
        if let Some(first) = self.claimed.get(&key)
            && first.as_path() != input
        {
            bail!(
                "{}: {} and {} would both be written here, so the second is skipped (rename one, or run them separately)",
                out.display(),
                first.display(),
                input.display()
            );
        }
        self.claimed.insert(key, input.to_path_buf());
        Ok(())
    }
}

/// `name` with its extension replaced, e.g. for output files.
pub fn output_name(input: &Path, suffix: &str, ext: &str) -> String {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    format!("{stem}{suffix}.{ext}")
}
