//! Face sets: where the faces come from, what was made of them, and who is in which split.
//!
//! - The **source table** ([`SourceTable`], a TOML file such as `data/face-sources.toml`) names
//!   every registry package a face set is built from, the photos inside it, and the identity of
//!   each face in them (given by a person, never guessed), located by the approximate position
//!   of its centre in the photo. A face can be rejected in the table with a reason (a drawn
//!   box, say) that no detector can see.
//! - The **manifest** ([`Manifest`], `faces.json` beside the crops) records every face the
//!   builder met: source package and path, licence, identity, box, landmarks, eye distance,
//!   crop size and upsampling, the crop's SHA-256, and whether it was accepted (or why not).
//! - The **splits** ([`assign_splits`]) put whole identities, never single files, into train,
//!   validation and test, by a seeded shuffle of the identity names: the same person can never
//!   be in two splits, and the same table and seed give the same splits. Identities met only in
//!   packages marked `train_only` are not dealt: they join train, so that sources added after a
//!   test protocol was frozen leave validation and test as they were.

use crate::error::{Error, Result};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Name of the manifest file inside a face-set folder.
pub const MANIFEST_FILE: &str = "faces.json";

/// Format version written into every manifest.
pub const MANIFEST_VERSION: u32 = 1;

/// The source table: packages, photos, faces and split settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceTable {
    /// How identities are split.
    #[serde(default)]
    pub split: SplitSettings,
    /// What makes a face unusable.
    #[serde(default)]
    pub accept: AcceptSettings,
    /// Every package the faces come from.
    pub package: Vec<SourcePackage>,
}

/// Split settings (`[split]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitSettings {
    /// Seed of the identity shuffle. Default 0.
    pub seed: u64,
    /// Identities in the validation split (model selection, tuning). Default 4.
    pub validation: usize,
    /// Identities in the test split (touched once per reported result). Default 6.
    pub test: usize,
}

impl Default for SplitSettings {
    fn default() -> Self {
        SplitSettings {
            seed: 0,
            validation: 4,
            test: 6,
        }
    }
}

/// Acceptance rules (`[accept]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcceptSettings {
    /// Smallest distance between the eyes, in source pixels. Default 40.
    pub min_eye_distance: f64,
    /// Largest fraction of the face region (the template's face box mapped into the photo)
    /// that may lie outside the photo. Default 1/3.
    pub max_outside: f64,
    /// Largest crop side in pixels. Default 512.
    pub max_size: usize,
    /// Largest upsampling of the source allowed when choosing the crop side. Default 1.5.
    pub max_upsample: f64,
    /// Largest distance, as a fraction of the eye distance, between a detected face's centre
    /// and the table's `at` for them to be the same face. Default 1.0.
    pub match_radius: f64,
}

impl Default for AcceptSettings {
    fn default() -> Self {
        AcceptSettings {
            min_eye_distance: 40.0,
            max_outside: 1.0 / 3.0,
            max_size: 512,
            max_upsample: 1.5,
            match_radius: 1.0,
        }
    }
}

/// One registry package (`[[package]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcePackage {
    /// Package name as the registry spells it.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Which registry and client: `pypi-sdist`, `pypi-wheel`, `npm`, `crate`, or `local` (a
    /// folder given on the command line, for tests).
    pub registry: String,
    /// Licence of the package and, where known, of its photographs.
    pub licence: String,
    /// Its faces only ever train (default false). The identities met only in train-only
    /// packages are left out of the seeded deal and join the train split, so adding such a
    /// package leaves the validation and test identities unchanged. A train-only face of a
    /// person whom the deal puts in validation or test is an error.
    #[serde(default)]
    pub train_only: bool,
    /// The photos used from it.
    pub photo: Vec<SourcePhoto>,
}

