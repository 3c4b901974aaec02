// SPDX-License-Identifier: GPL-2.0
//! KUnit suites, run inside the kernel when ckpt_pty_kunit loads: the pure
//! core's byte queue and index allocator on kernel memory (`KVec`-backed
//! [`KernelStorage`]), built with the kernel's overflow checks. The device
//! layer itself is tested from user space (`tools/testing/guest`).

use crate::pty_core::index::{IndexAllocator, IndexError};
use crate::pty_core::queue::ByteQueue;
use crate::pty_core::storage::FixedStorage;
use crate::seam::kunit::{check, check_eq, kunit_suite, Test};
use crate::seam::storage::KernelStorage;

fn queue_keeps_order_across_wrap(t: &mut Test) {
    let mut q = ByteQueue::new(KernelStorage::new(), 100);
    let mut out = [0u8; 64];
    let mut next_in = 0u8;
    let mut next_out = 0u8;
    for round in 0..50usize {
        let chunk: [u8; 37] = core::array::from_fn(|i| next_in.wrapping_add(i as u8));
        let (Some(part), Some(room)) = (
            chunk.get(..(round % 37) + 1),
            out.get_mut(..(round % 23) + 1),
        ) else {
            check!(t, false);
            return;
        };
        let pushed = match q.push(part) {
            Ok(pushed) => pushed,
            Err(_) => {
                check!(t, false);
                return;
            }
        };
        next_in = next_in.wrapping_add(pushed as u8);
        let n = q.pop(room);
        for b in out.iter().take(n) {
            check_eq!(t, *b, next_out);
            next_out = next_out.wrapping_add(1);
        }
        check!(t, q.len() <= 100);
    }
}

fn queue_never_exceeds_bound(t: &mut Test) {
    let mut q = ByteQueue::new(KernelStorage::new(), 10);
    check_eq!(t, q.push(&[7u8; 25]), Ok(10));
    check_eq!(t, q.push(&[1u8]), Ok(0));
    check_eq!(t, q.len(), 10);
    check!(t, q.capacity() <= 10);
}

fn queue_releases_memory_when_emptied(t: &mut Test) {
    let mut q = ByteQueue::new(KernelStorage::new(), 4096);
    check_eq!(t, q.capacity(), 0);
    check_eq!(t, q.push(&[0u8; 3000]), Ok(3000));
    check!(t, q.capacity() >= 3000);
    q.clear();
    check_eq!(t, q.capacity(), 0);
}

fn queue_reports_allocation_failure(t: &mut Test) {
    // 64 bytes of fixed storage under a bound of 1000: growth past 64 fails.
    // A push fills what the memory it has allows, the next one reports the
    // failure, and what was queued stays intact and in order.
    let mut q = ByteQueue::new(FixedStorage::<64>::new(), 1000);
    check_eq!(t, q.push(&[1u8; 40]), Ok(40));
    check_eq!(t, q.push(&[2u8; 40]), Ok(24));
    check!(t, q.push(&[3u8; 1]).is_err());
    check_eq!(t, q.len(), 64);
    let mut out = [0u8; 80];
    check_eq!(t, q.pop(&mut out), 64);
    check!(t, out.iter().take(40).all(|b| *b == 1));
    check!(t, out.iter().skip(40).take(24).all(|b| *b == 2));
}

fn index_allocates_lowest_free(t: &mut Test) {
    let Ok(mut ix) = IndexAllocator::new(KernelStorage::new(), 4096) else {
        check!(t, false);
        return;
    };
    for want in 0..200usize {
        check_eq!(t, ix.alloc(), Some(want));
    }
    check!(t, ix.release(17));
    check!(t, ix.release(3));
    check_eq!(t, ix.alloc(), Some(3));
    check_eq!(t, ix.alloc(), Some(17));
    check_eq!(t, ix.alloc(), Some(200));
}

fn index_claims_exact_or_busy(t: &mut Test) {
    let Ok(mut ix) = IndexAllocator::new(KernelStorage::new(), 4096) else {
        check!(t, false);
        return;
    };
    check_eq!(t, ix.claim(4000), Ok(()));
    check_eq!(t, ix.claim(4000), Err(IndexError::Busy));
    check_eq!(t, ix.claim(4096), Err(IndexError::OutOfRange));
    check!(t, ix.is_used(4000));
    check_eq!(t, ix.alloc(), Some(0));
}

fn index_exhaustion_then_reuse(t: &mut Test) {
    let Ok(mut ix) = IndexAllocator::new(KernelStorage::new(), 130) else {
        check!(t, false);
        return;
    };
    for _ in 0..130 {
        check!(t, ix.alloc().is_some());
    }
    check_eq!(t, ix.alloc(), None);
    check!(t, ix.release(129));
    check_eq!(t, ix.alloc(), Some(129));
}

kunit_suite!(
    core_suite,
    "ckpt_pty_core",
    [
        queue_keeps_order_across_wrap,
        queue_never_exceeds_bound,
        queue_releases_memory_when_emptied,
        queue_reports_allocation_failure,
        index_allocates_lowest_free,
        index_claims_exact_or_busy,
        index_exhaustion_then_reuse,
    ]
);
