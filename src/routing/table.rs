//! The prefix routing table: normalised destination → route → carriers.
//!
//! A digit trie, built with plain ten-way nodes and then packed
//! breadth-first into one flat array of 16-byte nodes: a node holds a
//! bitmap of the digits it has children for, the index of its first child
//! (siblings are contiguous, so a child is found by counting the bitmap's
//! lower bits) and the global route ending there. Packing keeps the top levels,
//! which every lookup walks, together in cache, and 100,000 prefixes in a
//! few megabytes. When some routes at a prefix are limited to accounts the
//! node also points at a sorted run of (account, route); accounts without
//! routes of their own never look at those.
//!
//! A lookup walks the destination's digits once, remembering the deepest
//! node with a route that applies to the account: the longest prefix
//! wins, and at the same prefix an account's own route wins over the
//! global one. It reads one node per digit and allocates nothing.

use std::collections::HashMap;

use super::normalize::{Rules, MAX_DIGITS};
use super::{AccountIdx, CarrierIdx};
use crate::config::{Config, RoutingConfig};

/// Most carriers one route may list.
pub const MAX_ROUTE_CARRIERS: usize = 16;

/// "No route" / "no account list" in a [`Node`], "no child" while
/// building.
const NONE: u32 = u32::MAX;

/// (account, index of its route) in `RoutingTable::by_account`.
type AccountRoute = (AccountIdx, u32);

/// A packed trie node (16 bytes).
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Index of the child for the lowest digit in `children`.
    first_child: u32,
    /// Index of the route for all accounts ending here, or `NONE`.
    global: u32,
    /// When routes limited to accounts end here: start of their
    /// (account, route) run in `RoutingTable::by_account`, sorted by
    /// account; `NONE` otherwise.
    accounts_start: u32,
    /// Length of that run.
    accounts_len: u16,
    /// Bit `d` set: there is a child for digit `d`.
    children: u16,
}

/// A trie node while building.
#[derive(Debug, Clone)]
struct BuildNode {
    child: [u32; 10],
    global: u32,
    accounts: Vec<(AccountIdx, u32)>,
}

impl BuildNode {
    fn new() -> BuildNode {
        BuildNode {
            child: [NONE; 10],
            global: NONE,
            accounts: Vec::new(),
        }
    }
}

/// A route: a prefix and the carriers it sends to.
#[derive(Debug, Clone)]
pub struct Route {
    prefix: std::sync::Arc<str>,
    config_index: usize,
    account_specific: bool,
    /// Carriers; with weights, sorted by descending weight (ties keep the
    /// config's order).
    carriers: [CarrierIdx; MAX_ROUTE_CARRIERS],
    /// Running sums of the weights in `carriers` order; empty without
    /// weights.
    cumulative: [u64; MAX_ROUTE_CARRIERS],
    len: u8,
    weighted: bool,
}

impl Route {
    /// The E.164 prefix this route matches (`""` matches everything).
    /// Useful as the billing prefix of a CDR.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The prefix as a shared string (a CDR takes it without copying).
    pub fn prefix_shared(&self) -> &std::sync::Arc<str> {
        &self.prefix
    }

    /// Position of this route in `Config::routes`, for logs (`route[3]`).
    pub fn config_index(&self) -> usize {
        self.config_index
    }

    /// Whether the route is limited to some accounts.
    pub fn is_account_specific(&self) -> bool {
        self.account_specific
    }

    /// Whether the first carrier is picked by weight.
    pub fn is_weighted(&self) -> bool {
        self.weighted
    }

    /// The route's carriers: in failover order, or, with weights, by
    /// descending weight.
    pub fn carriers(&self) -> &[CarrierIdx] {
        &self.carriers[..usize::from(self.len)]
    }

    /// The carriers to try for one message, in order.
    ///
    /// Without weights this is the configured failover order. With
    /// weights the first carrier is drawn by weight from `seed` (which
    /// should be uniformly random, or a counter: `seed % total_weight`
    /// picks the slot, so a counter spreads exactly by weight), and the
    /// others follow by descending weight for failover. Allocates nothing.
    pub fn candidates(&self, seed: u64) -> Candidates<'_> {
        let first = if self.weighted {
            let total = self.cumulative[usize::from(self.len) - 1];
            let slot = seed % total;
            self.cumulative[..usize::from(self.len)]
                .iter()
                .position(|&c| slot < c)
                .unwrap_or(0)
        } else {
            0
        };
        Candidates {
            carriers: self.carriers(),
            first: first as u8,
            next: 0,
            started: false,
        }
    }
}

