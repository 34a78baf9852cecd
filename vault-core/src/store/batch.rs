//! Write batches: every change to the store is a list of operations applied all-or-nothing.
//!
//! Backends do not execute a batch one operation at a time: [`plan`] groups each run of
//! inserts into one multi-row insert per table (in foreign-key order), so a batch of a
//! thousand imported subjects costs a few dozen statements, not thousands.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::rows::{
    HistoryRow, ImportProgressRow, IndexRow, KeyCompartment, KeyRow, MyNumberRow, RecordRow,
    RecordUpdate, SubjectRow,
};

/// One change in a [`WriteBatch`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum WriteOp {
    /// Registers a subject. A duplicate id is a `Conflict`.
    InsertSubject(SubjectRow),
    /// Changes a subject's prefecture code and status. `NotFound` if it does not exist.
    UpdateSubject {
        /// The subject.
        subject_id: Uuid,
        /// New home prefecture code.
        prefecture_code: String,
        /// New status.
        status: String,
        /// Time of the change.
        updated_at: DateTime<Utc>,
    },
    /// Sets or clears 利用停止 (suspension of use). `NotFound` if the subject does not exist.
    SetSuspended {
        /// The subject.
        subject_id: Uuid,
        /// Whether use is suspended.
        suspended: bool,
        /// Time of the change.
        updated_at: DateTime<Utc>,
    },
    /// Crypto-shreds a subject: deletes its wrapped keys first, then its My Number, blind
    /// indexes, record history, records and the subject row. A missing subject is a no-op.
    DeleteSubject {
        /// The subject.
        subject_id: Uuid,
    },
    /// Stores a subject's wrapped data key of one compartment, replacing any previous one.
    UpsertKey(KeyRow),
    /// Replaces a wrapped key only if it is still wrapped by `expected_kek_id` at
    /// `expected_kek_version` (key rotation). Otherwise (already re-wrapped, or shredded
    /// meanwhile) nothing happens: a shredded key is never brought back.
    RewrapKey {
        /// The re-wrapped key (subject, compartment, new KEK id/version, new wrapping).
        key: KeyRow,
        /// KEK id the key was read with.
        expected_kek_id: String,
        /// KEK version the key was read with.
        expected_kek_version: u32,
    },
    /// Inserts a record. A duplicate id is a `Conflict`.
    InsertRecord(RecordRow),
    /// Corrects a record if its version is still `expected_version` (then it becomes
    /// `expected_version + 1`), else `StaleVersion`; `NotFound` if the record does not
    /// exist. The record's blind-index rows follow a change of prefecture code.
    UpdateRecord {
        /// The new values.
        update: RecordUpdate,
        /// The version the caller read.
        expected_version: i64,
    },
    /// Deletes one record with its blind indexes and history (not its child records).
    /// A missing record is a no-op.
    DeleteRecord {
        /// The record.
        record_id: Uuid,
    },
    /// Keeps the old sealed values of a corrected record.
    InsertHistory(HistoryRow),
    /// Adds a blind-index entry. A second unique entry for the same field, key version and
    /// digest is a `Conflict`.
    InsertIndex(IndexRow),
    /// Deletes a record's blind-index entries of one field, or of every field if `None`.
    DeleteIndexes {
        /// The record.
        record_id: Uuid,
        /// The field, or all fields.
        field: Option<String>,
    },
    /// Stores a subject's sealed My Number. A second one is a `Conflict`.
    InsertMyNumber(MyNumberRow),
    /// Deletes a subject's My Number (no-op if there is none).
    DeleteMyNumber {
        /// The subject.
        subject_id: Uuid,
    },
    /// Records how far a bulk import run has committed its input, replacing the run's
    /// previous progress row.
    SaveImportProgress(ImportProgressRow),
    /// Crypto-shreds one compartment of a subject: deletes its wrapped data key (no-op if
    /// there is none). Used for the My Number rule (C23), which shreds the compartment
    /// and leaves the rest of the subject.
    DeleteKey {
        /// The subject.
        subject_id: Uuid,
        /// The compartment whose key goes.
        compartment: KeyCompartment,
    },
}

