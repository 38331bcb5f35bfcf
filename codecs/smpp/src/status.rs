//! `command_status` (SMPP 3.4 §5.1.3, SMPP 5.0 §4.7.6).

use std::fmt;

/// An SMPP `command_status`. Open: any `u32` is representable, and the
/// named constants cover every code in SMPP 3.4 §5.1.3 and 5.0 §4.7.6.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CommandStatus(pub u32);

macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident = $val:expr;)*) => {
        impl CommandStatus {
            $($(#[$doc])* pub const $name: CommandStatus = CommandStatus($val);)*

            /// The spec's name for this status, if it has one.
            pub fn name(self) -> Option<&'static str> {
                #[allow(unreachable_patterns)] // 5.0 renamed some 3.4 codes
                match self.0 {
                    $($val => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    /// No error.
    ESME_ROK = 0x0000_0000;
    /// Message length is invalid.
    ESME_RINVMSGLEN = 0x0000_0001;
    /// Command length is invalid.
    ESME_RINVCMDLEN = 0x0000_0002;
    /// Invalid command ID.
    ESME_RINVCMDID = 0x0000_0003;
    /// Incorrect bind status for given command.
    ESME_RINVBNDSTS = 0x0000_0004;
    /// ESME already in bound state.
    ESME_RALYBND = 0x0000_0005;
    /// Invalid priority flag.
    ESME_RINVPRTFLG = 0x0000_0006;
    /// Invalid registered delivery flag.
    ESME_RINVREGDLVFLG = 0x0000_0007;
    /// System error.
    ESME_RSYSERR = 0x0000_0008;
    /// Invalid source address.
    ESME_RINVSRCADR = 0x0000_000A;
    /// Invalid destination address.
    ESME_RINVDSTADR = 0x0000_000B;
    /// Message ID is invalid.
    ESME_RINVMSGID = 0x0000_000C;
    /// Bind failed.
    ESME_RBINDFAIL = 0x0000_000D;
    /// Invalid password.
    ESME_RINVPASWD = 0x0000_000E;
    /// Invalid system ID.
    ESME_RINVSYSID = 0x0000_000F;
    /// cancel_sm failed.
    ESME_RCANCELFAIL = 0x0000_0011;
    /// replace_sm failed.
    ESME_RREPLACEFAIL = 0x0000_0013;
    /// Message queue full.
    ESME_RMSGQFUL = 0x0000_0014;
    /// Invalid service type.
    ESME_RINVSERTYP = 0x0000_0015;
    /// Invalid number of destinations.
    ESME_RINVNUMDESTS = 0x0000_0033;
    /// Invalid distribution list name.
    ESME_RINVDLNAME = 0x0000_0034;
    /// Destination flag is invalid (submit_multi).
    ESME_RINVDESTFLAG = 0x0000_0040;
    /// Invalid "submit with replace" request.
    ESME_RINVSUBREP = 0x0000_0042;
    /// Invalid esm_class field data.
    ESME_RINVESMCLASS = 0x0000_0043;
    /// Cannot submit to distribution list.
    ESME_RCNTSUBDL = 0x0000_0044;
    /// submit_sm, data_sm or submit_multi failed.
    ESME_RSUBMITFAIL = 0x0000_0045;
    /// Invalid source address TON.
    ESME_RINVSRCTON = 0x0000_0048;
    /// Invalid source address NPI.
    ESME_RINVSRCNPI = 0x0000_0049;
    /// Invalid destination address TON.
    ESME_RINVDSTTON = 0x0000_0050;
    /// Invalid destination address NPI.
    ESME_RINVDSTNPI = 0x0000_0051;
    /// Invalid system_type field.
    ESME_RINVSYSTYP = 0x0000_0053;
    /// Invalid replace_if_present flag.
    ESME_RINVREPFLAG = 0x0000_0054;
    /// Invalid number of messages.
    ESME_RINVNUMMSGS = 0x0000_0055;
    /// Throttling error: the ESME exceeded its allowed message limits.
    ESME_RTHROTTLED = 0x0000_0058;
    /// Invalid scheduled delivery time.
    ESME_RINVSCHED = 0x0000_0061;
    /// Invalid message validity period (expiry time).
    ESME_RINVEXPIRY = 0x0000_0062;
    /// Predefined message invalid or not found.
    ESME_RINVDFTMSGID = 0x0000_0063;
    /// ESME receiver temporary application error code.
    ESME_RX_T_APPN = 0x0000_0064;
    /// ESME receiver permanent application error code.
    ESME_RX_P_APPN = 0x0000_0065;
    /// ESME receiver reject message error code.
    ESME_RX_R_APPN = 0x0000_0066;
    /// query_sm request failed.
    ESME_RQUERYFAIL = 0x0000_0067;
    /// Error in the optional part of the PDU body (3.4 name).
    ESME_RINVOPTPARSTREAM = 0x0000_00C0;
    /// Optional parameter not allowed (3.4 name).
    ESME_ROPTPARNOTALLWD = 0x0000_00C1;
    /// Invalid parameter length (3.4 name).
    ESME_RINVPARLEN = 0x0000_00C2;
    /// Expected optional parameter missing (3.4 name).
    ESME_RMISSINGOPTPARAM = 0x0000_00C3;
    /// Invalid optional parameter value (3.4 name).
    ESME_RINVOPTPARAMVAL = 0x0000_00C4;
    /// Delivery failure (used for data_sm_resp).
    ESME_RDELIVERYFAILURE = 0x0000_00FE;
    /// Unknown error.
    ESME_RUNKNOWNERR = 0x0000_00FF;
    /// ESME not authorised to use specified service_type (5.0).
    ESME_RSERTYPUNAUTH = 0x0000_0100;
    /// ESME prohibited from using specified operation (5.0).
    ESME_RPROHIBITED = 0x0000_0101;
    /// Specified service_type is unavailable (5.0).
    ESME_RSERTYPUNAVAIL = 0x0000_0102;
    /// Specified service_type is denied (5.0).
    ESME_RSERTYPDENIED = 0x0000_0103;
    /// Invalid data coding scheme (5.0).
    ESME_RINVDCS = 0x0000_0104;
    /// Source address sub unit is invalid (5.0).
    ESME_RINVSRCADDRSUBUNIT = 0x0000_0105;
    /// Destination address sub unit is invalid (5.0).
    ESME_RINVDSTADDRSUBUNIT = 0x0000_0106;
    /// Broadcast frequency interval is invalid (5.0).
    ESME_RINVBCASTFREQINT = 0x0000_0107;
    /// Broadcast alias name is invalid (5.0).
    ESME_RINVBCASTALIAS_NAME = 0x0000_0108;
    /// Broadcast area format is invalid (5.0).
    ESME_RINVBCASTAREAFMT = 0x0000_0109;
    /// Number of broadcast areas is invalid (5.0).
    ESME_RINVNUMBCAST_AREAS = 0x0000_010A;
    /// Broadcast content type is invalid (5.0).
    ESME_RINVBCASTCNTTYPE = 0x0000_010B;
    /// Broadcast message class is invalid (5.0).
    ESME_RINVBCASTMSGCLASS = 0x0000_010C;
    /// broadcast_sm operation failed (5.0).
    ESME_RBCASTFAIL = 0x0000_010D;
    /// query_broadcast_sm operation failed (5.0).
    ESME_RBCASTQUERYFAIL = 0x0000_010E;
    /// cancel_broadcast_sm operation failed (5.0).
    ESME_RBCASTCANCELFAIL = 0x0000_010F;
    /// Number of repeated broadcasts is invalid (5.0).
    ESME_RINVBCAST_REP = 0x0000_0110;
    /// Broadcast service group is invalid (5.0).
    ESME_RINVBCASTSRVGRP = 0x0000_0111;
    /// Broadcast channel indicator is invalid (5.0).
    ESME_RINVBCASTCHANIND = 0x0000_0112;
}

impl CommandStatus {
    /// SMPP 5.0's name for 0xC0: invalid TLV stream.
    pub const ESME_RINVTLVSTREAM: CommandStatus = CommandStatus(0xC0);
    /// SMPP 5.0's name for 0xC1: TLV not allowed.
    pub const ESME_RTLVNOTALLWD: CommandStatus = CommandStatus(0xC1);
    /// SMPP 5.0's name for 0xC2: invalid parameter length.
    pub const ESME_RINVTLVLEN: CommandStatus = CommandStatus(0xC2);
    /// SMPP 5.0's name for 0xC3: expected TLV missing.
    pub const ESME_RMISSINGTLV: CommandStatus = CommandStatus(0xC3);
    /// SMPP 5.0's name for 0xC4: invalid TLV value.
    pub const ESME_RINVTLVVAL: CommandStatus = CommandStatus(0xC4);

    /// `true` for `ESME_ROK`.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// `true` when trying the same request later may succeed: the peer
    /// was throttling, its queue was full, or it had a transient failure.
    pub const fn is_retryable(self) -> bool {
        matches!(self.0, 0x58 | 0x14 | 0x08 | 0x64)
    }
}

impl fmt::Debug for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}(0x{:08X})", self.0),
            None => write!(f, "CommandStatus(0x{:08X})", self.0),
        }
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<u32> for CommandStatus {
    fn from(v: u32) -> Self {
        CommandStatus(v)
    }
}

impl From<CommandStatus> for u32 {
    fn from(v: CommandStatus) -> Self {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        assert_eq!(CommandStatus::ESME_RTHROTTLED.0, 0x58);
        assert_eq!(CommandStatus(0x58).name(), Some("ESME_RTHROTTLED"));
        assert_eq!(
            CommandStatus::ESME_RINVTLVSTREAM,
            CommandStatus::ESME_RINVOPTPARSTREAM
        );
        assert_eq!(CommandStatus(0x112).name(), Some("ESME_RINVBCASTCHANIND"));
        assert_eq!(CommandStatus(0x9999).name(), None);
        assert_eq!(
            format!("{}", CommandStatus(0x45)),
            "ESME_RSUBMITFAIL(0x00000045)"
        );
        assert!(CommandStatus::ESME_RTHROTTLED.is_retryable());
        assert!(!CommandStatus::ESME_RINVDSTADR.is_retryable());
    }
}
