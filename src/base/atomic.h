/* SPDX-License-Identifier: MIT */
/*
 * atomic.h — the memory-order shorthands of the runtime, in one place.
 *
 * Why: a field that another thread writes is declared _Atomic where its
 * struct is declared (the declaration says who writes it and under which
 * lock); the accesses name their ordering with the words below, so that
 * every load and store reads the same way in every file.
 *
 * Invariants: these are the only definitions of RELAXED, ACQUIRE, RELEASE,
 * ACQ_REL and SEQ_CST in the tree.
 */
#ifndef GORO_ATOMIC_H
#define GORO_ATOMIC_H

#include <stdatomic.h>

#define RELAXED memory_order_relaxed
#define ACQUIRE memory_order_acquire
#define RELEASE memory_order_release
#define ACQ_REL memory_order_acq_rel
#define SEQ_CST memory_order_seq_cst

#endif
