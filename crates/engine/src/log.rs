//! A replica's partition log: entries, high watermark, leader-epoch cache and the producer
//! state rebuilt from the log (the parts of `UnifiedLog`, `LeaderEpochFileCache` and
//! `ProducerStateManager` the lab needs).

use crate::vecmap::VecMap;
use std::collections::VecDeque;

pub type Time = u64;
pub type RecId = u32;

/// Marker kind of a control batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Commit,
    Abort,
}

/// One offset of the log. Batch fields are repeated on each entry of the batch so that the log
/// stays a flat vector; `batch_base` lets truncation cut at batch boundaries as Kafka does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub rec: Option<RecId>,
    pub control: Option<Control>,
    pub pid: i64,
    pub epoch: i16,
    pub base_seq: i32,
    pub last_seq: i32,
    pub batch_base: u64,
    pub leader_epoch: i32,
    pub txn: bool,
    pub append_time: Time,
    /// Which copy of the record this is, across every log (for traces): a unique batch id.
    pub batch_id: u64,
    /// An entry of `__transaction_state`: the coordinator's metadata of one transactional.id,
    /// as an index into the simulation's table of written states (`Sim::txn_log_recs`).
    pub state_rec: Option<u32>,
}

/// Metadata of one of the last five batches a producer wrote (`ProducerStateEntry`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMeta {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: u64,
    pub last_offset: u64,
}

/// Broker-side state per producer id (R-C1).
#[derive(Clone, Debug, Default)]
pub struct ProducerEntry {
    pub epoch: i16,
    /// The timestamp of its last batch or marker here (`ProducerStateEntry.lastTimestamp`):
    /// the leader's append time, which every replica copies.
    pub last_ts: Time,
    pub batches: VecDeque<BatchMeta>,
}

/// `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`.
pub const NUM_BATCHES_TO_RETAIN: usize = 5;

impl ProducerEntry {
    pub fn last_seq(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }
    pub fn find_duplicate(&self, first_seq: i32, last_seq: i32) -> Option<BatchMeta> {
        self.batches.iter().copied().find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
    }
    /// Records a batch; a new epoch clears the cached batches (PSE.maybeUpdateProducerEpoch).
    pub fn add(&mut self, epoch: i16, meta: BatchMeta) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
        if self.batches.len() == NUM_BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(meta);
    }
}

#[derive(Clone, Debug, Default)]
pub struct Log {
    pub entries: crate::cowvec::CowVec<Entry>,
    pub hw: u64,
    /// Leader-epoch cache: (epoch, start offset), both strictly increasing.
    pub epochs: Vec<(i32, u64)>,
    pub producers: VecMap<i64, ProducerEntry>,
    /// Open transactions: producer id -> offset of its first transactional batch here
    /// (`ProducerStateEntry.currentTxnFirstOffset`).
    pub ongoing: VecMap<i64, u64>,
    /// Completed transactions as (first offset, marker offset): they hold the LSO back until
    /// the high watermark passes their marker (`ProducerStateManager.removeUnreplicatedTransactions`).
    pub completed: Vec<(u64, u64)>,
    /// The aborted-transaction index: (producer id, first offset, marker offset).
    pub aborted: Vec<(i64, u64, u64)>,
}

impl Log {
    pub fn leo(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.last().map(|e| e.0)
    }

    /// `LeaderEpochFileCache.assign`: a new epoch starts at `offset`.
    pub fn assign_epoch(&mut self, epoch: i32, offset: u64) {
        match self.epochs.last() {
            Some(&(e, _)) if e >= epoch => {}
            _ => {
                // A cache entry may not start before an earlier one: drop any that would.
                while matches!(self.epochs.last(), Some(&(_, s)) if s > offset) {
                    self.epochs.pop();
                }
                self.epochs.push((epoch, offset));
            }
        }
    }

