//! `rampart-proofs [ci|deep|NAME...] [--threads N] [--progress SECS]`: model-checks the MinBFT core and prints,
//! for each configuration, every property's verdict, the unique state count, the maximum depth
//! and the time taken. Exits non-zero if a property fails.

use std::time::Duration;

use rampart_proofs::run::check_with_progress;
use rampart_proofs::ModelConfig;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(i) = args.iter().position(|a| a == "--threads") {
        threads = args.get(i + 1).and_then(|t| t.parse().ok()).unwrap_or_else(|| usage());
        args.drain(i..=i + 1);
    }
    let mut state_count_max = None;
    if let Some(i) = args.iter().position(|a| a == "--max-states") {
        state_count_max = Some(args.get(i + 1).and_then(|t| t.parse().ok()).unwrap_or_else(|| usage()));
        args.drain(i..=i + 1);
    }
    // Progress lines on stderr every N seconds (0: none).
    let mut progress = Some(Duration::from_secs(30));
    if let Some(i) = args.iter().position(|a| a == "--progress") {
        let secs: u64 = args.get(i + 1).and_then(|t| t.parse().ok()).unwrap_or_else(|| usage());
        progress = (secs > 0).then(|| Duration::from_secs(secs));
        args.drain(i..=i + 1);
    }
    // `--set key=value` overrides a field of every selected configuration (for sizing runs).
    let mut overrides = Vec::new();
    while let Some(i) = args.iter().position(|a| a == "--set") {
        overrides.push(args.get(i + 1).cloned().unwrap_or_else(|| usage()));
        args.drain(i..=i + 1);
    }
    let all = ModelConfig::all();
    let mut configs = Vec::new();
    for a in if args.is_empty() { vec!["ci".to_string()] } else { args } {
        match a.as_str() {
            "ci" => configs.extend(ModelConfig::ci()),
            "deep" => configs.extend(ModelConfig::deep()),
            name => match all.iter().find(|c| c.name == name) {
                Some(c) => configs.push(c.clone()),
                None => usage(),
            },
        }
    }
    let mut ok = true;
    for mut cfg in configs {
        for o in &overrides {
            if !cfg.set(o) {
                usage();
            }
        }
        println!("checking {cfg:?} with {threads} threads");
        let report = check_with_progress(cfg, threads, state_count_max, progress);
        print!("{report}");
        ok &= report.all_hold();
    }
    if !ok {
        std::process::exit(1);
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: rampart-proofs [ci | deep | {}]... \
         [--threads N] [--max-states N] [--progress SECONDS (default 30, 0: none)] [--set FIELD=VALUE]...",
        ModelConfig::all().iter().map(|c| c.name).collect::<Vec<_>>().join(" | ")
    );
    std::process::exit(2);
}
