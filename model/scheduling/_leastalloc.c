/*
 * podquake.model.scheduling._leastalloc: the compiled core of the LeastAllocated index.
 *
 * What it does. ``leastalloc.py`` answers every pod shape's LeastAllocated decision from one
 * shape-independent index: open nodes bucketed, per allocatable size, by ``g = q_cpu + q_memory``
 * and by the interval of each remainder among the shapes' thresholds, plus the *tight* nodes scored
 * one by one (see that module's docstring for the arithmetic). This file holds the two hot parts of
 * it, with bitsets of uint64 words instead of Python ints:
 *
 *   - placing a changed node in the index (``Core.place``; ``Core.decide`` replays the fast path's
 *     change log with it before deciding), and
 *   - the decision: the best score and its tie set over the open nodes (the g-walk with the
 *     remainder bitsets) and the tight nodes, the feasible-node hint, and the r-th tied node index
 *     once Python has drawn ``r = rng.randrange(count)`` (``Core.pick``).
 *
 * Everything else stays in Python: which shapes and sizes exist, their thresholds and per-size
 * parameters (computed by ``leastalloc.py`` on a rebuild and handed over with ``Core.reset``), the
 * static filters that give a shape its allowed nodes (``Core.set_allowed``), and the random draw.
 *
 * Why. The pure-Python engine costs about 1,100 bytecodes and ~20 big-int operations on 5,000-bit
 * ints per decision: 24,761 decisions/s on 150,000 pods onto 5,000 nodes on the 2-core benchmark
 * machine (``benchmarks/bench_scheduling.py --compare-engines``, 2026-11-22), where the issue asks for
 * 150,000/s (6.7 us a decision). With this core the same run makes 175,635 decisions/s (7.1x; 140,137
 * vs 29,513 at the --quick size), every placement identical. A decision here is about 3,200
 * instructions at 5,000 nodes (80 words a bitset, vectorized, hardware popcount when the CPU has it)
 * plus ~1,000 per replayed bind; what remains of the ~6 us is Python around it, and the generator.
 *
 * The reference. The Python engine (``LeastAllocatedIndex`` in ``leastalloc.py``) is the
 * specification: this core must return bit for bit the same decision for the same state (same best
 * score, same tie set in node-index order, same count, same hint), so that Python draws from the
 * generator exactly when and as the Python engine does. ``tests/model/scheduling/test_leastalloc_c.py``
 * compares the two on generated sequences. One permitted difference: a node whose state is outside
 * what an open node can be (``g`` outside 0..200, which a consistent cluster never produces) is
 * scored one by one as a tight node, which gives the same scores. Integers that do not fit the
 * core's 64-bit arithmetic (|value| > 2**54 where it multiplies by 100, or any value outside int64)
 * raise OverflowError; ``leastalloc.py`` then falls back to the Python engine.
 *
 * Safety: every argument is checked and bad input raises a Python exception; the core holds no
 * Python references (only malloc'ed C arrays, freed on dealloc and on reset), so it needs no GC
 * support; ints are read with PyLong_Check (no __index__), so no Python code runs while it walks a
 * list it was given.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define TOP 100                /* k8s.MAX_NODE_SCORE */
#define G_MAX (2 * TOP)        /* g = q_cpu + q_mem, each in 0..100 for an open node */
#define N_G (G_MAX + 1)
#define BIG ((int64_t)1 << 54) /* |x| <= BIG for values multiplied by 100 (and summed): no int64 overflow */
#define MAX_SHAPES 4096
#define MAX_THRESHOLDS 65536

#include "_cores.h" /* bitsets, get_i64, floordiv, zalloc, check_args */

/* Python's modulo (b != 0; floordiv is in _cores.h) */
static inline int64_t floormod(int64_t a, int64_t b) { return a - floordiv(a, b) * b; }