/// The carriers of one route for one message; see [`Route::candidates`].
#[derive(Debug, Clone)]
pub struct Candidates<'a> {
    carriers: &'a [CarrierIdx],
    first: u8,
    next: u8,
    started: bool,
}

impl Iterator for Candidates<'_> {
    type Item = CarrierIdx;

    fn next(&mut self) -> Option<CarrierIdx> {
        if !self.started {
            self.started = true;
            return self.carriers.get(usize::from(self.first)).copied();
        }
        if self.next == self.first {
            self.next += 1;
        }
        let c = self.carriers.get(usize::from(self.next)).copied();
        if c.is_some() {
            self.next += 1;
        }
        c
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = if !self.started {
            self.carriers.len()
        } else {
            let done = usize::from(self.next) + usize::from(self.next <= self.first);
            self.carriers.len().saturating_sub(done)
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for Candidates<'_> {}

/// Longest-prefix routing table, built from `Config::routes`.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    normalization: RoutingConfig,
    rules: Rules,
    /// The packed trie; the root is `nodes[0]`.
    nodes: Box<[Node]>,
    /// Runs of (account, route) for nodes with account-limited routes.
    by_account: Box<[AccountRoute]>,
    /// Per account: whether any route is limited to it, so other accounts'
    /// walks never look at the runs.
    has_own_routes: Box<[bool]>,
    routes: Box<[Route]>,
}

impl RoutingTable {
    /// Builds the table. Errors name the route (`route[i]`) and say what
    /// is wrong: a prefix that is not digits, an unknown carrier or
    /// account, no carriers, both `carriers` and `weights`, a zero weight,
    /// a carrier listed twice, more than [`MAX_ROUTE_CARRIERS`] carriers,
    /// or two routes for the same prefix and account (or both global);
    /// or `[routing]` settings that are not digits.
    pub fn build(cfg: &Config) -> Result<RoutingTable, String> {
        if cfg.carriers.len() > usize::from(CarrierIdx::MAX) {
            return Err(format!("too many carriers ({})", cfg.carriers.len()));
        }
        if cfg.accounts.len() > usize::from(AccountIdx::MAX) {
            return Err(format!("too many accounts ({})", cfg.accounts.len()));
        }
        let carrier_idx: HashMap<&str, CarrierIdx> = cfg
            .carriers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i as CarrierIdx))
            .collect();
        let account_idx: HashMap<&str, AccountIdx> = cfg
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.system_id.as_str(), i as AccountIdx))
            .collect();
        RoutingTable::build_indexed(cfg, &carrier_idx, &account_idx)
    }

    /// Like [`build`](Self::build), with the index of every carrier (by
    /// name) and account (by `system_id`) given: a reload keeps the
    /// indexes of carriers and accounts that stay, so sessions and
    /// messages in flight keep pointing at the right ones.
    pub fn build_indexed(
        cfg: &Config,
        carrier_idx: &HashMap<&str, CarrierIdx>,
        account_idx: &HashMap<&str, AccountIdx>,
    ) -> Result<RoutingTable, String> {
        let rules = Rules::new(&cfg.routing)?;
        if cfg.routes.len() >= NONE as usize {
            return Err(format!("too many routes ({})", cfg.routes.len()));
        }
        let mut routes: Vec<Route> = Vec::with_capacity(cfg.routes.len());
        let mut trie = vec![BuildNode::new()];

        for (i, rc) in cfg.routes.iter().enumerate() {
            let at = |msg: String| format!("route[{i}] (prefix {:?}): {msg}", rc.prefix);
            if !rc.prefix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(at("prefix must be E.164 digits only".to_owned()));
            }
            if rc.prefix.len() > MAX_DIGITS {
                return Err(at(format!("prefix longer than {MAX_DIGITS} digits")));
            }
            let mut carriers = [0; MAX_ROUTE_CARRIERS];
            let mut weights = [0u32; MAX_ROUTE_CARRIERS];
            let weighted = !rc.weights.is_empty();
            let names: Vec<(&str, u32)> = match (rc.carriers.is_empty(), weighted) {
                (false, true) => return Err(at("has both carriers and weights".to_owned())),
                (true, false) => return Err(at("has no carriers".to_owned())),
                (false, false) => rc.carriers.iter().map(|c| (c.as_str(), 1)).collect(),
                (true, true) => rc.weights.iter().map(|(c, &w)| (c.as_str(), w)).collect(),
            };
            if names.len() > MAX_ROUTE_CARRIERS {
                return Err(at(format!(
                    "has {} carriers, at most {MAX_ROUTE_CARRIERS} allowed",
                    names.len()
                )));
            }
            for (k, &(name, w)) in names.iter().enumerate() {
                let idx = *carrier_idx
                    .get(name)
                    .ok_or_else(|| at(format!("unknown carrier {name:?}")))?;
                if carriers[..k].contains(&idx) {
                    return Err(at(format!("carrier {name:?} listed twice")));
                }
                if w == 0 {
                    return Err(at(format!("weight of carrier {name:?} is 0")));
                }
                carriers[k] = idx;
                weights[k] = w;
            }
            let len = names.len();
            let mut cumulative = [0u64; MAX_ROUTE_CARRIERS];
            if weighted {
                let mut order: Vec<usize> = (0..len).collect();
                order.sort_by_key(|&k| std::cmp::Reverse(weights[k]));
                let (c0, w0) = (carriers, weights);
                let mut sum = 0u64;
                for (slot, &k) in order.iter().enumerate() {
                    carriers[slot] = c0[k];
                    sum += u64::from(w0[k]);
                    cumulative[slot] = sum;
                }
            }

            let route_idx = routes.len() as u32;
            routes.push(Route {
                prefix: rc.prefix.as_str().into(),
                config_index: i,
                account_specific: !rc.accounts.is_empty(),
                carriers,
                cumulative,
                len: len as u8,
                weighted,
            });

            let node = insert(&mut trie, rc.prefix.as_bytes());
            let node = &mut trie[node];
            if rc.accounts.is_empty() {
                if node.global != NONE {
                    let other = routes[node.global as usize].config_index;
                    return Err(at(format!(
                        "same prefix as route[{other}], both for all accounts"
                    )));
                }
                node.global = route_idx;
            } else {
                for system_id in &rc.accounts {
                    let acc = *account_idx
                        .get(system_id.as_str())
                        .ok_or_else(|| at(format!("unknown account {system_id:?}")))?;
                    if let Some(&(_, r)) = node.accounts.iter().find(|&&(a, _)| a == acc) {
                        let other = routes[r as usize].config_index;
                        return Err(at(format!(
                            "same prefix as route[{other}] for account {system_id:?}"
                        )));
                    }
                    node.accounts.push((acc, route_idx));
                }
            }
        }

        let mut has_own_routes = vec![false; cfg.accounts.len()];
        for b in &trie {
            for &(a, _) in &b.accounts {
                has_own_routes[usize::from(a)] = true;
            }
        }
        let Packed { nodes, by_account } = pack(trie)?;
        Ok(RoutingTable {
            normalization: cfg.routing.clone(),
            rules,
            nodes,
            by_account,
            has_own_routes: has_own_routes.into_boxed_slice(),
            routes: routes.into_boxed_slice(),
        })
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether the table has no routes.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The normalisation settings the table was built with.
    pub fn normalization(&self) -> &RoutingConfig {
        &self.normalization
    }

    /// [`normalize`](crate::routing::normalize()) under this table's
    /// settings, checked once when the table was built.
    pub fn normalize<'a>(
        &self,
        ton: u8,
        npi: u8,
        addr: &[u8],
        out: &'a mut [u8; MAX_DIGITS],
    ) -> Option<&'a [u8]> {
        self.rules.apply(ton, npi, addr, out)
    }

    /// Routes a destination address for `account`: normalises it (see
    /// [`normalize`](crate::routing::normalize())) and returns the route with the longest matching
    /// prefix among the global routes and those limited to `account`; at
    /// equal length the account's own route wins. `None` when the address
    /// does not normalise or no route matches. Allocates nothing.
    pub fn lookup(&self, account: AccountIdx, ton: u8, npi: u8, dest: &[u8]) -> Option<&Route> {
        // Walk the country code (if any) and then the address itself:
        // no copy into a buffer.
        let (head, body) = self.rules.split(ton, npi, dest)?;
        let mut walk = Walk::start(self, account);
        if walk.digits(head) {
            walk.digits(body);
        }
        walk.best.map(|r| &self.routes[r as usize])
    }

    /// Like [`lookup`](Self::lookup) on already normalised E.164 digits
    /// (e.g. from a SIP URI). A non-digit ends the match where it stands.
    pub fn lookup_digits(&self, account: AccountIdx, digits: &[u8]) -> Option<&Route> {
        let mut walk = Walk::start(self, account);
        walk.digits(digits);
        walk.best.map(|r| &self.routes[r as usize])
    }

    /// The route at `node` for `account`, if any.
    #[inline]
    fn route_at(&self, node: &Node, account: AccountIdx, own_routes: bool) -> Option<u32> {
        if own_routes && node.accounts_start != NONE {
            let start = node.accounts_start as usize;
            let run = &self.by_account[start..start + usize::from(node.accounts_len)];
            if let Ok(k) = run.binary_search_by_key(&account, |&(a, _)| a) {
                return Some(run[k].1);
            }
        }
        (node.global != NONE).then_some(node.global)
    }
}

