//! A map keyed by a small dense index (a partition, a broker): a vector of slots.
//!
//! The simulation keeps several maps per broker and per client keyed by partition index.
//! As `BTreeMap`s they cost a tree search on every event and, in the browser, a copy of
//! the B-tree code for every value type; as slots they cost an index. Iteration is in key
//! order, as a `BTreeMap`'s is, so traces do not depend on which one is used.

use std::marker::PhantomData;
use std::ops::Index;

/// A key that is a small dense index: a partition or broker (`usize`), a record (`RecId`).
pub trait Idx: Copy {
    fn idx(self) -> usize;
    fn from_idx(i: usize) -> Self;
}

impl Idx for usize {
    fn idx(self) -> usize {
        self
    }
    fn from_idx(i: usize) -> Self {
        i
    }
}

impl Idx for u32 {
    fn idx(self) -> usize {
        self as usize
    }
    fn from_idx(i: usize) -> Self {
        i as u32
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxMap<V, K = usize> {
    slots: Vec<Option<V>>,
    len: usize,
    key: PhantomData<K>,
}

impl<V, K> Default for IdxMap<V, K> {
    fn default() -> Self {
        IdxMap { slots: Vec::new(), len: 0, key: PhantomData }
    }
}

impl<V, K: Idx> IdxMap<V, K> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn get(&self, k: &K) -> Option<&V> {
        self.slots.get(k.idx()).and_then(Option::as_ref)
    }
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.slots.get_mut(k.idx()).and_then(Option::as_mut)
    }
    pub fn contains_key(&self, k: &K) -> bool {
        self.get(k).is_some()
    }
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let k = k.idx();
        if k >= self.slots.len() {
            self.slots.resize_with(k + 1, || None);
        }
        let old = self.slots[k].replace(v);
        if old.is_none() {
            self.len += 1;
        }
        old
    }
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let old = self.slots.get_mut(k.idx()).and_then(Option::take);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }
    pub fn clear(&mut self) {
        self.slots.clear();
        self.len = 0;
    }
    /// The value at `k`, inserted by `f` when there is none.
    pub fn get_or_insert_with(&mut self, k: K, f: impl FnOnce() -> V) -> &mut V {
        if !self.contains_key(&k) {
            self.insert(k, f());
        }
        self.slots[k.idx()].as_mut().expect("just inserted")
    }
    /// `BTreeMap::entry(k).or_default()` and its kin.
    pub fn entry(&mut self, k: K) -> IdxEntry<'_, V, K> {
        IdxEntry { map: self, key: k }
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (K, &V)> + '_ {
        self.slots.iter().enumerate().filter_map(|(k, v)| v.as_ref().map(|v| (K::from_idx(k), v)))
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (K, &mut V)> + '_ {
        self.slots.iter_mut().enumerate().filter_map(|(k, v)| v.as_mut().map(|v| (K::from_idx(k), v)))
    }
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = K> + '_ {
        self.iter().map(|(k, _)| k)
    }
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.slots.iter().flatten()
    }
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> + '_ {
        self.slots.iter_mut().flatten()
    }
}

/// A place in an [`IdxMap`].
pub struct IdxEntry<'a, V, K> {
    map: &'a mut IdxMap<V, K>,
    key: K,
}

impl<'a, V, K: Idx> IdxEntry<'a, V, K> {
    pub fn or_insert_with(self, f: impl FnOnce() -> V) -> &'a mut V {
        self.map.get_or_insert_with(self.key, f)
    }
    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }
}

impl<V, K: Idx> Index<&K> for IdxMap<V, K> {
    type Output = V;
    fn index(&self, k: &K) -> &V {
        self.get(k).expect("no entry for this index")
    }
}

impl<V, K: Idx> Extend<(K, V)> for IdxMap<V, K> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<V, K: Idx> IntoIterator for IdxMap<V, K> {
    type Item = (K, V);
    type IntoIter = std::iter::FilterMap<std::iter::Enumerate<std::vec::IntoIter<Option<V>>>, fn((usize, Option<V>)) -> Option<(K, V)>>;
    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().enumerate().filter_map(|(k, v)| v.map(|v| (K::from_idx(k), v)))
    }
}

impl<V, K: Idx> FromIterator<(K, V)> for IdxMap<V, K> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = IdxMap::new();
        m.extend(iter);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_an_ordered_map() {
        let mut m: IdxMap<&str> = IdxMap::new();
        assert_eq!(m.insert(3, "c"), None);
        assert_eq!(m.insert(1, "a"), None);
        assert_eq!(m.insert(3, "C"), Some("c"));
        assert_eq!(m.len(), 2);
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![(1, &"a"), (3, &"C")]);
        assert_eq!(m.remove(&1), Some("a"));
        assert_eq!(m.remove(&1), None);
        assert_eq!(m.remove(&9), None);
        assert_eq!(m.len(), 1);
        assert!(m.contains_key(&3) && !m.contains_key(&0));
        *m.get_or_insert_with(0, || "z") = "y";
        assert_eq!(m.keys().collect::<Vec<_>>(), vec![0, 3]);
        assert_eq!(m[&0], "y");
    }
}
