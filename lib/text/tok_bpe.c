/* The CLIP tokenizer's tables (vocab and merge-rank hash maps, word cache) and the
 * byte-level BPE of one word. */
#include "text/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- growable arrays --------------------------------------------------------- */

static size_t grow_cap(size_t cap, size_t need)
{
    size_t c = cap ? cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2) return need;
        c *= 2;
    }
    return c;
}

int tok_ids_push(tok_ids *a, int32_t x)
{
    if (a->n == a->cap) {
        size_t c = grow_cap(a->cap, a->n + 1);
        if (c > SIZE_MAX / sizeof(int32_t)) return -1;
        int32_t *p = realloc(a->v, c * sizeof(int32_t));
        if (!p) return -1;
        a->v = p;
        a->cap = c;
    }
    a->v[a->n++] = x;
    return 0;
}

int tok_cps_reserve(tok_cps *a, size_t n)
{
    if (n <= a->cap) return 0;
    size_t c = grow_cap(a->cap, n);
    if (c > SIZE_MAX / sizeof(int32_t)) return -1;
    int32_t *p = realloc(a->v, c * sizeof(int32_t));
    if (!p) return -1;
    a->v = p;
    a->cap = c;
    return 0;
}

int tok_bytes_reserve(tok_bytes *a, size_t n)
{
    if (n <= a->cap) return 0;
    size_t c = grow_cap(a->cap, n);
    char *p = realloc(a->v, c);
    if (!p) return -1;
    a->v = p;
    a->cap = c;
    return 0;
}

/* ---- hashing ------------------------------------------------------------------ */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;           /* splitmix64 finaliser */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 64;
    while (c < n && c <= SIZE_MAX / 2) c *= 2;
    return c;
}

/* ---- vocab -------------------------------------------------------------------- */

int tok_vocab_init(tok_vocab *v, size_t expected)
{
    memset(v, 0, sizeof *v);
    if (expected > (SIZE_MAX / 4) || expected >= UINT32_MAX / 2) return -1;
    v->n_slots = pow2_at_least(expected * 2 + 1);
    v->slots = calloc(v->n_slots, sizeof *v->slots);
    v->key_off = malloc((expected + 1) * sizeof *v->key_off);
    v->key_len = malloc((expected + 1) * sizeof *v->key_len);
    v->key_id = malloc((expected + 1) * sizeof *v->key_id);
    if (!v->slots || !v->key_off || !v->key_len || !v->key_id) {
        tok_vocab_free(v);
        return -1;
    }
    return 0;
}

