//! Ordered maps and sets kept as sorted double-ended vectors.
//!
//! The engine's maps are small (a producer's batches in flight, a transaction's partitions,
//! a log's producer ids) or are filled at one end and emptied at the other (the event queue
//! is filled near its back and popped at its front). A sorted `VecDeque` serves both with
//! one binary search and no allocation per entry, and, in the browser, costs a fraction of
//! the code a `BTreeMap` costs for each key and value type (each type gets its own copy).
//! Iteration is in key order, as a `BTreeMap`'s is, so traces do not depend on the choice.
//!
//! A map filled in random key order with many entries would pay O(n) per insertion; the
//! per-record maps are [`crate::idxmap::IdxMap`]s instead.

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::ops::Index;

#[derive(Clone, PartialEq, Eq)]
pub struct VecMap<K, V> {
    v: VecDeque<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap { v: VecDeque::new() }
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.v.iter().map(|(k, v)| (k, v))).finish()
    }
}

type Pair<'a, K, V> = fn(&'a (K, V)) -> (&'a K, &'a V);

impl<K: Ord, V> VecMap<K, V> {
    pub fn new() -> Self {
        VecMap { v: VecDeque::new() }
    }
    #[inline]
    fn find<Q: Ord + ?Sized>(&self, k: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        // Most lookups and insertions are at the back (new ids, later times): try it first.
        match self.v.back() {
            None => return Err(0),
            Some((last, _)) => match last.borrow().cmp(k) {
                std::cmp::Ordering::Less => return Err(self.v.len()),
                std::cmp::Ordering::Equal => return Ok(self.v.len() - 1),
                std::cmp::Ordering::Greater => {}
            },
        }
        self.v.binary_search_by(|(x, _)| x.borrow().cmp(k))
    }
    pub fn len(&self) -> usize {
        self.v.len()
    }
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }
    pub fn clear(&mut self) {
        self.v.clear();
    }
    #[inline]
    pub fn get<Q: Ord + ?Sized>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(k).ok().map(|i| &self.v[i].1)
    }
    #[inline]
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(k).ok().map(|i| &mut self.v[i].1)
    }
    #[inline]
    pub fn contains_key<Q: Ord + ?Sized>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(k).is_ok()
    }
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        match self.find(&k) {
            Ok(i) => Some(std::mem::replace(&mut self.v[i].1, v)),
            Err(i) => {
                self.v.insert(i, (k, v));
                None
            }
        }
    }
    pub fn remove<Q: Ord + ?Sized>(&mut self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(k).ok()?;
        self.v.remove(i).map(|(_, v)| v)
    }
    pub fn entry(&mut self, k: K) -> Entry<'_, K, V> {
        let at = self.find(&k);
        Entry { map: self, key: k, at }
    }
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        self.v.pop_front()
    }
    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        self.v.front().map(|(k, v)| (k, v))
    }
    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        self.v.back().map(|(k, v)| (k, v))
    }
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        self.v.retain_mut(|(k, v)| f(k, v));
    }
    pub fn iter(&self) -> std::iter::Map<std::collections::vec_deque::Iter<'_, (K, V)>, Pair<'_, K, V>> {
        self.v.iter().map(|(k, v)| (k, v))
    }
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&K, &mut V)> + '_ {
        self.v.iter_mut().map(|(k, v)| (&*k, v))
    }
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator + '_ {
        self.v.iter().map(|(k, _)| k)
    }
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + '_ {
        self.v.iter().map(|(_, v)| v)
    }
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + '_ {
        self.v.iter_mut().map(|(_, v)| v)
    }
}

/// A place in a [`VecMap`], as `BTreeMap::entry` gives.
pub struct Entry<'a, K, V> {
    map: &'a mut VecMap<K, V>,
    key: K,
    at: Result<usize, usize>,
}

impl<'a, K: Ord, V> Entry<'a, K, V> {
    pub fn or_insert_with(self, f: impl FnOnce() -> V) -> &'a mut V {
        let i = match self.at {
            Ok(i) => i,
            Err(i) => {
                self.map.v.insert(i, (self.key, f()));
                i
            }
        };
        &mut self.map.v[i].1
    }
    pub fn or_insert(self, v: V) -> &'a mut V {
        self.or_insert_with(|| v)
    }
    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }
}

impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> Index<&Q> for VecMap<K, V> {
    type Output = V;
    fn index(&self, k: &Q) -> &V {
        self.get(k).expect("no entry for this key")
    }
}

impl<K: Ord, V> Extend<(K, V)> for VecMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    /// Entries in key order are appended in O(1) each; a long list in random order should be
    /// sorted first (an insertion in the middle moves the entries after it).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = VecMap::new();
        m.extend(iter);
        m
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::collections::vec_deque::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.v.into_iter()
    }
}

