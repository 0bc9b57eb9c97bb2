//! Training data: a folder of HQ face images (aligned FFHQ-style crops) turned into (HQ, LQ)
//! pairs on the fly, deterministically from the seed, by a background loader.
//!
//! - Every PNG/JPEG under the folder (recursively) is loaded once, centre-cropped to a square if
//!   needed, and kept at twice the training resolution (antialiased) as the augmentation
//!   source, and at the training resolution itself. Files that cannot be read are skipped with
//!   a warning and counted, never a crash.
//! - A folder with a face-set manifest (`faces.json`, `lrpo-train prepare-faces --sources`)
//!   is split by its identities: the `train` split trains, the `validation` split validates, and
//!   the `test` split is never loaded.
//! - Sample `p` of the run (step `s`, batch position `i`, `p = s·batch + i`) takes the image at
//!   position `p mod n` of epoch `p / n`'s shuffled order and draws its augmentation and
//!   degradation from `Rng::derive(seed, p)`: the same seed gives the same pairs, and a resumed
//!   run sees exactly the batches an uninterrupted run would.
//! - Augmentation (optional, seeded): horizontal flip, scale (default ±10 %), rotation (±10°)
//!   and translation (±3 % of the side) as one similarity warp applied at alignment time, from
//!   the source at twice the training resolution (the warp's output is then antialiased down,
//!   so the face is resampled once, not warped from a small crop), then brightness / contrast /
//!   saturation jitter. Degradation: `lrpo_shared::degrade` with the configured preset (ranges
//!   defined at 512 px and scaled to the resolution).

pub mod config;
mod faceset;
mod loader;
mod sample;

pub use config::{AugmentConfig, DataConfig};
pub use faceset::{Face, FaceSet, square_resize};
pub use loader::{Batch, Loader, batch_for_step, image_for_sample};
pub use sample::{Sample, make_sample};

#[cfg(test)]
mod tests {
    use super::sample::augment_warp;
    use super::*;
    use lrpo_shared::degrade::DegradePreset;
    use lrpo_shared::rng::Rng;
    use ndarray::Array3;

    fn set(n: usize) -> FaceSet {
        let faces = (0..n)
            .map(|i| Face {
                name: format!("f{i}.png"),
                hq: Array3::from_shape_fn((3, 32, 32), |(c, y, x)| {
                    ((x + 2 * y + 7 * c + i) % 19) as f32 / 19.0
                }),
                src: None,
            })
            .collect();
        FaceSet {
            train: faces,
            val: vec![],
            skipped: vec![],
        }
    }

    #[test]
    fn batches_are_a_pure_function_of_seed_and_step() {
        let s = set(5);
        let cfg = DataConfig {
            resolution: 32,
            ..Default::default()
        };
        let p = DegradePreset::lrpo();
        let a = batch_for_step(&s, &cfg, &p, 3, 7, 4).unwrap();
        let b = batch_for_step(&s, &cfg, &p, 3, 7, 4).unwrap();
        assert_eq!(a.hq, b.hq);
        assert_eq!(a.lq, b.lq);
        let c = batch_for_step(&s, &cfg, &p, 3, 8, 4).unwrap();
        assert_ne!(a.lq, c.lq);
        // A background loader delivers the same batches in order.
        let l = Loader::spawn(s.clone(), cfg.clone(), 3, 6, 9, 4).unwrap();
        assert_eq!(l.next_batch().unwrap().step, 6);
        let b7 = l.next_batch().unwrap();
        assert_eq!((b7.step, &b7.lq), (7, &a.lq));
    }

    #[test]
    fn augmentation_warps_stay_in_their_ranges() {
        let aug = AugmentConfig::default();
        for p in 0..200u64 {
            let mut rng = Rng::derive(5, p);
            let (_, t) = augment_warp(&aug, 256, 128, &mut rng);
            // Scale 0.5·(1 ± 0.1), angle within ±10°, source centre within ±3 % of the centre.
            let k = t.scale() / 0.5;
            assert!((0.9 - 1e-12..=1.1 + 1e-12).contains(&k), "scale {k}");
            let angle = t.b.atan2(t.a).to_degrees();
            assert!(angle.abs() <= 10.0 + 1e-9, "angle {angle}");
            let [cx, cy] = t.apply([127.5, 127.5]);
            assert!((cx - 63.5).abs() <= 0.03 * 128.0 + 1e-9);
            assert!((cy - 63.5).abs() <= 0.03 * 128.0 + 1e-9);
        }
        // No range: the warp is the plain 2:1 resampling about the centres.
        let (flip, t) = augment_warp(&AugmentConfig::none(), 256, 128, &mut Rng::new(1));
        assert!(!flip);
        assert!((t.a - 0.5).abs() < 1e-12 && t.b == 0.0);
        assert!((t.apply([0.0, 0.0])[0] + 0.25).abs() < 1e-12);
    }

