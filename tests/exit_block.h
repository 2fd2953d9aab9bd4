/* SPDX-License-Identifier: MIT */
/*
 * exit_block.h — plain blocking calls for exit_child (tests/exit_block.c).
 */
#ifndef GORO_TESTS_EXIT_BLOCK_H
#define GORO_TESTS_EXIT_BLOCK_H

long block_read(int fd);
void block_sleep_forever(void);
int block_accept(int fd);
int block_waitpid(int pid);
int block_flock(int fd);
void block_spin_forever(void);
void block_allocate_forever(void);

#endif