/* number of t[k] <= x (bisect_right) */
static inline int32_t upper_bound(const int64_t *t, int32_t n, int64_t x)
{
    int32_t lo = 0, hi = n;
    while (lo < hi) {
        int32_t mid = (lo + hi) >> 1;
        if (t[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct {
    int64_t a_cpu, a_mem;
    int32_t n_ct, n_mt;
    int64_t *ct, *mt;   /* sorted distinct thresholds R of the shapes */
    uint64_t *low_cpu;  /* (n_ct + 1) rows of nw words: row j = nodes with cpu interval <= j */
    uint64_t *low_mem;  /* (n_mt + 1) rows */
    uint64_t *by_g[N_G]; /* nw words each, allocated on first use */
    int32_t count[N_G];
    int32_t top;        /* the highest g with count > 0, -1 when the size has no open node */
} Size;

typedef struct {
    int64_t d;
    int32_t kc, km;
} Param;

typedef struct {
    int64_t cpu, mem, eph, nz_cpu, nz_mem;
    Param *params;      /* per size */
    uint64_t *allowed;  /* nw words; NULL until set_allowed */
    int everywhere;
    long long allowed_version; /* the class version set_allowed was given */
} Shape;

typedef struct {
    int64_t a_cpu, a_mem, free_cpu, free_mem, free_eph, nzf_cpu, nzf_mem;
    int32_t size; /* -1: not open (tight, or never placed) */
    int32_t g, rc, rm;
} NodeRec;

typedef struct {
    PyObject_HEAD
    Py_ssize_t n, nw; /* nodes; words per bitset (a multiple of 4; the bits at n and above stay 0) */
    int64_t lim[5]; /* largest cpu, memory, ephemeral, non-zero cpu, non-zero memory request */
    int32_t n_sizes;
    Size *sizes;
    int32_t *slots; /* open-addressing table (a_cpu, a_mem) -> size id; -1 empty */
    uint64_t slot_mask;
    int32_t n_shapes;
    Shape *shapes;
    NodeRec *nodes;
    uint64_t *tight;
    Py_ssize_t tight_count;
    uint64_t *ties;    /* the last decision's tie set */
    uint64_t *scratch; /* 2 * nw words: a level's lower and upper parts */
    int64_t last_best;  /* unweighted; valid when last_count > 0 */
    Py_ssize_t last_count;
    int last_hint;      /* 0, 1 or 2 as LeastAllocatedIndex.best's third value; -1: no decision yet */
    long long cursor;
    long long epoch;    /* the fast path's node-set epoch at reset; -1: stale (a new shape, a failed reset) */
    long long decisions;
} Core;

static PyObject *StaleError; /* _leastalloc.Stale */

/* ------------------------------------------------------------------------------------------ */
/* memory                                                                                      */

static void free_tables(Core *c)
{
    if (c->sizes) {
        for (int32_t s = 0; s < c->n_sizes; s++) {
            Size *z = &c->sizes[s];
            PyMem_Free(z->ct);
            PyMem_Free(z->mt);
            PyMem_Free(z->low_cpu);
            PyMem_Free(z->low_mem);
            for (int g = 0; g < N_G; g++)
                PyMem_Free(z->by_g[g]);
        }
        PyMem_Free(c->sizes);
    }
    if (c->shapes) {
        for (int32_t k = 0; k < c->n_shapes; k++) {
            PyMem_Free(c->shapes[k].params);
            PyMem_Free(c->shapes[k].allowed);
        }
        PyMem_Free(c->shapes);
    }
    PyMem_Free(c->slots);
    PyMem_Free(c->nodes);
    PyMem_Free(c->tight);
    PyMem_Free(c->ties);
    PyMem_Free(c->scratch);
    c->sizes = NULL;
    c->shapes = NULL;
    c->slots = NULL;
    c->nodes = NULL;
    c->tight = c->ties = c->scratch = NULL;
    c->n_sizes = c->n_shapes = 0;
    c->n = c->nw = 0;
    c->tight_count = 0;
    c->last_count = 0;
    c->last_hint = -1;
    c->epoch = -1;
}

static PyObject *Core_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if ((args && PyTuple_GET_SIZE(args)) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "Core() takes no arguments (use reset)");
        return NULL;
    }
    Core *c = (Core *)type->tp_alloc(type, 0);
    if (!c)
        return NULL;
    c->last_hint = -1;
    c->epoch = -1;
    c->cursor = -1;
    return (PyObject *)c;
}

static void Core_dealloc(Core *c)
{
    free_tables(c);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

/* ------------------------------------------------------------------------------------------ */
/* argument helpers                                                                            */

static int get_small(PyObject *o, int64_t *out, const char *what)
{
    if (get_i64(o, out, what) < 0)
        return -1;
    if (*out > BIG || *out < -BIG) {
        PyErr_Format(PyExc_OverflowError, "%s is too large for the compiled engine", what);
        return -1;
    }
    return 0;
}

/* a sequence (list or tuple) of exactly n items, or any length when n < 0: its borrowed items in
 * *items (NULL when empty) and its length in *len; -1 with an exception set on an error */
static int get_items(PyObject *o, Py_ssize_t n, PyObject *const **items, Py_ssize_t *len, const char *what)
{
    Py_ssize_t m;
    if (PyTuple_Check(o)) {
        m = PyTuple_GET_SIZE(o);
        *items = &PyTuple_GET_ITEM(o, 0);
    }
    else if (PyList_Check(o)) {
        m = PyList_GET_SIZE(o);
        *items = (PyObject *const *)((PyListObject *)o)->ob_item;
    }
    else {
        PyErr_Format(PyExc_TypeError, "%s must be a list or tuple, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    if (n >= 0 && m != n) {
        PyErr_Format(PyExc_ValueError, "%s must have %zd items, not %zd", what, n, m);
        return -1;
    }
    if (len)
        *len = m;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* sizes                                                                                       */

static inline uint64_t size_hash(int64_t a, int64_t b)
{
    uint64_t h = (uint64_t)a * 0x9E3779B97F4A7C15ULL;
    h ^= (uint64_t)b + 0x7F4A7C159E3779B9ULL + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ULL;
    return h ^ (h >> 31);
}

static int32_t size_lookup(const Core *c, int64_t a_cpu, int64_t a_mem)
{
    if (!c->n_sizes)
        return -1;
    uint64_t k = size_hash(a_cpu, a_mem) & c->slot_mask;
    for (;;) {
        int32_t s = c->slots[k];
        if (s < 0)
            return -1;
        if (c->sizes[s].a_cpu == a_cpu && c->sizes[s].a_mem == a_mem)
            return s;
        k = (k + 1) & c->slot_mask;
    }
}

static int g_row(Core *c, Size *z, int32_t g)
{
    if (!z->by_g[g]) {
        z->by_g[g] = zalloc((size_t)c->nw, sizeof(uint64_t));
        if (!z->by_g[g])
            return -1;
    }
    return 0;
}

/* add node i to size s at (g, rc, rm); the row of g exists (g_row) */
static void size_add(Core *c, int32_t s, int32_t g, int32_t rc, int32_t rm, Py_ssize_t i)
{
    Size *z = &c->sizes[s];
    Py_ssize_t w = i >> 6, nw = c->nw;
    uint64_t bit = (uint64_t)1 << (i & 63);
    z->by_g[g][w] |= bit;
    if (z->count[g]++ == 0 && g > z->top)
        z->top = g;
    for (int32_t j = rc; j <= z->n_ct; j++)
        z->low_cpu[j * nw + w] |= bit;
    for (int32_t j = rm; j <= z->n_mt; j++)
        z->low_mem[j * nw + w] |= bit;
}

static void size_remove_g(Size *z, int32_t g, Py_ssize_t w, uint64_t bit)
{
    z->by_g[g][w] &= ~bit;
    if (--z->count[g] == 0 && g == z->top) {
        int32_t t = g - 1;
        while (t >= 0 && z->count[t] == 0)
            t--;
        z->top = t;
    }
}

static void size_remove(Core *c, const NodeRec *r, Py_ssize_t i)
{
    Size *z = &c->sizes[r->size];
    Py_ssize_t w = i >> 6, nw = c->nw;
    uint64_t bit = (uint64_t)1 << (i & 63);
    size_remove_g(z, r->g, w, bit);
    for (int32_t j = r->rc; j <= z->n_ct; j++)
        z->low_cpu[j * nw + w] &= ~bit;
    for (int32_t j = r->rm; j <= z->n_mt; j++)
        z->low_mem[j * nw + w] &= ~bit;
}

/* move a node between remainder intervals in the OR-prefix rows `low` */
static inline void shift(uint64_t *low, Py_ssize_t nw, int32_t old, int32_t new_, Py_ssize_t w, uint64_t bit)
{
    if (new_ < old) {
        for (int32_t j = new_; j < old; j++)
            low[j * nw + w] |= bit;
    }
    else {
        for (int32_t j = old; j < new_; j++)
            low[j * nw + w] &= ~bit;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* placing a node (LeastAllocatedIndex._place)                                                 */

static int place(Core *c, Py_ssize_t i, PyObject *state)
{
    if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) != 8) {
        PyErr_SetString(PyExc_TypeError, "a node state must be a tuple of 8 ints");
        return -1;
    }
    int64_t a_cpu, a_mem, free_cpu, free_mem, free_eph, nzf_cpu, nzf_mem;
    if (get_small(PyTuple_GET_ITEM(state, 1), &a_cpu, "allocatable cpu") < 0 ||
        get_small(PyTuple_GET_ITEM(state, 2), &a_mem, "allocatable memory") < 0 ||
        get_i64(PyTuple_GET_ITEM(state, 3), &free_cpu, "free cpu") < 0 ||
        get_i64(PyTuple_GET_ITEM(state, 4), &free_mem, "free memory") < 0 ||
        get_i64(PyTuple_GET_ITEM(state, 5), &free_eph, "free ephemeral storage") < 0 ||
        get_small(PyTuple_GET_ITEM(state, 6), &nzf_cpu, "non-zero free cpu") < 0 ||
        get_small(PyTuple_GET_ITEM(state, 7), &nzf_mem, "non-zero free memory") < 0)
        return -1;
    NodeRec *r = &c->nodes[i];
    Py_ssize_t w = i >> 6;
    uint64_t bit = (uint64_t)1 << (i & 63);
    int32_t s = -1, g = 0, rc = 0, rm = 0;
    const int64_t *lim = c->lim;
    if (free_cpu >= lim[0] && free_mem >= lim[1] && free_eph >= lim[2] && nzf_cpu >= lim[3] && nzf_mem >= lim[4])
        s = size_lookup(c, a_cpu, a_mem);
    if (s >= 0) { /* sizes have a_cpu, a_mem > 0 */
        int64_t gg = floordiv(nzf_cpu * TOP, a_cpu) + floordiv(nzf_mem * TOP, a_mem);
        if (gg < 0 || gg > G_MAX) {
            s = -1; /* not a state an open node can have: score it one by one (same scores) */
        }
        else {
            Size *z = &c->sizes[s];
            g = (int32_t)gg;
            rc = upper_bound(z->ct, z->n_ct, floormod(nzf_cpu * TOP, a_cpu));
            rm = upper_bound(z->mt, z->n_mt, floormod(nzf_mem * TOP, a_mem));
        }
    }
    if (s >= 0 && g_row(c, &c->sizes[s], g) < 0) /* the one allocation, before any change: a failure changes nothing */
        return -1;
    r->a_cpu = a_cpu;
    r->a_mem = a_mem;
    r->free_cpu = free_cpu;
    r->free_mem = free_mem;
    r->free_eph = free_eph;
    r->nzf_cpu = nzf_cpu;
    r->nzf_mem = nzf_mem;
    if (s < 0) {
        if (r->size >= 0) {
            size_remove(c, r, i);
            r->size = -1;
        }
        if (!(c->tight[w] & bit)) {
            c->tight[w] |= bit;
            c->tight_count++;
        }
        return 0;
    }
    if (r->size < 0) {
        if (c->tight[w] & bit) {
            c->tight[w] &= ~bit;
            c->tight_count--;
        }
        size_add(c, s, g, rc, rm, i);
    }
    else if (r->size != s) {
        size_remove(c, r, i);
        size_add(c, s, g, rc, rm, i);
    }
    else {
        Size *z = &c->sizes[s];
        if (g != r->g) { /* the common case: a bind lowers g */
            size_remove_g(z, r->g, w, bit);
            z->by_g[g][w] |= bit;
            if (z->count[g]++ == 0 && g > z->top)
                z->top = g;
        }
        if (rc != r->rc)
            shift(z->low_cpu, c->nw, r->rc, rc, w, bit);
        if (rm != r->rm)
            shift(z->low_mem, c->nw, r->rm, rm, w, bit);
    }
    r->size = s;
    r->g = g;
    r->rc = rc;
    r->rm = rm;
    return 0;
}

static int check_ready(Core *c)
{
    if (!c->nodes) {
        PyErr_SetString(PyExc_RuntimeError, "the core has not been reset");
        return -1;
    }
    return 0;
}

/* place log[start:], reading states[i]; sets the cursor */
static int replay(Core *c, PyObject *log, PyObject *states, long long log_base)
{
    if (!PyList_Check(log) || !PyList_Check(states)) {
        PyErr_SetString(PyExc_TypeError, "log and states must be lists");
        return -1;
    }
    long long start = c->cursor - log_base;
    if (start < 0) {
        PyErr_SetString(StaleError, "the change log was truncated past the cursor: rebuild");
        return -1;
    }
    Py_ssize_t end = PyList_GET_SIZE(log);
    for (Py_ssize_t k = (Py_ssize_t)start; k < end; k++) {
        PyObject *item = PyList_GET_ITEM(log, k);
        if (!PyLong_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "log entries must be node indexes");
            return -1;
        }
        Py_ssize_t i = PyLong_AsSsize_t(item);
        if (i == -1 && PyErr_Occurred())
            return -1;
        if (i < 0 || i >= c->n || i >= PyList_GET_SIZE(states)) {
            PyErr_Format(PyExc_IndexError, "node index %zd out of range", i);
            return -1;
        }
        if (place(c, i, PyList_GET_ITEM(states, i)) < 0)
            return -1;
    }
    c->cursor = log_base + (long long)end;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* a decision (LeastAllocatedIndex.best)                                                       */

/* Word loops over whole bitsets, 2 words (16 bytes) at a time where the compiler has vector types:
 * SSE2 on x86-64, NEON on aarch64, no -march flag needed. Bitsets hold a multiple of 4 words, so
 * there is no tail; the vectors only assume 8-byte alignment (unaligned loads), whatever the allocator. */
#if defined(__GNUC__)
typedef uint64_t vec __attribute__((vector_size(16), aligned(8), may_alias));
#define VW 2 /* words per vec */
#else
typedef uint64_t vec;
#define VW 1
#endif

static inline void set_ties(uint64_t *ties, const uint64_t *src, Py_ssize_t nw)
{
    memcpy(ties, src, (size_t)nw * sizeof(uint64_t));
}

static inline void or_ties(uint64_t *ties, const uint64_t *src, Py_ssize_t nw)
{
    vec *t = (vec *)ties;
    const vec *a = (const vec *)src;
    for (Py_ssize_t v = 0; v < nw / VW; v++)
        t[v] |= a[v];
}

static inline int vec_any(vec x)
{
#if VW == 2
    return (x[0] | x[1]) != 0;
#else
    return x != 0;
#endif
}

/* the tight node's unweighted score, or -1 when the shape does not fit it (_tight_scores) */
static int tight_score(const NodeRec *r, const Shape *sh, int64_t *score)
{
    if (!(sh->cpu <= r->free_cpu && sh->mem <= r->free_mem && sh->eph <= r->free_eph))
        return 0;
    int64_t a_cpu = r->a_cpu, a_mem = r->a_mem;
    if (a_cpu && a_mem) {
        int64_t cs = sh->nz_cpu > r->nzf_cpu ? 0 : floordiv((r->nzf_cpu - sh->nz_cpu) * TOP, a_cpu);
        int64_t ms = sh->nz_mem > r->nzf_mem ? 0 : floordiv((r->nzf_mem - sh->nz_mem) * TOP, a_mem);
        *score = floordiv(cs + ms, 2);
    }
    else { /* ScoringStrategy().score: a resource with no allocatable drops out of the average */
        int64_t total = 0, weights = 0;
        if (a_cpu) {
            int64_t req = a_cpu - r->nzf_cpu + sh->nz_cpu;
            total += req > a_cpu ? 0 : floordiv((a_cpu - req) * TOP, a_cpu);
            weights++;
        }
        if (a_mem) {
            int64_t req = a_mem - r->nzf_mem + sh->nz_mem;
            total += req > a_mem ? 0 : floordiv((a_mem - req) * TOP, a_mem);
            weights++;
        }
        *score = weights ? floordiv(total, weights) : 0;
    }
    return 1;
}

/* One g level of open nodes: members (AND allowed unless everywhere) split into ``lower`` (a low
 * remainder costs them a point: both remainders for odd g - d, either for even) and ``upper``. One
 * loop per case, each on vectors. */
static inline void split(uint64_t *restrict lower, uint64_t *restrict upper, const uint64_t *restrict members,
                         const uint64_t *restrict allowed, const uint64_t *restrict low_cpu,
                         const uint64_t *restrict low_mem, Py_ssize_t nw, int odd, int everywhere, int *has_lower,
                         int *has_upper)
{
    vec *lo_out = (vec *)lower, *up_out = (vec *)upper;
    const vec *m = (const vec *)members, *al = (const vec *)allowed, *lc = (const vec *)low_cpu,
              *lm = (const vec *)low_mem;
    vec hl = {0}, hu = {0};
    Py_ssize_t nv = nw / VW;
#define SPLIT_LOOP(MEMBER, SELECT)                                                                              \
    for (Py_ssize_t v = 0; v < nv; v++) {                                                                        \
        vec mv = MEMBER;                                                                                         \
        vec lo = mv & (SELECT);                                                                                  \
        vec up = mv ^ lo;                                                                                        \
        lo_out[v] = lo;                                                                                          \
        up_out[v] = up;                                                                                          \
        hl |= lo;                                                                                                \
        hu |= up;                                                                                                \
    }
    if (everywhere) {
        if (odd)
            SPLIT_LOOP(m[v], lc[v] & lm[v])
        else
            SPLIT_LOOP(m[v], lc[v] | lm[v])
    }
    else {
        if (odd)
            SPLIT_LOOP(m[v] & al[v], lc[v] & lm[v])
        else
            SPLIT_LOOP(m[v] & al[v], lc[v] | lm[v])
    }
#undef SPLIT_LOOP
    *has_lower = vec_any(hl);
    *has_upper = vec_any(hu);
}

static void best(Core *c, const Shape *sh)
{
    Py_ssize_t nw = c->nw;
    const uint64_t *allowed = sh->allowed;
    int everywhere = sh->everywhere;
    uint64_t *ties = c->ties, *lower = c->scratch, *upper = c->scratch + nw;
    int64_t bestv = -1;
    memset(ties, 0, (size_t)nw * sizeof(uint64_t));
    for (int32_t s = 0; s < c->n_sizes; s++) {
        const Size *z = &c->sizes[s];
        const Param *pa = &sh->params[s];
        int64_t d = pa->d;
        if (z->top < 0 || floordiv(z->top - d, 2) < bestv)
            continue;
        const uint64_t *lc = z->low_cpu + (size_t)pa->kc * nw; /* nodes with r_cpu < R_cpu of the shape */
        const uint64_t *lm = z->low_mem + (size_t)pa->km * nw;
        for (int32_t gk = z->top; gk >= 0; gk--) {
            if (!z->count[gk])
                continue;
            int64_t g = gk - d;
            int64_t score = floordiv(g, 2);
            if (score < bestv)
                break;
            int has_lower, has_upper;
            split(lower, upper, z->by_g[gk], allowed, lc, lm, nw, (int)(g & 1), everywhere, &has_lower, &has_upper);
            if (has_upper) {
                if (score > bestv) {
                    set_ties(ties, upper, nw);
                    bestv = score;
                }
                else
                    or_ties(ties, upper, nw);
            }
            if (has_lower && score - 1 >= bestv) {
                if (score - 1 > bestv) {
                    set_ties(ties, lower, nw);
                    bestv = score - 1;
                }
                else
                    or_ties(ties, lower, nw);
            }
        }
    }
    /* tight nodes, one by one */
    Py_ssize_t tight_feasible = 0;
    if (c->tight_count) {
        const uint64_t *tight = c->tight;
        for (Py_ssize_t w = 0; w < nw; w++) {
            uint64_t bits = tight[w] & allowed[w];
            while (bits) {
                Py_ssize_t i = (w << 6) + ctz64(bits);
                bits &= bits - 1;
                int64_t sc;
                if (!tight_score(&c->nodes[i], sh, &sc))
                    continue;
                tight_feasible++;
                if (sc > bestv) {
                    bestv = sc;
                    memset(ties, 0, (size_t)nw * sizeof(uint64_t));
                    ties[i >> 6] = (uint64_t)1 << (i & 63);
                }
                else if (sc == bestv)
                    ties[i >> 6] |= (uint64_t)1 << (i & 63);
            }
        }
    }
    Py_ssize_t count = count_bits(ties, nw), first = count ? select_bit(ties, nw, 0) : -1;
    c->last_best = bestv;
    c->last_count = count;
    if (count >= 2) {
        c->last_hint = 2;
        return;
    }
    if (count == 0) {
        c->last_best = -1;
        c->last_hint = 0;
        return;
    }
    /* one node has the best score: are others feasible at all? */
    int others = 0;
    const uint64_t *tight = c->tight;
    for (Py_ssize_t w = 0; w < nw && !others; w++)
        if (allowed[w] & ~tight[w] & ~ties[w])
            others = 1;
    if (!others) {
        int tie_is_tight = (tight[first >> 6] >> (first & 63)) & 1;
        others = tight_feasible - tie_is_tight > 0;
    }
    c->last_hint = others ? 2 : 1;
}

/* ------------------------------------------------------------------------------------------ */
/* methods                                                                                     */

PyDoc_STRVAR(reset_doc,
"reset(n_nodes, limits, sizes, shapes, epoch)\n--\n\n"
"Start over for ``n_nodes`` nodes, all unplaced. ``limits``: the largest (cpu, memory, ephemeral,\n"
"non-zero cpu, non-zero memory) request of the shapes. ``sizes``: per size id, ``(a_cpu, a_mem,\n"
"cpu_thresholds, mem_thresholds)`` (positive allocatables, distinct; thresholds sorted, distinct,\n"
"in 0..allocatable-1). ``shapes``: per shape id, ``(cpu, mem, eph, nz_cpu, nz_mem, params)`` with\n"
"``params`` per size id ``(d, k_cpu, k_mem)``. ``epoch``: the fast path's node-set epoch, which\n"
"decide() compares. Resets the cursor to 0 and forgets every shape's allowed nodes.");

static PyObject *Core_reset(Core *c, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("reset", nargs, 5) < 0)
        return NULL;
    free_tables(c);
    c->cursor = 0;
    int64_t epoch;
    if (get_i64(args[4], &epoch, "epoch") < 0)
        return NULL;
    Py_ssize_t n;
    if (!PyLong_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "n_nodes must be an int");
        return NULL;
    }
    n = PyLong_AsSsize_t(args[0]);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0 || n > ((Py_ssize_t)1 << 40)) {
        PyErr_SetString(PyExc_ValueError, "n_nodes out of range");
        return NULL;
    }
    PyObject *const *lim;
    if (get_items(args[1], 5, &lim, NULL, "limits") < 0)
        return NULL;
    int64_t limits[5];
    for (int k = 0; k < 5; k++)
        if (get_i64(lim[k], &limits[k], "a limit") < 0)
            return NULL;
    Py_ssize_t n_sizes, n_shapes;
    PyObject *const *sizes;
    if (get_items(args[2], -1, &sizes, &n_sizes, "sizes") < 0)
        return NULL;
    PyObject *const *shapes;
    if (get_items(args[3], -1, &shapes, &n_shapes, "shapes") < 0)
        return NULL;
    if (n_shapes > MAX_SHAPES || n_sizes > n + 1) {
        PyErr_SetString(PyExc_ValueError, "too many shapes or sizes");
        return NULL;
    }
    /* tables; on an error below free_tables() leaves the core empty */
    c->n = n;
    c->nw = ((n + 255) >> 8) << 2; /* a multiple of 4 words: rows stay 16-byte aligned, loops need no tail */
    memcpy(c->lim, limits, sizeof limits);
    Py_ssize_t nw = c->nw;
    if (!(c->nodes = zalloc((size_t)n, sizeof(NodeRec))) || !(c->tight = zalloc((size_t)nw, sizeof(uint64_t))) ||
        !(c->ties = zalloc((size_t)nw, sizeof(uint64_t))) || !(c->scratch = zalloc((size_t)nw * 2, sizeof(uint64_t))))
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++)
        c->nodes[i].size = -1;
    if (!(c->sizes = zalloc((size_t)n_sizes, sizeof(Size))))
        goto fail;
    c->n_sizes = (int32_t)n_sizes;
    for (Py_ssize_t s = 0; s < n_sizes; s++)
        c->sizes[s].top = -1;
    uint64_t cap = 8;
    while (cap < (uint64_t)n_sizes * 2)
        cap <<= 1;
    if (!(c->slots = zalloc((size_t)cap, sizeof(int32_t))))
        goto fail;
    memset(c->slots, 0xff, (size_t)cap * sizeof(int32_t));
    c->slot_mask = cap - 1;
    for (Py_ssize_t s = 0; s < n_sizes; s++) {
        Size *z = &c->sizes[s];
        PyObject *const *f;
        if (get_items(sizes[s], 4, &f, NULL, "a size") < 0)
            goto fail;
        if (get_small(f[0], &z->a_cpu, "allocatable cpu") < 0 || get_small(f[1], &z->a_mem, "allocatable memory") < 0)
            goto fail;
        if (z->a_cpu <= 0 || z->a_mem <= 0) {
            PyErr_SetString(PyExc_ValueError, "a size's allocatables must be positive");
            goto fail;
        }
        if (size_lookup(c, z->a_cpu, z->a_mem) >= 0) {
            PyErr_SetString(PyExc_ValueError, "duplicate size");
            goto fail;
        }
        for (int which = 0; which < 2; which++) {
            Py_ssize_t m;
            PyObject *const *t;
            if (get_items(f[2 + which], -1, &t, &m, "thresholds") < 0)
                goto fail;
            if (m > MAX_THRESHOLDS) {
                PyErr_SetString(PyExc_ValueError, "too many thresholds");
                goto fail;
            }
            int64_t *arr = zalloc((size_t)m, sizeof(int64_t));
            if (!arr)
                goto fail;
            if (which == 0) {
                z->ct = arr;
                z->n_ct = (int32_t)m;
            }
            else {
                z->mt = arr;
                z->n_mt = (int32_t)m;
            }
            int64_t a = which == 0 ? z->a_cpu : z->a_mem;
            for (Py_ssize_t k = 0; k < m; k++) {
                if (get_i64(t[k], &arr[k], "a threshold") < 0)
                    goto fail;
                if (arr[k] < 0 || arr[k] >= a || (k && arr[k] <= arr[k - 1])) {
                    PyErr_SetString(PyExc_ValueError, "thresholds must be sorted, distinct, in 0..allocatable-1");
                    goto fail;
                }
            }
        }
        if (!(z->low_cpu = zalloc((size_t)(z->n_ct + 1) * (size_t)nw, sizeof(uint64_t))) ||
            !(z->low_mem = zalloc((size_t)(z->n_mt + 1) * (size_t)nw, sizeof(uint64_t))))
            goto fail;
        uint64_t k = size_hash(z->a_cpu, z->a_mem) & c->slot_mask;
        while (c->slots[k] >= 0)
            k = (k + 1) & c->slot_mask;
        c->slots[k] = (int32_t)s;
    }
    if (!(c->shapes = zalloc((size_t)n_shapes, sizeof(Shape))))
        goto fail;
    c->n_shapes = (int32_t)n_shapes;
    for (Py_ssize_t k = 0; k < n_shapes; k++) {
        Shape *sh = &c->shapes[k];
        PyObject *const *f;
        if (get_items(shapes[k], 6, &f, NULL, "a shape") < 0)
            goto fail;
        if (get_i64(f[0], &sh->cpu, "cpu request") < 0 || get_i64(f[1], &sh->mem, "memory request") < 0 ||
            get_i64(f[2], &sh->eph, "ephemeral request") < 0 || get_small(f[3], &sh->nz_cpu, "non-zero cpu") < 0 ||
            get_small(f[4], &sh->nz_mem, "non-zero memory") < 0)
            goto fail;
        Py_ssize_t m;
        PyObject *const *params;
        if (get_items(f[5], n_sizes, &params, &m, "a shape's params") < 0)
            goto fail;
        if (!(sh->params = zalloc((size_t)n_sizes, sizeof(Param))))
            goto fail;
        for (Py_ssize_t s = 0; s < n_sizes; s++) {
            PyObject *const *pf;
            if (get_items(params[s], 3, &pf, NULL, "a param") < 0)
                goto fail;
            int64_t d, kc, km;
            if (get_small(pf[0], &d, "d") < 0 || get_i64(pf[1], &kc, "k_cpu") < 0 || get_i64(pf[2], &km, "k_mem") < 0)
                goto fail;
            if (kc < 0 || kc > c->sizes[s].n_ct || km < 0 || km > c->sizes[s].n_mt) {
                PyErr_SetString(PyExc_ValueError, "a threshold index is out of range");
                goto fail;
            }
            sh->params[s].d = d;
            sh->params[s].kc = (int32_t)kc;
            sh->params[s].km = (int32_t)km;
        }
    }
    c->epoch = epoch;
    Py_RETURN_NONE;
fail:
    free_tables(c);
    return NULL;
}

PyDoc_STRVAR(place_doc,
"place(i, state)\n--\n\nMove node ``i`` to where its NodeState tuple says (LeastAllocatedIndex._place).");

static PyObject *Core_place(Core *c, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("place", nargs, 2) < 0)
        return NULL;
    if (check_ready(c) < 0)
        return NULL;
    if (!PyLong_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "the node index must be an int");
        return NULL;
    }
    Py_ssize_t i = PyLong_AsSsize_t(args[0]);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0 || i >= c->n) {
        PyErr_Format(PyExc_IndexError, "node index %zd out of range", i);
        return NULL;
    }
    if (place(c, i, args[1]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(place_all_doc, "place_all(states)\n--\n\nPlace every node: ``states[i]`` is node i's NodeState.");

static PyObject *Core_place_all(Core *c, PyObject *states)
{
    if (check_ready(c) < 0)
        return NULL;
    if (!PyList_Check(states) || PyList_GET_SIZE(states) != c->n) {
        PyErr_SetString(PyExc_ValueError, "states must be a list with one state per node");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < c->n; i++) {
        if (i >= PyList_GET_SIZE(states)) {
            PyErr_SetString(PyExc_ValueError, "states changed size");
            return NULL;
        }
        if (place(c, i, PyList_GET_ITEM(states, i)) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(sync_doc,
"sync(log, log_base, states)\n--\n\n"
"Place the nodes of ``log[cursor - log_base:]`` (``states[i]`` is node i's NodeState), then set the\n"
"cursor to ``log_base + len(log)``. A node logged twice is placed twice, from its current state: the\n"
"second placing changes nothing.");

static PyObject *Core_sync(Core *c, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("sync", nargs, 3) < 0)
        return NULL;
    if (check_ready(c) < 0)
        return NULL;
    int64_t base;
    if (get_i64(args[1], &base, "log_base") < 0)
        return NULL;
    if (replay(c, args[0], args[2], base) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(set_allowed_doc,
"set_allowed(shape_id, allowed, class_version)\n--\n\n"
"The nodes passing the shape's static filters: ``allowed`` is the bitset as little-endian bytes of\n"
"exactly ``n_bytes`` bytes (``int.to_bytes``); bits at n_nodes and above are ignored.\n"
"``class_version``: the fast path's class version they are for, which decide() compares.");

static PyObject *Core_set_allowed(Core *c, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("set_allowed", nargs, 3) < 0)
        return NULL;
    if (check_ready(c) < 0)
        return NULL;
    int64_t sid, version;
    if (get_i64(args[0], &sid, "shape id") < 0 || get_i64(args[2], &version, "class_version") < 0)
        return NULL;
    if (sid < 0 || sid >= c->n_shapes) {
        PyErr_SetString(PyExc_IndexError, "shape id out of range");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Py_ssize_t nw = c->nw;
    if (view.len != nw * 8) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_ValueError, "allowed must be %zd bytes", nw * 8);
        return NULL;
    }
    Shape *sh = &c->shapes[sid];
    if (!sh->allowed && !(sh->allowed = zalloc((size_t)nw, sizeof(uint64_t)))) {
        PyBuffer_Release(&view);
        return NULL;
    }
    const unsigned char *b = view.buf;
    int everywhere = 1;
    for (Py_ssize_t w = 0; w < nw; w++) {
        uint64_t x = 0;
        for (int j = 7; j >= 0; j--)
            x = (x << 8) | b[w * 8 + j];
        Py_ssize_t valid = c->n - (w << 6); /* bits of this word that are nodes (none in the padding words) */
        uint64_t mask = valid >= 64 ? ~(uint64_t)0 : valid <= 0 ? 0 : (((uint64_t)1 << valid) - 1);
        x &= mask;
        sh->allowed[w] = x;
        if (x != mask)
            everywhere = 0;
    }
    sh->everywhere = everywhere;
    sh->allowed_version = version;
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(decide_doc,
"decide(shape_id, log, log_base, states, tight_max, epoch, class_version, count=True, rng=None)\n--\n\n"
"Catch up on the change log (as ``sync``), then decide for the shape. Raises ``Stale`` (changing\n"
"nothing) when the core must be reset first (``epoch`` is not the one given to reset(), a shape was\n"
"added since, or the log was truncated past the cursor) or the shape's allowed nodes are not those\n"
"of ``class_version``. Returns None when more than ``tight_max`` nodes are tight (the caller's\n"
"per-shape indexes answer instead; nothing decided); else the chosen node index when there is one\n"
"best node, -1 when no node fits, or ``-count`` (at most -2) when ``count`` nodes tie: draw\n"
"``r = rng.randrange(count)`` and call ``pick(r)``; or, when ``rng`` is given and is exactly the type\n"
"registered with ``set_random``, the tied node it draws (the same draw). The best score, tie count and hint are\n"
"``last_best``, ``last_count``, ``last_hint``; ``decisions`` counts it unless ``count`` is false.");

static PyObject *Core_decide(Core *c, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 7 || nargs > 9) {
        PyErr_SetString(PyExc_TypeError, "decide() takes 7 to 9 arguments");
        return NULL;
    }
    int count = 1;
    if (nargs >= 8 && (count = PyObject_IsTrue(args[7])) < 0)
        return NULL;
    PyObject *rng = nargs == 9 ? args[8] : Py_None;
    int64_t sid, base, tight_max, epoch, version;
    if (get_i64(args[0], &sid, "shape id") < 0 || get_i64(args[2], &base, "log_base") < 0 ||
        get_i64(args[4], &tight_max, "tight_max") < 0 || get_i64(args[5], &epoch, "epoch") < 0 ||
        get_i64(args[6], &version, "class_version") < 0)
        return NULL;
    if (!c->nodes || c->epoch < 0 || c->epoch != epoch || sid < 0 || c->cursor < base) {
        PyErr_SetString(StaleError, "reset the core first");
        return NULL;
    }
    if (sid >= c->n_shapes) {
        PyErr_SetString(PyExc_IndexError, "shape id out of range");
        return NULL;
    }
    const Shape *sh = &c->shapes[sid];
    if (!sh->allowed || sh->allowed_version != version) {
        PyErr_SetString(StaleError, "set the shape's allowed nodes first");
        return NULL;
    }
    if (replay(c, args[1], args[3], base) < 0)
        return NULL;
    if (c->tight_count > tight_max)
        Py_RETURN_NONE;
    if (count)
        c->decisions++;
    best(c, sh);
    if (c->last_hint <= 1 || c->last_count == 1) {
        if (c->last_count == 0)
            return PyLong_FromLong(-1);
        return PyLong_FromSsize_t(select_bit(c->ties, c->nw, 0));
    }
    Py_ssize_t r;
    int drawn = rng == Py_None ? 0 : draw_below(rng, c->last_count, &r);
    if (drawn < 0)
        return NULL;
    if (drawn)
        return PyLong_FromSsize_t(select_bit(c->ties, c->nw, r));
    return PyLong_FromSsize_t(-c->last_count);
}

PyDoc_STRVAR(invalidate_doc, "invalidate()\n--\n\nMark the core stale: decide() raises Stale until the next reset().");

static PyObject *Core_invalidate(Core *c, PyObject *Py_UNUSED(ignored))
{
    c->epoch = -1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(pick_doc, "pick(r)\n--\n\nThe node index of the r-th (0-based, node-index order) tie of the last decision.");

static PyObject *Core_pick(Core *c, PyObject *arg)
{
    if (!PyLong_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "r must be an int");
        return NULL;
    }
    Py_ssize_t r = PyLong_AsSsize_t(arg);
    if (r == -1 && PyErr_Occurred())
        return NULL;
    if (c->last_hint < 0 || !c->ties || r < 0 || r >= c->last_count) {
        PyErr_SetString(PyExc_IndexError, "no such tie in the last decision");
        return NULL;
    }
    Py_ssize_t i = select_bit(c->ties, c->nw, r);
    if (i < 0) {
        PyErr_SetString(PyExc_SystemError, "tie count out of step"); /* unreachable */
        return NULL;
    }
    return PyLong_FromSsize_t(i);
}

PyDoc_STRVAR(ties_doc, "ties()\n--\n\nThe last decision's tie set as little-endian bytes (``int.from_bytes``).");

/* A bitset of nw words as little-endian bytes (empty when the set was never allocated). */
static PyObject *bitset_bytes(const uint64_t *bits, Py_ssize_t nw)
{
    if (!bits)
        return PyBytes_FromStringAndSize("", 0);
    PyObject *out = PyBytes_FromStringAndSize(NULL, nw * 8);
    if (!out)
        return NULL;
    unsigned char *b = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t w = 0; w < nw; w++)
        for (int j = 0; j < 8; j++)
            b[w * 8 + j] = (unsigned char)(bits[w] >> (8 * j));
    return out;
}

static PyObject *Core_ties(Core *c, PyObject *Py_UNUSED(ignored))
{
    return bitset_bytes(c->ties, c->nw);
}

PyDoc_STRVAR(tight_doc, "tight()\n--\n\nThe tight nodes (scored one by one) as little-endian bytes.");

static PyObject *Core_tight(Core *c, PyObject *Py_UNUSED(ignored))
{
    return bitset_bytes(c->tight, c->nw);
}

static PyMethodDef Core_methods[] = {
    {"reset", (PyCFunction)(void (*)(void))Core_reset, METH_FASTCALL, reset_doc},
    {"place", (PyCFunction)(void (*)(void))Core_place, METH_FASTCALL, place_doc},
    {"place_all", (PyCFunction)Core_place_all, METH_O, place_all_doc},
    {"sync", (PyCFunction)(void (*)(void))Core_sync, METH_FASTCALL, sync_doc},
    {"set_allowed", (PyCFunction)(void (*)(void))Core_set_allowed, METH_FASTCALL, set_allowed_doc},
    {"decide", (PyCFunction)(void (*)(void))Core_decide, METH_FASTCALL, decide_doc},
    {"pick", (PyCFunction)Core_pick, METH_O, pick_doc},
    {"invalidate", (PyCFunction)Core_invalidate, METH_NOARGS, invalidate_doc},
    {"ties", (PyCFunction)Core_ties, METH_NOARGS, ties_doc},
    {"tight", (PyCFunction)Core_tight, METH_NOARGS, tight_doc},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------------------------------ */
/* attributes                                                                                  */

static PyObject *get_cursor(Core *c, void *Py_UNUSED(closure)) { return PyLong_FromLongLong(c->cursor); }

static int set_cursor(Core *c, PyObject *value, void *Py_UNUSED(closure))
{
    return set_i64_attribute(&c->cursor, value, "cursor");
}

static PyObject *get_tight_count(Core *c, void *Py_UNUSED(closure)) { return PyLong_FromSsize_t(c->tight_count); }
static PyObject *get_n_nodes(Core *c, void *Py_UNUSED(closure)) { return PyLong_FromSsize_t(c->n); }
static PyObject *get_n_bytes(Core *c, void *Py_UNUSED(closure)) { return PyLong_FromSsize_t(c->nw * 8); }
static PyObject *get_epoch(Core *c, void *Py_UNUSED(closure)) { return PyLong_FromLongLong(c->epoch); }
static PyObject *get_decisions(Core *c, void *Py_UNUSED(closure)) { return PyLong_FromLongLong(c->decisions); }
static PyObject *get_last_count(Core *c, void *Py_UNUSED(closure)) { return PyLong_FromSsize_t(c->last_count); }
static PyObject *get_last_hint(Core *c, void *Py_UNUSED(closure)) { return PyLong_FromLong(c->last_hint); }
static PyObject *get_last_best(Core *c, void *Py_UNUSED(closure)) { return PyLong_FromLongLong(c->last_best); }

static PyGetSetDef Core_getset[] = {
    {"cursor", (getter)get_cursor, (setter)set_cursor, "log position caught up to (log_base + index)", NULL},
    {"tight_count", (getter)get_tight_count, NULL, "how many nodes are scored one by one", NULL},
    {"n_nodes", (getter)get_n_nodes, NULL, "nodes since the last reset", NULL},
    {"n_bytes", (getter)get_n_bytes, NULL, "bytes of a bitset (set_allowed, ties, tight)", NULL},
    {"epoch", (getter)get_epoch, NULL, "the epoch given to the last reset (-1: stale)", NULL},
    {"decisions", (getter)get_decisions, NULL, "decisions made (not counting declined ones)", NULL},
    {"last_best", (getter)get_last_best, NULL, "the last decision's best unweighted score (-1: none fits)", NULL},
    {"last_count", (getter)get_last_count, NULL, "the last decision's tie count", NULL},
    {"last_hint", (getter)get_last_hint, NULL, "the last decision's feasible-node hint (0, 1, 2; -1: none yet)",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(Core_doc,
"Core()\n--\n\n"
"The LeastAllocated index's compiled core: open nodes in uint64-word bitsets per allocatable size,\n"
"by g and by remainder interval, and the tight nodes (see leastalloc.py, whose Python engine it\n"
"must match bit for bit). Configure with reset(), fill with place_all(), then decide()/pick().");

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "podquake.model.scheduling._leastalloc.Core",
    .tp_basicsize = sizeof(Core),
    .tp_itemsize = 0,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = Core_doc,
    .tp_methods = Core_methods,
    .tp_getset = Core_getset,
    .tp_new = Core_new,
};

PyDoc_STRVAR(module_doc,
"The compiled core of the LeastAllocated index (leastalloc.py): placing changed nodes and the\n"
"best-score decision with its tie set, on uint64-word bitsets. It exists for speed: 150,000 pods onto\n"
"5,000 nodes, 24,761 decisions/s with the Python engine and 175,635/s with this core in the same run\n"
"(the issue asks 150,000/s). The Python engine is the reference it must match bit for bit, and the\n"
"fallback when this module is not built.");

static PyMethodDef module_methods[] = {
    {"set_random", (PyCFunction)set_random, METH_O, SET_RANDOM_DOC},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "podquake.model.scheduling._leastalloc",
    .m_doc = module_doc,
    .m_methods = module_methods,
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__leastalloc(void)
{
    bitset_init();
    if (PyType_Ready(&CoreType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m)
        return NULL;
    if (!StaleError) {
        StaleError = PyErr_NewExceptionWithDoc("podquake.model.scheduling._leastalloc.Stale",
                                               "Core.decide: the core must be reset, or a shape's allowed nodes set, first.",
                                               NULL, NULL);
        if (!StaleError) {
            Py_DECREF(m);
            return NULL;
        }
    }
    PyObject *big = PyLong_FromLongLong(BIG);
    if (!big || PyModule_AddObjectRef(m, "Stale", StaleError) < 0 || PyModule_AddType(m, &CoreType) < 0 || PyModule_AddIntConstant(m, "G_MAX", G_MAX) < 0 ||
        PyModule_AddObjectRef(m, "BIG", big) < 0) {
        Py_XDECREF(big);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(big);
    return m;
}
