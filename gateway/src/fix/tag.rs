//! Tag numbers with their pre-built `"NN="` prefixes, so the encoder copies instead of formats.

/// A FIX tag: its number and its `"NN="` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    /// The tag number.
    pub num: u32,
    /// `"NN="`, written before the value.
    pub eq: &'static [u8],
}

macro_rules! tags {
    ($($(#[$doc:meta])* $name:ident = $num:literal;)*) => {
        $( $(#[$doc])* pub const $name: Tag = Tag { num: $num, eq: concat!($num, "=").as_bytes() }; )*
        /// Name of a tag this crate knows (for error messages and logs), `None` otherwise.
        pub fn name(num: u32) -> Option<&'static str> {
            match num { $($num => Some(stringify!($name)),)* _ => None }
        }
    };
}

tags! {
    /// Account (sub-account id).
    ACCOUNT = 1;
    /// AvgPx.
    AVG_PX = 6;
    /// BeginSeqNo.
    BEGIN_SEQ_NO = 7;
    /// BeginString.
    BEGIN_STRING = 8;
    /// BodyLength.
    BODY_LENGTH = 9;
    /// CheckSum.
    CHECKSUM = 10;
    /// ClOrdID.
    CL_ORD_ID = 11;
    /// CumQty.
    CUM_QTY = 14;
    /// EndSeqNo.
    END_SEQ_NO = 16;
    /// ExecID.
    EXEC_ID = 17;
    /// ExecTransType (FIX 4.1/4.2; accepted, never required).
    EXEC_TRANS_TYPE = 20;
    /// LastPx.
    LAST_PX = 31;
    /// LastQty (LastShares before 4.3).
    LAST_QTY = 32;
    /// MsgSeqNum.
    MSG_SEQ_NUM = 34;
    /// MsgType.
    MSG_TYPE = 35;
    /// NewSeqNo.
    NEW_SEQ_NO = 36;
    /// OrderID.
    ORDER_ID = 37;
    /// OrderQty.
    ORDER_QTY = 38;
    /// OrdStatus.
    ORD_STATUS = 39;
    /// OrdType.
    ORD_TYPE = 40;
    /// OrigClOrdID.
    ORIG_CL_ORD_ID = 41;
    /// PossDupFlag.
    POSS_DUP_FLAG = 43;
    /// Price.
    PRICE = 44;
    /// RefSeqNum.
    REF_SEQ_NUM = 45;
    /// SenderCompID.
    SENDER_COMP_ID = 49;
    /// SendingTime.
    SENDING_TIME = 52;
    /// Side.
    SIDE = 54;
    /// Symbol.
    SYMBOL = 55;
    /// TargetCompID.
    TARGET_COMP_ID = 56;
    /// Text.
    TEXT = 58;
    /// TimeInForce.
    TIME_IN_FORCE = 59;
    /// TransactTime.
    TRANSACT_TIME = 60;
    /// PossResend.
    POSS_RESEND = 97;
    /// EncryptMethod.
    ENCRYPT_METHOD = 98;
    /// CxlRejReason.
    CXL_REJ_REASON = 102;
    /// OrdRejReason.
    ORD_REJ_REASON = 103;
    /// HeartBtInt.
    HEART_BT_INT = 108;
    /// TestReqID.
    TEST_REQ_ID = 112;
    /// OrigSendingTime.
    ORIG_SENDING_TIME = 122;
    /// GapFillFlag.
    GAP_FILL_FLAG = 123;
    /// ResetSeqNumFlag.
    RESET_SEQ_NUM_FLAG = 141;
    /// ExecType.
    EXEC_TYPE = 150;
    /// LeavesQty.
    LEAVES_QTY = 151;
    /// CxlRejResponseTo.
    CXL_REJ_RESPONSE_TO = 434;
    /// Username.
    USERNAME = 553;
    /// Password.
    PASSWORD = 554;
    /// RefTagID.
    REF_TAG_ID = 371;
    /// RefMsgType.
    REF_MSG_TYPE = 372;
    /// SessionRejectReason.
    SESSION_REJECT_REASON = 373;
    /// BusinessRejectRefID.
    BUSINESS_REJECT_REF_ID = 379;
    /// BusinessRejectReason.
    BUSINESS_REJECT_REASON = 380;
    /// OrdStatusReqID.
    ORD_STATUS_REQ_ID = 790;
    /// NextExpectedMsgSeqNum (FIX 4.4 Logon, optional).
    NEXT_EXPECTED_MSG_SEQ_NUM = 789;
    /// PositionEffect (O open, C close).
    POSITION_EFFECT = 77;
    /// StopPx.
    STOP_PX = 99;
    /// ExecRestatementReason.
    EXEC_RESTATEMENT_REASON = 378;
    /// TradingSessionID.
    TRADING_SESSION_ID = 336;
    /// TradSesStatus.
    TRAD_SES_STATUS = 340;
    /// MamModel (mam's manager session, docs/daemon.md): the allocation model.
    MAM_MODEL = 5101;
    /// MamRouting (mam's manager session): `block` or `per-account`.
    MAM_ROUTING = 5102;
    /// MamCloseAll (mam's manager session): `Y` closes everything still open.
    MAM_CLOSE_ALL = 5103;
    /// MamMinLotPolicy (mam's manager session): `zero` or `round-up`.
    MAM_MIN_LOT_POLICY = 5104;
    /// MamStopDistance (mam's manager session): stop-loss distance for the `risk` model.
    MAM_STOP_DISTANCE = 5105;
    /// MamReference (mam's manager session): the master's balance or equity.
    MAM_REFERENCE = 5106;
    /// MamStopLoss (mam's manager session): a ticket's stop-loss price.
    MAM_STOP_LOSS = 5107;
    /// MamTakeProfit (mam's manager session): a ticket's take-profit price.
    MAM_TAKE_PROFIT = 5108;
    /// MamHold (mam's manager session): `Y` holds a limit master in the engine.
    MAM_HOLD = 5109;
    /// Currency (an added account's currency, MamAccountRequest `A`).
    CURRENCY = 15;
    /// MamJournalSeq (mam's manager session): a report's journal sequence.
    MAM_JOURNAL_SEQ = 5120;
    /// MamAccountReqID (MamAccountRequest 35=UA / MamAccountAck 35=UB): the request's id.
    MAM_ACCOUNT_REQ_ID = 5121;
    /// MamAccountAction (35=UA): `D` deposit, `W` withdrawal, `C` change a setting.
    MAM_ACCOUNT_ACTION = 5122;
    /// MamAmount (35=UA): a deposit's or withdrawal's amount, positive.
    MAM_AMOUNT = 5123;
    /// MamAccountField (35=UA): the setting to change (the admin API's field names).
    MAM_ACCOUNT_FIELD = 5124;
    /// MamAccountValue (35=UA): the setting's new value, as text.
    MAM_ACCOUNT_VALUE = 5125;
    /// MamAccountStatus (35=UB): 0 applied, 1 refused.
    MAM_ACCOUNT_STATUS = 5126;
    /// MamRebalance (35=UA, deposits and withdrawals): `Y` re-splits the manager's open
    /// tickets by the new equity weights, `N` leaves positions as they are.
    MAM_REBALANCE = 5127;
    /// HandlInst (FIX 4.2 NewOrderSingle, required there).
    HANDL_INST = 21;
    /// Quantity (an allocation's total).
    QUANTITY = 53;
    /// AllocID.
    ALLOC_ID = 70;
    /// AllocTransType.
    ALLOC_TRANS_TYPE = 71;
    /// NoOrders.
    NO_ORDERS = 73;
    /// TradeDate.
    TRADE_DATE = 75;
    /// NoAllocs.
    NO_ALLOCS = 78;
    /// AllocAccount.
    ALLOC_ACCOUNT = 79;
    /// AllocQty.
    ALLOC_QTY = 80;
    /// AllocStatus.
    ALLOC_STATUS = 87;
    /// AllocRejCode.
    ALLOC_REJ_CODE = 88;
    /// AllocType.
    ALLOC_TYPE = 626;
    /// AllocNoOrdersType.
    ALLOC_NO_ORDERS_TYPE = 857;
    /// SubscriptionRequestType (0 snapshot, 1 subscribe, 2 unsubscribe).
    SUBSCRIPTION_REQUEST_TYPE = 263;
    /// UnsolicitedIndicator.
    UNSOLICITED_INDICATOR = 325;
    /// AccountType.
    ACCOUNT_TYPE = 581;
    /// NoPositions (the PositionQty group).
    NO_POSITIONS = 702;
    /// PosType.
    POS_TYPE = 703;
    /// LongQty.
    LONG_QTY = 704;
    /// ShortQty.
    SHORT_QTY = 705;
    /// PosAmtType.
    POS_AMT_TYPE = 707;
    /// PosAmt.
    POS_AMT = 708;
    /// PosReqID.
    POS_REQ_ID = 710;
    /// ClearingBusinessDate.
    CLEARING_BUSINESS_DATE = 715;
    /// PosMaintRptID.
    POS_MAINT_RPT_ID = 721;
    /// PosReqType.
    POS_REQ_TYPE = 724;
    /// TotalNumPosReports.
    TOTAL_NUM_POS_REPORTS = 727;
    /// PosReqResult.
    POS_REQ_RESULT = 728;
    /// PosReqStatus.
    POS_REQ_STATUS = 729;
    /// SettlPrice.
    SETTL_PRICE = 730;
    /// SettlPriceType.
    SETTL_PRICE_TYPE = 731;
    /// PriorSettlPrice.
    PRIOR_SETTL_PRICE = 734;
    /// NoPosAmt (the PositionAmountData group).
    NO_POS_AMT = 753;
}