/// A list of [`WriteOp`]s that [`Store::apply`](super::Store::apply) executes in one
/// transaction: all of them or none.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// An empty batch with room for `n` operations.
    pub fn with_capacity(n: usize) -> WriteBatch {
        WriteBatch {
            ops: Vec::with_capacity(n),
        }
    }

    /// Appends an operation.
    pub fn push(&mut self, op: WriteOp) -> &mut WriteBatch {
        self.ops.push(op);
        self
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations, in order.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// Appends [`WriteOp::InsertSubject`].
    pub fn insert_subject(&mut self, row: SubjectRow) -> &mut WriteBatch {
        self.push(WriteOp::InsertSubject(row))
    }

    /// Appends [`WriteOp::UpsertKey`].
    pub fn upsert_key(&mut self, row: KeyRow) -> &mut WriteBatch {
        self.push(WriteOp::UpsertKey(row))
    }

    /// Appends [`WriteOp::InsertRecord`].
    pub fn insert_record(&mut self, row: RecordRow) -> &mut WriteBatch {
        self.push(WriteOp::InsertRecord(row))
    }

    /// Appends [`WriteOp::UpdateRecord`].
    pub fn update_record(
        &mut self,
        update: RecordUpdate,
        expected_version: i64,
    ) -> &mut WriteBatch {
        self.push(WriteOp::UpdateRecord {
            update,
            expected_version,
        })
    }

    /// Appends [`WriteOp::InsertHistory`].
    pub fn insert_history(&mut self, row: HistoryRow) -> &mut WriteBatch {
        self.push(WriteOp::InsertHistory(row))
    }

    /// Appends [`WriteOp::InsertIndex`].
    pub fn insert_index(&mut self, row: IndexRow) -> &mut WriteBatch {
        self.push(WriteOp::InsertIndex(row))
    }

    /// Appends [`WriteOp::InsertMyNumber`].
    pub fn insert_my_number(&mut self, row: MyNumberRow) -> &mut WriteBatch {
        self.push(WriteOp::InsertMyNumber(row))
    }

    /// Appends [`WriteOp::DeleteSubject`].
    pub fn delete_subject(&mut self, subject_id: Uuid) -> &mut WriteBatch {
        self.push(WriteOp::DeleteSubject { subject_id })
    }
}

impl Extend<WriteOp> for WriteBatch {
    fn extend<I: IntoIterator<Item = WriteOp>>(&mut self, iter: I) {
        self.ops.extend(iter);
    }
}

impl FromIterator<WriteOp> for WriteBatch {
    fn from_iter<I: IntoIterator<Item = WriteOp>>(iter: I) -> WriteBatch {
        WriteBatch {
            ops: iter.into_iter().collect(),
        }
    }
}

impl IntoIterator for WriteBatch {
    type Item = WriteOp;
    type IntoIter = std::vec::IntoIter<WriteOp>;
    fn into_iter(self) -> Self::IntoIter {
        self.ops.into_iter()
    }
}

/// One statement group of a planned batch.
pub(super) enum Step {
    Subjects(Vec<SubjectRow>),
    Keys(Vec<KeyRow>),
    Records(Vec<RecordRow>),
    History(Vec<HistoryRow>),
    Indexes(Vec<IndexRow>),
    MyNumbers(Vec<MyNumberRow>),
    /// A run of consecutive [`WriteOp::RewrapKey`]s: one multi-row `UPDATE` per chunk
    /// (key rotation re-wraps thousands of keys per batch).
    Rewraps(Vec<Rewrap>),
    /// An operation that is not a plain insert, executed on its own, in batch order.
    Single(WriteOp),
}

/// One [`WriteOp::RewrapKey`], unpacked.
pub(super) struct Rewrap {
    pub(super) key: KeyRow,
    pub(super) expected_kek_id: String,
    pub(super) expected_kek_version: u32,
}

/// Inserts collected between two non-insert operations.
#[derive(Default)]
struct Pending {
    subjects: Vec<SubjectRow>,
    keys: Vec<KeyRow>,
    /// Position in `keys` of each (subject, compartment): a later upsert of the same
    /// key replaces the earlier one (PostgreSQL refuses to upsert one row twice in one
    /// statement, and the last write wins either way).
    key_pos: HashMap<(Uuid, KeyCompartment), usize>,
    records: Vec<RecordRow>,
    history: Vec<HistoryRow>,
    indexes: Vec<IndexRow>,
    my_numbers: Vec<MyNumberRow>,
}

