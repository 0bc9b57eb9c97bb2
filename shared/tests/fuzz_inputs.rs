//! Seeded mutation fuzzing of the parsers that read untrusted files: the policy card and the
//! image decoder. Thousands of mutated copies of real files (the shipped cards, a photo
//! encoded as PNG and JPEG): every one gives a value or an error, never a panic.

use lrpo_shared::card::PolicyCard;
use lrpo_shared::image::{OutputFormat, decode_rgb, encode_rgb, load_rgb};
use lrpo_shared::rng::Rng;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One random mutation of `seed_bytes`: bit flips, byte overwrites, a cut, an insertion, a
/// duplicated span, or a run of 0xFF / 0x00 (lengths and markers are where parsers break).
fn mutate(seed_bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed_bytes.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        if b.is_empty() {
            b.push(rng.below(256) as u8);
            continue;
        }
        let at = rng.below(b.len() as u64) as usize;
        match rng.below(6) {
            0 => b[at] ^= 1 << rng.below(8),
            1 => b[at] = rng.below(256) as u8,
            2 => b.truncate(at),
            3 => b.insert(at, rng.below(256) as u8),
            4 => {
                let end = (at + 1 + rng.below(16) as usize).min(b.len());
                let span = b[at..end].to_vec();
                b.splice(at..at, span);
            }
            _ => {
                let v = if rng.below(2) == 0 { 0xFF } else { 0x00 };
                let end = (at + 1 + rng.below(8) as usize).min(b.len());
                b[at..end].iter_mut().for_each(|x| *x = v);
            }
        }
    }
    b
}

#[test]
fn mutated_policy_cards_are_errors_or_values_never_panics() {
    let mut seeds = Vec::new();
    for e in std::fs::read_dir(root().join("models")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "card") {
            seeds.push(std::fs::read(&p).unwrap());
        }
    }
    assert!(!seeds.is_empty());
    let mut rng = Rng::new(17);
    let (mut ok, mut err) = (0, 0);
    for i in 0..20_000 {
        let bytes = mutate(&seeds[i % seeds.len()], &mut rng);
        match PolicyCard::from_bytes(&bytes, Path::new("fuzz.card")) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(e.to_string().contains("fuzz.card"), "{e}");
                err += 1;
            }
        }
    }
    println!("cards: {ok} parsed, {err} refused");
    assert!(err > 5000, "most mutations must be refused ({err})");
}

#[test]
fn mutated_png_and_jpeg_files_are_errors_or_images_never_panics() {
    let photo = load_rgb(&root().join("data/faces/grace_hopper.jpg")).unwrap();
    let small = lrpo_shared::resize::resize_antialiased(&photo.view(), 24, 32).unwrap();
    let seeds = [
        encode_rgb(&small.view(), OutputFormat::Png).unwrap(),
        encode_rgb(&small.view(), OutputFormat::Jpeg(90)).unwrap(),
    ];
    let mut rng = Rng::new(23);
    let (mut ok, mut err) = (0, 0);
    for i in 0..10_000 {
        let bytes = mutate(&seeds[i % 2], &mut rng);
        // A small pixel limit: a mutated header may declare a huge size, which must be refused
        // before decoding rather than allocated.
        match decode_rgb(&bytes, Path::new("fuzz.img"), 1 << 16) {
            Ok(img) => {
                assert!(img.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
                ok += 1;
            }
            Err(e) => {
                assert!(e.to_string().contains("fuzz.img"), "{e}");
                err += 1;
            }
        }
    }
    println!("images: {ok} decoded, {err} refused");
    assert!(ok > 0 && err > 0);
}