void tok_vocab_free(tok_vocab *v)
{
    free(v->pool);
    free(v->key_off);
    free(v->key_len);
    free(v->key_id);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

/* Capacity of the key arrays is fixed at init (the loader knows the count). */
int tok_vocab_add(tok_vocab *v, const char *key, size_t len, int32_t id)
{
    if (len > UINT32_MAX || v->pool_len > UINT32_MAX - len) return -1;
    size_t mask = v->n_slots - 1;
    size_t i = (size_t)hash_bytes(key, len) & mask;
    while (v->slots[i]) {
        uint32_t e = v->slots[i] - 1;
        if (v->key_len[e] == len && memcmp(v->pool + v->key_off[e], key, len) == 0) return 1;
        i = (i + 1) & mask;
    }
    if (v->pool_len + len > v->pool_cap) {
        size_t c = grow_cap(v->pool_cap, v->pool_len + len);
        char *p = realloc(v->pool, c);
        if (!p) return -1;
        v->pool = p;
        v->pool_cap = c;
    }
    if (len) memcpy(v->pool + v->pool_len, key, len);
    v->key_off[v->n] = (uint32_t)v->pool_len;
    v->key_len[v->n] = (uint32_t)len;
    v->key_id[v->n] = id;
    v->pool_len += len;
    v->n++;
    v->slots[i] = (uint32_t)v->n;
    return 0;
}

int32_t tok_vocab_get(const tok_vocab *v, const char *key, size_t len)
{
    if (!v->slots) return -1;
    size_t mask = v->n_slots - 1;
    size_t i = (size_t)hash_bytes(key, len) & mask;
    while (v->slots[i]) {
        uint32_t e = v->slots[i] - 1;
        if (v->key_len[e] == len && memcmp(v->pool + v->key_off[e], key, len) == 0) return v->key_id[e];
        i = (i + 1) & mask;
    }
    return -1;
}

/* ---- merges ------------------------------------------------------------------- */

#define MERGE_EMPTY UINT64_MAX

int tok_merges_init(tok_merges *m, size_t expected)
{
    memset(m, 0, sizeof *m);
    if (expected > SIZE_MAX / 64) return -1;
    m->n_slots = pow2_at_least(expected * 2 + 1);
    m->slots = malloc(m->n_slots * sizeof *m->slots);
    if (!m->slots) return -1;
    for (size_t i = 0; i < m->n_slots; i++) m->slots[i].key = MERGE_EMPTY;
    return 0;
}

void tok_merges_free(tok_merges *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static uint64_t pair_key(int32_t a, int32_t b)
{
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

static int merges_grow(tok_merges *m)
{
    tok_merges bigger;
    if (tok_merges_init(&bigger, m->n_slots) != 0) return -1;
    for (size_t i = 0; i < m->n_slots; i++) {
        tok_merge_slot s = m->slots[i];
        if (s.key == MERGE_EMPTY) continue;
        size_t mask = bigger.n_slots - 1, j = (size_t)hash_u64(s.key) & mask;
        while (bigger.slots[j].key != MERGE_EMPTY) j = (j + 1) & mask;
        bigger.slots[j] = s;
        bigger.n++;
    }
    tok_merges_free(m);
    *m = bigger;
    return 0;
}

int tok_merges_put(tok_merges *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id)
{
    if ((m->n + 1) * 2 > m->n_slots && merges_grow(m) != 0) return -1;
    uint64_t key = pair_key(a, b);
    size_t mask = m->n_slots - 1, i = (size_t)hash_u64(key) & mask;
    while (m->slots[i].key != MERGE_EMPTY) {
        if (m->slots[i].key == key) {
            m->slots[i].rank = rank;
            m->slots[i].new_id = new_id;
            return 0;
        }
        i = (i + 1) & mask;
    }
    m->slots[i].key = key;
    m->slots[i].rank = rank;
    m->slots[i].new_id = new_id;
    m->n++;
    return 0;
}

int tok_merges_get(const tok_merges *m, int32_t a, int32_t b, uint32_t *rank, int32_t *new_id)
{
    uint64_t key = pair_key(a, b);
    size_t mask = m->n_slots - 1, i = (size_t)hash_u64(key) & mask;
    while (m->slots[i].key != MERGE_EMPTY) {
        if (m->slots[i].key == key) {
            *rank = m->slots[i].rank;
            *new_id = m->slots[i].new_id;
            return 1;
        }
        i = (i + 1) & mask;
    }
    return 0;
}

/* ---- word cache ---------------------------------------------------------------- */

#define CACHE_SLOTS 32768u        /* power of two */
#define CACHE_MAX_ENTRIES 16384u  /* then the cache is emptied */
#define CACHE_MAX_WORD 128u       /* longer words are not cached */

void tok_cache_free(tok_cache *c)
{
    free(c->hash);
    free(c->off);
    free(c->len);
    free(c->ids_off);
    free(c->ids_n);
    free(c->keys.v);
    free(c->ids.v);
    memset(c, 0, sizeof *c);
}

static int cache_ensure(tok_cache *c)
{
    if (c->hash) return 0;
    c->n_slots = CACHE_SLOTS;
    c->hash = calloc(CACHE_SLOTS, sizeof *c->hash);
    c->off = malloc(CACHE_SLOTS * sizeof *c->off);
    c->len = malloc(CACHE_SLOTS * sizeof *c->len);
    c->ids_off = malloc(CACHE_SLOTS * sizeof *c->ids_off);
    c->ids_n = malloc(CACHE_SLOTS * sizeof *c->ids_n);
    if (!c->hash || !c->off || !c->len || !c->ids_off || !c->ids_n) {
        tok_cache_free(c);
        return -1;
    }
    return 0;
}

static void cache_clear(tok_cache *c)
{
    memset(c->hash, 0, c->n_slots * sizeof *c->hash);
    c->n = 0;
    c->keys.n = 0;
    c->ids.n = 0;
}

/* Slot of the word, or of the empty slot where it goes (*found says which). */
static size_t cache_find(const tok_cache *c, const char *w, size_t n, uint64_t h, int *found)
{
    size_t mask = c->n_slots - 1, i = (size_t)h & mask;
    while (c->hash[i]) {
        if (c->hash[i] == h && c->len[i] == n && memcmp(c->keys.v + c->off[i], w, n) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
    *found = 0;
    return i;
}

/* ---- BPE ----------------------------------------------------------------------- */

static int work_reserve(tok_bpe_work *w, size_t n)
{
    if (n > w->cap) {
        size_t c = grow_cap(w->cap, n);
        if (c > SIZE_MAX / sizeof(int32_t)) return -1;
        int32_t *s = realloc(w->sym, c * sizeof *s);
        if (!s) return -1;
        w->sym = s;
        int32_t *p = realloc(w->prev, c * sizeof *p);
        if (!p) return -1;
        w->prev = p;
        int32_t *x = realloc(w->next, c * sizeof *x);
        if (!x) return -1;
        w->next = x;
        uint8_t *a = realloc(w->alive, c);
        if (!a) return -1;
        w->alive = a;
        w->cap = c;
    }
    w->heap_n = 0;
    return 0;
}

void tok_bpe_work_free(tok_bpe_work *w)
{
    free(w->sym);
    free(w->prev);
    free(w->next);
    free(w->alive);
    free(w->heap);
    memset(w, 0, sizeof *w);
}

static int heap_less(tok_heap_item a, tok_heap_item b)
{
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static int heap_push(tok_bpe_work *w, tok_heap_item it)
{
    if (w->heap_n == w->heap_cap) {
        size_t c = grow_cap(w->heap_cap, w->heap_n + 1);
        if (c > SIZE_MAX / sizeof(tok_heap_item)) return -1;
        tok_heap_item *p = realloc(w->heap, c * sizeof *p);
        if (!p) return -1;
        w->heap = p;
        w->heap_cap = c;
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(it, w->heap[parent])) break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = it;
    return 0;
}

static tok_heap_item heap_pop(tok_bpe_work *w)
{
    tok_heap_item top = w->heap[0];
    tok_heap_item last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        tok_heap_item best = last;
        if (l < n && heap_less(w->heap[l], best)) { m = l; best = w->heap[l]; }
        if (r < n && heap_less(w->heap[r], best)) { m = r; }
        if (m == i) break;
        w->heap[i] = w->heap[m];
        i = m;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

/* Pushes the merge of the pair starting at symbol `pos`, if any. */
static int push_pair(const lcmd_tokenizer *t, tok_bpe_work *w, int32_t pos)
{
    int32_t nx = w->next[pos];
    uint32_t rank;
    int32_t new_id;
    if (nx < 0 || !tok_merges_get(&t->merges, w->sym[pos], w->sym[nx], &rank, &new_id)) return 0;
    tok_heap_item it = { rank, (uint32_t)pos, new_id };
    return heap_push(w, it);
}

/* Merges by rank, lowest first and leftmost among equals. A queued merge is applied
 * only if its pair still merges into the same new id (the reference's test for stale
 * entries), so the order of merges is the reference's. */
static int bpe_merge(lcmd_tokenizer *t, const char *bytes, size_t n, tok_ids *out)
{
    tok_bpe_work *w = &t->work;
    if (n > (size_t)INT32_MAX || work_reserve(w, n) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)bytes[i];
        w->sym[i] = i + 1 == n ? t->byte_end_id[b] : t->byte_id[b];
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 == n ? -1 : (int32_t)i + 1;
        w->alive[i] = 1;
    }
    for (size_t i = 0; i + 1 < n; i++)
        if (push_pair(t, w, (int32_t)i) != 0) return -1;
    while (w->heap_n) {
        tok_heap_item top = heap_pop(w);
        int32_t pos = (int32_t)top.pos;
        if (!w->alive[pos]) continue;
        int32_t nx = w->next[pos];
        if (nx < 0) continue;
        uint32_t rank;
        int32_t new_id;
        if (!tok_merges_get(&t->merges, w->sym[pos], w->sym[nx], &rank, &new_id) || new_id != top.new_id)
            continue;
        w->sym[pos] = new_id;
        w->alive[nx] = 0;
        w->next[pos] = w->next[nx];
        if (w->next[nx] >= 0) w->prev[w->next[nx]] = pos;
        if (w->prev[pos] >= 0 && push_pair(t, w, w->prev[pos]) != 0) return -1;
        if (push_pair(t, w, pos) != 0) return -1;
    }
    for (int32_t i = 0; i >= 0; i = w->next[i])
        if (tok_ids_push(out, w->sym[i]) != 0) return -1;
    return 0;
}

int tok_bpe_word(lcmd_tokenizer *t, const char *bytes, size_t n, tok_ids *out)
{
    if (n == 0) return 0;
    if (n == 1) return tok_ids_push(out, t->byte_end_id[(unsigned char)bytes[0]]);
    tok_cache *c = &t->cache;
    if (n > CACHE_MAX_WORD || cache_ensure(c) != 0) return bpe_merge(t, bytes, n, out);
    uint64_t h = hash_bytes(bytes, n) | 1u;
    int found;
    size_t slot = cache_find(c, bytes, n, h, &found);
    if (found) {
        for (uint32_t k = 0; k < c->ids_n[slot]; k++)
            if (tok_ids_push(out, c->ids.v[c->ids_off[slot] + k]) != 0) return -1;
        return 0;
    }
    size_t first = out->n;
    if (bpe_merge(t, bytes, n, out) != 0) return -1;
    if (c->n >= CACHE_MAX_ENTRIES) {
        cache_clear(c);
        slot = cache_find(c, bytes, n, h, &found);
    }
    size_t n_ids = out->n - first;
    if (tok_bytes_reserve(&c->keys, c->keys.n + n) != 0) return 0;   /* not cached: fine */
    for (size_t k = 0; k < n_ids; k++)
        if (tok_ids_push(&c->ids, out->v[first + k]) != 0) {
            c->ids.n -= k;
            return 0;
        }
    memcpy(c->keys.v + c->keys.n, bytes, n);
    c->hash[slot] = h;
    c->off[slot] = (uint32_t)c->keys.n;
    c->len[slot] = (uint32_t)n;
    c->ids_off[slot] = (uint32_t)(c->ids.n - n_ids);
    c->ids_n[slot] = (uint32_t)n_ids;
    c->keys.n += n;
    c->n++;
    return 0;
}
