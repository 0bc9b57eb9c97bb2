//! The ONNX face descriptor against the original network (face-api.js on TF.js), and the
//! identity distances of the real photographs through this project's own path
//! (landmarks → FFHQ alignment → identity chip → descriptor).

#[path = "common/identity_inputs.rs"]
mod identity_inputs;

use lrpo_shared::onnx::identity::{
    Descriptor, FaceDescriptor, SAME_PERSON_DISTANCE, chip_from_frame, distance,
};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn as_descriptor(v: &serde_json::Value) -> Descriptor {
    let a = v.as_array().unwrap();
    std::array::from_fn(|i| a[i].as_f64().unwrap() as f32)
}

#[test]
fn onnx_descriptors_match_face_api_and_separate_obama_from_biden() {
    let fx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("shared/tests/fixtures/face_descriptors.json"))
            .unwrap(),
    )
    .unwrap();
    let net = FaceDescriptor::load(&root().join("models/face_descriptor.onnx")).unwrap();
    let faces = identity_inputs::faces(&root());
    let want = fx["faces"].as_array().unwrap();
    assert_eq!(
        faces.len(),
        want.len(),
        "fixture and landmarks disagree; regenerate the fixture"
    );
    let mut worst = 0.0f32;
    for (f, w) in faces.iter().zip(want) {
        assert_eq!(f.name, w["name"].as_str().unwrap());
        let h = format!(
            "{:016x}",
            identity_inputs::fnv1a(&identity_inputs::rgb8(&f.chip))
        );
        assert_eq!(
            h,
            w["chip_fnv1a"].as_str().unwrap(),
            "{}: chip pixels changed; regenerate the fixture",
            f.name
        );
        let d = net.describe(&[f.chip.view()]).unwrap()[0];
        let r = as_descriptor(&w["descriptor"]);
        let m = d
            .iter()
            .zip(&r)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!("{:<22} max |Δ| vs face-api {m:.2e}", f.name);
        worst = worst.max(m);
        assert!(m < 1e-3, "{}: max |Δ| {m}", f.name);
    }
    println!("worst max |Δ| {worst:.2e}");

    // Full path on float chips straight from the photos.
    let ours: Vec<(String, Descriptor)> = faces
        .iter()
        .map(|f| {
            let frame = lrpo_shared::image::load_rgb(&f.file).unwrap();
            let chip = chip_from_frame(&frame.view(), &f.landmarks).unwrap();
            (f.name.clone(), net.describe(&[chip.view()]).unwrap()[0])
        })
        .collect();
    let obama: Vec<&(String, Descriptor)> = ours
        .iter()
        .filter(|(n, _)| n.starts_with("obama"))
        .collect();
    let biden: Vec<&(String, Descriptor)> = ours
        .iter()
        .filter(|(n, _)| n.starts_with("biden"))
        .collect();
    assert_eq!((obama.len(), biden.len()), (4, 1));
    // face-api's own end-to-end pipeline, for comparison.
    let pipe: Vec<(String, Descriptor)> = fx["pipeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["stem"].as_str().unwrap().to_string(),
                as_descriptor(&p["descriptor"]),
            )
        })
        .collect();
    let pipe_of = |stem: &str| pipe.iter().find(|(s, _)| s == stem).map(|(_, d)| *d);
    println!("{:<44} {:>8} {:>10}", "pair", "ours", "face-api");
    for (i, a) in obama.iter().enumerate() {
        for b in obama.iter().skip(i + 1).chain(biden.iter()) {
            let d = distance(&a.1, &b.1);
            let same = !b.0.starts_with("biden");
            let stem = |n: &str| n.rsplit_once('_').unwrap().0.to_string();
            let theirs = match (pipe_of(&stem(&a.0)), pipe_of(&stem(&b.0))) {
                (Some(x), Some(y)) => format!("{:.3}", distance(&x, &y)),
                _ => "-".into(),
            };
            println!("{:<44} {d:>8.3} {theirs:>10}", format!("{} – {}", a.0, b.0));
            if same {
                assert!(
                    d < SAME_PERSON_DISTANCE,
                    "{} and {} are the same person but {d:.3} apart",
                    a.0,
                    b.0
                );
            } else {
                assert!(
                    d > SAME_PERSON_DISTANCE,
                    "{} and {} are different people but only {d:.3} apart",
                    a.0,
                    b.0
                );
            }
        }
    }
}

