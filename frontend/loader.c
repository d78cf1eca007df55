/*
 * loader.c — reading a .net file and everything it imports.
 *
 * Imports are resolved relative to the importing file. A file is loaded once
 * however often it is imported (diamonds are fine); a file that imports
 * itself through a chain is an error that prints the chain. All blocks of
 * all loaded files share one namespace, so a name defined twice is an error
 * with a note at the first definition.
 */
#include "../support/fileio.h"
#include "elab_impl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* .net files are small; anything bigger than this is not a network. */
enum { MAX_SOURCE_BYTES = 64 << 20, MAX_IMPORT_DEPTH = 64 };

typedef struct Loader {
    Arena *arena;
    Diag *diag;
    Program *prog;
    StrMap *loaded;     /* canonical path -> AstFile* (or the sentinel below while loading) */
    /* The chain of files being loaded: each one's canonical key, its path as
     * written and the import statement that brought it in. */
    struct {
        const char *key, *path;
        Loc from;
    } stack[MAX_IMPORT_DEPTH];
    int depth;
    bool failed;
} Loader;

static char loading_sentinel;

/* Reads a whole file into the arena. A failure is reported as a file error
 * plus, for an import, a note at the import statement. */
static char *read_source(Loader *L, const char *path, Loc from, size_t *len)
{
    char *text = fio_read_all(path, MAX_SOURCE_BYTES, len, L->diag);
    if (!text) {
        if (from.file)
            diag_note(L->diag, from, "imported here");
        return NULL;
    }
    char *kept = arena_strndup(L->arena, text, *len);
    free(text);
    return kept;
}

/* The directory part of path with a trailing '/', or "" for a bare name. */
static const char *dir_of(Arena *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? arena_strndup(a, path, (size_t)(slash - path + 1)) : "";
}

static AstFile *load_file(Loader *L, const char *path, Loc from);

static void register_blocks(Loader *L, AstFile *f)
{
    for (int i = 0; i < f->nblocks; i++) {
        AstBlock *b = f->blocks[i];
        AstBlock *prev = strmap_get(L->prog->blocks, b->name);
        if (prev) {
            diag_error(L->diag, b->loc, "redefinition of '%s'", b->name);
            diag_note(L->diag, prev->loc, "'%s' was first defined here", prev->name);
            L->failed = true;
            continue;
        }
        strmap_put(L->prog->blocks, b->name, b);
    }
}

static AstFile *load_file(Loader *L, const char *path, Loc from)
{
    char real[PATH_MAX];
    const char *key = realpath(path, real) ? arena_strdup(L->arena, real) : path;
    void *seen = strmap_get(L->loaded, key);
    if (seen == &loading_sentinel) {
        int start = 0;
        while (start < L->depth && strcmp(L->stack[start].key, key) != 0)
            start++;
        diag_error(L->diag, from, "import cycle: '%s' is already being imported", path);
        for (int i = start + 1; i < L->depth; i++)
            diag_note(L->diag, L->stack[i].from, "'%s' imports '%s'", L->stack[i - 1].path, L->stack[i].path);
        L->failed = true;
        return NULL;
    }
    if (seen)
        return seen;
    if (L->depth == MAX_IMPORT_DEPTH) {
        diag_error(L->diag, from, "imports nested more than %d deep", MAX_IMPORT_DEPTH);
        L->failed = true;
        return NULL;
    }
    size_t len;
    char *text = read_source(L, path, from, &len);
    if (!text) {
        L->failed = true;
        return NULL;
    }
    const char *kept_path = arena_strdup(L->arena, path);
    diag_add_source(L->diag, kept_path, text, len);
    AstFile *f = ast_parse(L->arena, L->diag, kept_path, text, len);
    if (!f) {
        L->failed = true;
        return NULL;
    }
    strmap_put(L->loaded, key, &loading_sentinel);
    L->stack[L->depth].key = key;
    L->stack[L->depth].path = kept_path;
    L->stack[L->depth++].from = from;
    const char *dir = dir_of(L->arena, kept_path);
    for (int i = 0; i < f->nimports; i++) {
        const char *p = f->imports[i].path;
        const char *full = p[0] == '/' ? p : arena_printf(L->arena, "%s%s", dir, p);
        load_file(L, full, f->imports[i].loc);
    }
    L->depth--;
    strmap_put(L->loaded, key, f);
    for (int i = 0; i < f->nblocks; i++)
        f->blocks[i]->file = kept_path;
    register_blocks(L, f);
    return f;
}

Program *prog_load(Arena *a, Diag *d, const char *path)
{
    Loader L = {.arena = a, .diag = d};
    L.prog = arena_alloc(a, sizeof *L.prog);
    L.prog->blocks = strmap_new();
    L.loaded = strmap_new();
    L.prog->main = load_file(&L, path, loc_none());
    strmap_free(L.loaded);
    if (L.failed || !L.prog->main) {
        strmap_free(L.prog->blocks);
        return NULL;
    }
    return L.prog;
}
