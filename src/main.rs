//! The `telegate` command line.

use clap::Parser;

/// Telegate: an SMPP/SIP telecom gateway.
#[derive(Debug, Parser)]
#[command(name = "telegate", version = telegate::VERSION, about, long_about = None)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
