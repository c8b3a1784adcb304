//! What a sync round does next, decided without IO so it can be tested as a table.

/// What the engine knows at a decision point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanInput {
    pub enrolled: bool,
    pub revoked: bool,
    /// Unacknowledged outbox operations.
    pub pending: i64,
    /// Whether the last pull page said more was waiting.
    pub more_to_pull: bool,
    /// Whether this round has pulled at least once.
    pub pulled_this_round: bool,
    /// Products waiting to be indexed for search (a download leaves them).
    pub search_waiting: i64,
}

/// The next step of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Push the next batch of at most this many operations.
    Push(usize),
    /// Pull the next page of the change feed.
    Pull,
    /// Index the next products of the search backlog, at most this many.
    Index(usize),
    /// The round is over.
    Done,
    /// Nothing can be done: not enrolled, or revoked.
    Stop,
}

/// The most products one indexing step takes: about 30 ms of work, so a sale waits on the
/// ledger's write lock at most that long while a large download is indexed.
pub const INDEX_CHUNK: usize = 2_000;

/// The most operations one push carries.
pub const PUSH_BATCH: usize = 200;

/// The most payload bytes one push carries: a quarter of the cloud's body limit, leaving room
/// for the envelope, so a batch of large sales never makes a push the cloud must refuse.
pub const PUSH_MAX_BYTES: usize = omnitill_protocol::MAX_BODY_BYTES / 4;

/// How many of `ops`, from the first, fit in one push of at most `max_bytes` of payload. The
/// first always goes: one operation is far below the cloud's limit.
pub fn fits_in_push(ops: &[omnitill_core::outbox::OutboxOp], max_bytes: usize) -> usize {
    let mut total = 0;
    for (index, op) in ops.iter().enumerate() {
        total += op.payload.len() + op.op_id.len() + op.op_type.len() + 64;
        if total > max_bytes && index > 0 {
            return index;
        }
    }
    ops.len()
}

/// Pushes come first, so the cloud's data includes this till's sales before its stock levels
/// are pulled back; then pulls until the feed is drained; then the products the download
/// brought are indexed for search, a chunk at a time, with sales made meanwhile pushed first.
pub fn next_step(input: PlanInput) -> Step {
    if !input.enrolled || input.revoked {
        return Step::Stop;
    }
    if input.pending > 0 {
        return Step::Push(PUSH_BATCH.min(input.pending as usize));
    }
    if !input.pulled_this_round || input.more_to_pull {
        return Step::Pull;
    }
    if input.search_waiting > 0 {
        return Step::Index(INDEX_CHUNK);
    }
    Step::Done
}

/// What the engine knows when the cloud answers a push with `sequence_gap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapInput {
    /// The seq the cloud expects next from this till (its checkpoint plus one).
    pub expected: i64,
    /// The lowest seq this till has not had acknowledged, if any.
    pub first_pending: Option<i64>,
    /// The highest seq this till ever wrote (0 when its outbox is empty).
    pub newest_written: i64,
}

/// What to do about a `sequence_gap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapAction {
    /// The cloud was restored from a backup and has forgotten operations this till holds as
    /// acknowledged: mark the `count` operations from seq `from` unacknowledged (none below
    /// it) and send them again.
    Resend { from: i64, count: i64 },
    /// The cloud already expects this till's first pending operation (its checkpoint moved
    /// between the refusal and the question): push again as it is.
    PushAgain,
    /// The cloud expects an operation this till never wrote: its records of this till are
    /// ahead of this ledger. Nothing can be sent; a person must look.
    CloudAhead { expected: i64, newest_written: i64 },
}