impl SourcePackage {
    /// `name@version`, the folder the builder extracts the package into.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// One photograph (`[[package.photo]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcePhoto {
    /// Path inside the extracted package.
    pub path: String,
    /// Licence of this photo when it differs from the package's.
    #[serde(default)]
    pub licence: Option<String>,
    /// The faces of this photo that are labelled. A detected face that matches none of them is
    /// recorded as rejected ("not in the source table").
    pub face: Vec<SourceFace>,
}

/// One labelled face (`[[package.photo.face]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFace {
    /// Identity label: the same string for every photo of the same person.
    pub identity: String,
    /// Approximate centre of the face (mean of its 5 landmarks) in photo pixels, x then y.
    pub at: [f64; 2],
    /// A reason to reject this face that the builder cannot see (e.g. "box drawn on it").
    #[serde(default)]
    pub reject: Option<String>,
}

impl SourceTable {
    /// Reads and validates a source table.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let t: SourceTable = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.into(),
            reason: e.to_string(),
        })?;
        t.validate().map_err(|reason| Error::Config {
            path: path.into(),
            reason,
        })?;
        Ok(t)
    }

    /// Checks the table: known registries, no duplicate photo, sane acceptance settings.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let a = &self.accept;
        if !(a.min_eye_distance.is_finite() && a.min_eye_distance > 0.0) {
            return Err(format!(
                "accept.min_eye_distance must be > 0, found {}",
                a.min_eye_distance
            ));
        }
        if !(0.0..=1.0).contains(&a.max_outside) {
            return Err(format!(
                "accept.max_outside must be in [0, 1], found {}",
                a.max_outside
            ));
        }
        if !(16..=4096).contains(&a.max_size) {
            return Err(format!(
                "accept.max_size must be in 16..=4096, found {}",
                a.max_size
            ));
        }
        if !(a.max_upsample.is_finite() && a.max_upsample >= 1.0) {
            return Err(format!(
                "accept.max_upsample must be >= 1, found {}",
                a.max_upsample
            ));
        }
        if !(a.match_radius.is_finite() && a.match_radius > 0.0) {
            return Err(format!(
                "accept.match_radius must be > 0, found {}",
                a.match_radius
            ));
        }
        let mut seen = BTreeSet::new();
        for p in &self.package {
            if !matches!(
                p.registry.as_str(),
                "pypi-sdist" | "pypi-wheel" | "npm" | "crate" | "local"
            ) {
                return Err(format!(
                    "package {}: registry must be pypi-sdist, pypi-wheel, npm, crate or local, found {:?}",
                    p.id(),
                    p.registry
                ));
            }
            for ph in &p.photo {
                if !seen.insert((p.id(), ph.path.clone())) {
                    return Err(format!(
                        "package {}: photo {} listed twice",
                        p.id(),
                        ph.path
                    ));
                }
                for f in &ph.face {
                    if f.identity.trim().is_empty() {
                        return Err(format!(
                            "package {}: photo {}: a face has an empty identity",
                            p.id(),
                            ph.path
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Which split a face belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training.
    Train,
    /// Model selection and tuning.
    Validation,
    /// Reported results only.
    Test,
}

impl Split {
    /// Parses `train`, `validation` (or `val`) or `test`.
    pub fn by_name(name: &str) -> Result<Self> {
        match name {
            "train" => Ok(Split::Train),
            "validation" | "val" => Ok(Split::Validation),
            "test" => Ok(Split::Test),
            other => Err(Error::invalid(
                "split",
                format!("expected train, validation or test, found {other:?}"),
            )),
        }
    }
}

/// One face the builder met (accepted or not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceEntry {
    /// The crop's file name inside the face-set folder (accepted faces only).
    pub file: Option<String>,
    /// `name@version` of the source package.
    pub package: String,
    /// Path of the photo inside the package.
    pub source_path: String,
    /// Licence (the photo's, else the package's).
    pub licence: String,
    /// Identity label from the source table (None for an unlabelled detection).
    pub identity: Option<String>,
    /// Detector box `[x1, y1, x2, y2]` in photo pixels.
    pub bbox: [f64; 4],
    /// Detector confidence in [0, 1].
    pub score: f64,
    /// 5 landmarks in photo pixels (FFHQ template order).
    pub landmarks: [[f64; 2]; 5],
    /// Distance between the eyes in photo pixels.
    pub eye_distance: f64,
    /// Fraction of the face region outside the photo.
    pub outside: f64,
    /// Crop side in pixels (accepted faces).
    pub crop_size: Option<usize>,
    /// Source pixels → crop pixels scale factor (> 1 means the crop upsamples the photo).
    pub upsample: Option<f64>,
    /// SHA-256 of the crop file, lowercase hex.
    pub sha256: Option<String>,
    /// Whether the face is in the set.
    pub accepted: bool,
    /// Why not, for rejected faces.
    pub reason: Option<String>,
    /// The split of its identity (accepted faces).
    pub split: Option<Split>,
}

/// The identities of each split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Splits {
    /// Training identities.
    pub train: Vec<String>,
    /// Validation identities.
    pub validation: Vec<String>,
    /// Test identities.
    pub test: Vec<String>,
}

impl Splits {
    /// The split of an identity, if it is in one.
    pub fn of(&self, identity: &str) -> Option<Split> {
        if self.train.iter().any(|i| i == identity) {
            Some(Split::Train)
        } else if self.validation.iter().any(|i| i == identity) {
            Some(Split::Validation)
        } else if self.test.iter().any(|i| i == identity) {
            Some(Split::Test)
        } else {
            None
        }
    }
}

/// A face set's manifest (`faces.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// The source table the set was built from, as given to the builder.
    pub sources: String,
    /// Split settings used.
    pub split: SplitSettings,
    /// Acceptance rules used.
    pub accept: AcceptSettings,
    /// Identities per split.
    pub splits: Splits,
    /// Every face met, in build order.
    pub faces: Vec<FaceEntry>,
    /// Pairs whose labels and face descriptors disagree, for a person to check.
    #[serde(default)]
    pub label_checks: Vec<LabelCheck>,
}

/// Two crops from different photos whose labels disagree with the face descriptor: different
/// labels but a distance under the same-person threshold (0.6), or the same label above it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelCheck {
    /// One crop.
    pub a: String,
    /// The other crop.
    pub b: String,
    /// Whether the table gives them the same identity.
    pub same_label: bool,
    /// Descriptor distance.
    pub distance: f64,
}

impl Manifest {
    /// Reads a manifest from a face-set folder or a `faces.json` path.
    pub fn load(path: &Path) -> Result<Self> {
        let file = if path.is_dir() {
            path.join(MANIFEST_FILE)
        } else {
            path.to_path_buf()
        };
        let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Config {
            path: file.clone(),
            reason: e.to_string(),
        })?;
        if m.version != MANIFEST_VERSION {
            return Err(Error::Config {
                path: file,
                reason: format!(
                    "manifest version {} (this build reads {MANIFEST_VERSION})",
                    m.version
                ),
            });
        }
        Ok(m)
    }

    /// The accepted faces of a split.
    pub fn faces_in(&self, split: Split) -> impl Iterator<Item = &FaceEntry> {
        self.faces
            .iter()
            .filter(move |f| f.accepted && f.split == Some(split))
    }

    /// Crop file name → identity, for accepted faces.
    pub fn identity_by_file(&self) -> BTreeMap<String, String> {
        self.faces
            .iter()
            .filter(|f| f.accepted)
            .filter_map(|f| Some((f.file.clone()?, f.identity.clone()?)))
            .collect()
    }

    /// Counts for a summary: accepted faces and identities per split, rejections per reason.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let photos: BTreeSet<(&str, &str)> = self
            .faces
            .iter()
            .map(|f| (f.package.as_str(), f.source_path.as_str()))
            .collect();
        let accepted = self.faces.iter().filter(|f| f.accepted).count();
        s.push_str(&format!(
            "{} photos with faces, {} faces met, {accepted} accepted, {} rejected\n",
            photos.len(),
            self.faces.len(),
            self.faces.len() - accepted
        ));
        for (name, split, ids) in [
            ("train", Split::Train, &self.splits.train),
            ("validation", Split::Validation, &self.splits.validation),
            ("test", Split::Test, &self.splits.test),
        ] {
            s.push_str(&format!(
                "  {name}: {} identities, {} faces\n",
                ids.len(),
                self.faces_in(split).count()
            ));
        }
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        for f in self.faces.iter().filter(|f| !f.accepted) {
            *reasons
                .entry(f.reason.as_deref().unwrap_or("unknown"))
                .or_default() += 1;
        }
        for (r, n) in reasons {
            s.push_str(&format!("  rejected ({r}): {n}\n"));
        }
        for c in &self.label_checks {
            s.push_str(&format!(
                "  check the labels: {} and {} are {} but their descriptors are {:.3} apart\n",
                c.a,
                c.b,
                if c.same_label {
                    "labelled the same person"
                } else {
                    "labelled different people"
                },
                c.distance
            ));
        }
        s
    }
}

