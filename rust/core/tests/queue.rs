// SPDX-License-Identifier: GPL-2.0
//! Tests of `ByteQueue` against a `VecDeque` model.

mod common;

use common::VecStorage;
use proptest::prelude::*;
use pty_core::queue::{ByteQueue, MIN_CAPACITY};
use pty_core::storage::{AllocError, FixedStorage, Storage};
use std::collections::VecDeque;

fn contents<S: Storage>(q: &ByteQueue<S>) -> Vec<u8> {
    q.iter().collect()
}

#[test]
fn starts_without_memory() {
    let q = ByteQueue::new(VecStorage::new(), 4096);
    assert_eq!(q.capacity(), 0);
    assert!(q.is_empty());
    assert_eq!(q.room(), 4096);
    assert_eq!(q.bound(), 4096);
}

#[test]
fn grows_geometrically_and_caps_at_bound() {
    let mut q = ByteQueue::new(VecStorage::new(), 200);
    assert_eq!(q.push(b"a"), Ok(1));
    assert_eq!(q.capacity(), MIN_CAPACITY);
    assert_eq!(q.push(&[b'b'; 64]), Ok(64));
    assert_eq!(q.capacity(), 128);
    assert_eq!(q.push(&[b'c'; 100]), Ok(100));
    assert_eq!(q.capacity(), 200);
    assert_eq!(q.len(), 165);
    assert_eq!(q.push(&[b'd'; 100]), Ok(35));
    assert_eq!(q.len(), 200);
    assert_eq!(q.push(b"x"), Ok(0));
    assert!(q.is_full());
}

#[test]
fn large_push_allocates_once() {
    let mut q = ByteQueue::new(VecStorage::new(), 4096);
    assert_eq!(q.push(&[7; 1000]), Ok(1000));
    assert_eq!(q.capacity(), 1024);
    assert_eq!(q.storage().grows, 1);
}

#[test]
fn drained_queue_releases_memory() {
    let mut q = ByteQueue::new(VecStorage::new(), 4096);
    q.push(&[1; 300]).unwrap();
    let mut out = [0; 299];
    assert_eq!(q.pop(&mut out), 299);
    assert!(q.capacity() > 0);
    assert_eq!(q.pop(&mut out), 1);
    assert_eq!(q.capacity(), 0);
    assert_eq!(q.storage().buf.capacity(), 0);
    q.push(b"abc").unwrap();
    assert_eq!(q.discard(10), 3);
    assert_eq!(q.capacity(), 0);
    q.push(b"abc").unwrap();
    q.clear();
    assert_eq!(q.capacity(), 0);
    assert!(q.is_empty());
}

#[test]
fn wrap_around_and_growth_while_wrapped() {
    let mut q = ByteQueue::new(VecStorage::new(), 1000);
    q.push(&[0; 60]).unwrap();
    q.discard(50);
    let data: Vec<u8> = (0..40).collect();
    q.push(&data).unwrap(); // wraps inside 64 bytes
    assert_eq!(q.capacity(), 64);
    let (a, b) = q.front_slices();
    assert!(!b.is_empty());
    assert_eq!(a.len() + b.len(), 50);
    // Growing while wrapped keeps order.
    let more: Vec<u8> = (100..200).collect();
    q.push(&more).unwrap();
    let mut expect = vec![0; 10];
    expect.extend(&data);
    expect.extend(&more);
    assert_eq!(contents(&q), expect);
}

#[test]
fn allocation_failure_is_reported() {
    let mut q = ByteQueue::new(VecStorage::limited(0), 100);
    assert_eq!(q.push(b"abc"), Err(AllocError));
    assert!(q.is_empty());
    assert_eq!(q.push(b""), Ok(0));
}

#[test]
fn allocation_failure_fills_current_capacity() {
    let mut q = ByteQueue::new(VecStorage::limited(64), 1000);
    assert_eq!(q.push(&[1; 50]), Ok(50));
    assert_eq!(q.push(&[2; 50]), Ok(14));
    assert_eq!(q.push(&[3; 1]), Err(AllocError));
    assert_eq!(q.len(), 64);
}

#[test]
fn fallback_to_exact_size_under_pressure() {
    // Doubling to 128 fails; exactly 70 is granted.
    let mut q = ByteQueue::new(VecStorage::limited(70), 1000);
    q.push(&[1; 64]).unwrap();
    assert_eq!(q.push(&[2; 6]), Ok(6));
    assert_eq!(q.capacity(), 70);
}

#[test]
fn fixed_storage_works_and_fails_above_n() {
    let mut q = ByteQueue::new(FixedStorage::<64>::new(), 1000);
    assert_eq!(q.push(&[5; 100]), Ok(64));
    assert_eq!(q.push(&[5; 1]), Err(AllocError));
    let mut out = [0; 100];
    assert_eq!(q.pop(&mut out), 64);
    assert_eq!(q.capacity(), 0);
    let mut s = FixedStorage::<8>::new();
    s.try_grow_to(8).unwrap();
    s.as_mut_slice().fill(9);
    s.release();
    s.try_grow_to(4).unwrap();
    assert_eq!(s.as_slice(), &[0; 4], "regrown bytes are zeroed");
    assert_eq!(s.try_grow_to(9), Err(AllocError));
}

