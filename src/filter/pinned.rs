//! Every output of the filter on tricky texts, pinned exactly as the
//! straightforward code computed them before the filter's hot paths were
//! made faster: normalised views, classifier score, URLs, velocity
//! fingerprint and the whole verdict (built-in rules and model). Scores
//! are compared as `f32` bit patterns, so an optimisation that reorders a
//! sum, drops a feature or moves a bucket fails here.
//!
//! A change that is meant to move these figures (new rules, a retrained
//! model) regenerates the table: run
//! `PINNED_PRINT=1 cargo test -q --lib filter::pinned -- --nocapture` and
//! paste its output over [`PINNED`] after checking every changed line.

use std::time::{Duration, Instant};

use super::classifier::Model;
use super::engine::{message_text, AccountPolicy, Engine, Message, Settings, Velocity};
use super::normalize::{fold_confusables, normalize};
use super::urls::extract_urls;
use super::velocity::{fingerprint, AccountRate, Campaigns};
use crate::hash::{fnv1a, FNV_OFFSET};

/// The texts: evasions, URLs of every form, odd code points, and edge
/// lengths.
fn texts() -> Vec<String> {
    let ucs2 = |s: &str| {
        let b: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
        message_text(8, 0, &b, None).unwrap_or_default()
    };
    let mut v: Vec<String> = [
        "",
        " \u{200B}\t ",
        "ok",
        "Hi Mum, see you at Dinner tonight?",
        "WINNER!! As a valued network customer you have been selected to receivea £900 prize reward! To claim call 09061701461. Claim code KL341. Valid 12 hours only.",
        "FREE entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121 to receive entry question(std txt rate)T&C's apply 08452810075over18's",
        // Homoglyphs: Cyrillic and Greek look-alikes.
        "\u{0412}\u{0430}nk \u{0391}l\u{0435}rt: y\u{043e}ur \u{0440}\u{0430}yp\u{0430}l \u{0430}cc\u{043e}unt is l\u{043e}ck\u{0435}d, v\u{0435}rify n\u{043e}w",
        "\u{0397}\u{039F}\u{03A4} \u{039C}\u{0395}\u{0396}\u{0399}\u{03A7}\u{03A5} \u{0393}\u{03A9} \u{03b7}\u{03bf}\u{03c4} prize",
        // Zero-width and invisible characters.
        "Cl\u{200B}aim y\u{200D}our fr\u{200B}ee pr\u{FEFF}ize n\u{00AD}ow \u{202E}win\u{202C} c\u{E0041}ash",
        // Leetspeak and symbols.
        "fr33 c4sh pr1z3!! W1N N0W $ave 50% @ttention he||o w|i|n r3@d usd50.00 ngn1,234 covid19 5pm",
        // Spacing.
        "f r e e  m o n e y  c.l.i.c.k  h e r e  c a l l  0 9 0 6 1 7 0 1 4 6 1  w w w . x . c o m",
        "c a l l  t o  c l a i m  y o u r  £ 1 0 0 0  p r i z e",
        // Fullwidth, accents, combining marks, emoji.
        "\u{ff26}\u{ff32}\u{ff25}\u{ff25} \u{ff43}\u{ff41}\u{ff53}\u{ff48} ５０％ Gratuite\u{0301} GRATUITÉ Ñandú Øre \u{2460} ﬁnance",
        "🎉 WIN 💰💰 now 👍🏽 👨\u{200D}👩\u{200D}👧 x\u{0301}\u{0302}\u{0303}\u{0304} \u{0301}",
        // URLs: schemes, defanged, user info, IPs, ports, punycode.
        "URGENT: verify at HTTP://Bit.LY/AbC123 or www.Example.co.uk/x?y=1 now.",
        "hxxp://evil[.]com/x hXXps://paypa1-secure(dot)com/login http[:]//192[.]0[.]2[.]1:8080/a",
        "see:http://sub.example.co.uk:8080/?q=1 and http://paypal.com@evil.com/x, ftp://files.example.com/x",
        "Your account: paypa1-secure.com (royalmail-redelivery.info) \"bit.ly/abc\"! [t.co/x]; 192.0.2.1/login 1.2.3.4",
        "https://xn--pypal-4ve.com/login p\u{430}ypal.com/x http://xn--zzzz.com/x xn--zzzz.com http://xn--e1afmkfd.xn--p1ai/",
        "mail a@b.com or x.y@paypal.co.uk, e.g. 3.50 Mr.Smith now.Click co.uk i.e. a..b ... http:// www. https://:80",
        "javascript:alert(1) data:text/html,x tel:+447700900000 sms:87121?body=WIN mailto:a@b.com HTTPS://HSBC-secure.support/verify",
        "Пример: hxxps://пример[.]рф/путь и bit.ly/ж {dot} (.) [:] hxxp",
        // Business traffic the model never saw.
        "Debit Alert! Acct: A/C x0741 Amt: INR 7,389.55 DR Desc: POS/NETFLIX/012537 Date: 03/03/26 Bal: INR653,030.89",
        "Your verification code is 482913. It expires in 10 minutes. Do not share it with anyone.",
        "Reminder: dentist appointment on Tue 14 May at 10:30. Reply C to cancel.",
        // Control characters and odd whitespace.
        "tab\there\nnew line\r\n  \u{0b}\u{0c} ctl\u{01}\u{1f}~` a\u{00A0}\u{00A0}b \u{2003}x\u{3000}y\u{85}z",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // UCS-2 on the wire, decoded as the gateway does.
    v.push(ucs2(
        "Ваш код: 4821. Не сообщайте его никому. Visit bit.ly/x1 to claim £100!",
    ));
    v.push(ucs2("مبروك! لقد ربحت جائزة 1000 دولار اتصل 0906123456"));
    v.push(ucs2("恭喜您中奖了！请点击 www.example.cn/claim 领取 ¥5000"));
    // Long texts: a concatenated spam, and 100 KB of mixed tricks.
    v.push("FREE prize call 09061701461 now to claim £1000 cash! ".repeat(30));
    let mut long = String::new();
    while long.len() < 100 * 1024 {
        long.push_str(
            "f r 3 e c.l.i.c.k W1N 0800 \u{0430}\u{200B} x\u{0301}\u{0302} bit.ly/q hxxp://a[.]com ",
        );
    }
    v.push(long);
    v
}

fn hash(s: &str) -> u64 {
    fnv1a(FNV_OFFSET, s.as_bytes())
}

/// One line of every output for `text`.
fn summary(engine: &Engine, model: &Model, text: &str) -> String {
    let n = normalize(text);
    let fp = fingerprint(&n.masked);
    let fp =
        fp.0.iter()
            .fold(FNV_OFFSET, |h, b| fnv1a(h, &b.to_le_bytes()));
    let urls = extract_urls(text);
    let hosts: Vec<&str> = urls.iter().take(4).map(|u| u.host.as_str()).collect();
    let v = engine.judge(
        &Message {
            text: Some(text),
            source: (1, 1, b"447700900000"),
            recipients: &[b"447700900001"],
        },
        &AccountPolicy::default(),
        None,
        Instant::now(),
    );
    let hits: Vec<String> = v
        .hits
        .iter()
        .map(|h| format!("{}:{:08x}", h.rule, h.score.to_bits()))
        .collect();
    format!(
        "{:?} {:08x} [{}] model={:08x} fp={fp:016x} urls={}:{:016x}:{} n={:016x}/{:016x}/{:016x} fc={:016x}",
        v.action,
        v.score.to_bits(),
        hits.join(","),
        model.score_normalized(&n).to_bits(),
        urls.len(),
        hash(&format!("{urls:?}")),
        hosts.join(","),
        hash(&n.folded),
        hash(&n.squeezed),
        hash(&n.masked),
        hash(&fold_confusables(text)),
    )
}

/// The distinct-recipient counts a fixed campaign scenario gives (with the
/// recipients keyed by a fixed seed: past two recipients they are
/// estimates from bitmaps, and the bit each recipient takes follows its
/// key):
/// near-duplicates, repeats, a recipient cap, early generation rolls
/// (key bound) and the window.
fn campaign_counts() -> Vec<usize> {
    let c = Campaigns::with_seed(
        Duration::from_secs(10),
        40,
        300,
        foldhash::quality::SeedableRandomState::fixed(),
    );
    let t0 = Instant::now();
    let names = ["John", "Sarah", "Ahmed", "Li", "Maria"];
    let mut out = Vec::new();
    for i in 0..120u64 {
        let text = match i % 4 {
            0 | 1 => format!(
                "Hi {}, your parcel {} is held. Pay the fee at parcel-help.com/{} today",
                names[i as usize % names.len()],
                1000 + i * 7,
                i * 31
            ),
            2 => format!("unrelated text number {i} about lunch and dinner plans"),
            _ => "the same text sent to everyone again".to_string(),
        };
        let to = format!("4477009{:05}", i % 47);
        let at = t0 + Duration::from_millis(i * 150);
        out.push(c.observe(&fingerprint(&normalize(&text).masked), to.as_bytes(), at));
    }
    out
}

/// The whole verdict with velocity on (campaign and rate signals).
fn velocity_scores() -> Vec<String> {
    let rules = super::rules::RuleSet::builtin().expect("built-in rules");
    let model = Model::from_bytes(super::BUILTIN_MODEL).expect("built-in model");
    let engine = Engine::new(
        rules,
        Some(model),
        Settings {
            campaign_recipients: 5,
            max_per_second: 10,
            max_recipients_per_minute: 20,
            ..Settings::default()
        },
    );
    let t0 = Instant::now();
    let rate = AccountRate::new(100, t0);
    let vel = Velocity::with_fixed_seed(Duration::from_secs(600), 6);
    let mut out = Vec::new();
    for i in 0..40u64 {
        let text = if i % 3 == 0 {
            format!(
                "Dear customer {i}, your invoice {} is ready at our portal today",
                1000 + i
            )
        } else {
            format!(
                "WIN a £{} prize now, call 0906170{:04} to claim",
                100 + i,
                i
            )
        };
        let to = format!("4477009{:05}", i);
        let v = engine.judge(
            &Message {
                text: Some(&text),
                source: (5, 0, b"SHOP"),
                recipients: &[to.as_bytes(), b"447700900001"],
            },
            &AccountPolicy::default(),
            Some((&rate, &vel)),
            t0 + Duration::from_millis(i * 20),
        );
        let hits: Vec<String> = v
            .hits
            .iter()
            .map(|h| format!("{}:{:08x}", h.rule, h.score.to_bits()))
            .collect();
        out.push(format!(
            "{:?} {:08x} [{}]",
            v.action,
            v.score.to_bits(),
            hits.join(",")
        ));
    }
    out
}

fn built_in() -> (Engine, Model) {
    let engine = super::build_engine(&crate::config::FilterConfig::default()).expect("engine");
    let model = Model::from_bytes(super::BUILTIN_MODEL).expect("built-in model");
    (engine, model)
}

#[test]
fn outputs_are_pinned() {
    let (engine, model) = built_in();
    let got: Vec<String> = texts()
        .iter()
        .map(|t| summary(&engine, &model, t))
        .collect();
    let campaigns = campaign_counts();
    let velocity = velocity_scores();
    if std::env::var_os("PINNED_PRINT").is_some() {
        println!("const PINNED: &[&str] = &[");
        for g in &got {
            println!("    {g:?},");
        }
        println!("];\nconst CAMPAIGN_COUNTS: &[usize] = &{campaigns:?};");
        println!("const VELOCITY: &[&str] = &[");
        for g in &velocity {
            println!("    {g:?},");
        }
        println!("];");
    }
    assert_eq!(got.len(), PINNED.len());
    for (i, (g, want)) in got.iter().zip(PINNED).enumerate() {
        assert_eq!(g, want, "text {i}");
    }
    assert_eq!(campaigns, CAMPAIGN_COUNTS);
    assert_eq!(velocity, VELOCITY);
}

const PINNED: &[&str] = &[
    "Allow 80000000 [] model=3224e11e fp=b9b23f3a46fd0825 urls=0:09612b07b5ecb5a5: n=cbf29ce484222325/cbf29ce484222325/cbf29ce484222325 fc=cbf29ce484222325",
    "Allow 80000000 [] model=3224e11e fp=b9b23f3a46fd0825 urls=0:09612b07b5ecb5a5: n=cbf29ce484222325/cbf29ce484222325/cbf29ce484222325 fc=c3ff3c17cef59446",
    "Allow 80000000 [] model=364f341e fp=b9b23f3a46fd0825 urls=0:09612b07b5ecb5a5: n=08b05d07b5566bef/08b05d07b5566bef/08b05d07b5566bef fc=08b05d07b5566bef",
    "Allow 3e99999a [smish.family:3e99999a] model=3a054442 fp=ea69d4fb3f8748db urls=0:09612b07b5ecb5a5: n=01fb324ca00237bc/01fb324ca00237bc/01fb324ca00237bc fc=01fb324ca00237bc",
    "Block 40ad1f54 [prize.won:3eb33333,prize.claim:3e99999a,number.premium:3e99999a,call.premium:3eb33333,classifier:408385bb] model=3f7ff2f7 fp=be8c1c06a036a54c urls=0:09612b07b5ecb5a5: n=8c4f9893820c3c6b/8c4f9893820c3c6b/a21649a12224ebee fc=8c4f9893820c3c6b",
    "Block 4099a40c [marketing.free:3e19999a,offer.free:3e4ccccd,premium.rate:3e99999a,subscription.service:3e800000,reply.keyword:3e800000,shortcode.reply:3e800000,classifier:4059ae7f] model=3f7f9d5c fp=24bfcbfc56103d47 urls=0:09612b07b5ecb5a5: n=b8564b47831a25bd/b8564b47831a25bd/8cf51e31d4b4313d fc=b8564b47831a25bd",
    "Allow 80000000 [] model=3c809e1c fp=d95d527d3cf29949 urls=0:09612b07b5ecb5a5: n=e0cbf1fc1907ff6f/e0cbf1fc1907ff6f/e0cbf1fc1907ff6f fc=e0cbf1fc1907ff6f",
    "Allow 80000000 [] model=3bb67414 fp=0cf48508fc4bc57b urls=0:09612b07b5ecb5a5: n=bda2944c0dbaba9a/bda2944c0dbaba9a/bda2944c0dbaba9a fc=bda2944c0dbaba9a",
    "Block 40175168 [prize.claim:3e99999a,marketing.free:3e19999a,classifier:3ff50936] model=3f679176 fp=9b77479368c0e2c6 urls=0:09612b07b5ecb5a5: n=e187bf6000a3b3b1/e187bf6000a3b3b1/e187bf6000a3b3b1 fc=e187bf6000a3b3b1",
    "Block 403e49d5 [marketing.free:3e19999a,prize.won:3eb33333,classifier:401e49d5] model=3f7aa4f4 fp=d14ef37475318fe2 urls=0:09612b07b5ecb5a5: n=d3f1c61e9592d804/ac1facb664971c46/c51a7b0d286ec8ce fc=538fa13ad2820c89",
    "Block 404b95c9 [marketing.free:3e19999a,link.click:3e19999a,number.premium:3e99999a,call.premium:3eb33333,classifier:400ec8fc] model=3f7584c3 fp=a831f1afe224be5d urls=0:09612b07b5ecb5a5: n=ea2b571b7a6ece8a/88e09a12160f7550/51c2d78f35184962 fc=d2ead7184275a6f8",
    "Block 404ac472 [prize.claim:3e99999a,price.per.unit:3e99999a,classifier:40245e0c] model=3f7be598 fp=b9b23f3a46fd0825 urls=0:09612b07b5ecb5a5: n=dd61b6c3e476204b/997b68eba0bb3fed/3481354c01951a38 fc=b328e5de9704cb75",
    "Flag 3f522692 [marketing.free:3e19999a,classifier:3f2bc02c] model=3e5aaad3 fp=42d61acfbcb5d3b9 urls=0:09612b07b5ecb5a5: n=aad6aebe9c37739f/aad6aebe9c37739f/129802443ca2d755 fc=aad6aebe9c37739f",
    "Allow 80000000 [] model=3bc1cf68 fp=ff08d657fce75cc8 urls=0:09612b07b5ecb5a5: n=bac2b628eb216845/bac2b628eb216845/bac2b628eb216845 fc=7a43ec8789c4639f",
    "Block 401b2a22 [account.verify.link:3eb33333,url.shortener:3e800000,classifier:3fe98776] model=3f6145ac fp=f41bcf483f854f02 urls=2:eced20c01e2d4a1b:bit.ly,www.example.co.uk n=544558eb010a0c24/544558eb010a0c24/032b34fa56864817 fc=544558eb010a0c24",
    "Block 404a8c7a [url.ip:3ecccccd,classifier:4030f2e0] model=3f7da4d8 fp=99416e3706cb622f urls=3:bd44f695556cce84:evil.com,paypa1-secure.com,192.0.2.1 n=bf204eef805b0aca/bf204eef805b0aca/9b78b41b4b868bee fc=b52f8c781b809ec2",
    "Block 404985aa [classifier:404985aa] model=3f7f3563 fp=a43d266b013e0406 urls=2:6b996b275e9537dc:sub.example.co.uk,evil.com n=2052f3b62c94e944/2052f3b62c94e944/6d9bdfce12318e21 fc=c18503d362220801",
    "Block 400dde48 [url.lookalike:3f4ccccd,url.shortener:3e800000,url.ip:3ecccccd,classifier:3f4445ec] model=3e86b28e fp=a4001ace753921bb urls=5:63b2d6aa46eb0b90:paypa1-secure.com,royalmail-redelivery.info,bit.ly,t.co n=dfa91c8b7d013cda/e75982f3ddf4a27c/f0a0d92926eafe53 fc=729d566deb544012",
    "Block 40977997 [url.punycode:3e99999a,url.lookalike:3f4ccccd,classifier:40688cc7] model=3f7fcd2c fp=fa0a896c82f219db urls=4:947f0369d6f8d0b9:pаypal.com,pаypal.com,xn--zzzz.com,пример.рф n=6b1d9838c7fb1e5e/6b1d9838c7fb1e5e/b703a7bb5de2d43f fc=a0eb939c5ad7548e",
    "Block 3fc7e831 [classifier:3fc7e831] model=3f469e20 fp=ef3d029cbcbae8da urls=0:09612b07b5ecb5a5: n=82044539d08d2dec/7e79325926a322e2/235a0ec5acfea181 fc=aeff032cfa70d53e",
    "Block 4072a133 [url.lookalike:3f4ccccd,classifier:403f6e00] model=3f7ec29f fp=da45dd33dadea80d urls=1:97bcbf0d0f9e6fdc:hsbc-secure.support n=5faa5489850c07f3/5faa5489850c07f3/b39dba31506bb1ad fc=fd968f7c7d0faf50",
    "Allow 3f0ccccd [url.punycode:3e99999a,url.shortener:3e800000] model=3cda218d fp=a4f15909a71a4b1f urls=2:64f16c0d24f82046:пример.рф,bit.ly n=1c0854a9ce33f2d1/1c0854a9ce33f2d1/1c0854a9ce33f2d1 fc=1c0854a9ce33f2d1",
    "Allow 3e48f2b0 [a2p.balance:bf000000,a2p.account:becccccd,a2p.transaction:becccccd,classifier:3e48f2b0] model=3f3ddac4 fp=113bdb72847a493a urls=0:09612b07b5ecb5a5: n=d4cd255e597786ad/d4cd255e597786ad/a7b054808a785601 fc=d4cd255e597786ad",
    "Allow 00000000 [a2p.otp:bf000000] model=3d7f5301 fp=ac3121d36199cd09 urls=0:09612b07b5ecb5a5: n=0db080e2929f131b/0db080e2929f131b/184e93c793ba158d fc=0db080e2929f131b",
    "Allow 00000000 [a2p.reminder:bf000000] model=3d13f4a5 fp=2920ffe4d32ef88c urls=0:09612b07b5ecb5a5: n=ae6a41aa01434383/ae6a41aa01434383/454bede5ac5ab783 fc=ae6a41aa01434383",
    "Allow 80000000 [] model=3b58f50b fp=6987971e8b771aca urls=0:09612b07b5ecb5a5: n=bda32c34c87a3d01/24cc3319a0acc2b3/bda32c34c87a3d01 fc=ee7c0cf9361161cd",
    "Flag 3f2228ee [url.shortener:3e800000,classifier:3ec451dd] model=3dda7f1c fp=57fef49c3bd22987 urls=1:9aa016890f728a4f:bit.ly n=3772727600fb31e9/3772727600fb31e9/e1242df932ad82ff fc=78d3454e0cb72f11",
    "Block 3f8958c1 [number.premium:3e99999a,classifier:3f45e4b5] model=3e888007 fp=7aa6298f3775cda1 urls=0:09612b07b5ecb5a5: n=e7d89d6d86cb30ca/e7d89d6d86cb30ca/9c68e1e3e7fdda0b fc=e7d89d6d86cb30ca",
    "Flag 3f56d46e [classifier:3f56d46e] model=3e9c3c21 fp=15e6f46b1cec3c6f urls=1:883aa4af6c1f190a:www.example.cn n=fc014161cc72a247/fc014161cc72a247/cdc5429fbd5b3523 fc=2f684d4dc47d0bcf",
    "Block 40d8419c [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,classifier:40bea802] model=3f800000 fp=502aff2cdf7511ba urls=0:09612b07b5ecb5a5: n=46e6db3e459349bf/46e6db3e459349bf/72a9c3776c19a81f fc=0d9029d03946192d",
    "Block 40c6a802 [url.shortener:3e800000,classifier:40bea802] model=3f800000 fp=97c9f28aa49c5a66 urls=256:645a603a771426a1:bit.ly,a.com,bit.ly,a.com n=1b730a3b30cfbde5/d559af9c4b1c3ed5/bd1e0278c4844bdf fc=bf65bc0e338b389f",
];
const CAMPAIGN_COUNTS: &[usize] = &[
    1, 2, 1, 1, 3, 4, 2, 2, 5, 6, 3, 3, 5, 7, 4, 4, 8, 8, 5, 5, 9, 10, 6, 6, 12, 13, 7, 7, 14, 15,
    8, 8, 14, 15, 9, 9, 16, 16, 10, 10, 17, 18, 10, 12, 19, 21, 12, 13, 21, 22, 13, 14, 18, 23, 14,
    15, 23, 22, 15, 16, 23, 23, 16, 17, 23, 24, 17, 18, 14, 14, 10, 10, 15, 16, 12, 12, 17, 18, 13,
    13, 19, 21, 14, 14, 19, 21, 15, 15, 21, 21, 16, 16, 21, 22, 17, 17, 23, 24, 18, 18, 24, 25, 9,
    9, 14, 16, 10, 10, 16, 16, 12, 12, 17, 18, 13, 13, 19, 21, 14, 14,
];
const VELOCITY: &[&str] = &[
    "Flag 3f3b8ff4 [classifier:3f3b8ff4]",
    "Block 408fd6b8 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:4059470a]",
    "Block 40925377 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:405e4088]",
    "Allow 3eaa7cab [classifier:3eaa7cab]",
    "Block 4090965e [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:405ac656]",
    "Block 40953681 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:405739d0,velocity.rate:3e4ccccd]",
    "Flag 3f05b0fc [classifier:3ea4fb92,velocity.rate:3e4ccccd]",
    "Block 40a222ae [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:405ddef6,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Block 40a0bf21 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:405b17db,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Flag 3f5312b5 [classifier:3ea6256b,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Block 409b0988 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:404facaa,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Block 409b6dec [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:40507572,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Flag 3f6d08df [classifier:3eda11be,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Block 4099f786 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:404d88a6,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Block 409a739b [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:404e80d0,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Flag 3f756076 [classifier:3eeac0ec,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Block 409ba513 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:4050e3c0,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Block 4099f6cb [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:404d8730,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Block 3f933b76 [classifier:3f2676eb,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Block 4099f961 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:404d8c5b,velocity.campaign:3e99999a,velocity.rate:3e4ccccd]",
    "Block 40a480e3 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:4055ce94,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 3f86e693 [classifier:3eb533e5,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 40a39d70 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:405407ae,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 40a59339 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:4057f340,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 3f84347b [classifier:3eaa6b85,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 40a1c532 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:40505731,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 40a0c0a9 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:404e4e20,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Flag 3f7a7dde [classifier:3e8e9556,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 40a1a78d [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:40501be8,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 40a23527 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:4051371b,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Flag 3f7e1234 [classifier:3e95be02,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 40a058f5 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:404d7eb7,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 409fc9dd [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:404c6087,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Flag 3f6b88c3 [classifier:3e615640,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 409f719a [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:404bb001,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 409e48de [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:40495e89,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Flag 3f7e05e4 [classifier:3e95a562,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 409f3c8f [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:404b45eb,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Block 40a059c0 [marketing.free:3e19999a,number.premium:3e99999a,call.premium:3eb33333,money.amount.win:3e99999a,classifier:404d804d,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
    "Flag 3f7328b5 [classifier:3e7fd608,velocity.campaign:3e99999a,velocity.rate:3e4ccccd,velocity.recipients:3e4ccccd]",
];
