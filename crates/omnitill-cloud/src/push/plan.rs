//! What a push does, decided before anything is written: a pure function of the pushed
//! operations, the device's last applied `seq`, the refusals stored for re-sent ones, and
//! what the cloud already holds under each new `op_id`. Tested by a table of cases below.
//!
//! - An operation at or below the last applied `seq` was handled before: `Duplicate`, or
//!   `Replay` of its stored refusal, so the refusal still reaches the till's review list.
//! - A push that starts beyond the next `seq`, or skips one, is refused whole (`PlanError`).
//! - A new operation whose `op_id` this till's previous enrolment already applied is
//!   `AppliedBefore` (a duplicate; a re-enrolled till sends again what its old enrolment never
//!   had acknowledged). One whose `op_id` another till used is `IdTaken`, refused alone.
//! - Consecutive plain sales that passed their check are applied together (`Run`, at least
//!   two, at most `MAX_RUN`) where the backend gains by it (SQLite); everything else is
//!   `Apply`, one operation in its own savepoint.

use std::collections::HashMap;

/// The most plain sales applied together.
pub const MAX_RUN: usize = 500;

/// What the cloud holds under a new operation's `op_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Nothing: a new operation.
    New,
    /// An operation this till applied under an earlier enrolment.
    SameTill,
    /// An operation of another till.
    OtherTill,
}

/// One pushed operation as the plan sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    pub seq: i64,
    pub known: Known,
    /// A plain sale whose check passed: it may join a run.
    pub batchable: bool,
}

/// One step of a push, by index into the pushed operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Duplicate(usize),
    Replay(usize, String),
    AppliedBefore(usize),
    IdTaken(usize),
    Apply(usize),
    /// `len` operations from `start`, applied together.
    Run {
        start: usize,
        len: usize,
    },
}

/// Why a push is refused whole, before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// The first operation is past the next `seq` the cloud expects.
    Gap { expected: i64, got: i64 },
    /// Two operations of the push are not consecutive.
    OutOfOrder { before: i64, after: i64 },
}

