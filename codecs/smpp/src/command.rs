//! `command_id` (SMPP 3.4 §5.1.2.1, SMPP 5.0 §4.7.5).

use std::fmt;

/// An SMPP `command_id`. Open: unknown values are kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(pub u32);

/// The bit that marks a response `command_id`.
pub const RESPONSE_BIT: u32 = 0x8000_0000;

macro_rules! commands {
    ($($(#[$doc:meta])* $name:ident = $val:expr, $text:expr;)*) => {
        impl CommandId {
            $($(#[$doc])* pub const $name: CommandId = CommandId($val);)*

            /// The spec's lower-case name (`"submit_sm"`), if known. Used as
            /// a low-cardinality metrics label.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

commands! {
    /// generic_nack
    GENERIC_NACK = 0x8000_0000, "generic_nack";
    /// bind_receiver
    BIND_RECEIVER = 0x0000_0001, "bind_receiver";
    /// bind_receiver_resp
    BIND_RECEIVER_RESP = 0x8000_0001, "bind_receiver_resp";
    /// bind_transmitter
    BIND_TRANSMITTER = 0x0000_0002, "bind_transmitter";
    /// bind_transmitter_resp
    BIND_TRANSMITTER_RESP = 0x8000_0002, "bind_transmitter_resp";
    /// query_sm
    QUERY_SM = 0x0000_0003, "query_sm";
    /// query_sm_resp
    QUERY_SM_RESP = 0x8000_0003, "query_sm_resp";
    /// submit_sm
    SUBMIT_SM = 0x0000_0004, "submit_sm";
    /// submit_sm_resp
    SUBMIT_SM_RESP = 0x8000_0004, "submit_sm_resp";
    /// deliver_sm
    DELIVER_SM = 0x0000_0005, "deliver_sm";
    /// deliver_sm_resp
    DELIVER_SM_RESP = 0x8000_0005, "deliver_sm_resp";
    /// unbind
    UNBIND = 0x0000_0006, "unbind";
    /// unbind_resp
    UNBIND_RESP = 0x8000_0006, "unbind_resp";
    /// replace_sm
    REPLACE_SM = 0x0000_0007, "replace_sm";
    /// replace_sm_resp
    REPLACE_SM_RESP = 0x8000_0007, "replace_sm_resp";
    /// cancel_sm
    CANCEL_SM = 0x0000_0008, "cancel_sm";
    /// cancel_sm_resp
    CANCEL_SM_RESP = 0x8000_0008, "cancel_sm_resp";
    /// bind_transceiver
    BIND_TRANSCEIVER = 0x0000_0009, "bind_transceiver";
    /// bind_transceiver_resp
    BIND_TRANSCEIVER_RESP = 0x8000_0009, "bind_transceiver_resp";
    /// outbind
    OUTBIND = 0x0000_000B, "outbind";
    /// enquire_link
    ENQUIRE_LINK = 0x0000_0015, "enquire_link";
    /// enquire_link_resp
    ENQUIRE_LINK_RESP = 0x8000_0015, "enquire_link_resp";
    /// submit_multi
    SUBMIT_MULTI = 0x0000_0021, "submit_multi";
    /// submit_multi_resp
    SUBMIT_MULTI_RESP = 0x8000_0021, "submit_multi_resp";
    /// alert_notification
    ALERT_NOTIFICATION = 0x0000_0102, "alert_notification";
    /// data_sm
    DATA_SM = 0x0000_0103, "data_sm";
    /// data_sm_resp
    DATA_SM_RESP = 0x8000_0103, "data_sm_resp";
    /// broadcast_sm (5.0)
    BROADCAST_SM = 0x0000_0111, "broadcast_sm";
    /// broadcast_sm_resp (5.0)
    BROADCAST_SM_RESP = 0x8000_0111, "broadcast_sm_resp";
    /// query_broadcast_sm (5.0)
    QUERY_BROADCAST_SM = 0x0000_0112, "query_broadcast_sm";
    /// query_broadcast_sm_resp (5.0)
    QUERY_BROADCAST_SM_RESP = 0x8000_0112, "query_broadcast_sm_resp";
    /// cancel_broadcast_sm (5.0)
    CANCEL_BROADCAST_SM = 0x0000_0113, "cancel_broadcast_sm";
    /// cancel_broadcast_sm_resp (5.0)
    CANCEL_BROADCAST_SM_RESP = 0x8000_0113, "cancel_broadcast_sm_resp";
}

impl CommandId {
    /// `true` if this is a response (`_resp` or generic_nack).
    pub const fn is_response(self) -> bool {
        self.0 & RESPONSE_BIT != 0
    }

    /// The response `command_id` for a request: the same id with bit 31
    /// set. generic_nack for commands that have no `_resp` of their own
    /// (outbind, alert_notification) or are unknown.
    pub fn response(self) -> CommandId {
        match self {
            CommandId::OUTBIND | CommandId::ALERT_NOTIFICATION => CommandId::GENERIC_NACK,
            c if c.is_response() => CommandId::GENERIC_NACK,
            c => {
                let r = CommandId(c.0 | RESPONSE_BIT);
                if r.name().is_some() {
                    r
                } else {
                    CommandId::GENERIC_NACK
                }
            }
        }
    }
}

impl fmt::Debug for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "CommandId(0x{:08X})", self.0),
        }
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
