//! A vector in shared chunks, copied on write: cloning it copies one pointer per chunk.
//!
//! The lab keeps a checkpoint of the whole simulation every few hundred events so that it can
//! rewind. Replica logs and the record table grow with the run, and as plain vectors every
//! checkpoint copied them whole: a 20 000-record run held over a gigabyte of checkpoints. In
//! chunks, a checkpoint shares everything with the live simulation, and a write copies only
//! the chunk it lands in (almost always the last one, which is small).

use std::ops::{Index, IndexMut};
use std::rc::Rc;

/// Elements per chunk.
const CHUNK: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CowVec<T> {
    chunks: Vec<Rc<Vec<T>>>,
    len: usize,
}

impl<T> Default for CowVec<T> {
    fn default() -> Self {
        CowVec { chunks: Vec::new(), len: 0 }
    }
}

impl<T: Clone> CowVec<T> {
    pub fn new() -> Self {
        Self::default()
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn push(&mut self, x: T) {
        if self.len % CHUNK == 0 {
            self.chunks.push(Rc::new(Vec::with_capacity(CHUNK)));
        }
        Rc::make_mut(self.chunks.last_mut().expect("a chunk with room")).push(x);
        self.len += 1;
    }
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        (i < self.len).then(|| &self.chunks[i / CHUNK][i % CHUNK])
    }
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        Some(&mut Rc::make_mut(&mut self.chunks[i / CHUNK])[i % CHUNK])
    }
    #[inline]
    pub fn last(&self) -> Option<&T> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }
    /// Keeps the first `n` elements.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.len {
            return;
        }
        self.chunks.truncate(n.div_ceil(CHUNK));
        if n % CHUNK != 0 {
            Rc::make_mut(self.chunks.last_mut().expect("n > 0")).truncate(n % CHUNK);
        }
        self.len = n;
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }
    /// Elements `start..end`, in order.
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &T> + '_ {
        let end = end.min(self.len);
        let start = start.min(end);
        let first = start / CHUNK;
        self.chunks[first..end.div_ceil(CHUNK).max(first)].iter().flat_map(|c| c.iter()).skip(start % CHUNK).take(end - start)
    }
    /// Every element, mutably (each shared chunk is copied first).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.chunks.iter_mut().flat_map(|c| Rc::make_mut(c).iter_mut())
    }
}

impl<T: Clone> Index<usize> for CowVec<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        self.get(i).expect("index within the vector")
    }
}

impl<T: Clone> IndexMut<usize> for CowVec<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.get_mut(i).expect("index within the vector")
    }
}

impl<T: Clone> FromIterator<T> for CowVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = CowVec::new();
        for x in iter {
            v.push(x);
        }
        v
    }
}

impl<T: Clone> Extend<T> for CowVec<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for x in iter {
            self.push(x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vector_and_clones_share_until_written() {
        let mut v: CowVec<usize> = (0..1000).collect();
        assert_eq!(v.len(), 1000);
        assert_eq!(v[999], 999);
        assert_eq!(v.range(250, 260).copied().collect::<Vec<_>>(), (250..260).collect::<Vec<_>>());
        assert_eq!(v.range(990, 2000).count(), 10);
        assert_eq!(v.range(5, 5).count(), 0);
        let snapshot = v.clone();
        v.push(1000);
        // Only the last chunk was copied by the push.
        assert!(Rc::ptr_eq(&v.chunks[0], &snapshot.chunks[0]) && !Rc::ptr_eq(&v.chunks[3], &snapshot.chunks[3]));
        v[10] = 7;
        v.truncate(300);
        v.push(1);
        assert_eq!((v.len(), v[10], v[300], v.last()), (301, 7, 1, Some(&1)));
        // The snapshot did not see any of it.
        assert_eq!((snapshot.len(), snapshot[10], snapshot[300]), (1000, 10, 300));
        v.truncate(256);
        assert_eq!((v.len(), v.iter().count(), v.last()), (256, 256, Some(&255)));
        v.truncate(0);
        assert!(v.is_empty() && v.last().is_none());
        for x in v.iter_mut() {
            *x += 1;
        }
    }
}