/// Decides every step of a push.
pub fn plan(
    pushed: &[Pushed],
    last_applied: i64,
    refused_before: &HashMap<i64, String>,
    batch_sales: bool,
) -> Result<Vec<Step>, PlanError> {
    for pair in pushed.windows(2) {
        if pair[0].seq.checked_add(1) != Some(pair[1].seq) {
            return Err(PlanError::OutOfOrder {
                before: pair[0].seq,
                after: pair[1].seq,
            });
        }
    }
    if let Some(first) = pushed.first()
        && first.seq > last_applied.saturating_add(1)
    {
        return Err(PlanError::Gap {
            expected: last_applied.saturating_add(1),
            got: first.seq,
        });
    }
    let mut steps = Vec::with_capacity(pushed.len());
    let mut index = 0;
    while index < pushed.len() {
        let op = pushed[index];
        if op.seq <= last_applied {
            steps.push(match refused_before.get(&op.seq) {
                Some(reason) => Step::Replay(index, reason.clone()),
                None => Step::Duplicate(index),
            });
            index += 1;
            continue;
        }
        match op.known {
            Known::SameTill => {
                steps.push(Step::AppliedBefore(index));
                index += 1;
                continue;
            }
            Known::OtherTill => {
                steps.push(Step::IdTaken(index));
                index += 1;
                continue;
            }
            Known::New => {}
        }
        let run = if batch_sales {
            pushed[index..]
                .iter()
                .take(MAX_RUN)
                .take_while(|op| op.batchable && op.known == Known::New)
                .count()
        } else {
            0
        };
        if run >= 2 {
            steps.push(Step::Run {
                start: index,
                len: run,
            });
            index += run;
        } else {
            steps.push(Step::Apply(index));
            index += 1;
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(seq: i64) -> Pushed {
        Pushed {
            seq,
            known: Known::New,
            batchable: false,
        }
    }
    fn sale(seq: i64) -> Pushed {
        Pushed {
            seq,
            known: Known::New,
            batchable: true,
        }
    }
    fn known(seq: i64, known: Known) -> Pushed {
        Pushed {
            seq,
            known,
            batchable: true,
        }
    }

    struct Case {
        why: &'static str,
        pushed: Vec<Pushed>,
        last_applied: i64,
        refused: Vec<(i64, &'static str)>,
        batch: bool,
        expect: Result<Vec<Step>, PlanError>,
    }

    #[test]
    fn plan_table() {
        use Step::*;
        let cases = vec![
            Case {
                why: "an empty push does nothing",
                pushed: vec![],
                last_applied: 4,
                refused: vec![],
                batch: true,
                expect: Ok(vec![]),
            },
            Case {
                why: "operations at or below the checkpoint are duplicates",
                pushed: vec![new(3), new(4), new(5)],
                last_applied: 4,
                refused: vec![],
                batch: true,
                expect: Ok(vec![Duplicate(0), Duplicate(1), Apply(2)]),
            },
            Case {
                why: "a re-sent refusal is answered with its stored reason",
                pushed: vec![new(1), new(2)],
                last_applied: 2,
                refused: vec![(2, "line 1 has quantity 0")],
                batch: true,
                expect: Ok(vec![
                    Duplicate(0),
                    Replay(1, "line 1 has quantity 0".into()),
                ]),
            },
            Case {
                why: "a push that starts past the next seq is a gap, refused whole",
                pushed: vec![new(7), new(8)],
                last_applied: 4,
                refused: vec![],
                batch: true,
                expect: Err(PlanError::Gap {
                    expected: 5,
                    got: 7,
                }),
            },
            Case {
                why: "a push whose operations skip a seq is refused whole",
                pushed: vec![new(5), new(7)],
                last_applied: 4,
                refused: vec![],
                batch: true,
                expect: Err(PlanError::OutOfOrder {
                    before: 5,
                    after: 7,
                }),
            },
            Case {
                why: "a seq that would overflow is out of order, not a panic",
                pushed: vec![new(i64::MAX), new(i64::MIN)],
                last_applied: i64::MAX,
                refused: vec![],
                batch: true,
                expect: Err(PlanError::OutOfOrder {
                    before: i64::MAX,
                    after: i64::MIN,
                }),
            },
            Case {
                why: "consecutive checked plain sales are one run on SQLite",
                pushed: vec![sale(1), sale(2), sale(3), new(4), sale(5)],
                last_applied: 0,
                refused: vec![],
                batch: true,
                expect: Ok(vec![Run { start: 0, len: 3 }, Apply(3), Apply(4)]),
            },
            Case {
                why: "without batching every operation is applied one by one",
                pushed: vec![sale(1), sale(2)],
                last_applied: 0,
                refused: vec![],
                batch: false,
                expect: Ok(vec![Apply(0), Apply(1)]),
            },
            Case {
                why: "a run starts after the duplicates",
                pushed: vec![sale(1), sale(2), sale(3)],
                last_applied: 1,
                refused: vec![],
                batch: true,
                expect: Ok(vec![Duplicate(0), Run { start: 1, len: 2 }]),
            },
            Case {
                why: "an op_id the till's earlier enrolment applied is a duplicate, and ends a run",
                pushed: vec![
                    known(3, Known::SameTill),
                    sale(4),
                    sale(5),
                    known(6, Known::SameTill),
                ],
                last_applied: 2,
                refused: vec![],
                batch: true,
                expect: Ok(vec![
                    AppliedBefore(0),
                    Run { start: 1, len: 2 },
                    AppliedBefore(3),
                ]),
            },
            Case {
                why: "an op_id another till used is refused alone; the rest go on",
                pushed: vec![sale(1), known(2, Known::OtherTill), new(3)],
                last_applied: 0,
                refused: vec![],
                batch: true,
                expect: Ok(vec![Apply(0), IdTaken(1), Apply(2)]),
            },
            Case {
                why: "an op_id seen before but at or below the checkpoint is only a duplicate",
                pushed: vec![known(1, Known::OtherTill)],
                last_applied: 1,
                refused: vec![],
                batch: true,
                expect: Ok(vec![Duplicate(0)]),
            },
        ];
        for case in cases {
            let refused: HashMap<i64, String> = case
                .refused
                .iter()
                .map(|(seq, reason)| (*seq, (*reason).to_owned()))
                .collect();
            assert_eq!(
                plan(&case.pushed, case.last_applied, &refused, case.batch),
                case.expect,
                "{}",
                case.why
            );
        }
    }

    #[test]
    fn a_run_is_at_most_max_run_sales() {
        let pushed: Vec<Pushed> = (1..=(MAX_RUN as i64 + 3)).map(sale).collect();
        let steps = plan(&pushed, 0, &HashMap::new(), true).expect("a plan");
        assert_eq!(
            steps,
            vec![
                Step::Run {
                    start: 0,
                    len: MAX_RUN
                },
                Step::Run {
                    start: MAX_RUN,
                    len: 3
                }
            ],
            "a long backlog is cut into runs of at most {MAX_RUN}"
        );
    }
}
