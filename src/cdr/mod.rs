//! Call detail records: one minimal-metadata record per SMS segment, and
//! one per final delivery receipt (DESIGN.md "Privacy rules").
//!
//! A record never holds message text, UDH, passwords or phone numbers;
//! numbers appear only as keyed pseudonyms ([`pseudonym`]). Records
//! ([`record`]) go through a bounded queue to a writer thread
//! ([`CdrWriter`]) that appends them to hourly partition files ([`store`]).
//! Queries, exports, the retention sweep and erasure work on a live
//! directory, also from another process.

mod audit;
pub(crate) mod civil;
mod holds;
mod maint;
pub mod pseudonym;
pub mod query;
pub mod record;
pub mod store;
mod writer;

pub use pseudonym::{hex16, Pseudonymizer};
pub use record::{
    DataCodingClass, ReceiptState, Record, RecordKind, RecordRef, RecordView, Verdict,
};
pub use store::{
    dir_stats, erase, export, parse_export, query, sweep, AuditAction, AuditEntry, AuditLog,
    CdrBackend, CdrPermit, CdrWriter, DirStats, EraseReport, ExportFormat, FileBackend, Hold,
    Holds, Query, QueryResult, Retention, Row, SweepReport, Totals, WriterHandle, WriterOptions,
    WriterStats,
};
