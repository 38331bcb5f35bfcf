//! The inline spam and abuse filter (issue 5). Each submodule is a
//! self-contained building block with its own tests; [`engine`] combines
//! them into a verdict, [`suspension`] keeps the per-account windows,
//! suspensions and review evidence, and the gateway's filter stage
//! (`gateway::stage`) puts it all in the data path.

mod cache;
pub mod classifier;
pub mod datasets;
pub mod engine;
pub mod eval;
pub mod normalize;
#[cfg(test)]
mod pinned;
pub mod reassembly;
pub mod rules;
pub mod sender;
pub mod suspension;
pub mod urls;
pub mod velocity;
pub mod webhook;

use crate::config::FilterConfig;
use engine::{Engine, Settings};

/// The model built into the binary (`conf/filter/model.bin`).
const BUILTIN_MODEL: &[u8] = include_bytes!("../../conf/filter/model.bin");

/// Builds the filter engine a `[filter]` table describes: its rules file
/// (or the built-in rules), its model (or the built-in one) and its
/// thresholds. Errors name the key (`filter.rules`, `filter.model`).
pub fn build_engine(cfg: &FilterConfig) -> Result<Engine, (&'static str, String)> {
    let rules = match &cfg.rules {
        Some(p) => rules::RuleSet::load(p)
            .map_err(|e| ("filter.rules", format!("{}: {e}", p.display())))?,
        None => rules::RuleSet::builtin()
            .map_err(|e| ("filter.rules", format!("built-in rules: {e}")))?,
    };
    let model = if cfg.classifier {
        Some(match &cfg.model {
            Some(p) => std::fs::read(p)
                .map_err(classifier::ModelError::from)
                .and_then(|b| classifier::Model::from_bytes(&b))
                .map_err(|e| ("filter.model", format!("{}: {e}", p.display())))?,
            None => classifier::Model::from_bytes(BUILTIN_MODEL)
                .map_err(|e| ("filter.model", format!("built-in model: {e}")))?,
        })
    } else {
        None
    };
    let settings = Settings {
        block_score: cfg.block_score,
        flag_score: cfg.flag_score,
        classifier_base: cfg.classifier_base,
        classifier_weight: cfg.classifier_weight,
        classifier_threshold: cfg.classifier_threshold,
        campaign_recipients: cfg.campaign_recipients as usize,
        campaign_score: cfg.campaign_score,
        max_per_second: u64::from(cfg.max_per_second),
        max_recipients_per_minute: cfg.max_recipients_per_minute as usize,
        rate_score: cfg.rate_score,
    };
    Ok(Engine::new(rules, model, settings).with_verdict_cache(cfg.verdict_cache as usize))
}
