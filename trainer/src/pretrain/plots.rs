//! The plots of a pretraining run, drawn from its log.

use crate::error::Result;
use crate::plot::{Series, line_chart};
use crate::runlog;
use std::path::Path;

/// Redraws `RUN/plots/*.png` from `RUN/metrics.jsonl`.
pub fn plot_run(run: &Path) -> Result<()> {
    let recs = runlog::read(&run.join("metrics.jsonl"))?;
    let loss = runlog::series(&recs, "train", "loss");
    if !loss.is_empty() {
        line_chart(
            &run.join("plots/loss.png"),
            "training loss (eps MSE)",
            "step",
            &[Series {
                label: "loss",
                color: [200, 40, 40],
                points: &loss,
            }],
            true,
        )?;
    }
    let (vp, vb) = (
        runlog::series(&recs, "val", "psnr"),
        runlog::series(&recs, "val", "psnr_bicubic"),
    );
    if !vp.is_empty() {
        line_chart(
            &run.join("plots/val_psnr.png"),
            "held-out PSNR (dB)",
            "step",
            &[
                Series {
                    label: "restored",
                    color: [30, 90, 200],
                    points: &vp,
                },
                Series {
                    label: "bicubic",
                    color: [120, 120, 120],
                    points: &vb,
                },
            ],
            false,
        )?;
        let (vs, vsb) = (
            runlog::series(&recs, "val", "ssim"),
            runlog::series(&recs, "val", "ssim_bicubic"),
        );
        line_chart(
            &run.join("plots/val_ssim.png"),
            "held-out SSIM",
            "step",
            &[
                Series {
                    label: "restored",
                    color: [30, 90, 200],
                    points: &vs,
                },
                Series {
                    label: "bicubic",
                    color: [120, 120, 120],
                    points: &vsb,
                },
            ],
            false,
        )?;
    }
    Ok(())
}