#[test]
fn wrong_model_files_are_refused() {
    let e = FaceDescriptor::load(&root().join("data/faces/astronaut.png"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("astronaut.png"), "{e}");
    // A valid ONNX model with the wrong interface.
    let mut g = lrpo_shared::onnx::GraphBuilder::new("other");
    let x = g.input(
        "x",
        lrpo_shared::onnx::ElemType::F32,
        &[
            lrpo_shared::onnx::Dim::Fixed(1),
            lrpo_shared::onnx::Dim::Fixed(3),
        ],
    );
    g.relu(&x);
    let y = g.rename_last_output("y");
    g.output(
        &y,
        lrpo_shared::onnx::ElemType::F32,
        &[
            lrpo_shared::onnx::Dim::Fixed(1),
            lrpo_shared::onnx::Dim::Fixed(3),
        ],
    );
    let p = std::env::temp_dir().join(format!("lrpo-not-a-descriptor-{}.onnx", std::process::id()));
    g.save(&p).unwrap();
    let e = FaceDescriptor::load(&p).unwrap_err().to_string();
    assert!(e.contains("not a face-descriptor model"), "{e}");
    std::fs::remove_file(p).unwrap();
}

#[test]
fn reward_spec_scorers_load_identity_and_user_onnx_models() {
    use lrpo_shared::onnx::{Dim, ElemType, GraphBuilder};
    use lrpo_shared::reward::{Reward, RewardSpec};
    let dir = std::env::temp_dir().join(format!("lrpo-scorers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let img_dims = [Dim::Fixed(1), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")];
    // onnx-nr: mean brightness. onnx-fr: mean squared difference.
    let mut g = GraphBuilder::new("brightness");
    let x = g.input("x", ElemType::F32, &img_dims);
    let m = g.global_average_pool(&x);
    let m = g.reshape(&m, &[1, 3]);
    g.node(
        "ReduceMean",
        &[&m],
        &[
            lrpo_shared::onnx::Attr::Ints("axes", vec![1]),
            lrpo_shared::onnx::Attr::Int("keepdims", 0),
        ],
    );
    let y = g.rename_last_output("score");
    g.output(&y, ElemType::F32, &[Dim::Fixed(1)]);
    g.save(&dir.join("nr.onnx")).unwrap();
    let mut g = GraphBuilder::new("msd");
    let a = g.input("a", ElemType::F32, &img_dims);
    let b = g.input("b", ElemType::F32, &img_dims);
    let d = g.sub(&a, &b);
    let d2 = g.mul(&d, &d);
    let m = g.global_average_pool(&d2);
    let m = g.reshape(&m, &[1, 3]);
    g.node(
        "ReduceMean",
        &[&m],
        &[
            lrpo_shared::onnx::Attr::Ints("axes", vec![1]),
            lrpo_shared::onnx::Attr::Int("keepdims", 0),
        ],
    );
    let y = g.rename_last_output("score");
    g.output(&y, ElemType::F32, &[Dim::Fixed(1)]);
    g.save(&dir.join("fr.onnx")).unwrap();
    std::fs::write(
        dir.join("r.toml"),
        "[[component]]\nname = \"id\"\nkind = \"identity\"\nweight = 0.5\n\
         [[component]]\nname = \"bright\"\nkind = \"onnx-nr\"\nweight = 0.25\npath = \"nr.onnx\"\n\
         [[component]]\nname = \"msd\"\nkind = \"onnx-fr\"\nweight = 0.25\npath = \"fr.onnx\"\nmapping = { kind = \"exp\", scale = 10.0 }\n",
    )
    .unwrap();
    let spec = RewardSpec::load(&dir.join("r.toml")).unwrap();
    let scorers = lrpo_shared::onnx::scorers::scorers_for(
        &spec,
        &dir,
        &root().join("models/face_descriptor.onnx"),
    )
    .unwrap();
    let reward = Reward::new(spec, &scorers).unwrap();
    // A real face crop: Grace Hopper aligned to 128 px, and a darker copy of it.
    let faces = identity_inputs::faces(&root());
    let f = faces.iter().find(|f| f.name == "grace_hopper_0").unwrap();
    let frame = lrpo_shared::image::load_rgb(&f.file).unwrap();
    let t = lrpo_shared::align::face_to_crop(&f.landmarks, 128).unwrap();
    let gt = lrpo_shared::align::warp_to_crop(
        &frame.view(),
        &t,
        128,
        lrpo_shared::align::Interp::Bicubic,
        lrpo_shared::align::Border::Replicate,
    )
    .unwrap();
    let dark = gt.mapv(|v| v * 0.8);
    let b = reward
        .evaluate(&dark.view(), Some(&gt.view()), &dark.view())
        .unwrap();
    let by = |n: &str| b.components.iter().find(|c| c.name == n).unwrap().clone();
    assert!((by("bright").raw - dark.mean().unwrap() as f64).abs() < 1e-5);
    let msd = (&dark - &gt).mapv(|v| v * v).mean().unwrap() as f64;
    assert!((by("msd").raw - msd).abs() < 1e-6);
    assert!((by("msd").reward - (-10.0 * msd).exp()).abs() < 1e-6);
    // Darkening keeps the identity: same person.
    assert!(by("id").raw < 0.3, "{}", by("id").raw);
    // A missing path is a clear error.
    std::fs::write(
        dir.join("bad.toml"),
        "[[component]]\nname = \"x\"\nkind = \"onnx-nr\"\nweight = 1.0\n",
    )
    .unwrap();
    let spec = RewardSpec::load(&dir.join("bad.toml")).unwrap();
    let e = lrpo_shared::onnx::scorers::scorers_for(&spec, &dir, Path::new("none"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("path"), "{e}");
    // An FR model given as NR is refused.
    std::fs::write(
        dir.join("bad2.toml"),
        "[[component]]\nname = \"x\"\nkind = \"onnx-nr\"\nweight = 1.0\npath = \"fr.onnx\"\n",
    )
    .unwrap();
    let spec = RewardSpec::load(&dir.join("bad2.toml")).unwrap();
    let e = lrpo_shared::onnx::scorers::scorers_for(&spec, &dir, Path::new("none"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("fr.onnx") && e.contains("1 image input"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