impl<'a, K: Ord, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::collections::vec_deque::Iter<'a, (K, V)>, Pair<'a, K, V>>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K: serde::Serialize, V: serde::Serialize> serde::Serialize for VecMap<K, V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.v.iter().map(|(k, v)| (k, v)))
    }
}

/// An ordered set kept as a sorted vector (see [`VecMap`]).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct VecSet<K> {
    m: VecMap<K, ()>,
}

impl<K: std::fmt::Debug> std::fmt::Debug for VecSet<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.m.v.iter().map(|(k, _)| k)).finish()
    }
}

impl<K: Ord> VecSet<K> {
    pub fn new() -> Self {
        VecSet { m: VecMap::new() }
    }
    pub fn len(&self) -> usize {
        self.m.len()
    }
    pub fn is_empty(&self) -> bool {
        self.m.is_empty()
    }
    pub fn clear(&mut self) {
        self.m.clear();
    }
    /// Adds `k`; false when it was there already.
    pub fn insert(&mut self, k: K) -> bool {
        self.m.insert(k, ()).is_none()
    }
    pub fn remove<Q: Ord + ?Sized>(&mut self, k: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.m.remove(k).is_some()
    }
    pub fn contains<Q: Ord + ?Sized>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.m.contains_key(k)
    }
    pub fn first(&self) -> Option<&K> {
        self.m.first_key_value().map(|(k, _)| k)
    }
    pub fn last(&self) -> Option<&K> {
        self.m.last_key_value().map(|(k, _)| k)
    }
    pub fn pop_first(&mut self) -> Option<K> {
        self.m.pop_first().map(|(k, _)| k)
    }
    pub fn retain(&mut self, mut f: impl FnMut(&K) -> bool) {
        self.m.retain(|k, _| f(k));
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator + '_ {
        self.m.keys()
    }
}

impl<K: Ord> Extend<K> for VecSet<K> {
    fn extend<I: IntoIterator<Item = K>>(&mut self, iter: I) {
        for k in iter {
            self.insert(k);
        }
    }
}

impl<K: Ord> FromIterator<K> for VecSet<K> {
    fn from_iter<I: IntoIterator<Item = K>>(iter: I) -> Self {
        VecSet { m: iter.into_iter().map(|k| (k, ())).collect() }
    }
}

impl<K> IntoIterator for VecSet<K> {
    type Item = K;
    type IntoIter = std::iter::Map<std::collections::vec_deque::IntoIter<(K, ())>, fn((K, ())) -> K>;
    fn into_iter(self) -> Self::IntoIter {
        self.m.v.into_iter().map(|(k, _)| k)
    }
}

impl<'a, K: Ord> IntoIterator for &'a VecSet<K> {
    type Item = &'a K;
    type IntoIter = std::iter::Map<std::collections::vec_deque::Iter<'a, (K, ())>, fn(&'a (K, ())) -> &'a K>;
    fn into_iter(self) -> Self::IntoIter {
        self.m.v.iter().map(|(k, _)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_key_order_whatever_the_insertion_order() {
        let mut m = VecMap::new();
        for k in [5, 1, 9, 3, 7, 3] {
            *m.entry(k).or_default() += 1;
        }
        assert_eq!(m.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(), vec![(1, 1), (3, 2), (5, 1), (7, 1), (9, 1)]);
        assert_eq!(m.remove(&5), Some(1));
        assert_eq!(m.remove(&5), None);
        assert_eq!(m.insert(3, 10), Some(2));
        assert_eq!(m[&3], 10);
        assert_eq!(m.pop_first(), Some((1, 1)));
        m.retain(|k, _| *k != 9);
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), vec![3, 7]);
        let c: VecMap<u32, &str> = [(2, "a"), (1, "b"), (2, "c")].into_iter().collect::<VecMap<_, _>>();
        assert_eq!(c.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(), vec![(1, "b"), (2, "c")]);
    }

    #[test]
    fn string_keys_are_found_by_str() {
        let mut m: VecMap<String, u32> = VecMap::new();
        m.insert("b".into(), 2);
        m.insert("a".into(), 1);
        assert_eq!(m.get("a"), Some(&1));
        assert!(m.contains_key("b") && !m.contains_key("c"));
    }

    #[test]
    fn set_behaves_like_an_ordered_set() {
        let mut s: VecSet<u32> = [4, 2, 4, 8].into_iter().collect();
        assert_eq!(s.len(), 3);
        assert!(!s.insert(2) && s.insert(6));
        assert!(s.remove(&4) && !s.remove(&4));
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![2, 6, 8]);
        assert_eq!((s.first(), s.last()), (Some(&2), Some(&8)));
    }
}