#[test]
fn back_pop_back_get_copy_out() {
    let mut q = ByteQueue::new(VecStorage::new(), 100);
    q.push(b"hello").unwrap();
    assert_eq!(q.back(), Some(b'o'));
    assert_eq!(q.pop_back(), Some(b'o'));
    assert_eq!(q.get(0), Some(b'h'));
    assert_eq!(q.get(3), Some(b'l'));
    assert_eq!(q.get(4), None);
    let mut out = [0; 3];
    assert_eq!(q.copy_out(2, &mut out), 2);
    assert_eq!(&out[..2], b"ll");
    assert_eq!(q.copy_out(9, &mut out), 0);
    assert_eq!(q.pop_byte(), Some(b'h'));
    assert_eq!(contents(&q), b"ell");
    while q.pop_back().is_some() {}
    assert_eq!(q.capacity(), 0);
    assert_eq!(q.back(), None);
}

#[test]
fn zero_bound() {
    let mut q = ByteQueue::new(VecStorage::new(), 0);
    assert_eq!(q.push(b"a"), Ok(0));
    assert_eq!(q.capacity(), 0);
}

#[test]
fn shrinking_bound_keeps_data() {
    let mut q = ByteQueue::new(VecStorage::new(), 100);
    q.push(&[1; 50]).unwrap();
    q.set_bound(10);
    assert_eq!(q.room(), 0);
    assert_eq!(q.len(), 50);
    assert_eq!(q.push(b"x"), Ok(0));
}

#[derive(Debug, Clone)]
enum Op {
    Push(Vec<u8>),
    Pop(usize),
    Discard(usize),
    PopBack,
    CopyOut(usize, usize),
    Clear,
    Shrink,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(Op::Push),
        3 => (0usize..200).prop_map(Op::Pop),
        1 => (0usize..100).prop_map(Op::Discard),
        1 => Just(Op::PopBack),
        1 => (0usize..300, 0usize..300).prop_map(|(a, b)| Op::CopyOut(a, b)),
        1 => Just(Op::Clear),
        1 => Just(Op::Shrink),
    ]
}

proptest! {
    #[test]
    fn matches_vecdeque(bound in 0usize..600, limit in proptest::option::of(0usize..700),
                        ops in proptest::collection::vec(op(), 0..60)) {
        let storage = match limit { Some(l) => VecStorage::limited(l), None => VecStorage::new() };
        let mut q = ByteQueue::new(storage, bound);
        let mut model: VecDeque<u8> = VecDeque::new();
        for op in ops {
            match op {
                Op::Push(data) => {
                    let r = q.push(&data);
                    let fit = data.len().min(bound.saturating_sub(model.len()));
                    match r {
                        Ok(n) => {
                            prop_assert!(n <= fit);
                            if limit.is_none() { prop_assert_eq!(n, fit); }
                            if n == 0 { prop_assert_eq!(fit, 0); }
                            model.extend(&data[..n]);
                        }
                        Err(AllocError) => {
                            prop_assert!(limit.is_some() && fit > 0);
                        }
                    }
                }
                Op::Pop(n) => {
                    let mut out = vec![0; n];
                    let got = q.pop(&mut out);
                    let expect: Vec<u8> = model.drain(..n.min(model.len())).collect();
                    prop_assert_eq!(&out[..got], &expect[..]);
                }
                Op::Discard(n) => {
                    let d = q.discard(n);
                    prop_assert_eq!(d, n.min(model.len()));
                    model.drain(..d);
                }
                Op::PopBack => prop_assert_eq!(q.pop_back(), model.pop_back()),
                Op::CopyOut(off, n) => {
                    let mut out = vec![0; n];
                    let got = q.copy_out(off, &mut out);
                    let expect: Vec<u8> = model.iter().skip(off).take(n).copied().collect();
                    prop_assert_eq!(&out[..got], &expect[..]);
                }
                Op::Clear => { q.clear(); model.clear(); }
                Op::Shrink => q.shrink_if_empty(),
            }
            prop_assert_eq!(q.len(), model.len());
            prop_assert!(q.len() <= bound);
            prop_assert!(q.capacity() <= bound);
            prop_assert!(q.len() <= q.capacity());
            let (a, b) = q.front_slices();
            prop_assert_eq!(a.len() + b.len(), q.len());
            prop_assert_eq!(contents(&q), model.iter().copied().collect::<Vec<_>>());
            if model.is_empty() { prop_assert_eq!(q.capacity(), 0); }
            prop_assert_eq!(q.room(), bound - model.len());
        }
    }

    #[test]
    fn any_chunking_preserves_stream(data in proptest::collection::vec(any::<u8>(), 0..2000),
                                     pushes in proptest::collection::vec(1usize..300, 1..50),
                                     pops in proptest::collection::vec(0usize..300, 1..50),
                                     bound in 1usize..700) {
        let mut q = ByteQueue::new(VecStorage::new(), bound);
        let mut fed = 0;
        let mut out: Vec<u8> = Vec::new();
        let mut i = 0;
        while out.len() < data.len() {
            let chunk = pushes[i % pushes.len()];
            let end = (fed + chunk).min(data.len());
            fed += q.push(&data[fed..end]).unwrap();
            let mut buf = vec![0; pops[i % pops.len()].max(1)];
            let n = q.pop(&mut buf);
            out.extend(&buf[..n]);
            i += 1;
        }
        prop_assert_eq!(out, data);
        prop_assert_eq!(q.capacity(), 0);
    }
}
