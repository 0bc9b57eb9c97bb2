//! Minimal PNG line charts of training curves (no plotting dependency): axes, tick labels and
//! one or more series, drawn with a built-in 5 × 7 pixel font.

use crate::error::Result;
use std::path::Path;

/// One curve: label, RGB colour and (x, y) points.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Line colour.
    pub color: [u8; 3],
    /// Points, x increasing.
    pub points: &'a [(f64, f64)],
}

const W: usize = 640;
const H: usize = 400;
const LEFT: usize = 70;
const RIGHT: usize = 20;
const TOP: usize = 30;
const BOTTOM: usize = 40;

/// 5 × 7 glyphs for the characters charts need (rows top to bottom, 5 bits each).
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        '+' => [0, 4, 4, 31, 4, 4, 0],
        'e' => [0, 0, 14, 17, 31, 16, 14],
        ' ' => [0; 7],
        ':' => [0, 12, 12, 0, 12, 12, 0],
        '/' => [1, 1, 2, 4, 8, 16, 16],
        '(' => [2, 4, 8, 8, 8, 4, 2],
        ')' => [8, 4, 2, 2, 2, 4, 8],
        '_' => [0, 0, 0, 0, 0, 0, 31],
        c if c.is_ascii_alphabetic() => letter(c.to_ascii_uppercase()),
        _ => [31, 17, 17, 17, 17, 17, 31],
    }
}

fn letter(c: char) -> [u8; 7] {
    match c {
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'D' => [28, 18, 17, 17, 17, 18, 28],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'H' => [17, 17, 17, 31, 17, 17, 17],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'J' => [7, 2, 2, 2, 2, 18, 12],
        'K' => [17, 18, 20, 24, 20, 18, 17],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'Q' => [14, 17, 17, 17, 21, 18, 13],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'U' => [17, 17, 17, 17, 17, 17, 14],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'W' => [17, 17, 17, 21, 21, 21, 10],
        'X' => [17, 17, 10, 4, 10, 17, 17],
        'Y' => [17, 17, 10, 4, 4, 4, 4],
        _ => [31, 1, 2, 4, 8, 16, 31],
    }
}

struct Canvas {
    px: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < W && (y as usize) < H {
            let i = (y as usize * W + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn line(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: [u8; 3]) {
        let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
        for i in 0..=n {
            let t = i as f64 / n as f64;
            let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
            self.set(x.round() as i64, y.round() as i64, c);
            self.set(x.round() as i64, y.round() as i64 + 1, c);
        }
    }

    fn text(&mut self, x: i64, y: i64, s: &str, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let g = glyph(ch);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (1 << (4 - col)) != 0 {
                        self.set(x + (k * 6 + col) as i64, y + row as i64, c);
                    }
                }
            }
        }
    }
}

fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-2..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Draws the series into a `640 × 400` PNG at `path` (written atomically). `log_y` plots
/// log10 of positive values.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<()> {
    let mut cv = Canvas {
        px: vec![255u8; W * H * 3],
    };
    let tf = |y: f64| if log_y { y.max(1e-12).log10() } else { y };
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|&(x, y)| (x, tf(y))))
        .filter(|p| p.1.is_finite())
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (x, y) in &pts {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if pts.is_empty() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
        y0 -= 1.0;
    }
    let pad = (y1 - y0) * 0.05;
    let (y0, y1) = (y0 - pad, y1 + pad);
    let (pw, ph) = ((W - LEFT - RIGHT) as f64, (H - TOP - BOTTOM) as f64);
    let sx = |x: f64| LEFT as f64 + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| TOP as f64 + (1.0 - (y - y0) / (y1 - y0)) * ph;
    let axis = [0, 0, 0];
    let grid = [225, 225, 225];
    for k in 0..=4 {
        let fy = y0 + (y1 - y0) * k as f64 / 4.0;
        let yy = sy(fy);
        cv.line(LEFT as f64, yy, (W - RIGHT) as f64, yy, grid);
        let label = if log_y {
            fmt_tick(10f64.powf(fy))
        } else {
            fmt_tick(fy)
        };
        cv.text(4, yy as i64 - 3, &label, axis);
        let fx = x0 + (x1 - x0) * k as f64 / 4.0;
        let xx = sx(fx);
        cv.line(xx, TOP as f64, xx, (H - BOTTOM) as f64, grid);
        cv.text(xx as i64 - 12, (H - BOTTOM + 6) as i64, &fmt_tick(fx), axis);
    }
    cv.line(
        LEFT as f64,
        TOP as f64,
        LEFT as f64,
        (H - BOTTOM) as f64,
        axis,
    );
    cv.line(
        LEFT as f64,
        (H - BOTTOM) as f64,
        (W - RIGHT) as f64,
        (H - BOTTOM) as f64,
        axis,
    );
    cv.text(LEFT as i64, 10, title, axis);
    cv.text(
        (W / 2) as i64 - 3 * x_label.len() as i64,
        (H - 14) as i64,
        x_label,
        axis,
    );
    for (k, s) in series.iter().enumerate() {
        let mut prev: Option<(f64, f64)> = None;
        for &(x, y) in s.points {
            let y = tf(y);
            if !y.is_finite() {
                prev = None;
                continue;
            }
            let p = (sx(x), sy(y));
            if let Some(q) = prev {
                cv.line(q.0, q.1, p.0, p.1, s.color);
            } else {
                cv.set(p.0 as i64, p.1 as i64, s.color);
            }
            prev = Some(p);
        }
        let lx = (W - RIGHT - 160) as i64;
        let ly = (TOP + 8 + 12 * k) as i64;
        cv.line(
            lx as f64,
            ly as f64 + 3.0,
            lx as f64 + 16.0,
            ly as f64 + 3.0,
            s.color,
        );
        cv.text(lx + 22, ly, s.label, axis);
    }
    let bytes = lrpo_shared::image::encode_rgb8(
        &cv.px,
        W as u32,
        H as u32,
        lrpo_shared::image::OutputFormat::Png,
    )?;
    lrpo_shared::fsio::write_atomic(path, &bytes)?;
    Ok(())
}