    #[test]
    fn geometric_augmentation_resamples_from_the_large_source() {
        // A face whose source holds detail finer than the training resolution: a warp with no
        // jitter reproduces the antialiased training image closely (same content, one
        // resampling), and without augmentation the training image is used as it is.
        let src = Array3::from_shape_fn((3, 64, 64), |(c, y, x)| {
            (0.5 + 0.4 * ((x as f32 * 0.3).sin() * (y as f32 * 0.2 + c as f32).cos()))
                .clamp(0.0, 1.0)
        });
        let face = Face::from_image("f.png".into(), &src, 32).unwrap();
        assert_eq!(face.src.as_ref().unwrap().dim(), (3, 64, 64));
        let p = DegradePreset::lrpo();
        let none = make_sample(&face, &AugmentConfig::none(), &p, &mut Rng::new(2)).unwrap();
        assert_eq!(none.hq, face.hq);
        let tiny = AugmentConfig {
            scale: 1e-9,
            ..AugmentConfig::none()
        };
        let s = make_sample(&face, &tiny, &p, &mut Rng::new(2)).unwrap();
        let psnr = lrpo_shared::metrics::psnr(&s.hq.view(), &face.hq.view()).unwrap();
        assert!(psnr > 30.0, "warped vs direct: {psnr} dB");
        // Rotation changes the picture; a bad range is refused with its key.
        let rot = AugmentConfig {
            rotate: 10.0,
            ..AugmentConfig::none()
        };
        let r = make_sample(&face, &rot, &p, &mut Rng::new(3)).unwrap();
        assert!(lrpo_shared::metrics::psnr(&r.hq.view(), &face.hq.view()).unwrap() < psnr);
        let bad = AugmentConfig {
            rotate: 90.0,
            ..AugmentConfig::none()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("rotate"));
    }

    #[test]
    fn every_image_is_seen_once_per_epoch() {
        for n in [1usize, 4, 7] {
            for epoch in 0..3u64 {
                let mut seen: Vec<usize> = (0..n as u64)
                    .map(|i| image_for_sample(9, epoch * n as u64 + i, n))
                    .collect();
                seen.sort();
                assert_eq!(seen, (0..n).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn folder_loading_skips_bad_files_and_holds_out_images() {
        let dir = std::env::temp_dir().join(format!("lrpo-data-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for (i, name) in ["a.png", "sub/b.png", "c.png", "d.png"].iter().enumerate() {
            let img = Array3::from_elem((3, 40 + i * 10, 50), 0.1 * i as f32);
            lrpo_shared::image::save_rgb(&dir.join(name), &img.view()).unwrap();
        }
        std::fs::write(dir.join("broken.jpg"), b"nope").unwrap();
        let cfg = DataConfig {
            resolution: 16,
            val_count: 1,
            ..Default::default()
        };
        let s = FaceSet::load(&dir, &cfg).unwrap();
        assert_eq!(s.skipped.len(), 1);
        assert_eq!(s.train.len() + s.val.len(), 4);
        assert_eq!(s.val.len(), 1);
        assert!(s.train.iter().all(|f| f.hq.dim() == (3, 16, 16)));
        let cfg = DataConfig {
            resolution: 16,
            holdout: vec!["b.png".into()],
            ..Default::default()
        };
        let s = FaceSet::load(&dir, &cfg).unwrap();
        assert_eq!(s.val[0].name, "sub/b.png");
        let cfg = DataConfig {
            resolution: 16,
            holdout: vec!["zzz.png".into()],
            ..Default::default()
        };
        assert!(
            FaceSet::load(&dir, &cfg)
                .unwrap_err()
                .to_string()
                .contains("zzz.png")
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(FaceSet::load(&dir, &cfg).is_err());
    }
}
