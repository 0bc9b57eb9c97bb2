//! tract's optimised plan of an ONNX model for one input shape, with each node's median time:
//!
//!     cargo run --release -p lrpo-edge --example profile_onnx -- \
//!         MODEL.onnx DIMS [--runs N] [--rewrite-prelu [mul]]
//!
//! DIMS is comma-separated (e.g. `1,3,128,128`); the input is a smooth pattern in [−1, 1].
//! `--rewrite-prelu` applies `lrpo_shared::onnx::rewrite::prelu_to_fast_ops` first, with the
//! depthwise form (as MTCNN's loader does for R-Net and O-Net), or with `mul` the broadcast
//! product (as for P-Net).
use lrpo_shared::onnx::rewrite::PerChannel;
use ndarray::Dimension;
use std::path::Path;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    lrpo_edge::allocator::keep_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: profile_onnx MODEL.onnx DIMS [--runs N] [--rewrite-prelu [mul]]";
    let (Some(path), Some(dims)) = (args.first(), args.get(1)) else {
        return Err(usage.into());
    };
    let mut runs = 20;
    let mut rewrite = None;
    let mut rest = args[2..].iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--runs" => runs = rest.next().ok_or(usage)?.parse()?,
            "--rewrite-prelu" => rewrite = Some(PerChannel::DepthwiseConv),
            "mul" if rewrite.is_some() => rewrite = Some(PerChannel::Mul),
            _ => return Err(usage.into()),
        }
    }
    let dims: Vec<usize> = dims
        .split(',')
        .map(|d| d.trim().parse())
        .collect::<Result<_, _>>()?;
    let path = Path::new(path);
    let mut proto = lrpo_shared::onnx::read_model(path)?;
    if let Some(form) = rewrite {
        let n = lrpo_shared::onnx::rewrite::prelu_to_fast_ops(&mut proto, path, form)?;
        println!("{n} PRelu nodes rewritten");
    }
    let model = lrpo_shared::onnx::OnnxModel::from_proto(&proto, path)?;
    let x = ndarray::ArrayD::from_shape_fn(dims.clone(), |i| {
        (i.as_array_view().iter().sum::<usize>() as f32 * 0.37).sin()
    });
    let prof = model.profile(&[x.view()], runs)?;
    let total: f64 = prof.iter().map(|n| n.ms).sum();
    let mut whole: Vec<f64> = (0..runs)
        .map(|_| {
            let t = std::time::Instant::now();
            model
                .run(&[x.view()])
                .map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_, _>>()?;
    whole.sort_by(f64::total_cmp);
    println!(
        "OnnxModel::run: {:.3} ms median over {runs} runs",
        whole[runs / 2]
    );
    println!(
        "{} on {dims:?}: {total:.3} ms per run (sum of node medians over {runs} runs)",
        path.display()
    );
    for n in &prof {
        println!(
            "{:8.3} ms {:5.1}%  {}: {} ({})",
            n.ms,
            100.0 * n.ms / total,
            n.name,
            n.op,
            n.info
        );
    }
    Ok(())
}
