//! Across crates: a student trained and exported by the trainer is loaded by the edge runtime
//! (card checked against the graph) and restores the faces of a real photo; f32 and int8 agree.

use lrpo_edge::pipeline::{Pipeline, PipelineOptions};
use lrpo_edge::runtime::{Policy, SamplerOptions};
use lrpo_shared::image::load_rgb;
use lrpo_shared::metrics::psnr;
use lrpo_shared::onnx::detect::mtcnn::{Mtcnn, MtcnnConfig};
use lrpo_trainer::backend::{Cpu, DeviceChoice, with_backend};
use lrpo_trainer::config::RunConfig;
use lrpo_trainer::distill::Distill;
use lrpo_trainer::pretrain::Pretrain;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn an_exported_student_restores_a_photo_on_the_edge() {
    let dir = std::env::temp_dir().join(format!("lrpo-x-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = root().join("data/train/faces");
    let mut c = RunConfig::default();
    c.model.base_channels = 8;
    c.model.channel_mult = vec![1, 2];
    c.model.groups = 4;
    c.data.resolution = 32;
    c.data.holdout = vec!["grace_hopper_0.png".into()];
    c.pretrain.steps = 4;
    c.pretrain.batch_size = 2;
    c.pretrain.val_steps = Some(2);
    with_backend(
        DeviceChoice::Cpu,
        Pretrain {
            cfg: c.clone(),
            data: data.clone(),
            run: dir.join("t"),
            resume: false,
            stop_at: None,
        },
    )
    .unwrap();
    c.distill.pool = 4;
    c.distill.teacher_steps = Some(2);
    c.distill.steps = 10;
    c.distill.batch_size = 2;
    c.distill.warmup_steps = 1;
    c.distill.log_every = 5;
    with_backend(
        DeviceChoice::Cpu,
        Distill {
            cfg: c,
            teacher: Some(dir.join("t")),
            data,
            run: dir.join("s"),
            resume: false,
            stop_at: None,
        },
    )
    .unwrap();
    lrpo_trainer::export::export::<Cpu>(
        &dir.join("s"),
        &dir.join("m/student"),
        true,
        None,
        &Default::default(),
    )
    .unwrap();
    let detector = || {
        Some(
            Box::new(Mtcnn::load(&root().join("models/mtcnn"), MtcnnConfig::default()).unwrap())
                as Box<dyn lrpo_shared::onnx::detect::FaceDetector>,
        )
    };
    let photo = load_rgb(&root().join("data/scenes/montage.jpg")).unwrap();
    let mut outs = Vec::new();
    for name in ["student.onnx", "student_int8.onnx"] {
        let policy = Policy::load(&dir.join("m").join(name), SamplerOptions::default()).unwrap();
        assert_eq!(policy.crop_size(), 32);
        // Every face restored (detail gate off): this compares the two exports on them.
        let p = Pipeline {
            policy,
            detector: detector(),
            options: PipelineOptions {
                detail_gate: None,
                ..PipelineOptions::default()
            },
        };
        let r = p.process(&photo.view()).unwrap();
        assert_eq!(r.faces.len(), 4, "{name}");
        outs.push(r.frame);
    }
    let db = psnr(&outs[0].view(), &outs[1].view()).unwrap();
    println!("edge restorations, int8 vs f32: {db:.2} dB");
    assert!(db > 35.0, "{db}");
}