/// Puts identities into splits: the sorted, de-duplicated `dealt` names are shuffled with
/// `seed`; the first `test` go to test, the next `validation` to validation, the rest to train.
/// The `train_only` names (faces of [`SourcePackage::train_only`] packages) join train without
/// taking part in the shuffle, so they never change who is in validation and test. Fails when
/// fewer than `test + validation + 1` identities are given in all, when fewer than
/// `test + validation` are dealt, or when a train-only name is dealt to validation or test.
pub fn assign_splits(
    dealt: &[String],
    train_only: &[String],
    settings: &SplitSettings,
) -> Result<Splits> {
    let mut ids: Vec<String> = dealt
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let extra: BTreeSet<String> = train_only
        .iter()
        .filter(|n| !ids.contains(n))
        .cloned()
        .collect();
    let need = settings.test + settings.validation + 1;
    if ids.len() + extra.len() < need || ids.len() < settings.test + settings.validation {
        return Err(Error::invalid(
            "face set splits",
            format!(
                "{} test + {} validation identities and at least 1 for training need {need} identities, \
                 the validation and test ones from packages that are not train-only; found {} ({} train-only)",
                settings.test,
                settings.validation,
                ids.len() + extra.len(),
                extra.len()
            ),
        ));
    }
    let mut rng = Rng::derive(settings.seed, 0x5B117);
    for i in (1..ids.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        ids.swap(i, j);
    }
    let mut test: Vec<String> = ids[..settings.test].to_vec();
    let mut validation: Vec<String> =
        ids[settings.test..settings.test + settings.validation].to_vec();
    if let Some(n) = train_only
        .iter()
        .find(|n| test.contains(n) || validation.contains(n))
    {
        return Err(Error::invalid(
            "face set splits",
            format!(
                "{n} has faces in a train-only package, but the deal puts this person in validation or test; \
                 drop those faces from the train-only package"
            ),
        ));
    }
    let mut train: Vec<String> = ids[settings.test + settings.validation..].to_vec();
    train.extend(extra);
    test.sort();
    validation.sort();
    train.sort();
    Ok(Splits {
        train,
        validation,
        test,
    })
}

