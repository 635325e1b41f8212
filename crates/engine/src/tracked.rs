//! A vector that notes which of its elements were borrowed mutably since it was last asked.
//!
//! The simulation checks its invariants after every event. Most of them are about one
//! broker's logs, or a follower and its leader, and most events change one broker or none
//! (a producer's timer, a response on its way to a client). Checking every broker after
//! every event cost a fifth of the run. Behind this type, every write to a broker goes
//! through `IndexMut` or `iter_mut`, which mark it; there is no `DerefMut`, so the compiler
//! rejects a write that would not be marked, and a check that looks only at marked brokers
//! sees every broker an event could have changed.

use std::ops::{Deref, DerefMut, Index, IndexMut};

#[derive(Clone, Debug)]
pub struct Tracked<T> {
    v: Vec<T>,
    /// Bit `i % 64`: element `i` was borrowed mutably (the lab has at most 9 brokers; with 64
    /// or more elements a bit stands for every element whose index has its remainder).
    changed: u64,
}

impl<T> Tracked<T> {
    /// Every element starts as changed, so the first check covers them all.
    pub fn new(v: Vec<T>) -> Self {
        Tracked { v, changed: u64::MAX }
    }
    #[inline]
    fn bit(i: usize) -> u64 {
        1 << (i % 64)
    }
    /// Whether element `i` may have changed since the last `clear_changed`.
    #[inline]
    pub fn changed(&self, i: usize) -> bool {
        self.changed & Self::bit(i) != 0
    }
    pub fn any_changed(&self) -> bool {
        self.changed != 0
    }
    pub fn clear_changed(&mut self) {
        self.changed = 0;
    }
    /// Every element, mutably: all of them count as changed.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.changed = u64::MAX;
        self.v.iter_mut()
    }
}

impl<T> Deref for Tracked<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.v
    }
}

impl<'a, T> IntoIterator for &'a Tracked<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.v.iter()
    }
}

impl<T> Index<usize> for Tracked<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        &self.v[i]
    }
}

impl<T> IndexMut<usize> for Tracked<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.changed |= Self::bit(i);
        &mut self.v[i]
    }
}

/// A value that notes whether it was borrowed mutably since it was last asked (the
/// controller's state, for the same checks): `DerefMut` marks it.
#[derive(Clone, Debug)]
pub struct Watched<T> {
    v: T,
    changed: bool,
}

impl<T> Watched<T> {
    pub fn new(v: T) -> Self {
        Watched { v, changed: true }
    }
    pub fn changed(&self) -> bool {
        self.changed
    }
    pub fn clear_changed(&mut self) {
        self.changed = false;
    }
}

impl<T> Deref for Watched<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.v
    }
}

impl<T> DerefMut for Watched<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.changed = true;
        &mut self.v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_what_was_borrowed_mutably() {
        let mut t = Tracked::new(vec![1, 2, 3, 4]);
        assert!((0..4).all(|i| t.changed(i)));
        t.clear_changed();
        let _ = t[1] + t.iter().sum::<i32>();
        assert!(!t.any_changed());
        t[2] += 1;
        assert!(t.changed(2) && !t.changed(1) && !t.changed(3));
        t.clear_changed();
        t.iter_mut().for_each(|x| *x += 1);
        assert!((0..4).all(|i| t.changed(i)));
        assert_eq!(&*t, &[2, 3, 5, 5]);
    }

    #[test]
    fn a_watched_value_is_marked_by_a_write_only() {
        let mut w = Watched::new((1, vec![2]));
        w.clear_changed();
        assert_eq!(w.0 + w.1[0], 3);
        assert!(!w.changed());
        w.1.push(3);
        assert!(w.changed());
    }
}