/// Decides what a `sequence_gap` answer means for the outbox. Re-sending starts exactly at
/// the cloud's expected seq, never below it (those the cloud still has), and stops before the
/// first pending operation (which is sent anyway).
pub fn after_sequence_gap(input: GapInput) -> GapAction {
    let GapInput {
        expected,
        first_pending,
        newest_written,
    } = input;
    if expected < 1 || expected > newest_written.saturating_add(1) {
        return GapAction::CloudAhead {
            expected,
            newest_written,
        };
    }
    let resend_until = first_pending.unwrap_or(newest_written.saturating_add(1));
    if expected >= resend_until {
        return GapAction::PushAgain;
    }
    GapAction::Resend {
        from: expected,
        count: resend_until - expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(seq: i64, payload_bytes: usize) -> omnitill_core::outbox::OutboxOp {
        omnitill_core::outbox::OutboxOp {
            seq,
            op_id: format!("op-{seq}"),
            op_type: "sale.completed.v1".into(),
            payload: "x".repeat(payload_bytes),
            created_at_ms: 0,
        }
    }

    #[test]
    fn a_push_is_cut_where_its_payload_would_pass_the_byte_bound() {
        let small: Vec<_> = (1..=5).map(|seq| op(seq, 100)).collect();
        assert_eq!(fits_in_push(&small, 10_000), 5, "small operations all go");
        let large: Vec<_> = (1..=200).map(|seq| op(seq, 30_000)).collect();
        let fit = fits_in_push(&large, PUSH_MAX_BYTES);
        assert!(
            fit < 200 && fit > 0,
            "200 operations of 30 KB each do not fit in one push: {fit}"
        );
        let bytes: usize = large[..fit].iter().map(|o| o.payload.len()).sum();
        assert!(bytes <= PUSH_MAX_BYTES, "what goes fits within the bound");
        assert!(
            bytes * 4 <= omnitill_protocol::MAX_BODY_BYTES,
            "and far within the cloud's body limit"
        );
        assert_eq!(
            fits_in_push(&[op(1, PUSH_MAX_BYTES * 2)], PUSH_MAX_BYTES),
            1,
            "a single operation always goes, so the outbox never stalls on the bound"
        );
        assert_eq!(fits_in_push(&[], PUSH_MAX_BYTES), 0);
    }

    #[test]
    fn steps_follow_the_protocol() {
        let base = PlanInput {
            enrolled: true,
            revoked: false,
            pending: 0,
            more_to_pull: false,
            pulled_this_round: false,
            search_waiting: 0,
        };
        let cases = [
            (
                PlanInput {
                    enrolled: false,
                    ..base
                },
                Step::Stop,
                "not enrolled: nothing to talk to",
            ),
            (
                PlanInput {
                    revoked: true,
                    pending: 5,
                    ..base
                },
                Step::Stop,
                "revoked: never push",
            ),
            (
                PlanInput { pending: 5, ..base },
                Step::Push(5),
                "pending operations go first",
            ),
            (
                PlanInput {
                    pending: 1_000,
                    ..base
                },
                Step::Push(PUSH_BATCH),
                "in bounded batches",
            ),
            (base, Step::Pull, "every round pulls at least once"),
            (
                PlanInput {
                    pulled_this_round: true,
                    more_to_pull: true,
                    ..base
                },
                Step::Pull,
                "drain the feed",
            ),
            (
                PlanInput {
                    pulled_this_round: true,
                    ..base
                },
                Step::Done,
                "then the round ends",
            ),
            (
                PlanInput {
                    pulled_this_round: true,
                    pending: 2,
                    ..base
                },
                Step::Push(2),
                "a sale made during the round is pushed before it ends",
            ),
            (
                PlanInput {
                    more_to_pull: true,
                    search_waiting: 50_000,
                    ..base
                },
                Step::Pull,
                "the download finishes before anything is indexed",
            ),
            (
                PlanInput {
                    pulled_this_round: true,
                    search_waiting: 50_000,
                    ..base
                },
                Step::Index(INDEX_CHUNK),
                "then what it brought is indexed for search, a chunk at a time",
            ),
            (
                PlanInput {
                    pulled_this_round: true,
                    search_waiting: 50_000,
                    pending: 1,
                    ..base
                },
                Step::Push(1),
                "a sale made while indexing goes to the cloud before the next chunk",
            ),
        ];
        for (input, expected, why) in cases {
            assert_eq!(next_step(input), expected, "{why}");
        }
    }
    #[test]
    fn a_sequence_gap_resends_exactly_what_the_cloud_forgot() {
        let gap = |expected, first_pending, newest_written| {
            after_sequence_gap(GapInput {
                expected,
                first_pending,
                newest_written,
            })
        };
        let cases = [
            (
                gap(3, Some(6), 5),
                GapAction::Resend { from: 3, count: 3 },
                "the issue's case: pushed 1-5, cloud restored to 2, nothing new: re-send 3, 4, 5",
            ),
            (
                gap(3, Some(6), 8),
                GapAction::Resend { from: 3, count: 3 },
                "re-send 3-5; 6-8 are pending and go anyway, after them",
            ),
            (
                gap(3, None, 5),
                GapAction::Resend { from: 3, count: 3 },
                "everything acknowledged: re-send from the expected seq to the newest",
            ),
            (
                gap(1, Some(6), 5),
                GapAction::Resend { from: 1, count: 5 },
                "a cloud restored to before this till's first operation gets them all",
            ),
            (
                gap(5, Some(6), 5),
                GapAction::Resend { from: 5, count: 1 },
                "one forgotten operation is re-sent alone",
            ),
            (
                gap(6, Some(6), 8),
                GapAction::PushAgain,
                "the cloud already expects the first pending operation: nothing to re-send",
            ),
            (
                gap(7, Some(6), 8),
                GapAction::PushAgain,
                "the cloud holds some pending ones already: a push sends them as duplicates",
            ),
            (
                gap(9, Some(6), 8),
                GapAction::PushAgain,
                "the cloud holds every pending one: the push acknowledges them",
            ),
            (
                gap(10, Some(6), 8),
                GapAction::CloudAhead {
                    expected: 10,
                    newest_written: 8,
                },
                "the cloud expects seq 10 but this till wrote only up to 8: never invent operations",
            ),
            (
                gap(4, None, 0),
                GapAction::CloudAhead {
                    expected: 4,
                    newest_written: 0,
                },
                "an empty outbox cannot satisfy a cloud that expects seq 4",
            ),
            (
                gap(0, Some(1), 3),
                GapAction::CloudAhead {
                    expected: 0,
                    newest_written: 3,
                },
                "seq starts at 1; an expected seq of 0 is nonsense, not a reason to re-send",
            ),
            (
                gap(-5, Some(1), 3),
                GapAction::CloudAhead {
                    expected: -5,
                    newest_written: 3,
                },
                "a negative expected seq re-sends nothing",
            ),
            (
                gap(i64::MAX, Some(1), i64::MAX),
                GapAction::PushAgain,
                "no overflow at the top of the range",
            ),
        ];
        for (action, expected, why) in cases {
            assert_eq!(action, expected, "{why}");
        }
    }
}
