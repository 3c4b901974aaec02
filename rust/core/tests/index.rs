// SPDX-License-Identifier: GPL-2.0
//! Tests of `IndexAllocator` against a `BTreeSet` model.

mod common;

use common::VecStorage;
use proptest::prelude::*;
use pty_core::index::{IndexAllocator, IndexError};
use pty_core::storage::{AllocError, FixedStorage};
use std::collections::BTreeSet;

#[test]
fn lowest_free_first() {
    let mut a = IndexAllocator::new(VecStorage::new(), 4096).unwrap();
    assert_eq!(a.max(), 4096);
    assert_eq!(a.alloc(), Some(0));
    assert_eq!(a.alloc(), Some(1));
    assert_eq!(a.alloc(), Some(2));
    assert!(a.release(1));
    assert!(!a.release(1));
    assert_eq!(a.alloc(), Some(1));
    assert_eq!(a.alloc(), Some(3));
    assert_eq!(a.used(), 4);
}

#[test]
fn claim_exact() {
    let mut a = IndexAllocator::new(VecStorage::new(), 100).unwrap();
    assert_eq!(a.claim(5), Ok(()));
    assert_eq!(a.claim(5), Err(IndexError::Busy));
    assert_eq!(a.claim(100), Err(IndexError::OutOfRange));
    assert_eq!(a.claim(usize::MAX), Err(IndexError::OutOfRange));
    assert!(a.is_used(5));
    assert!(!a.is_used(4));
    assert!(!a.is_used(1000));
    assert!(!a.release(1000));
    assert_eq!(a.alloc(), Some(0));
    for _ in 0..4 {
        a.alloc().unwrap();
    }
    assert_eq!(a.alloc(), Some(6));
}

#[test]
fn exhaustion_and_partial_last_word() {
    for max in [0usize, 1, 63, 64, 65, 127, 128, 129, 4095, 4097] {
        let mut a = IndexAllocator::new(VecStorage::new(), max).unwrap();
        for i in 0..max {
            assert_eq!(a.alloc(), Some(i));
        }
        assert_eq!(a.alloc(), None, "max {max}");
        assert_eq!(a.used(), max);
        if max > 0 {
            assert!(a.release(max - 1));
            assert_eq!(a.alloc(), Some(max - 1));
        }
        assert_eq!(a.iter_used().count(), max);
    }
}

#[test]
fn million_indexes_fast() {
    let mut a = IndexAllocator::new(VecStorage::new(), 1 << 20).unwrap();
    for i in 0..(1 << 20) {
        assert_eq!(a.alloc(), Some(i));
    }
    assert_eq!(a.alloc(), None);
    assert!(a.release(1_000_000));
    assert_eq!(a.alloc(), Some(1_000_000));
    // storage: bitmap + summary, about max/8 bytes
    assert_eq!(a.max(), 1 << 20);
}

#[test]
fn storage_failure() {
    assert_eq!(
        IndexAllocator::new(VecStorage::limited(10), 4096).err(),
        Some(AllocError)
    );
    // 4096 bits = 64 words + 1 summary word = 520 bytes
    assert!(IndexAllocator::new(FixedStorage::<520>::new(), 4096).is_ok());
    assert!(IndexAllocator::new(FixedStorage::<519>::new(), 4096).is_err());
}

#[test]
fn reuse_of_storage_resets() {
    let mut s = VecStorage::new();
    s.buf = vec![0xff; 100];
    let mut a = IndexAllocator::new(s, 64).unwrap();
    assert_eq!(a.alloc(), Some(0));
}

#[derive(Debug, Clone)]
enum Op {
    Alloc,
    Claim(usize),
    Release(usize),
}

proptest! {
    #[test]
    fn matches_btreeset(max in 0usize..300,
                        ops in proptest::collection::vec(prop_oneof![
                            3 => Just(Op::Alloc),
                            2 => (0usize..320).prop_map(Op::Claim),
                            2 => (0usize..320).prop_map(Op::Release),
                        ], 0..400)) {
        let mut a = IndexAllocator::new(VecStorage::new(), max).unwrap();
        let mut model = BTreeSet::new();
        for op in ops {
            match op {
                Op::Alloc => {
                    let expect = (0..max).find(|i| !model.contains(i));
                    prop_assert_eq!(a.alloc(), expect);
                    if let Some(i) = expect { model.insert(i); }
                }
                Op::Claim(i) => {
                    let expect = if i >= max { Err(IndexError::OutOfRange) }
                        else if model.contains(&i) { Err(IndexError::Busy) }
                        else { Ok(()) };
                    prop_assert_eq!(a.claim(i), expect);
                    if expect.is_ok() { model.insert(i); }
                }
                Op::Release(i) => prop_assert_eq!(a.release(i), model.remove(&i)),
            }
            prop_assert_eq!(a.used(), model.len());
            prop_assert_eq!(a.iter_used().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
        }
    }
}
