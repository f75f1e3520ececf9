/*
 * crossrank.h — single-header C SDK for crossrank plugins (ABI version 1,
 * see sdk/ABI.md). Build a plugin with
 *
 *   clang --target=wasm32-wasi -O2 -mbulk-memory -mexec-model=reactor -I sdk/c -o plugin.wasm plugin.c
 *
 * (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32.)
 *
 * Before including this header, define CROSSRANK_STAGES as the stages the
 * plugin implements (CROSSRANK_STAGE_QUERY | CROSSRANK_STAGE_PASSAGE |
 * CROSSRANK_STAGE_TRUNCATE) and then define the matching callbacks:
 *
 *   const char *crossrank_plugin_configure(const uint8_t *json, uint32_t len);
 *   const char *crossrank_plugin_query(crossrank_bytes query, crossrank_buf *out);
 *   const char *crossrank_plugin_passage(crossrank_bytes query, crossrank_item doc, crossrank_buf *out);
 *   const char *crossrank_plugin_truncate(crossrank_bytes query, crossrank_bytes passage,
 *                                         uint32_t max_tokens, crossrank_buf *out);
 *
 * Each returns NULL on success or an error message (a string that outlives
 * the call, e.g. a literal). A callback appends its result to out with
 * crossrank_buf_append or crossrank_buf_push. JSON documents reach crossrank_plugin_passage only
 * if CROSSRANK_ACCEPT_JSON is defined as 1; otherwise they pass through.
 *
 * The header defines the ABI exports; the buffers it uses are kept and
 * reused from call to call.
 */
#ifndef CROSSRANK_H
#define CROSSRANK_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CROSSRANK_ABI_VERSION 1
#define CROSSRANK_STAGE_QUERY 1
#define CROSSRANK_STAGE_PASSAGE 2
#define CROSSRANK_STAGE_TRUNCATE 4
#define CROSSRANK_KIND_TEXT 0
#define CROSSRANK_KIND_JSON 1
#define CROSSRANK_LOG_DEBUG 0
#define CROSSRANK_LOG_INFO 1
#define CROSSRANK_LOG_WARN 2
#define CROSSRANK_LOG_ERROR 3

#ifndef CROSSRANK_STAGES
#error "define CROSSRANK_STAGES before including crossrank.h"
#endif
#ifndef CROSSRANK_ACCEPT_JSON
#define CROSSRANK_ACCEPT_JSON 0
#endif

/* A view of bytes owned by the host's request (valid during the call). */
typedef struct {
    const uint8_t *data;
    uint32_t len;
} crossrank_bytes;

/* One document: kind is CROSSRANK_KIND_TEXT or CROSSRANK_KIND_JSON. */
typedef struct {
    uint8_t kind;
    crossrank_bytes data;
} crossrank_item;

/* A growable output buffer owned by the SDK. */
typedef struct {
    uint8_t *data;
    uint32_t len, cap;
} crossrank_buf;

/* One word of a text with its token count: text[start:end] has tokens pieces. */
typedef struct {
    uint32_t start, end, tokens;
} crossrank_word;

/* Host imports. */
__attribute__((import_module("crossrank"), import_name("count_tokens")))
int32_t crossrank_host_count_tokens(const uint8_t *ptr, uint32_t len);
__attribute__((import_module("crossrank"), import_name("word_tokens")))
int32_t crossrank_host_word_tokens(const uint8_t *ptr, uint32_t len, crossrank_word *out, uint32_t out_cap, int32_t limit);
__attribute__((import_module("crossrank"), import_name("tokenize")))
int32_t crossrank_host_tokenize(const uint8_t *ptr, uint32_t len, int32_t *out, uint32_t out_cap);
__attribute__((import_module("crossrank"), import_name("log")))
void crossrank_host_log(int32_t level, const uint8_t *ptr, uint32_t len);