    /// `LeaderEpochFileCache.endOffsetFor`: for a requested epoch, the epoch this log knows
    /// it by and where that epoch ends here.
    /// * the latest epoch, or one above every known epoch (or an empty cache): (requested, LEO);
    /// * below every known epoch: (requested, start of the first known epoch);
    /// * otherwise: (largest known epoch <= requested, start of the next known epoch).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, u64) {
        if self.latest_epoch() == Some(epoch) {
            return (epoch, self.leo());
        }
        match self.epochs.iter().find(|&&(e, _)| e > epoch) {
            None => (epoch, self.leo()),
            Some(&(_, higher_start)) => match self.epochs.iter().rev().find(|&&(e, _)| e <= epoch) {
                None => (epoch, higher_start),
                Some(&(floor, _)) => (floor, higher_start),
            },
        }
    }

    /// Appends entries and keeps the epoch cache and producer state up to date. Used for both
    /// leader appends (after validation) and follower appends (no validation, R-C7).
    pub fn append(&mut self, batch: &[Entry]) {
        if batch.is_empty() {
            return;
        }
        self.assign_epoch(batch[0].leader_epoch, self.leo());
        for (i, src) in batch.iter().enumerate() {
            let mut e = src.clone();
            // Offsets are this log's own; a batch keeps its boundaries across replicas.
            e.batch_base = match self.entries.last() {
                Some(p) if p.batch_id == e.batch_id => p.batch_base,
                _ => self.leo(),
            };
            let ends_batch = batch.get(i + 1).map(|n| n.batch_id != e.batch_id).unwrap_or(true);
            self.entries.push(e);
            if ends_batch {
                self.note_batch();
            }
        }
    }

    /// Updates producer and transaction state for the batch that ends the log.
    fn note_batch(&mut self) {
        let last = self.entries.len() - 1;
        let first = self.entries[last].batch_base as usize;
        self.apply_batch(first, last);
    }

    /// Producer and transaction bookkeeping for the batch at `first..=last` (R-C1, R-C5, R-I2).
    fn apply_batch(&mut self, first: usize, last: usize) {
        let e = &self.entries[first];
        if e.pid < 0 {
            return;
        }
        let (pid, epoch, txn, control, ts) = (e.pid, e.epoch, e.txn, e.control, e.append_time);
        match control {
            Some(c) => {
                let ent = self.producers.entry(pid).or_default();
                ent.last_ts = ent.last_ts.max(ts);
                if epoch > ent.epoch {
                    ent.epoch = epoch;
                    ent.batches.clear();
                }
                if let Some(f) = self.ongoing.remove(&pid) {
                    self.completed.push((f, first as u64));
                    if c == Control::Abort {
                        self.aborted.push((pid, f, first as u64));
                    }
                }
            }
            None => {
                let meta = BatchMeta { first_seq: e.base_seq, last_seq: e.last_seq, first_offset: first as u64, last_offset: last as u64 };
                let ent = self.producers.entry(pid).or_default();
                ent.last_ts = ent.last_ts.max(ts);
                ent.add(epoch, meta);
                if txn {
                    self.ongoing.entry(pid).or_insert(first as u64);
                }
            }
        }
    }

    /// R-C6 (`ProducerStateManager.removeExpiredProducers`): forgets every producer id with
    /// no open transaction here whose last batch is at least `expiration` old, and returns
    /// them. A later batch of such a producer is checked as a first one: any sequence goes.
    pub fn remove_expired_producers(&mut self, now: Time, expiration: Time) -> Vec<i64> {
        let expired: Vec<i64> = self
            .producers
            .iter()
            .filter(|(pid, ent)| !self.ongoing.contains_key(*pid) && now.saturating_sub(ent.last_ts) >= expiration)
            .map(|(pid, _)| *pid)
            .collect();
        for pid in &expired {
            self.producers.remove(pid);
        }
        expired
    }

    /// R-I1: the last stable offset is the first offset of the earliest open transaction, or
    /// of the earliest completed one whose marker is not yet below the high watermark; capped
    /// by the high watermark.
    pub fn lso(&self) -> u64 {
        if self.ongoing.is_empty() && self.completed.last().is_none_or(|&(_, m)| m < self.hw) {
            // No open transaction, and every completed one is below the HW (the usual case).
            return self.hw;
        }
        let open = self.ongoing.values().copied().min();
        // `completed` is in marker order (markers are appended, and a truncation rebuilds it),
        // so the transactions whose marker is below the HW are a prefix: skipped in O(log n),
        // as this runs for every replica after every event.
        let start = self.completed.partition_point(|&(_, m)| m < self.hw);
        let unreplicated = self.completed[start..].iter().map(|&(f, _)| f).min();
        [open, unreplicated].into_iter().flatten().fold(self.hw, u64::min)
    }

    /// Whether the data at `offset` belongs to an aborted transaction (what a read_committed
    /// consumer drops, R-K2).
    pub fn is_aborted(&self, offset: u64) -> bool {
        let e = &self.entries[offset as usize];
        e.txn && e.control.is_none() && self.aborted.iter().any(|&(pid, f, m)| pid == e.pid && f <= offset && offset < m)
    }

    /// Truncates to `offset`, rounded down to the start of the batch holding it (a segment is
    /// cut at a batch boundary). Returns the offset actually truncated to.
    pub fn truncate_to(&mut self, offset: u64) -> u64 {
        let mut off = offset.min(self.leo());
        if off < self.leo() && off > 0 {
            off = off.min(self.entries[off as usize].batch_base);
        }
        if off == self.leo() {
            // Nothing to cut, but LeaderEpochFileCache.truncateFromEnd still drops epochs that
            // start at or after the offset (an epoch this replica led without writing to it).
            self.epochs.retain(|&(_, s)| s < off);
            return off;
        }

        self.entries.truncate(off as usize);
        self.hw = self.hw.min(off);
        // LeaderEpochFileCache.truncateFromEnd: epochs starting at or after the new end go.
        self.epochs.retain(|&(_, s)| s < off);
        self.rebuild_producer_state();
        off
    }

    /// Kafka reloads producer state from the log after truncation (snapshot + replay).
    pub fn rebuild_producer_state(&mut self) {
        self.producers.clear();
        self.ongoing.clear();
        self.completed.clear();
        self.aborted.clear();
        let mut i = 0;
        let n = self.entries.len();
        while i < n {
            let mut j = i;
            while j + 1 < n
                && self.entries[j + 1].batch_id == self.entries[i].batch_id
                && self.entries[j + 1].batch_base == self.entries[i].batch_base
            {
                j += 1;
            }
            self.apply_batch(i, j);
            i = j + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(rec: u32, epoch: i32, batch: u64, seq: i32) -> Entry {
        Entry {
            rec: Some(rec),
            control: None,
            pid: 7,
            epoch: 0,
            base_seq: seq,
            last_seq: seq,
            batch_base: 0,
            leader_epoch: epoch,
            txn: false,
            append_time: 0,
            batch_id: batch,
            state_rec: None,
        }
    }

    /// R-C6: an idle producer id is forgotten once `expiration` has passed since its last
    /// batch, but never while it has a transaction open on the partition.
    #[test]
    fn idle_producer_ids_expire_unless_a_transaction_is_open() {
        let mut log = Log::default();
        let at = |mut e: Entry, pid: i64, t: Time, txn: bool| {
            e.pid = pid;
            e.append_time = t;
            e.txn = txn;
            e
        };
        log.append(&[at(entry(1, 0, 1, 0), 7, 100, false)]);
        log.append(&[at(entry(2, 0, 2, 0), 8, 100, true)]);
        log.append(&[at(entry(3, 0, 3, 1), 7, 400, false)]);
        // pid 7's last batch is at 400: not idle for 500 yet at 800; pid 8 has an open transaction.
        assert!(log.remove_expired_producers(800, 500).is_empty());
        assert_eq!(log.remove_expired_producers(900, 500), vec![7]);
        assert!(log.producers.get(&7).is_none());
        assert!(log.producers.get(&8).is_some(), "an open transaction keeps its producer id");
    }

    #[test]
    fn end_offset_for_epoch_follows_the_cache() {
        let mut log = Log::default();
        log.append(&[entry(1, 0, 1, 0), entry(2, 0, 2, 1)]);
        log.append(&[entry(3, 2, 3, 2)]);
        assert_eq!(log.epochs, vec![(0, 0), (2, 2)]);
        assert_eq!(log.end_offset_for_epoch(0), (0, 2));
        assert_eq!(log.end_offset_for_epoch(1), (0, 2));
        assert_eq!(log.end_offset_for_epoch(2), (2, 3));
        assert_eq!(log.end_offset_for_epoch(5), (5, 3));
        let mut later = Log::default();
        later.append(&[entry(9, 3, 9, 0)]);
        assert_eq!(later.end_offset_for_epoch(1), (1, 0), "an epoch older than the cache ends where the cache starts");
    }

    #[test]
    fn truncation_cuts_whole_batches_and_rebuilds_producer_state() {
        let mut log = Log::default();
        let mut b = vec![entry(1, 0, 1, 0), entry(2, 0, 1, 1)];
        b[0].last_seq = 1;
        b[1].base_seq = 0;
        b[1].last_seq = 1;
        log.append(&b);
        log.append(&[entry(3, 0, 2, 2)]);
        assert_eq!(log.producers[&7].last_seq(), Some(2));
        assert_eq!(log.truncate_to(1), 0, "offset 1 is inside the batch starting at 0");
        assert!(log.producers.is_empty());
        assert!(log.epochs.is_empty());
    }

    #[test]
    fn only_five_batches_are_retained() {
        let mut p = ProducerEntry::default();
        for s in 0..7 {
            p.add(0, BatchMeta { first_seq: s, last_seq: s, first_offset: s as u64, last_offset: s as u64 });
        }
        assert_eq!(p.batches.len(), 5);
        assert!(p.find_duplicate(1, 1).is_none());
        assert!(p.find_duplicate(2, 2).is_some());
    }
}
