//! The filter's building blocks over real SMS texts: normalisation, 2,000
//! keyword rules plus the shipped ones, 50 regexes, URL extraction with the
//! domain policy, and the classifier — everything a verdict needs except
//! the velocity counters.
//!
//! Texts: `../shared/data/sms/uci-test.tsv` (skipped with a message when
//! absent). Before the criterion run, every message is timed on its own
//! (best of 5 passes) and the median and p99 per message are printed:
//! criterion's figure is a mean over a rotation through all messages.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use telegate::filter::classifier::Model;
use telegate::filter::normalize::{fold_confusables, normalize};
use telegate::filter::rules::RuleSet;
use telegate::filter::urls::{default_shorteners, extract_urls, DomainPolicy};

struct Filter {
    rules: RuleSet,
    policy: DomainPolicy,
    model: Model,
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
        let rules = RuleSet::from_toml(&src).expect("rules compile");
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
        Filter {
            rules,
            policy,
            model,
        }
    }

    /// The work of one verdict, summed so nothing is optimised away.
    fn check(&self, text: &str, hits: &mut Vec<telegate::filter::rules::Hit>) -> f32 {
        hits.clear();
        let n = normalize(text);
        self.rules.scan(&n, hits);
        let mut score: f32 = hits.iter().map(|h| h.score).sum();
        for u in extract_urls(text) {
            score += self.policy.check(&u, &fold_confusables).len() as f32;
        }
        score + self.model.score(text)
    }
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
    let mut hits = Vec::new();

    // Per message: best of 5 passes each, then the distribution.
    let mut best = vec![Duration::MAX; texts.len()];
    for _ in 0..5 {
        for (i, t) in texts.iter().enumerate() {
            let start = Instant::now();
            black_box(f.check(black_box(t), &mut hits));
            best[i] = best[i].min(start.elapsed());
        }
    }
    best.sort();
    let q = |p: f64| best[((best.len() - 1) as f64 * p) as usize];
    eprintln!(
        "filter per message over {} uci-test texts: median {:?}, p90 {:?}, p99 {:?}, max {:?}",
        texts.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0)
    );

    let mut i = 0;
    c.bench_function("filter/uci_test_message", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(f.check(black_box(texts[i]), &mut hits))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
