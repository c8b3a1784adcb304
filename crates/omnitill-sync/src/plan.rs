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
}

/// The next step of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Push the next batch of at most this many operations.
    Push(usize),
    /// Pull the next page of the change feed.
    Pull,
    /// The round is over.
    Done,
    /// Nothing can be done: not enrolled, or revoked.
    Stop,
}

/// The most operations one push carries.
pub const PUSH_BATCH: usize = 200;

/// Pushes come first, so the cloud's data includes this till's sales before its stock levels
/// are pulled back; then pulls until the feed is drained.
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
    Step::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_the_protocol() {
        let base = PlanInput {
            enrolled: true,
            revoked: false,
            pending: 0,
            more_to_pull: false,
            pulled_this_round: false,
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
        ];
        for (input, expected, why) in cases {
            assert_eq!(next_step(input), expected, "{why}");
        }
    }
}