/// A lookup in progress: the node reached and the best route so far.
struct Walk<'t> {
    table: &'t RoutingTable,
    account: AccountIdx,
    own_routes: bool,
    node: Node,
    best: Option<u32>,
}

impl<'t> Walk<'t> {
    #[inline]
    fn start(table: &'t RoutingTable, account: AccountIdx) -> Walk<'t> {
        let node = table.nodes[0];
        let own_routes = table
            .has_own_routes
            .get(usize::from(account))
            .copied()
            .unwrap_or(false);
        Walk {
            table,
            account,
            own_routes,
            node,
            best: table.route_at(&node, account, own_routes),
        }
    }

    /// Follows `digits`; false when the trie ended before them.
    #[inline]
    fn digits(&mut self, digits: &[u8]) -> bool {
        for &d in digits {
            let d = d.wrapping_sub(b'0');
            if d > 9 {
                return false;
            }
            let bit = 1u16 << d;
            if self.node.children & bit == 0 {
                return false;
            }
            let below = (self.node.children & (bit - 1)).count_ones();
            self.node = self.table.nodes[(self.node.first_child + below) as usize];
            if let Some(r) = self
                .table
                .route_at(&self.node, self.account, self.own_routes)
            {
                self.best = Some(r);
            }
        }
        true
    }
}

/// Returns the node for `prefix` (digits only), creating the path to it.
fn insert(trie: &mut Vec<BuildNode>, prefix: &[u8]) -> usize {
    let mut node = 0usize;
    for &d in prefix {
        let digit = usize::from(d - b'0');
        let child = trie[node].child[digit];
        node = if child != NONE {
            child as usize
        } else {
            let new = trie.len();
            trie.push(BuildNode::new());
            trie[node].child[digit] = new as u32;
            new
        };
    }
    node
}

/// The packed trie and its account runs.
struct Packed {
    nodes: Box<[Node]>,
    by_account: Box<[AccountRoute]>,
}

/// Packs the build trie breadth-first: the root first, then each node's
/// children contiguous in digit order.
fn pack(mut trie: Vec<BuildNode>) -> Result<Packed, String> {
    let mut order: Vec<u32> = Vec::with_capacity(trie.len());
    let mut nodes: Vec<Node> = Vec::with_capacity(trie.len());
    let mut by_account: Vec<AccountRoute> = Vec::new();
    order.push(0);
    let mut next = 0;
    while next < order.len() {
        let b = &mut trie[order[next] as usize];
        let first_child = order.len() as u32;
        let mut children = 0u16;
        for (d, &c) in b.child.iter().enumerate() {
            if c != NONE {
                children |= 1 << d;
                order.push(c);
            }
        }
        let (accounts_start, accounts_len) = if b.accounts.is_empty() {
            (NONE, 0)
        } else {
            b.accounts.sort_unstable_by_key(|&(a, _)| a);
            let start = by_account.len();
            by_account.extend_from_slice(&b.accounts);
            if by_account.len() >= NONE as usize {
                return Err("too many account-limited routes".to_owned());
            }
            // At most one entry per account: fits u16.
            (start as u32, b.accounts.len() as u16)
        };
        nodes.push(Node {
            first_child,
            global: b.global,
            accounts_start,
            accounts_len,
            children,
        });
        next += 1;
    }
    Ok(Packed {
        nodes: nodes.into_boxed_slice(),
        by_account: by_account.into_boxed_slice(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(routes: &str) -> Config {
        let text = format!(
            r#"
            [routing]
            country_code = "49"

            [[account]]
            system_id = "acme"
            password_hash = "x"

            [[account]]
            system_id = "beta"
            password_hash = "x"

            [[carrier]]
            name = "a"
            address = "127.0.0.1:1"
            system_id = "a"
            password = "p"

            [[carrier]]
            name = "b"
            address = "127.0.0.1:2"
            system_id = "b"
            password = "p"

            [[carrier]]
            name = "c"
            address = "127.0.0.1:3"
            system_id = "c"
            password = "p"

            {routes}
            "#
        );
        toml::from_str(&text).expect("test config parses")
    }

    const ACME: AccountIdx = 0;
    const BETA: AccountIdx = 1;

    fn prefix_for(t: &RoutingTable, account: AccountIdx, dest: &str) -> Option<String> {
        t.lookup(account, 1, 1, dest.as_bytes())
            .map(|r| r.prefix().to_owned())
    }

    #[test]
    fn longest_prefix_wins() {
        let t = RoutingTable::build(&config(
            r#"
            [[route]]
            prefix = ""
            carriers = ["c"]
            [[route]]
            prefix = "44"
            carriers = ["a", "b"]
            [[route]]
            prefix = "447"
            carriers = ["b"]
            [[route]]
            prefix = "4477009"
            carriers = ["a"]
            "#,
        ))
        .unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(
            prefix_for(&t, ACME, "447700900123").as_deref(),
            Some("4477009")
        );
        assert_eq!(prefix_for(&t, ACME, "447800900123").as_deref(), Some("447"));
        assert_eq!(prefix_for(&t, ACME, "441632960000").as_deref(), Some("44"));
        assert_eq!(prefix_for(&t, ACME, "33612345678").as_deref(), Some(""));
        // Shorter than a longer prefix: the walk stops, the last match holds.
        assert_eq!(prefix_for(&t, ACME, "44770").as_deref(), Some("447"));
        assert!(prefix_for(&t, ACME, "ACME").is_none());
        let r = t.lookup(ACME, 1, 1, b"441632960000").unwrap();
        assert_eq!(r.carriers(), &[0, 1]);
        assert_eq!(r.candidates(7).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(r.config_index(), 1);
    }

    #[test]
    fn normalises_before_lookup() {
        let t = RoutingTable::build(&config(
            r#"
            [[route]]
            prefix = "49151"
            carriers = ["a"]
            "#,
        ))
        .unwrap();
        assert!(t.lookup(ACME, 2, 1, b"015112345678").is_some());
        assert!(t.lookup(ACME, 0, 1, b"004915112345678").is_some());
        assert!(t.lookup(ACME, 1, 1, b"+4915112345678").is_some());
        assert!(t.lookup(ACME, 1, 1, b"4916012345678").is_none());
    }

    #[test]
    fn no_default_route_means_none() {
        let t = RoutingTable::build(&config(
            r#"
            [[route]]
            prefix = "44"
            carriers = ["a"]
            "#,
        ))
        .unwrap();
        assert!(t.lookup(ACME, 1, 1, b"33612345678").is_none());
        assert!(t.lookup_digits(ACME, b"").is_none());
    }

    #[test]
    fn per_account_override() {
        let t = RoutingTable::build(&config(
            r#"
            [[route]]
            prefix = "44"
            carriers = ["a"]
            [[route]]
            prefix = "44"
            carriers = ["b"]
            accounts = ["acme"]
            [[route]]
            prefix = "4477"
            carriers = ["c"]
            [[route]]
            prefix = "4"
            carriers = ["c"]
            accounts = ["beta"]
            [[route]]
            prefix = "447700"
            carriers = ["b"]
            accounts = ["beta", "acme"]
            "#,
        ))
        .unwrap();
        // Same length: the account's own route wins.
        let r = t.lookup(ACME, 1, 1, b"441632960000").unwrap();
        assert_eq!((r.prefix(), r.carriers()), ("44", &[1][..]));
        assert!(r.is_account_specific());
        let r = t.lookup(BETA, 1, 1, b"441632960000").unwrap();
        assert_eq!((r.prefix(), r.carriers()), ("44", &[0][..]));
        assert!(!r.is_account_specific());
        // Longer global beats a shorter account route.
        assert_eq!(
            prefix_for(&t, ACME, "447712345678").as_deref(),
            Some("4477")
        );
        // Shorter account route applies when nothing longer matches.
        assert_eq!(prefix_for(&t, BETA, "4912345").as_deref(), Some("4"));
        assert_eq!(prefix_for(&t, ACME, "4912345"), None);
        // Route for two accounts.
        assert_eq!(
            prefix_for(&t, ACME, "447700900123").as_deref(),
            Some("447700")
        );
        assert_eq!(
            prefix_for(&t, BETA, "447700900123").as_deref(),
            Some("447700")
        );
        // An account the table has never heard of gets global routes.
        assert_eq!(prefix_for(&t, 9, "447700900123").as_deref(), Some("4477"));
    }

    #[test]
    fn build_errors_name_the_route() {
        let cases = [
            (
                r#"prefix = "+44"
                carriers = ["a"]"#,
                "digits",
            ),
            (
                r#"prefix = "44"
                carriers = ["x"]"#,
                "unknown carrier \"x\"",
            ),
            (
                r#"prefix = "44"
                carriers = ["a"]
                accounts = ["nobody"]"#,
                "unknown account",
            ),
            (r#"prefix = "44""#, "no carriers"),
            (
                r#"prefix = "44"
                carriers = ["a"]
                weights = { b = 1 }"#,
                "both",
            ),
            (
                r#"prefix = "44"
                weights = { a = 0 }"#,
                "weight",
            ),
            (
                r#"prefix = "44"
                carriers = ["a", "a"]"#,
                "twice",
            ),
        ];
        for (route, want) in cases {
            let err = RoutingTable::build(&config(&format!("[[route]]\n{route}"))).unwrap_err();
            assert!(err.starts_with("route[0]"), "{err}");
            assert!(err.contains(want), "{err} lacks {want}");
        }
        let dup = RoutingTable::build(&config(
            r#"
            [[route]]
            prefix = "44"
            carriers = ["a"]
            [[route]]
            prefix = "44"
            carriers = ["b"]
            "#,
        ))
        .unwrap_err();
        assert!(
            dup.contains("route[1]") && dup.contains("route[0]"),
            "{dup}"
        );
        let dup = RoutingTable::build(&config(
            r#"
            [[route]]
            prefix = "44"
            carriers = ["a"]
            accounts = ["acme"]
            [[route]]
            prefix = "44"
            carriers = ["b"]
            accounts = ["beta", "acme"]
            "#,
        ))
        .unwrap_err();
        assert!(dup.contains("acme"), "{dup}");
    }

    #[test]
    fn too_many_carriers() {
        let mut cfg = config("");
        let proto = cfg.carriers[0].clone();
        for i in 0..17 {
            let mut c = proto.clone();
            c.name = format!("x{i}");
            cfg.carriers.push(c);
        }
        cfg.routes.push(crate::config::RouteConfig {
            prefix: "1".to_owned(),
            carriers: (0..17).map(|i| format!("x{i}")).collect(),
            weights: Default::default(),
            accounts: Vec::new(),
        });
        let err = RoutingTable::build(&cfg).unwrap_err();
        assert!(err.contains("at most 16"), "{err}");
    }

    #[test]
    fn weighted_candidates() {
        let t = RoutingTable::build(&config(
            r#"
            [[route]]
            prefix = "1"
            weights = { a = 20, b = 70, c = 10 }
            "#,
        ))
        .unwrap();
        let r = t.lookup_digits(ACME, b"15551234").unwrap();
        assert!(r.is_weighted());
        // Descending weight order: b, a, c.
        assert_eq!(r.carriers(), &[1, 0, 2]);
        // Every candidate list holds each carrier once, first by weight,
        // then the rest by descending weight.
        for seed in 0..100 {
            let c: Vec<_> = r.candidates(seed).collect();
            assert_eq!(r.candidates(seed).len(), 3);
            let rest: Vec<_> = [1, 0, 2].into_iter().filter(|&x| x != c[0]).collect();
            assert_eq!(c[1..], rest[..], "seed {seed}");
        }
        // A counter spreads exactly by weight.
        let mut counts = [0u32; 3];
        for seed in 0..100 {
            counts[usize::from(r.candidates(seed).next().unwrap())] += 1;
        }
        assert_eq!(counts, [20, 70, 10]);
        // Random seeds follow the weights roughly (deterministic xorshift).
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut counts = [0u32; 3];
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            counts[usize::from(r.candidates(x).next().unwrap())] += 1;
        }
        assert!((18_000..22_000).contains(&counts[0]), "{counts:?}");
        assert!((68_000..72_000).contains(&counts[1]), "{counts:?}");
        assert!((8_500..11_500).contains(&counts[2]), "{counts:?}");
    }

    #[test]
    fn candidates_size_hint_tracks() {
        let t = RoutingTable::build(&config(
            r#"
            [[route]]
            prefix = "1"
            weights = { a = 1, b = 1, c = 1 }
            "#,
        ))
        .unwrap();
        let r = t.lookup_digits(ACME, b"1").unwrap();
        for seed in 0..3 {
            let mut it = r.candidates(seed);
            for left in (0..3).rev() {
                assert!(it.next().is_some());
                assert_eq!(it.len(), left, "seed {seed}");
            }
            assert_eq!(it.next(), None);
        }
    }

    #[test]
    fn bad_normalisation_settings() {
        let mut cfg = config("");
        cfg.routing.country_code = Some("4x".to_owned());
        let err = RoutingTable::build(&cfg).unwrap_err();
        assert!(err.contains("routing.country_code"), "{err}");
    }

    /// The packed trie agrees with a brute-force longest-prefix search.
    #[test]
    fn matches_brute_force() {
        let mut cfg = config("");
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut rand = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut seen = std::collections::HashSet::new();
        // 341 prefixes of up to 4 digits from 0..=3, three account choices:
        // draw well short of all 1023 so every shape occurs.
        while cfg.routes.len() < 700 {
            let len = rand(5);
            let prefix: String = (0..len).map(|_| char::from(b'0' + rand(4) as u8)).collect();
            let accounts = match rand(4) {
                0 => vec!["acme".to_owned()],
                1 => vec!["beta".to_owned()],
                _ => Vec::new(),
            };
            if seen.insert((prefix.clone(), accounts.clone())) {
                cfg.routes.push(crate::config::RouteConfig {
                    prefix,
                    carriers: vec!["a".to_owned()],
                    weights: Default::default(),
                    accounts,
                });
            }
        }
        let t = RoutingTable::build(&cfg).unwrap();
        for _ in 0..5000 {
            let len = rand(7);
            let dest: String = (0..len).map(|_| char::from(b'0' + rand(5) as u8)).collect();
            for (account, name) in [(ACME, "acme"), (BETA, "beta"), (7, "other")] {
                let want = cfg
                    .routes
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| dest.starts_with(&r.prefix))
                    .filter(|(_, r)| r.accounts.is_empty() || r.accounts.iter().any(|a| a == name))
                    .max_by_key(|(_, r)| (r.prefix.len(), !r.accounts.is_empty()))
                    .map(|(i, _)| i);
                let got = t
                    .lookup_digits(account, dest.as_bytes())
                    .map(Route::config_index);
                assert_eq!(got, want, "dest {dest:?} account {name}");
            }
        }
    }
}
