//! Camera pixel formats against ffmpeg (fixture: `tools/reference/pixfmt_fixture.sh`, a 64 x 48
//! face from a real photo): our nv12 and yuyv422 encodings of its rgb24 pixels against ffmpeg's
//! (BT.601, limited range), and our decodings of ffmpeg's frames against ffmpeg's own. Luma is
//! the same arithmetic on both sides; chroma differs by the resampling filter (ffmpeg's bicubic
//! against our block average and block repeat), so its bound is wider.

use lrpo_shared::pixfmt::{PixelFormat, YuvRange, from_rgb, to_rgb};
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pixfmt")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// (max, mean) absolute difference in 8-bit levels.
fn diff(a: &[u8], b: &[u8]) -> (u8, f64) {
    assert_eq!(a.len(), b.len());
    let d: Vec<u8> = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).collect();
    let mean = d.iter().map(|&v| v as f64).sum::<f64>() / d.len() as f64;
    (*d.iter().max().unwrap(), mean)
}

#[test]
fn nv12_and_yuyv422_agree_with_ffmpeg_both_ways() {
    let (w, h) = (64, 48);
    let rgb = fixture("face.rgb24");
    let img = to_rgb(&rgb, w, h, PixelFormat::Rgb24, YuvRange::Limited).unwrap();
    for (fmt, luma_bytes) in [(PixelFormat::Nv12, w * h), (PixelFormat::Yuyv422, 0)] {
        let name = fmt.name();
        let theirs = fixture(&format!("face.{name}"));
        let mut ours = Vec::new();
        from_rgb(&img.view(), fmt, YuvRange::Limited, &mut ours).unwrap();
        // Luma: nv12's first plane; yuyv422's even bytes.
        let (luma_o, luma_t, chroma_o, chroma_t): (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) =
            if luma_bytes > 0 {
                (
                    ours[..luma_bytes].to_vec(),
                    theirs[..luma_bytes].to_vec(),
                    ours[luma_bytes..].to_vec(),
                    theirs[luma_bytes..].to_vec(),
                )
            } else {
                let even = |v: &[u8], r: usize| v.iter().skip(r).step_by(2).copied().collect();
                (
                    even(&ours, 0),
                    even(&theirs, 0),
                    even(&ours, 1),
                    even(&theirs, 1),
                )
            };
        let (ly_max, ly_mean) = diff(&luma_o, &luma_t);
        let (c_max, c_mean) = diff(&chroma_o, &chroma_t);
        // Decoding ffmpeg's frame, against ffmpeg's decoding of it.
        let back = to_rgb(&theirs, w, h, fmt, YuvRange::Limited).unwrap();
        let mut back_rgb = Vec::new();
        from_rgb(
            &back.view(),
            PixelFormat::Rgb24,
            YuvRange::Limited,
            &mut back_rgb,
        )
        .unwrap();
        let (d_max, d_mean) = diff(&back_rgb, &fixture(&format!("face.{name}.rgb24")));
        println!(
            "{name}: encode luma max {ly_max} mean {ly_mean:.3}, chroma max {c_max} mean {c_mean:.3}; \
             decode rgb max {d_max} mean {d_mean:.3} (levels)"
        );
        assert!(
            ly_max <= 1 && ly_mean < 0.5,
            "{name} luma: {ly_max}, {ly_mean}"
        );
        assert!(c_mean < 2.0, "{name} chroma: {c_max}, {c_mean}");
        assert!(d_mean < 3.0, "{name} decode: {d_max}, {d_mean}");
    }
}
