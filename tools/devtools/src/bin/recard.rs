//! Records each model's graph hash in the card beside it (card format 2), for models exported
//! before cards carried one. Reads version-1 and version-2 cards; writes version 2. Use it only
//! on a model whose card is known to be its own: the hash is what ties them from then on.
//!
//!     cargo run -p lrpo-devtools --bin recard -- models/NAME.onnx...

use lrpo_shared::card::PolicyCard;
use lrpo_shared::onnx::graph_sha256_file;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let models: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if models.is_empty() {
        eprintln!("usage: recard MODEL.onnx...");
        return ExitCode::from(2);
    }
    let mut failed = false;
    for m in &models {
        let card_path = PolicyCard::path_for_model(m);
        let result = PolicyCard::load(&card_path).and_then(|mut card| {
            let hash = graph_sha256_file(m)?;
            let changed = card.graph_sha256 != hash;
            card.graph_sha256 = hash;
            card.save(&card_path)?;
            Ok(changed)
        });
        match result {
            Ok(changed) => println!(
                "{}: {}",
                card_path.display(),
                if changed {
                    "hash recorded"
                } else {
                    "unchanged"
                }
            ),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
