/*
 * fileio.h — whole-file reads, positioned reads, and atomic file output.
 *
 * Reading: fio_read_all slurps a (text) file with a size cap; FioReader is an
 * open file plus its size for readers of large binary formats (.safetensors,
 * .npy) that fetch one tensor at a time with fio_pread, so a 550 MB weights
 * file is never held twice in memory.
 *
 * Writing: output files are replaced atomically. FioAtomic writes into a
 * temporary file in the target's directory (mkstemp), and fio_atomic_commit
 * flushes, fsyncs and renames it over the target. On any failure the
 * temporary file is removed and an existing target is left untouched, so an
 * interrupted run never leaves a half-written weights file behind. (A
 * symbolic link at the target is replaced by the new file, not followed.)
 *
 * Every failure is reported to the Diag as `path: error: <what>: <strerror>`.
 */
#ifndef NETC_FILEIO_H
#define NETC_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "diag.h"

/*
 * Reads all of path into a malloc'd buffer with a NUL byte appended (not
 * counted in *len). Files larger than max_size bytes are refused. Returns
 * NULL after reporting to d.
 */
char *fio_read_all(const char *path, size_t max_size, size_t *len, Diag *d);

typedef struct FioReader {
    int fd;
    const char *path; /* not copied */
    uint64_t size;    /* bytes in the file when opened */
} FioReader;

/* Opens a regular file for reading; false after reporting to d. */
bool fio_open(FioReader *r, const char *path, Diag *d);
/*
 * Reads exactly n bytes at offset off into buf. A short read (the file
 * shrank, or off + n is past the end) is an error naming both byte counts.
 */
bool fio_pread(FioReader *r, uint64_t off, void *buf, size_t n, Diag *d);
/*
 * Reads n bytes at offset off into a new malloc'd buffer with a NUL byte
 * appended (for text headers inside binary files). NULL after reporting.
 */
char *fio_pread_text(FioReader *r, uint64_t off, size_t n, Diag *d);
void fio_close(FioReader *r);

typedef struct FioAtomic {
    FILE *f;         /* the temporary file */
    char *path;      /* the target */
    char *tmp_path;  /* the temporary file's name */
    int err;         /* first errno seen by fio_atomic_write, or 0 */
} FioAtomic;

/* Creates the temporary file next to path; false after reporting to d. */
bool fio_atomic_open(FioAtomic *w, const char *path, Diag *d);
/* Buffered write; errors are remembered and reported by the commit. */
void fio_atomic_write(FioAtomic *w, const void *buf, size_t n);
/*
 * Flushes, fsyncs and renames the temporary file over the target. On failure
 * reports to d, removes the temporary file and returns false. Either way w
 * is released.
 */
bool fio_atomic_commit(FioAtomic *w, Diag *d);
/* Gives up: removes the temporary file and releases w. */
void fio_atomic_abort(FioAtomic *w);

/* Atomically replaces path with the n bytes at data. */
bool fio_write_file(const char *path, const void *data, size_t n, Diag *d);

#endif
