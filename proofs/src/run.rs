//! Runs a configuration's check and reports it.

use std::time::{Duration, Instant};

use stateright::{Checker, Expectation, Model};

use crate::config::ModelConfig;
use crate::model::MinBftModel;

/// The result of one property.
#[derive(Clone, Debug)]
pub struct PropertyResult {
    pub name: &'static str,
    pub expectation: Expectation,
    /// For `always`: a counterexample was found. For `sometimes`: an example was found.
    pub discovered: bool,
    /// The discovery's path, one step per line (actions), if any.
    pub path: Option<String>,
}

impl PropertyResult {
    /// Did the property hold (no counterexample; or an example found)?
    pub fn holds(&self) -> bool {
        match self.expectation {
            Expectation::Always | Expectation::Eventually => !self.discovered,
            Expectation::Sometimes => self.discovered,
        }
    }
}

/// The result of checking one configuration.
#[derive(Clone, Debug)]
pub struct Report {
    pub config: ModelConfig,
    pub unique_states: usize,
    pub states: usize,
    pub max_depth: usize,
    pub elapsed: Duration,
    pub properties: Vec<PropertyResult>,
}

impl Report {
    pub fn all_hold(&self) -> bool {
        self.properties.iter().all(PropertyResult::holds)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} unique states ({} generated), max depth {}, {:.1} s",
            self.config.name,
            self.unique_states,
            self.states,
            self.max_depth,
            self.elapsed.as_secs_f64()
        )?;
        for p in &self.properties {
            let verdict = if p.holds() { "holds" } else { "FAILS" };
            writeln!(f, "  {verdict:5}  {:?} \"{}\"", p.expectation, p.name)?;
            if !p.holds() {
                if let Some(path) = &p.path {
                    writeln!(f, "{path}")?;
                }
            }
        }
        Ok(())
    }
}

/// Checks `cfg` exhaustively with `threads` worker threads: breadth first for the CI
/// configurations (shortest counterexamples; the frontier of full states is held in memory),
/// depth first for the deep ones (memory: the visited fingerprints and the current paths; their
/// breadth-first frontier does not fit in memory).
pub fn check(cfg: ModelConfig, threads: usize) -> Report {
    check_bounded(cfg, threads, None)
}

/// As [`check`], stopping after about `state_count_max` states if given (a partial check: for
/// sizing configurations, never for a verdict).
pub fn check_bounded(cfg: ModelConfig, threads: usize, state_count_max: Option<usize>) -> Report {
    check_with_progress(cfg, threads, state_count_max, None)
}

/// Waits for `checker`, printing a progress line on standard error every `progress` if given:
/// states, unique states, depth and the rate since the previous line.
fn finish<C: Checker<MinBftModel> + 'static>(checker: C, start: Instant, progress: Option<Duration>) -> Box<dyn Checker<MinBftModel>> {
    if let Some(every) = progress {
        // Poll often so that a short run's elapsed time is not rounded up to `every`.
        const POLL: Duration = Duration::from_millis(50);
        let mut last = (start, 0usize);
        while !checker.is_done() {
            std::thread::sleep(POLL);
            if last.0.elapsed() < every || checker.is_done() {
                continue;
            }
            let (now, states) = (Instant::now(), checker.state_count());
            let rate = states.saturating_sub(last.1) as f64 / now.duration_since(last.0).as_secs_f64();
            last = (now, states);
            eprintln!(
                "  ... {:>6.0} s: {} states, {} unique, depth {}, {:.0} states/s",
                start.elapsed().as_secs_f64(),
                states,
                checker.unique_state_count(),
                checker.max_depth(),
                rate
            );
        }
    }
    Box::new(checker.join())
}

/// As [`check_bounded`], printing a progress line every `progress` if given.
pub fn check_with_progress(cfg: ModelConfig, threads: usize, state_count_max: Option<usize>, progress: Option<Duration>) -> Report {
    let model = MinBftModel::new(cfg.clone());
    let properties = model.properties();
    let start = Instant::now();
    let mut builder = model.checker().threads(threads);
    if let Some(n) = state_count_max {
        builder = builder.target_state_count(n);
    }
    let depth_first = cfg.name.starts_with("deep");
    let checker = if depth_first { finish(builder.spawn_dfs(), start, progress) } else { finish(builder.spawn_bfs(), start, progress) };
    let elapsed = start.elapsed();
    let properties = properties
        .iter()
        .map(|p| {
            let path = checker.discovery(p.name);
            PropertyResult {
                name: p.name,
                expectation: p.expectation.clone(),
                discovered: path.is_some(),
                path: path.map(|path| {
                    let model = checker.model();
                    let mut out = String::new();
                    for (i, a) in path.into_actions().into_iter().enumerate() {
                        out.push_str(&format!("    {i:3}. {}\n", model.format_action(&a)));
                    }
                    out
                }),
            }
        })
        .collect();
    Report { config: cfg, unique_states: checker.unique_state_count(), states: checker.state_count(), max_depth: checker.max_depth(), elapsed, properties }
}
