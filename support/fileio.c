/*
 * fileio.c — whole-file reads, positioned reads and atomic output; see
 * fileio.h.
 *
 * The atomic writer follows the usual recipe: temp file in the same
 * directory (rename is only atomic within one file system), write, fflush,
 * fsync the file, rename, then fsync the directory so the new name is
 * durable too. The temp file gets the mode a plain fopen would have given
 * (0666 & ~umask), or the existing target's mode, since mkstemp creates 0600.
 */
#include "fileio.h"
#include "arena.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *fio_read_all(const char *path, size_t max_size, size_t *len, Diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_file_error(d, path, "cannot open: %s", strerror(errno));
        return NULL;
    }
    /* Grow as we go so pipes and /dev/stdin work as well as regular files. */
    size_t cap = 4096, n = 0;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0) {
        if ((uint64_t)st.st_size > max_size) {
            diag_file_error(d, path, "file is %llu bytes, more than the limit of %zu",
                            (unsigned long long)st.st_size, max_size);
            fclose(f);
            return NULL;
        }
        cap = (size_t)st.st_size + 2; /* +1 for the NUL, +1 to see EOF in one read */
    }
    char *buf = xmalloc(cap);
    size_t limit = max_size < SIZE_MAX ? max_size + 1 : SIZE_MAX; /* one past: detects "too big" */
    for (;;) {
        if (n == cap - 1) {
            if (n >= max_size)
                break;
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : 2 * cap;
            buf = xrealloc(buf, cap);
        }
        size_t want = cap - 1 - n;
        if (want > limit - n)
            want = limit - n;
        size_t got = fread(buf + n, 1, want, f);
        n += got;
        if (n > max_size)
            break;
        if (got < want) {
            if (ferror(f)) {
                diag_file_error(d, path, "read error: %s", strerror(errno));
                free(buf);
                fclose(f);
                return NULL;
            }
            break; /* end of file */
        }
    }
    fclose(f);
    if (n > max_size) {
        diag_file_error(d, path, "file is more than the limit of %zu bytes", max_size);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

bool fio_open(FioReader *r, const char *path, Diag *d)
{
    r->path = path;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        diag_file_error(d, path, "cannot open: %s", strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        diag_file_error(d, path, "cannot stat: %s", strerror(errno));
        close(r->fd);
        r->fd = -1;
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        diag_file_error(d, path, "not a regular file");
        close(r->fd);
        r->fd = -1;
        return false;
    }
    r->size = (uint64_t)st.st_size;
    return true;
}

char *fio_pread_text(FioReader *r, uint64_t off, size_t n, Diag *d)
{
    char *text = xmalloc(n + 1);
    if (!fio_pread(r, off, text, n, d)) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

bool fio_pread(FioReader *r, uint64_t off, void *buf, size_t n, Diag *d)
{
    size_t done = 0;
    while (done < n) {
        if (off + done > (uint64_t)INT64_MAX)
            break;
        ssize_t got = pread(r->fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            diag_file_error(d, r->path, "read error at byte %llu: %s",
                            (unsigned long long)(off + done), strerror(errno));
            return false;
        }
        if (got == 0)
            break;
        done += (size_t)got;
    }
    if (done < n) {
        diag_file_error(d, r->path,
                        "truncated: needed %zu bytes at byte %llu, only %zu available", n,
                        (unsigned long long)off, done);
        return false;
    }
    return true;
}

void fio_close(FioReader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

/* The mode a new file would get from fopen, or the mode the target has. */
static mode_t output_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return st.st_mode & 07777;
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

bool fio_atomic_open(FioAtomic *w, const char *path, Diag *d)
{
    memset(w, 0, sizeof *w);
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dirlen;
    if (!*base) {
        diag_file_error(d, path, "cannot write: the path names a directory");
        return false;
    }
    /* "<dir>/.<base>.tmpXXXXXX": hidden, and recognisable if a crash leaves it. */
    size_t n = dirlen + 1 + strlen(base) + 10 + 1;
    w->tmp_path = xmalloc(n);
    snprintf(w->tmp_path, n, "%.*s.%s.tmpXXXXXX", (int)dirlen, path, base);
    int fd = mkstemp(w->tmp_path);
    if (fd < 0) {
        diag_file_error(d, path, "cannot create a temporary file: %s", strerror(errno));
        free(w->tmp_path);
        w->tmp_path = NULL;
        return false;
    }
    if (fchmod(fd, output_mode(path)) != 0 || !(w->f = fdopen(fd, "wb"))) {
        diag_file_error(d, path, "cannot write a temporary file: %s", strerror(errno));
        close(fd);
        unlink(w->tmp_path);
        free(w->tmp_path);
        w->tmp_path = NULL;
        return false;
    }
    w->path = xstrdup(path);
    return true;
}

void fio_atomic_write(FioAtomic *w, const void *buf, size_t n)
{
    if (w->err || !n)
        return;
    if (fwrite(buf, 1, n, w->f) != n)
        w->err = errno ? errno : EIO;
}

static void release(FioAtomic *w)
{
    free(w->path);
    free(w->tmp_path);
    memset(w, 0, sizeof *w);
}

void fio_atomic_abort(FioAtomic *w)
{
    if (w->f)
        fclose(w->f);
    if (w->tmp_path)
        unlink(w->tmp_path);
    release(w);
}

/* Makes a completed rename durable; failures here lose nothing already
 * visible, so they are ignored (some file systems refuse directory fsync). */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;
    char *dir = xmalloc(n + 2);
    memcpy(dir, path, n);
    strcpy(dir + n, n ? "" : ".");
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

bool fio_atomic_commit(FioAtomic *w, Diag *d)
{
    int err = w->err;
    if (!err && fflush(w->f) != 0)
        err = errno;
    if (!err && fsync(fileno(w->f)) != 0)
        err = errno;
    if (fclose(w->f) != 0 && !err)
        err = errno;
    w->f = NULL;
    if (!err && rename(w->tmp_path, w->path) != 0)
        err = errno;
    if (err) {
        diag_file_error(d, w->path, "cannot write: %s", strerror(err));
        fio_atomic_abort(w);
        return false;
    }
    sync_dir(w->path);
    release(w);
    return true;
}

bool fio_write_file(const char *path, const void *data, size_t n, Diag *d)
{
    FioAtomic w;
    if (!fio_atomic_open(&w, path, d))
        return false;
    fio_atomic_write(&w, data, n);
    return fio_atomic_commit(&w, d);
}