impl Pending {
    /// Moves the collected inserts to `steps`, parents before children.
    fn flush(&mut self, steps: &mut Vec<Step>) {
        let p = std::mem::take(self);
        if !p.subjects.is_empty() {
            steps.push(Step::Subjects(p.subjects));
        }
        if !p.keys.is_empty() {
            steps.push(Step::Keys(p.keys));
        }
        if !p.records.is_empty() {
            steps.push(Step::Records(p.records));
        }
        if !p.history.is_empty() {
            steps.push(Step::History(p.history));
        }
        if !p.indexes.is_empty() {
            steps.push(Step::Indexes(p.indexes));
        }
        if !p.my_numbers.is_empty() {
            steps.push(Step::MyNumbers(p.my_numbers));
        }
    }
}

/// Groups a batch into statements.
///
/// Inserts between two other operations commute (they only add rows; inserting
/// parents first satisfies every foreign key), so each such run becomes one multi-row
/// insert per table. Every other operation keeps its place relative to the runs, so
/// "delete the indexes, then insert new ones" still happens in that order.
pub(super) fn plan(batch: WriteBatch) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut pending = Pending::default();
    // Keys in the last `Step::Rewraps`.
    let mut rewrap_keys: HashSet<(Uuid, KeyCompartment)> = HashSet::new();
    for op in batch.ops {
        match op {
            WriteOp::InsertSubject(row) => pending.subjects.push(row),
            WriteOp::UpsertKey(row) => {
                let slot = (row.subject_id, row.compartment);
                match pending.key_pos.get(&slot) {
                    Some(&i) => pending.keys[i] = row,
                    None => {
                        pending.key_pos.insert(slot, pending.keys.len());
                        pending.keys.push(row);
                    }
                }
            }
            WriteOp::InsertRecord(row) => pending.records.push(row),
            WriteOp::InsertHistory(row) => pending.history.push(row),
            WriteOp::InsertIndex(row) => pending.indexes.push(row),
            WriteOp::InsertMyNumber(row) => pending.my_numbers.push(row),
            WriteOp::RewrapKey {
                key,
                expected_kek_id,
                expected_kek_version,
            } => {
                pending.flush(&mut steps);
                let rewrap = Rewrap {
                    key,
                    expected_kek_id,
                    expected_kek_version,
                };
                // One statement updates each key at most once: a second re-wrap of the
                // same key starts a new statement, so it sees the first one's result.
                let slot = (rewrap.key.subject_id, rewrap.key.compartment);
                match steps.last_mut() {
                    Some(Step::Rewraps(run)) if rewrap_keys.insert(slot) => run.push(rewrap),
                    _ => {
                        rewrap_keys.clear();
                        rewrap_keys.insert(slot);
                        steps.push(Step::Rewraps(vec![rewrap]));
                    }
                }
            }
            other => {
                pending.flush(&mut steps);
                steps.push(Step::Single(other));
            }
        }
    }
    pending.flush(&mut steps);
    steps
}

/// Splits `rows` into owned chunks of at most `max` rows.
pub(super) fn chunks<T>(rows: Vec<T>, max: usize) -> impl Iterator<Item = Vec<T>> {
    let mut rest = rows.into_iter().peekable();
    std::iter::from_fn(move || {
        rest.peek()?;
        Some(rest.by_ref().take(max).collect())
    })
}

