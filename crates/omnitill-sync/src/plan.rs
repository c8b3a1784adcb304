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
}
