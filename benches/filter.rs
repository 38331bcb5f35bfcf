//! The filter's verdict over real SMS texts, as the gateway's filter stage
//! makes it ([`Engine::judge`]): normalisation, 2,000 keyword rules plus
//! the shipped ones, 50 regexes, URL extraction with the shipped domain
//! lists, the sender checks and the classifier. `verdict` leaves out the
//! velocity counters (shared state); `verdict+vel` has them too. The
//! parts are also timed alone, each on the already-normalised text, and
//! `filter/campaign_observe` times the campaign counter with every
//! message to a new recipient. `filter/uci_test_message_cold` evicts the
//! caches before each verdict, as the gateway's other work does between
//! two messages. `filter/uci_test_message_cached` is the verdict through
//! an engine with a verdict cache, every text already in it.
//!
//! Texts: `../shared/data/sms/uci-test.tsv` (skipped with a message when
//! absent). Before the criterion run, every message is timed on its own
//! (best of 5 passes) and the median, p90 and p99 per message are printed,
//! for the whole check and for each part: criterion's figure is a mean
//! over a rotation through all messages.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use telegate::filter::classifier::Model;
use telegate::filter::engine::{AccountPolicy, Engine, Message, Settings, Velocity};
use telegate::filter::normalize::{fold_confusables, normalize_into, Normalized};
use telegate::filter::rules::RuleSet;
use telegate::filter::urls::{default_shorteners, extract_urls, DomainPolicy};
use telegate::filter::velocity::{fingerprint, AccountRate, Campaigns, Fingerprint};

struct Filter {
    rules: RuleSet,
    policy: DomainPolicy,
    model: Model,
    engine: Engine,
}

impl Filter {
    fn load(root: &Path) -> Filter {
        let mut src = std::fs::read_to_string(root.join("conf/filter/rules.toml")).expect("rules");
        for i in 0..2_000 {
            src.push_str(&format!(
                "\n[[keyword]]\nid = \"bench.k{i}\"\nscore = 0.1\nphrases = [\"offerword{i}\", \"special deal number {i}\"]\n"
            ));
        }
        let shipped = src.matches("[[regex]]").count();
        for i in shipped..50 {
            src.push_str(&format!(
                "\n[[regex]]\nid = \"bench.r{i}\"\nscore = 0.1\npattern = '\\bcode{i}\\b.{{0,10}}\\d{{4}}'\n"
            ));
        }
        let dir = root.join("conf/filter");
        let rules = RuleSet::from_toml_in(&src, Some(&dir)).expect("rules compile");
        let brands = [
            "paypal",
            "hsbc",
            "barclays",
            "royalmail",
            "dhl",
            "amazon",
            "netflix",
        ];
        let policy = DomainPolicy::new(
            vec!["evil.example".into()],
            vec!["paypal.com".into(), "hsbc.co.uk".into()],
            default_shorteners(),
            brands.iter().map(|b| b.to_string()).collect(),
        );
        let model =
            Model::load(std::fs::File::open(root.join("conf/filter/model.bin")).expect("model"))
                .expect("model loads");
        let engine = Engine::new(rules.clone(), Some(model.clone()), Settings::default());
        Filter {
            rules,
            policy,
            model,
            engine,
        }
    }

    /// One verdict, as the filter stage makes it.
    fn check(&self, text: &str, velocity: Option<(&AccountRate, &Velocity)>) -> f32 {
        let policy = AccountPolicy::default();
        self.engine
            .judge(
                &Message {
                    text: Some(text),
                    source: (1, 1, b"447700900000"),
                    recipients: &[b"447700900001"],
                },
                &policy,
                velocity,
                Instant::now(),
            )
            .score
    }

    fn urls(&self, text: &str) -> f32 {
        let mut score = 0.0;
        for u in extract_urls(text) {
            score += self.policy.check(&u, &fold_confusables).len() as f32;
        }
        score
    }
}