/// Splits `rows` into multi-row insert sizes from a small fixed set (`max`, then powers of
/// two), so each connection caches only a handful of prepared statement shapes per table.
pub(super) fn power_chunks<T>(rows: Vec<T>, max: usize) -> impl Iterator<Item = Vec<T>> {
    debug_assert!(max.is_power_of_two());
    let mut left = rows.len();
    let mut rest = rows.into_iter();
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = if left >= max {
            max
        } else {
            // Largest power of two not above `left` (left > 0 here).
            1usize << (usize::BITS - 1 - left.leading_zeros())
        };
        left -= n;
        Some(rest.by_ref().take(n).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use vault_policy::RecordKind;

    fn subject(id: Uuid) -> SubjectRow {
        let t = Utc.timestamp_opt(0, 0).unwrap();
        SubjectRow {
            subject_id: id,
            kind: super::super::SubjectKind::Examinee,
            prefecture_code: "13".into(),
            status: "active".into(),
            suspended: false,
            created_at: t,
            updated_at: t,
        }
    }

    fn record(subject_id: Uuid) -> RecordRow {
        let t = Utc.timestamp_opt(0, 0).unwrap();
        RecordRow {
            record_id: Uuid::new_v4(),
            kind: RecordKind::Application,
            subject_id,
            parent_id: None,
            prefecture_code: "13".into(),
            fiscal_year: None,
            clock_date: None,
            status: None,
            version: 1,
            sealed: vec![1, 2, 3],
            created_at: t,
            updated_at: t,
        }
    }

    fn key(subject_id: Uuid, wrapped: u8) -> KeyRow {
        KeyRow {
            subject_id,
            compartment: KeyCompartment::General,
            kek_id: "general".into(),
            kek_version: 1,
            wrapped: vec![wrapped],
        }
    }

    fn shape(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Subjects(r) => format!("subjects×{}", r.len()),
                Step::Keys(r) => format!("keys×{}", r.len()),
                Step::Records(r) => format!("records×{}", r.len()),
                Step::History(r) => format!("history×{}", r.len()),
                Step::Indexes(r) => format!("indexes×{}", r.len()),
                Step::MyNumbers(r) => format!("my_numbers×{}", r.len()),
                Step::Rewraps(r) => format!("rewraps×{}", r.len()),
                Step::Single(WriteOp::DeleteIndexes { .. }) => "delete_indexes".into(),
                Step::Single(WriteOp::DeleteSubject { .. }) => "delete_subject".into(),
                Step::Single(_) => "other".into(),
            })
            .collect()
    }

    #[test]
    fn consecutive_rewraps_become_one_step_in_batch_order() {
        let mut b = WriteBatch::new();
        let s = Uuid::new_v4();
        b.insert_subject(subject(s));
        for n in 0..3 {
            b.push(WriteOp::RewrapKey {
                key: key(Uuid::new_v4(), n),
                expected_kek_id: "general".into(),
                expected_kek_version: 1,
            });
        }
        b.delete_subject(s);
        let again = Uuid::new_v4();
        for n in 0..2 {
            b.push(WriteOp::RewrapKey {
                key: key(again, n),
                expected_kek_id: "general".into(),
                expected_kek_version: 1,
            });
        }
        // The second re-wrap of one key must see the first: a statement of its own.
        assert_eq!(
            shape(&plan(b)),
            [
                "subjects×1",
                "rewraps×3",
                "delete_subject",
                "rewraps×1",
                "rewraps×1"
            ]
        );
    }

    #[test]
    fn interleaved_inserts_become_one_insert_per_table_parents_first() {
        let mut b = WriteBatch::new();
        for _ in 0..3 {
            let s = Uuid::new_v4();
            b.insert_record(record(s))
                .upsert_key(key(s, 1))
                .insert_subject(subject(s));
        }
        assert_eq!(shape(&plan(b)), ["subjects×3", "keys×3", "records×3"]);
    }

    #[test]
    fn other_operations_keep_their_place_between_insert_runs() {
        let s = Uuid::new_v4();
        let mut b = WriteBatch::new();
        b.insert_subject(subject(s))
            .delete_subject(s)
            .insert_subject(subject(s))
            .insert_record(record(s));
        assert_eq!(
            shape(&plan(b)),
            ["subjects×1", "delete_subject", "subjects×1", "records×1"]
        );
    }

    #[test]
    fn repeated_upsert_of_one_key_keeps_the_last() {
        let s = Uuid::new_v4();
        let mut b = WriteBatch::new();
        b.upsert_key(key(s, 1)).upsert_key(key(s, 2));
        let steps = plan(b);
        match steps.as_slice() {
            [Step::Keys(keys)] => {
                assert_eq!(keys.iter().map(|k| k.wrapped[0]).collect::<Vec<_>>(), [2])
            }
            _ => panic!("unexpected plan {:?}", shape(&steps)),
        }
    }

    #[test]
    fn power_chunks_cover_every_row_in_order_with_few_sizes() {
        let rows: Vec<u32> = (0..1000).collect();
        let parts: Vec<Vec<u32>> = power_chunks(rows, 128).collect();
        let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![128, 128, 128, 128, 128, 128, 128, 64, 32, 8]);
        let flat: Vec<u32> = parts.into_iter().flatten().collect();
        assert_eq!(flat, (0..1000).collect::<Vec<u32>>());
    }

    #[test]
    fn chunks_split_at_the_limit() {
        let sizes: Vec<usize> = chunks((0..10).collect::<Vec<u8>>(), 4)
            .map(|c| c.len())
            .collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        assert_eq!(chunks(Vec::<u8>::new(), 4).count(), 0);
    }
}
