/* SPDX-License-Identifier: MIT */
/*
 * rwmutex.c — goro_rwmutex_t: Go's sync.RWMutex on the goroutine
 * semaphore (src/sync/sema.h), so waiting parks the goroutine, not the thread.
 *
 * What it promises (Go's semantics):
 *  - Any number of readers, or one writer.
 *  - Writer preference: once a writer calls lock, readers arriving after
 *    it wait until it has had the lock, so a stream of readers cannot
 *    starve it; readers that arrived before it finish first.
 *  - A lock is not tied to a goroutine: one goroutine may lock and
 *    another unlock.
 *
 * The state (Go's algorithm):
 *  - `w`, a goro_mutex, is held by the writer that owns or waits for the
 *    lock: writers queue on it one at a time.
 *  - `readers` counts readers holding or waiting; a writer subtracts
 *    MAX_READERS, so a negative value tells new readers that a writer is
 *    pending and they sleep on `reader_sem`.
 *  - `departing` counts the readers the pending writer still waits for
 *    (those already in when it arrived); the last to leave releases
 *    `writer_sem`.
 * Misuse that Go treats as fatal (runlock or unlock of an unlocked
 * rwmutex) returns -EPERM here and leaves the state as it was.
 */
#include <errno.h>

#include "scheduler.h"
#include "sema.h"
#include <goro.h>

#define MAX_READERS (1 << 30)

struct rwmutex {
	goro_mutex_t w;
	struct sema writer_sem;
	struct sema reader_sem;
	_Atomic int32_t readers;
	_Atomic int32_t departing;
};

_Static_assert(sizeof(struct rwmutex) <= sizeof(goro_rwmutex_t),
	       "goro_rwmutex_t too small");
_Static_assert(_Alignof(struct rwmutex) <= _Alignof(goro_rwmutex_t),
	       "goro_rwmutex_t underaligned");

static inline struct rwmutex *rw_of(goro_rwmutex_t *rw)
{
	return (struct rwmutex *)rw;
}

int goro_rwmutex_rlock(goro_rwmutex_t *rwm)
{
	RT_REQUIRE_G(-EPERM);
	if (!rwm)
		return -EINVAL;
	struct rwmutex *rw = rw_of(rwm);
	if (atomic_fetch_add(&rw->readers, 1) + 1 < 0)
		sema_acquire(&rw->reader_sem, false, WAIT_RWMUTEX_RLOCK);
	return 0;
}

int goro_rwmutex_runlock(goro_rwmutex_t *rwm)
{
	RT_REQUIRE_G(-EPERM);
	if (!rwm)
		return -EINVAL;
	struct rwmutex *rw = rw_of(rwm);
	int32_t r = atomic_fetch_sub(&rw->readers, 1) - 1;
	if (r >= 0)
		return 0;
	if (r + 1 == 0 || r + 1 == -MAX_READERS) {
		atomic_fetch_add(&rw->readers, 1);  /* not read-locked */
		return -EPERM;
	}
	/* A writer is pending: the last reader it waits for lets it in. */
	if (atomic_fetch_sub(&rw->departing, 1) - 1 == 0)
		sema_release(&rw->writer_sem, false);
	return 0;
}

int goro_rwmutex_lock(goro_rwmutex_t *rwm)
{
	RT_REQUIRE_G(-EPERM);
	if (!rwm)
		return -EINVAL;
	struct rwmutex *rw = rw_of(rwm);
	goro_mutex_lock(&rw->w);  /* first in line among writers */
	/* Announce the writer; r readers are in (or waiting to leave). */
	int32_t r = atomic_fetch_sub(&rw->readers, MAX_READERS);
	if (r != 0 && atomic_fetch_add(&rw->departing, r) + r != 0)
		sema_acquire(&rw->writer_sem, false, WAIT_RWMUTEX_LOCK);
	return 0;
}

int goro_rwmutex_unlock(goro_rwmutex_t *rwm)
{
	RT_REQUIRE_G(-EPERM);
	if (!rwm)
		return -EINVAL;
	struct rwmutex *rw = rw_of(rwm);
	if (atomic_load(&rw->readers) >= 0)
		return -EPERM;  /* not write-locked */
	/* Let the readers that queued behind this writer in. */
	int32_t r = atomic_fetch_add(&rw->readers, MAX_READERS) + MAX_READERS;
	for (int32_t i = 0; i < r; i++)
		sema_release(&rw->reader_sem, false);
	goro_mutex_unlock(&rw->w);
	return 0;
}
