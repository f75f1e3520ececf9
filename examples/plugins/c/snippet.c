/*
 * snippet — the C SDK's example crossrank plugin. The same plugin exists for
 * every SDK (examples/plugins/{go,c,assemblyscript}) and behaves the same:
 *
 *   passage:  every <...> tag becomes a space, runs of ASCII white space
 *             become one space, the ends are trimmed (JSON documents pass);
 *   truncate: keeps the leading words that fit the token budget, the smaller
 *             of config max_tokens and the request's (0: unset; none: as is).
 *
 * Config: {"max_tokens": N} (optional).
 */
#define CROSSRANK_STAGES (CROSSRANK_STAGE_PASSAGE | CROSSRANK_STAGE_TRUNCATE)
#include "crossrank.h"

static uint32_t config_max_tokens;

const char *crossrank_plugin_configure(const uint8_t *json, uint32_t len) {
    static const char key[] = "\"max_tokens\"";
    config_max_tokens = 0;
    for (uint32_t i = 0; i + sizeof key - 1 <= len; i++) {
        if (memcmp(json + i, key, sizeof key - 1) != 0) continue;
        uint32_t j = i + sizeof key - 1;
        while (j < len && (json[j] == ' ' || json[j] == ':')) j++;
        if (j >= len || json[j] < '0' || json[j] > '9') return "snippet: max_tokens must be a non-negative integer";
        uint32_t v = 0;
        while (j < len && json[j] >= '0' && json[j] <= '9') v = v * 10 + (uint32_t)(json[j++] - '0');
        config_max_tokens = v;
        return NULL;
    }
    return NULL;
}

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

const char *crossrank_plugin_passage(crossrank_bytes query, crossrank_item doc, crossrank_buf *out) {
    (void)query;
    int in_tag = 0, space = 0, wrote = 0;
    for (uint32_t i = 0; i < doc.data.len; i++) {
        uint8_t c = doc.data.data[i];
        if (in_tag) {
            if (c == '>') in_tag = 0;
            continue;
        }
        if (c == '<') {
            in_tag = 1;
            space = 1;
            continue;
        }
        if (is_space(c)) {
            space = 1;
            continue;
        }
        if (space && wrote && crossrank_buf_push(out, ' ')) return "snippet: out of memory";
        space = 0;
        wrote = 1;
        if (crossrank_buf_push(out, c)) return "snippet: out of memory";
    }
    return NULL;
}

const char *crossrank_plugin_truncate(crossrank_bytes query, crossrank_bytes passage, uint32_t max_tokens, crossrank_buf *out) {
    (void)query;
    uint32_t budget = config_max_tokens;
    if (max_tokens > 0 && (budget == 0 || max_tokens < budget)) budget = max_tokens;
    if (budget == 0) return crossrank_buf_append(out, passage.data, passage.len) ? "snippet: out of memory" : NULL;
    uint32_t n = 0, sum = 0, k = 0;
    const crossrank_word *w = crossrank_word_tokens(passage.data, passage.len, (int32_t)budget, &n);
    while (k < n && sum + w[k].tokens <= budget) sum += w[k++].tokens;
    if (k == 0) return NULL;
    if (crossrank_buf_append(out, passage.data + w[0].start, w[k - 1].end - w[0].start)) return "snippet: out of memory";
    return NULL;
}
