/*
 * test_util.h — helpers any unit test may use: diagnostics captured into a
 * string, a scratch directory under /tmp, whole files written and read, a
 * reproducible pseudo-random stream.
 *
 * Every tests/unit/test_*.c is its own executable, so the helpers are
 * static inline: one a test does not call costs nothing and raises no
 * unused-function warning. Include after cmocka.h.
 */
#ifndef NETC_TEST_UTIL_H
#define NETC_TEST_UTIL_H

#include "../../support/diag.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- diagnostics written to a memory buffer, to be checked as text ---- */

typedef struct Captured {
    Diag *d;
    FILE *f;
    char *text;
    size_t len;
} Captured;

static inline void cap_open(Captured *c)
{
    c->text = NULL;
    c->f = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
    c->d = diag_new(c->f);
}

/* Everything printed so far ("" when nothing was). */
static inline const char *cap_text(Captured *c)
{
    fflush(c->f);
    return c->text ? c->text : "";
}

/* Closes the capture and hands its text to the caller, who frees it. */
static inline char *cap_finish(Captured *c)
{
    diag_free(c->d);
    fclose(c->f);
    return c->text;
}

static inline void cap_close(Captured *c) { free(cap_finish(c)); }

/* ---- a scratch directory for the test group, removed afterwards ---- */

static inline char *test_dir(void)
{
    static char dir[64];
    return dir;
}

/* cmocka group setup: creates /tmp/netc_unit_XXXXXX. */
static inline int test_dir_setup(void **state)
{
    strcpy(test_dir(), "/tmp/netc_unit_XXXXXX");
    return mkdtemp(test_dir()) ? 0 : -1;
}

/* cmocka group teardown: removes the files in the directory, then it. */
static inline int test_dir_teardown(void **state)
{
    DIR *dir = opendir(test_dir());
    struct dirent *e;
    char p[512];
    while (dir && (e = readdir(dir)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(p, sizeof p, "%s/%s", test_dir(), e->d_name), unlink(p);
    if (dir)
        closedir(dir);
    return rmdir(test_dir());
}

/* How many files the directory holds. */
static inline int test_dir_entries(void)
{
    DIR *dir = opendir(test_dir());
    struct dirent *e;
    int n = 0;
    while (dir && (e = readdir(dir)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (dir)
        closedir(dir);
    return n;
}

/* The path of name in the directory; four results stay valid at a time. */
static inline const char *tmp_path(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", test_dir(), name);
    return p[k];
}

/* ---- whole files ---- */

static inline void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* The file's bytes (one spare byte allocated after them); the caller frees. */
static inline unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* ---- pseudo-random numbers ---- */

/* xorshift64 (Marsaglia) from any nonzero *state: the same stream on every
 * machine and run, so a failing random case can be replayed. */
static inline uint64_t test_xorshift64(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

#endif