/// Times `f` on every text, best of 5 passes each; prints the spread.
fn per_message(name: &str, texts: &[&str], mut f: impl FnMut(usize, &str)) {
    let mut best = vec![Duration::MAX; texts.len()];
    for _ in 0..5 {
        for (i, t) in texts.iter().enumerate() {
            let start = Instant::now();
            f(i, black_box(t));
            best[i] = best[i].min(start.elapsed());
        }
    }
    best.sort();
    let q = |p: f64| best[((best.len() - 1) as f64 * p) as usize];
    eprintln!(
        "{name:<10} per message over {} uci-test texts: median {:?}, p90 {:?}, p99 {:?}, max {:?}",
        texts.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0)
    );
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("../shared/data/sms/uci-test.tsv");
    let Ok(tsv) = std::fs::read_to_string(&data) else {
        eprintln!("filter bench skipped: {} not found", data.display());
        return;
    };
    let texts: Vec<&str> = tsv
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(_, t)| t))
        .collect();
    let f = Filter::load(root);
    let mut norm = Normalized::default();

    per_message("verdict", &texts, |_, t| {
        black_box(f.check(t, None));
    });
    let rate = AccountRate::new(100_000, Instant::now());
    let vel = Velocity::new(Duration::from_secs(600), 201);
    per_message("verdict+vel", &texts, |_, t| {
        black_box(f.check(t, Some((&rate, &vel))));
    });
    per_message("normalize", &texts, |_, t| normalize_into(t, &mut norm));
    // The parts on normalised text: normalise outside the timed section.
    let normed: Vec<Normalized> = texts
        .iter()
        .map(|t| {
            let mut n = Normalized::default();
            normalize_into(t, &mut n);
            n
        })
        .collect();
    let mut hits = Vec::new();
    per_message("rules", &texts, |i, _| {
        hits.clear();
        f.rules.scan(&normed[i], &mut hits);
        black_box(&hits);
    });
    per_message("urls", &texts, |_, t| {
        black_box(f.urls(t));
    });
    per_message("model", &texts, |i, _| {
        black_box(f.model.score_normalized(&normed[i]));
    });

    // Campaign velocity alone, as the gateway keeps it: every message to
    // a new recipient, the texts' fingerprints in rotation (so each text
    // reaches a few hundred recipients, as a campaign would), the counts
    // shared by all accounts.
    let fps: Vec<Fingerprint> = normed.iter().map(|n| fingerprint(&n.masked)).collect();
    let recipients: Vec<String> = (0..100_000u32)
        .map(|i| format!("4477{:08}", i.wrapping_mul(2_654_435_761) % 100_000_000))
        .collect();
    let campaigns = Campaigns::new(Duration::from_secs(600), 201, 1_000_000);
    let start = Instant::now();
    let mut k = 0usize;
    c.bench_function("filter/campaign_observe", |b| {
        b.iter(|| {
            k += 1;
            black_box(campaigns.observe(
                &fps[k % fps.len()],
                recipients[k % recipients.len()].as_bytes(),
                start,
            ))
        })
    });

    // The cold case: before each verdict, 4 MiB of other memory is
    // written, as the gateway's other work does between two messages, so
    // the filter's tables start out of the caches. Only the verdict is
    // timed.
    let mut junk = vec![0u8; 4 << 20];
    let mut evict = move || {
        for i in (0..junk.len()).step_by(64) {
            junk[i] = junk[i].wrapping_add(1);
        }
        black_box(&junk);
    };
    let mut j = 0;
    c.bench_function("filter/uci_test_message_cold", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                j = (j + 1) % texts.len();
                evict();
                let start = Instant::now();
                black_box(f.check(black_box(texts[j]), None));
                spent += start.elapsed();
            }
            spent
        })
    });

    let mut i = 0;
    c.bench_function("filter/uci_test_message", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(f.check(black_box(texts[i]), None))
        })
    });

    // The same rotation through an engine with the gateway's default
    // verdict cache (4,096 entries a thread): every text fits, so after
    // the first pass every verdict is a hit (key, look-up, sender checks,
    // thresholds; no normalisation, rules, URLs or model). The figures
    // above are of the uncached verdict.
    let cached = Filter {
        engine: Engine::new(f.rules.clone(), Some(f.model.clone()), Settings::default())
            .with_verdict_cache(4096),
        ..f
    };
    per_message("cached", &texts, |_, t| {
        black_box(cached.check(t, None));
    });
    let mut i = 0;
    c.bench_function("filter/uci_test_message_cached", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(cached.check(black_box(texts[i]), None))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