/* Plugin callbacks. */
const char *crossrank_plugin_configure(const uint8_t *json, uint32_t len);
#if CROSSRANK_STAGES & CROSSRANK_STAGE_QUERY
const char *crossrank_plugin_query(crossrank_bytes query, crossrank_buf *out);
#endif
#if CROSSRANK_STAGES & CROSSRANK_STAGE_PASSAGE
const char *crossrank_plugin_passage(crossrank_bytes query, crossrank_item doc, crossrank_buf *out);
#endif
#if CROSSRANK_STAGES & CROSSRANK_STAGE_TRUNCATE
const char *crossrank_plugin_truncate(crossrank_bytes query, crossrank_bytes passage, uint32_t max_tokens, crossrank_buf *out);
#endif

/* Appends n bytes to b; returns 0, or -1 when memory runs out. */
static inline int crossrank_buf_append(crossrank_buf *b, const void *p, uint32_t n) {
    if (b->len + n > b->cap) {
        uint32_t c = b->cap ? b->cap : 4096;
        while (c < b->len + n) c *= 2;
        uint8_t *d = (uint8_t *)realloc(b->data, c);
        if (!d) return -1;
        b->data = d;
        b->cap = c;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Appends one byte to b; returns 0, or -1 when memory runs out. */
static inline int crossrank_buf_push(crossrank_buf *b, uint8_t c) {
    if (b->len < b->cap) {
        b->data[b->len++] = c;
        return 0;
    }
    return crossrank_buf_append(b, &c, 1);
}

static inline int crossrank__put_u32(crossrank_buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return crossrank_buf_append(b, x, 4);
}

static inline uint32_t crossrank__get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Token count of text with the serving model's tokenizer (-1: none). */
static inline int32_t crossrank_count_tokens(const uint8_t *text, uint32_t len) {
    return crossrank_host_count_tokens(text, len);
}

static crossrank_word *crossrank__words;
static uint32_t crossrank__words_cap;

/* Words of text (split at Unicode white space) with token counts; with
 * limit > 0 the host stops after the word at which the total first exceeds
 * it. Returns the count in *n; the array is reused by the next call. */
static inline const crossrank_word *crossrank_word_tokens(const uint8_t *text, uint32_t len, int32_t limit, uint32_t *n) {
    for (;;) {
        if (crossrank__words_cap == 0) {
            crossrank__words_cap = 256;
            crossrank__words = (crossrank_word *)malloc(crossrank__words_cap * sizeof(crossrank_word));
        }
        int32_t got = crossrank_host_word_tokens(text, len, crossrank__words, crossrank__words_cap, limit);
        if (got < 0) { *n = 0; return crossrank__words; }
        if ((uint32_t)got <= crossrank__words_cap) { *n = (uint32_t)got; return crossrank__words; }
        free(crossrank__words);
        crossrank__words_cap = (uint32_t)got;
        crossrank__words = (crossrank_word *)malloc(crossrank__words_cap * sizeof(crossrank_word));
    }
}

/* Writes a message to the host's log. */
static inline void crossrank_log(int32_t level, const char *msg) {
    crossrank_host_log(level, (const uint8_t *)msg, (uint32_t)strlen(msg));
}

static uint8_t *crossrank__in;
static uint32_t crossrank__in_cap;
static crossrank_buf crossrank__out;

__attribute__((export_name("crossrank_abi_version"))) int32_t crossrank_abi_version(void) {
    return CROSSRANK_ABI_VERSION;
}

__attribute__((export_name("crossrank_stages"))) int32_t crossrank_stages(void) {
    return CROSSRANK_STAGES;
}

__attribute__((export_name("crossrank_buffer"))) uint8_t *crossrank_buffer(int32_t size) {
    if (size < 0) return NULL;
    if ((uint32_t)size > crossrank__in_cap || crossrank__in == NULL) {
        free(crossrank__in);
        crossrank__in_cap = (uint32_t)size + (uint32_t)size / 4 + 64;
        crossrank__in = (uint8_t *)malloc(crossrank__in_cap);
    }
    return crossrank__in;
}

static int64_t crossrank__result(void) {
    return (int64_t)(((uint64_t)(uintptr_t)crossrank__out.data << 32) | crossrank__out.len);
}

static int64_t crossrank__error(const char *msg) {
    uint8_t status = 1;
    crossrank__out.len = 0;
    crossrank_buf_append(&crossrank__out, &status, 1);
    crossrank_buf_append(&crossrank__out, msg, (uint32_t)strlen(msg));
    return crossrank__result();
}

__attribute__((export_name("crossrank_configure"))) int64_t crossrank_configure(int32_t len) {
    const char *err = crossrank_plugin_configure(crossrank__in, (uint32_t)len);
    if (err) return crossrank__error(err);
    uint8_t ok = 0;
    crossrank__out.len = 0;
    crossrank_buf_append(&crossrank__out, &ok, 1);
    return crossrank__result();
}

__attribute__((export_name("crossrank_run"))) int64_t crossrank_run(int32_t stage, int32_t len) {
    const uint8_t *p = crossrank__in, *end = crossrank__in + len;
    crossrank_buf *out = &crossrank__out;
    uint8_t ok = 0;
    if (len < 12) return crossrank__error("crossrank: request truncated");
    uint32_t max_tokens = crossrank__get_u32(p);
    uint32_t qlen = crossrank__get_u32(p + 4);
    p += 8;
    if (qlen > (uint32_t)(end - p) || (uint32_t)(end - p) - qlen < 4) return crossrank__error("crossrank: bad query length");
    crossrank_bytes query = {p, qlen};
    p += qlen;
    uint32_t n = crossrank__get_u32(p);
    p += 4;
    out->len = 0;
    crossrank_buf_append(out, &ok, 1);
    if (stage == CROSSRANK_STAGE_QUERY) {
#if CROSSRANK_STAGES & CROSSRANK_STAGE_QUERY
        uint32_t at = out->len;
        crossrank__put_u32(out, 0);
        const char *err = crossrank_plugin_query(query, out);
        if (err) return crossrank__error(err);
        uint32_t ql = out->len - at - 4;
        uint8_t x[4] = {(uint8_t)ql, (uint8_t)(ql >> 8), (uint8_t)(ql >> 16), (uint8_t)(ql >> 24)};
        memcpy(out->data + at, x, 4);
        crossrank__put_u32(out, 0);
        return crossrank__result();
#else
        return crossrank__error("crossrank: no query stage");
#endif
    }
    crossrank__put_u32(out, 0); /* query unchanged */
    crossrank__put_u32(out, n);
    for (uint32_t i = 0; i < n; i++) {
        if ((uint32_t)(end - p) < 5) return crossrank__error("crossrank: item truncated");
        crossrank_item it = {p[0], {p + 5, crossrank__get_u32(p + 1)}};
        p += 5;
        if (it.data.len > (uint32_t)(end - p)) return crossrank__error("crossrank: bad item length");
        p += it.data.len;
        int pass = it.kind == CROSSRANK_KIND_JSON && (stage == CROSSRANK_STAGE_TRUNCATE || !CROSSRANK_ACCEPT_JSON);
        if (pass) {
            crossrank_buf_append(out, &it.kind, 1);
            crossrank__put_u32(out, it.data.len);
            if (crossrank_buf_append(out, it.data.data, it.data.len)) return crossrank__error("crossrank: out of memory");
            continue;
        }
        uint8_t kind = CROSSRANK_KIND_TEXT;
        crossrank_buf_append(out, &kind, 1);
        uint32_t at = out->len;
        crossrank__put_u32(out, 0);
        const char *err = NULL;
        if (stage == CROSSRANK_STAGE_PASSAGE) {
#if CROSSRANK_STAGES & CROSSRANK_STAGE_PASSAGE
            err = crossrank_plugin_passage(query, it, out);
#else
            err = "crossrank: no passage stage";
#endif
        } else if (stage == CROSSRANK_STAGE_TRUNCATE) {
#if CROSSRANK_STAGES & CROSSRANK_STAGE_TRUNCATE
            err = crossrank_plugin_truncate(query, it.data, max_tokens, out);
#else
            err = "crossrank: no truncate stage";
#endif
        } else {
            err = "crossrank: unknown stage";
        }
        if (err) return crossrank__error(err);
        uint32_t l = out->len - at - 4;
        uint8_t x[4] = {(uint8_t)l, (uint8_t)(l >> 8), (uint8_t)(l >> 16), (uint8_t)(l >> 24)};
        memcpy(out->data + at, x, 4);
    }
    return crossrank__result();
}

#endif /* CROSSRANK_H */