/// The crop file name of face `k` of a photo: `PACKAGE__PHOTOSTEM_K.png` with a leading `@`
/// (npm scopes) dropped and characters other than letters, digits, `-` and `.` replaced by `_`,
/// so that photos of the same stem in two packages never collide.
pub fn crop_file_name(package: &str, source_path: &str, k: usize) -> String {
    let stem = Path::new(source_path)
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!(
        "{}__{}_{k}.png",
        safe(package.trim_start_matches('@')),
        safe(&stem)
    )
}

/// The photo path of a source entry under the extracted root: `ROOT/NAME@VERSION/PATH`, or
/// `ROOT/PATH` for `local` packages.
pub fn photo_path(root: &Path, package: &SourcePackage, photo: &SourcePhoto) -> PathBuf {
    if package.registry == "local" {
        root.join(&photo.path)
    } else {
        root.join(package.id()).join(&photo.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("person{i:02}")).collect()
    }

    #[test]
    fn splits_are_disjoint_complete_and_seeded() {
        let ids = names(20);
        let s = SplitSettings {
            seed: 3,
            validation: 4,
            test: 6,
        };
        let a = assign_splits(&ids, &[], &s).unwrap();
        assert_eq!(
            (a.test.len(), a.validation.len(), a.train.len()),
            (6, 4, 10)
        );
        let all: BTreeSet<&String> = a.train.iter().chain(&a.validation).chain(&a.test).collect();
        assert_eq!(all.len(), 20, "every identity in exactly one split");
        // The same seed gives the same splits whatever the input order; another seed differs.
        let mut rev = ids.clone();
        rev.reverse();
        rev.push(ids[0].clone());
        assert_eq!(assign_splits(&rev, &[], &s).unwrap(), a);
        let b = assign_splits(
            &ids,
            &[],
            &SplitSettings {
                seed: 4,
                ..s.clone()
            },
        )
        .unwrap();
        assert_ne!(a, b);
        assert_eq!(a.of(&a.test[0]), Some(Split::Test));
        assert_eq!(a.of("nobody"), None);
    }

    #[test]
    fn too_few_identities_is_an_error_naming_the_counts() {
        let e = assign_splits(&names(10), &[], &SplitSettings::default()).unwrap_err();
        assert!(e.to_string().contains("found 10"), "{e}");
    }

    #[test]
    fn train_only_identities_join_train_and_leave_the_deal_alone() {
        let ids = names(12);
        let s = SplitSettings::default();
        let before = assign_splits(&ids, &[], &s).unwrap();
        let new: Vec<String> = (0..5).map(|i| format!("newcomer{i}")).collect();
        // A train-only name already dealt to train (more photos of a training person) is fine.
        let mut extra = new.clone();
        extra.push(before.train[0].clone());
        let after = assign_splits(&ids, &extra, &s).unwrap();
        assert_eq!(after.validation, before.validation);
        assert_eq!(after.test, before.test);
        assert_eq!(after.train.len(), before.train.len() + 5);
        assert!(new.iter().all(|n| after.of(n) == Some(Split::Train)));
        // A train-only face of a test person would move test faces into training: refused.
        let e = assign_splits(&ids, &[before.test[0].clone()], &s).unwrap_err();
        assert!(e.to_string().contains(&before.test[0]), "{e}");
        // Train-only names cannot fill validation and test.
        let e = assign_splits(&names(9), &new, &s).unwrap_err();
        assert!(e.to_string().contains("train-only"), "{e}");
    }

    #[test]
    fn crop_names_keep_packages_apart() {
        assert_eq!(
            crop_file_name("face-recognition@1.3.0", "tests/test_images/obama.jpg", 0),
            "face-recognition_1.3.0__obama_0.png"
        );
        assert_eq!(
            crop_file_name("@vladmandic/face-api@1.7.15", "demo/sample1.jpg", 2),
            "vladmandic_face-api_1.7.15__sample1_2.png"
        );
        assert_ne!(
            crop_file_name("a@1", "x/face.jpg", 0),
            crop_file_name("b@1", "y/face.jpg", 0)
        );
    }

    #[test]
    fn table_validation_names_the_problem() {
        let t = r#"
            [[package]]
            name = "p"
            version = "1"
            registry = "ftp"
            licence = "x"
            photo = []
        "#;
        let t: SourceTable = toml::from_str(t).unwrap();
        assert!(t.validate().unwrap_err().contains("ftp"));
    }
}
