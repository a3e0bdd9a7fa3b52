/*
 * podquake.model.scheduling._shapeindex: the compiled engine of the per-shape score index.
 *
 * What it does. The fast path (``fastpath.py``) keeps one score index per pod signature
 * (``shapeindex.py``): every node's *local* score for that signature (the NodeResourcesFit filter,
 * then weight x Fit score + weight x BalancedAllocation score), the nodes bucketed by it, the
 * feasible nodes, and the decisions read off the buckets: the best bucket (the tie set when no
 * normalized plugin scores), the best total over ``[(offset, mask)]`` node groups (the normalized
 * plugins' offsets), and the r-th tied node once Python has drawn ``r = rng.randrange(count)``.
 * This file is all of that for one signature, on bitsets of uint64 words instead of Python ints:
 * ``Index``, which ``shapeindex.CompiledScoreIndex`` subclasses (so the fast path calls these
 * methods directly, with no Python frame between).
 *
 * What stays in Python: which signature and which profile weights the index scores (``reset``), the
 * static filters per node class (``set_class``: ``plugins.static_filter`` is computed in Python and
 * handed over as a bool per class id), the groups and their offsets, and the random draw.
 *
 * Why. In Python these parts cost about 60 us of the default profile's decision (150,000 pods onto
 * 5,000 nodes, ``benchmarks/bench_scheduling.py``, 2-core machine, 2026-11-22): 46 us replaying ~8
 * changed nodes per decision into the signature's index (big-int bucket updates, one per node),
 * 4 us for the best total and 9 us finding the r-th tie in a 5,000-bit int. Here the C work is
 * about 2 us a decision (perf samples: ~1.4 us replaying, ~0.7 us best total and pick) and with the
 * Python around it about 6 us; the same run then makes 43,711 decisions/s against 13,940 with the
 * Python index (3.1x; ``--compare-engines``, every one of the 150,000 placements identical).
 *
 * Layout (n nodes, nw words per bitset, nw a multiple of 4 so loops need no tail; bits at n and
 * above are always 0):
 *
 *   score[i]         node i's local score, 0..max_score, or -1 when a filter fails (infeasible); int16
 *                    (MAX_SCORE 32767): the array is read once per replayed node, so its size is cache misses
 *   rows[s]          bucket s: the nodes whose score is s (nw words, allocated when s is first used)
 *   size[s]          how many nodes bucket s holds (the plain case's tie count needs no popcount)
 *   nonempty         bitmap over 0..max_score: the buckets with size > 0; top is the highest, or -1
 *   feasible, count  the nodes with score >= 0, and how many; feasible_int caches them as a Python
 *                    int, the same object until the set changes (fastpath._base keys on identity)
 *   class_ok[cid]    1 or 0: whether the class passes the signature's static filters; 0xFF unknown
 *   ties, last_count the last decision's tie set and its size (-1: no decision since reset)
 *   cursor           the fast path's change log position this index has caught up to
 *
 * Shared by every index: ``decoded[i]``, node i's last NodeState tuple (a strong reference) and its
 * 8 values as int64. A bind replaces one node's tuple and every per-shape index then replays that
 * node; reading 8 separately allocated int objects per index was most of a replay's cost (cache
 * misses), so the first index decodes the tuple and the others find it by identity.
 *
 * Invariants: node i's bit is set in exactly rows[score[i]] when score[i] >= 0 and in no row when
 * it is -1; feasible is the union of the rows; size[s] is the popcount of rows[s]; count the sum of
 * the sizes; top is the highest s with size[s] > 0. Each change keeps them before returning, and a
 * failure (an exception) leaves them true: the one allocation a placement needs comes first.
 *
 * The reference. The Python ``ScoreIndex`` and its refresher (``shapeindex.make_refresher``) are the
 * specification: the same local score for the same node state, bit for bit, so the same buckets,
 * the same best total, the same tie set in node-index order and the same count, so that Python
 * draws from the generator exactly when and as with the Python index.
 * ``tests/model/scheduling/test_shapeindex_c.py`` compares the two on generated sequences. The
 * score follows the refresher's two branches: the inlined default strategy (LeastAllocated with
 * cpu and memory weights 1, both allocatables non-zero: integer arithmetic, then BalancedAllocation
 * ``int((1 - abs((rc / ac - rm / am) / 2)) * 100)`` without its clamps, which the fitting pod
 * cannot reach) and the general formulas (``ScoringStrategy.score`` for LeastAllocated or
 * MostAllocated with any weights, skipping a resource with no allocatable; ``balanced_allocation_score``
 * with its clamps). Floats: Python's int / int is one correctly rounded division when both ints are
 * exact doubles (|x| <= 2**53), so is the C division of the converted values, and the other
 * operations (-, / 2, fabs, 1 -, * 100, truncation) are the same IEEE double operations in the
 * same order; nothing here has the a * b + c form a compiler could fuse, and the engine declines
 * BalancedAllocation where the compiler evaluates doubles in extended precision (EXACT_FLOAT == 0).
 * What does not fit this arithmetic (a value outside int64, a product or sum that overflows, a
 * division operand beyond 2**53, a score outside 0..max_score, which a consistent cluster never
 * produces, an offset outside int64) raises OverflowError, and the fast path switches to Python
 * indexes for good (``FastPath._hand_over_shapes``); RequestedToCapacityRatio and weights summing
 * past MAX_SCORE / 100 are never given to this engine (``CompiledScoreIndex.covers``).
 *
 * Safety: every argument is checked and bad input raises TypeError, ValueError or IndexError. An
 * index holds one Python reference (the cached feasible int); the shared decoded states hold exact
 * tuples of exact ints; none can form a cycle, so no GC support is needed. Ints are read with
 * PyLong_Check (no __index__), and what the decoded states release runs no Python code (no
 * __del__ on exact tuples and ints), so no Python code runs while an index walks a list it was
 * given. Ints are read from their digits on CPython 3.11 (that version's layout, behind a version
 * check: NodeState values up to two digits, group masks) and through the public API otherwise.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define TOP 100                    /* k8s.MAX_NODE_SCORE */
#define MAX_SCORE 32767            /* highest bucket score an index may have: 100 x (w_fit + w_bal) */
#define MAX_CLASSES (1 << 24)      /* class ids are below this */
#define EXACT ((int64_t)1 << 53)   /* |x| <= EXACT: x is an exact double */
#define UNKNOWN 0xFF               /* class_ok: not set yet */

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#define EXACT_FLOAT 0 /* doubles evaluated in extended precision (x87): BalancedAllocation stays in Python */
#else
#define EXACT_FLOAT 1
#endif

#include "_cores.h" /* bitsets, get_i64, floordiv, zalloc, check_args */

typedef struct {
    PyObject_HEAD
    /* the signature and the profile (reset) */
    int64_t cpu, mem, eph, nz_cpu, nz_mem; /* real requests, then non-zero requests (the Fit score's) */
    int64_t w_fit, w_bal;                  /* weights; w_bal is 0 for a best-effort pod (BalancedAllocation skips) */
    int64_t cpu_weight, mem_weight;        /* the scoring strategy's resource weights */
    int inline_least;                      /* the refresher's inlined case: LeastAllocated, weights 1 and 1 */
    int most;                              /* the strategy: MostAllocated, else LeastAllocated */
    int32_t max_score;                     /* 100 x (w_fit + w_bal) */
    int ready;                             /* reset() succeeded */
    /* nodes */
    Py_ssize_t n, nw;
    int16_t *score; /* per node: the local score, -1 infeasible */
    /* buckets */
    uint64_t **rows;    /* max_score + 1 rows of nw words, NULL until first used */
    int32_t *size;      /* max_score + 1 */
    uint64_t *nonempty; /* (max_score + 64) / 64 words */
    int32_t top;        /* the highest non-empty bucket, -1 when none */
    /* feasible nodes */
    uint64_t *feasible;
    Py_ssize_t count;
    PyObject *feasible_int; /* the cached int of `feasible` (NULL: build on the next read) */
    /* static filters per class id */
    uint8_t *class_ok;
    Py_ssize_t n_classes;
    /* the last decision */
    uint64_t *ties;
    Py_ssize_t last_count; /* -1: none since reset */
    /* best_total's scratch: converted masks (nw words per group), offsets, which are converted */
    uint64_t *hit;
    uint64_t *masks;
    int64_t *offsets;
    uint8_t *converted;
    Py_ssize_t group_cap;
    unsigned char *bytes; /* nw * 8 bytes for the byte-array conversions */
    long long cursor;
} Index;

static PyTypeObject IndexType;

/* ------------------------------------------------------------------------------------------ */
/* memory                                                                                      */

static void free_tables(Index *x)
{
    if (x->rows) {
        for (int32_t s = 0; s <= x->max_score; s++)
            PyMem_Free(x->rows[s]);
        PyMem_Free(x->rows);
    }
    PyMem_Free(x->size);
    PyMem_Free(x->nonempty);
    PyMem_Free(x->score);
    PyMem_Free(x->feasible);
    PyMem_Free(x->class_ok);
    PyMem_Free(x->ties);
    PyMem_Free(x->hit);
    PyMem_Free(x->masks);
    PyMem_Free(x->offsets);
    PyMem_Free(x->converted);
    PyMem_Free(x->bytes);
    x->rows = NULL;
    x->size = NULL;
    x->nonempty = x->feasible = x->ties = x->hit = x->masks = NULL;
    x->score = NULL;
    x->class_ok = NULL;
    x->offsets = NULL;
    x->converted = NULL;
    x->bytes = NULL;
    Py_CLEAR(x->feasible_int);
    x->n = x->nw = 0;
    x->n_classes = 0;
    x->group_cap = 0;
    x->count = 0;
    x->top = -1;
    x->max_score = 0;
    x->last_count = -1;
    x->ready = 0;
}

static PyObject *Index_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    /* the arguments are for a subclass's __init__ (CompiledScoreIndex(spec)); the base takes none */
    if (type == &IndexType && ((args && PyTuple_GET_SIZE(args)) || (kwds && PyDict_GET_SIZE(kwds)))) {
        PyErr_SetString(PyExc_TypeError, "Index() takes no arguments (use reset)");
        return NULL;
    }
    Index *x = (Index *)type->tp_alloc(type, 0);
    if (!x)
        return NULL;
    x->top = -1;
    x->last_count = -1;
    x->cursor = -1;
    return (PyObject *)x;
}

static void Index_dealloc(Index *x)
{
    free_tables(x);
    Py_TYPE(x)->tp_free((PyObject *)x);
}

/* ------------------------------------------------------------------------------------------ */
/* argument helpers                                                                            */

static int check_ready(const Index *x)
{
    if (!x->ready) {
        PyErr_SetString(PyExc_RuntimeError, "the index has not been reset");
        return -1;
    }
    return 0;
}

/* a node index from an int: -1 with an exception when it is not one, or not below `limit` */
static Py_ssize_t get_node(PyObject *o, Py_ssize_t limit)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "a node index must be an int, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t i = PyLong_AsSsize_t(o);
    if (i == -1 && PyErr_Occurred())
        return -1;
    if (i < 0 || i >= limit) {
        PyErr_Format(PyExc_IndexError, "node index %zd out of range", i);
        return -1;
    }
    return i;
}

/* ------------------------------------------------------------------------------------------ */
/* Python ints <-> bitsets                                                                     */

/* The bitset a[0..nw) as a Python int. */
static PyObject *bits_to_int(Index *x, const uint64_t *a)
{
    Py_ssize_t nw = x->nw;
    unsigned char *b = x->bytes;
    for (Py_ssize_t w = 0; w < nw; w++)
        for (int j = 0; j < 8; j++)
            b[w * 8 + j] = (unsigned char)(a[w] >> (8 * j));
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromUnsignedNativeBytes(b, (size_t)nw * 8, Py_ASNATIVEBYTES_LITTLE_ENDIAN);
#else
    return _PyLong_FromByteArray(b, (size_t)nw * 8, 1, 0);
#endif
}

static int mask_error(const char *what)
{
    PyErr_Format(PyExc_ValueError, "a group mask must be %s", what);
    return -1;
}

/* The non-negative int o (PyLong_Check'ed) as nw words in out; ValueError when it is negative or
 * has bits at nw * 64 or above (a mask of nodes never has). */
static int int_to_bits(Index *x, PyObject *o, uint64_t *out)
{
    Py_ssize_t nw = x->nw;
#if PY_VERSION_HEX < 0x030C0000 && PyLong_SHIFT == 30
    /* CPython 3.11: |ob_size| 30-bit digits, least significant first, sign in ob_size. Each word is
     * built from the 3 or 4 digits that overlap it, independently of the others (no carried state:
     * the loop pipelines) */
    Py_ssize_t ndigits = Py_SIZE(o);
    if (ndigits < 0)
        return mask_error("non-negative");
    const digit *d = ((PyLongObject *)o)->ob_digit;
    if (ndigits) {
        uint64_t high = d[ndigits - 1]; /* normalized: not 0 */
        int64_t bits = (int64_t)(ndigits - 1) * 30 + (64 - clz64(high));
        if (bits > (int64_t)nw * 64)
            return mask_error("a set of the index's nodes (it has bits beyond them)");
    }
    Py_ssize_t w = 0, k = 0; /* word w starts `shift` bits into digit k: 64 = 2 * 30 + 4 */
    int shift = 0;
    for (; w < nw && k + 3 < ndigits; w++) { /* every digit the word needs exists */
        uint64_t v = (uint64_t)d[k] >> shift | (uint64_t)d[k + 1] << (30 - shift) | (uint64_t)d[k + 2] << (60 - shift);
        if (shift > 26) /* the word's top bits come from a fourth digit */
            v |= (uint64_t)d[k + 3] << (90 - shift);
        out[w] = v;
        k += 2;
        if ((shift += 4) >= 30) {
            shift -= 30;
            k++;
        }
    }
#define DIGIT(k) ((k) < ndigits ? (uint64_t)d[k] : 0)
    for (; w < nw; w++) { /* the last words: past the int's digits, zeros */
        uint64_t v = DIGIT(k) >> shift | DIGIT(k + 1) << (30 - shift) | DIGIT(k + 2) << (60 - shift);
        if (shift > 26)
            v |= DIGIT(k + 3) << (90 - shift);
        out[w] = v;
        k += 2;
        if ((shift += 4) >= 30) {
            shift -= 30;
            k++;
        }
    }
#undef DIGIT
    return 0;
#else
    unsigned char *b = x->bytes;
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t need = PyLong_AsNativeBytes(o, b, nw * 8,
                                           Py_ASNATIVEBYTES_LITTLE_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
                                               Py_ASNATIVEBYTES_REJECT_NEGATIVE);
    if (need < 0) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            return mask_error("non-negative");
        }
        return -1;
    }
    if (need > nw * 8)
        return mask_error("a set of the index's nodes (it has bits beyond them)");
#else
    if (_PyLong_Sign(o) < 0)
        return mask_error("non-negative");
    if (_PyLong_AsByteArray((PyLongObject *)o, b, (size_t)nw * 8, 1, 0) < 0) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            return mask_error("a set of the index's nodes (it has bits beyond them)");
        }
        return -1;
    }
#endif
    for (Py_ssize_t w = 0; w < nw; w++) {
        uint64_t v = 0;
        for (int j = 7; j >= 0; j--)
            v = (v << 8) | b[w * 8 + j];
        out[w] = v;
    }
    return 0;
#endif
}

/* ------------------------------------------------------------------------------------------ */
/* the local score (shapeindex.make_refresher)                                                 */

#define ADD(a, b, out) __builtin_add_overflow((a), (b), (out))
#define SUB(a, b, out) __builtin_sub_overflow((a), (b), (out))
#define MUL(a, b, out) __builtin_mul_overflow((a), (b), (out))

static inline int exact(int64_t v) { return v >= -EXACT && v <= EXACT; }

/* ScoringStrategy.score for LeastAllocated or MostAllocated: per resource with a non-zero
 * allocatable, the resource score times its weight, averaged (floor) over their weights. The
 * arguments are node-plus-pod non-zero requests. 0 on success, 1 on overflow. */
static int fit_score(const Index *x, int64_t req_cpu, int64_t cap_cpu, int64_t req_mem, int64_t cap_mem,
                     int64_t *out)
{
    int64_t total = 0, weights = 0;
    const int64_t req[2] = {req_cpu, req_mem}, cap[2] = {cap_cpu, cap_mem}, weight[2] = {x->cpu_weight, x->mem_weight};
    for (int k = 0; k < 2; k++) {
        if (cap[k] == 0)
            continue;
        int64_t t, s;
        if (x->most) { /* most_allocated: min(requested, capacity) * 100 // capacity */
            if (MUL(req[k] < cap[k] ? req[k] : cap[k], (int64_t)TOP, &t))
                return 1;
            s = floordiv(t, cap[k]);
        }
        else if (req[k] > cap[k]) /* least_allocated: 0 over capacity */
            s = 0;
        else {
            if (SUB(cap[k], req[k], &t) || MUL(t, (int64_t)TOP, &t))
                return 1;
            s = floordiv(t, cap[k]);
        }
        if (MUL(s, weight[k], &s) || ADD(total, s, &total) || ADD(weights, weight[k], &weights))
            return 1;
    }
    *out = weights ? floordiv(total, weights) : 0;
    return 0;
}

/* int((1 - std) * 100) as balanced_allocation_score: `clamp` caps each fraction at 1 (the general
 * formula); the inlined one does not (the pod fits: its fractions are at most 1 anyway). A resource
 * with no allocatable drops out (only the general formula meets one). 0 on success, 1 when an
 * operand is not an exact double. */
static int balanced(int64_t req_cpu, int64_t cap_cpu, int64_t req_mem, int64_t cap_mem, int clamp, int64_t *out)
{
    double f[2];
    int nf = 0;
    const int64_t req[2] = {req_cpu, req_mem}, cap[2] = {cap_cpu, cap_mem};
    for (int k = 0; k < 2; k++) {
        if (cap[k] == 0)
            continue;
        if (!exact(req[k]) || !exact(cap[k]))
            return 1;
        double fraction = (double)req[k] / (double)cap[k];
        f[nf++] = clamp && fraction > 1 ? 1.0 : fraction;
    }
    double std = nf == 2 ? fabs((f[0] - f[1]) / 2) : 0.0;
    double v = (1 - std) * TOP; /* |v| <= 2**61: |fractions| <= 2**53 */
    *out = (int64_t)v;          /* truncation toward zero, as int() */
    return 0;
}

/* node state s (NodeState: class id, a_cpu, a_mem, free cpu, free memory, free ephemeral, non-zero
 * free cpu, non-zero free memory) -> the local score in *out, -1 when infeasible. 0 on success,
 * -1 with OverflowError when the arithmetic leaves what is exact here. */
static int local_score(const Index *x, const int64_t *s, int ok, int32_t *out)
{
    int64_t a_cpu = s[1], a_mem = s[2], free_cpu = s[3], free_mem = s[4], free_eph = s[5], nzf_cpu = s[6],
            nzf_mem = s[7];
    *out = -1;
    if (!(ok && x->cpu <= free_cpu && x->mem <= free_mem && x->eph <= free_eph))
        return 0;
    int64_t total = 0, t, u, rc, rm, b;
    if (x->inline_least && a_cpu && a_mem) { /* the refresher's inlined default strategy */
        int64_t lc = 0, lm = 0;
        if (!(x->nz_cpu > nzf_cpu)) {
            if (SUB(nzf_cpu, x->nz_cpu, &t) || MUL(t, (int64_t)TOP, &t))
                goto overflow;
            lc = floordiv(t, a_cpu);
        }
        if (!(x->nz_mem > nzf_mem)) {
            if (SUB(nzf_mem, x->nz_mem, &t) || MUL(t, (int64_t)TOP, &t))
                goto overflow;
            lm = floordiv(t, a_mem);
        }
        if (ADD(lc, lm, &t) || MUL(x->w_fit, floordiv(t, 2), &total))
            goto overflow;
        if (x->w_bal) {
            if (SUB(a_cpu, free_cpu, &rc) || ADD(rc, x->cpu, &rc) || SUB(a_mem, free_mem, &rm) ||
                ADD(rm, x->mem, &rm) || balanced(rc, a_cpu, rm, a_mem, 0, &b) || MUL(x->w_bal, b, &b) ||
                ADD(total, b, &total))
                goto overflow;
        }
    }
    else { /* ScoringStrategy.score and balanced_allocation_score */
        if (x->w_fit) {
            if (SUB(a_cpu, nzf_cpu, &t) || ADD(t, x->nz_cpu, &t) || SUB(a_mem, nzf_mem, &u) ||
                ADD(u, x->nz_mem, &u) || fit_score(x, t, a_cpu, u, a_mem, &b) || MUL(x->w_fit, b, &total))
                goto overflow;
        }
        if (x->w_bal) {
            if (SUB(a_cpu, free_cpu, &rc) || ADD(rc, x->cpu, &rc) || SUB(a_mem, free_mem, &rm) ||
                ADD(rm, x->mem, &rm) || balanced(rc, a_cpu, rm, a_mem, 1, &b) || MUL(x->w_bal, b, &b) ||
                ADD(total, b, &total))
                goto overflow;
        }
    }
    if (total < 0 || total > x->max_score)
        goto overflow;
    *out = (int32_t)total;
    return 0;
overflow:
    PyErr_SetString(PyExc_OverflowError,
                    "a node's state is beyond the compiled index's exact arithmetic (use the Python index)");
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* decoded node states, shared by every index                                                  */

/* A bind changes one node's NodeState tuple, and each per-shape index then reads it: decoding its 8
 * ints (reading 8 separately allocated objects) once instead of once per index is most of the
 * replay's cost. decoded[i] holds the values of states_seen[i], a strong reference to the tuple
 * they came from, so pointer equality means the same immutable tuple (no address reuse while it is
 * held). Only exact tuples of exact ints are kept: dropping one then runs no Python code (no
 * __del__), so a replay never calls back into Python. forget_states() releases them all. */
typedef struct {
    PyObject *state;
    int64_t v[8];
} Decoded;

static Decoded *decoded;
static Py_ssize_t decoded_cap;

static void forget_decoded(void)
{
    Decoded *d = decoded;
    Py_ssize_t cap = decoded_cap;
    decoded = NULL;
    decoded_cap = 0;
    for (Py_ssize_t i = 0; i < cap; i++)
        Py_XDECREF(d[i].state);
    PyMem_Free(d);
}

/* ------------------------------------------------------------------------------------------ */
/* placing a node                                                                              */

static inline void mark(uint64_t *bitmap, int32_t s) { bitmap[s >> 6] |= (uint64_t)1 << (s & 63); }
static inline void unmark(uint64_t *bitmap, int32_t s) { bitmap[s >> 6] &= ~((uint64_t)1 << (s & 63)); }

/* the highest non-empty bucket below s, or -1 */
static int32_t below(const Index *x, int32_t s)
{
    if (s <= 0)
        return -1;
    s--;
    int32_t w = s >> 6;
    uint64_t word = x->nonempty[w] & (~(uint64_t)0 >> (63 - (s & 63)));
    for (;;) {
        if (word)
            return (w << 6) + 63 - clz64(word);
        if (--w < 0)
            return -1;
        word = x->nonempty[w];
    }
}

/* Recompute node i from its state (a NodeState tuple) and move its bit. 0 done, 1 its class's
 * static filters are not known yet (set_class first; nothing changed), -1 an exception (nothing
 * changed). */
static int place(Index *x, Py_ssize_t i, PyObject *state)
{
    static const char *const what[8] = {"class id", "allocatable cpu", "allocatable memory",
                                        "free cpu", "free memory", "free ephemeral storage",
                                        "non-zero free cpu", "non-zero free memory"};
    int64_t buffer[8];
    const int64_t *s = buffer;
    if (i < decoded_cap && decoded[i].state == state)
        s = decoded[i].v; /* another index decoded this very tuple (an exact tuple of 8 ints) */
    else {
        if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) != 8) {
            PyErr_SetString(PyExc_TypeError, "a node state must be a tuple of 8 ints");
            return -1;
        }
        int exact = PyTuple_CheckExact(state);
        for (int k = 0; k < 8; k++) {
            PyObject *item = PyTuple_GET_ITEM(state, k);
            if (get_i64(item, &buffer[k], what[k]) < 0)
                return -1;
            exact &= PyLong_CheckExact(item);
        }
        if (exact) {
            if (i >= decoded_cap) {
                Py_ssize_t cap = decoded_cap ? decoded_cap : 1024;
                while (cap <= i)
                    cap *= 2;
                Decoded *grown = PyMem_Realloc(decoded, (size_t)cap * sizeof(Decoded));
                if (grown) {
                    memset(grown + decoded_cap, 0, (size_t)(cap - decoded_cap) * sizeof(Decoded));
                    decoded = grown;
                    decoded_cap = cap;
                }
            }
            if (i < decoded_cap) { /* (a failed growth only skips the cache) */
                PyObject *old = decoded[i].state;
                decoded[i].state = Py_NewRef(state);
                memcpy(decoded[i].v, buffer, sizeof buffer);
                Py_XDECREF(old); /* an exact tuple of exact ints: no Python code runs */
            }
        }
    }
    if (s[0] < 0) {
        PyErr_SetString(PyExc_ValueError, "a class id must not be negative");
        return -1;
    }
    if (s[0] >= x->n_classes || x->class_ok[s[0]] == UNKNOWN)
        return 1;
    int32_t new_, old = x->score[i];
    if (local_score(x, s, x->class_ok[s[0]], &new_) < 0)
        return -1;
    if (new_ == old)
        return 0;
    Py_ssize_t nw = x->nw, w = i >> 6;
    if (new_ >= 0 && !x->rows[new_] && !(x->rows[new_] = zalloc((size_t)nw, sizeof(uint64_t))))
        return -1; /* the one allocation, before any change */
    uint64_t bit = (uint64_t)1 << (i & 63);
    if (old < 0) {
        x->feasible[w] |= bit;
        x->count++;
        Py_CLEAR(x->feasible_int);
    }
    else {
        x->rows[old][w] &= ~bit;
        if (--x->size[old] == 0) {
            unmark(x->nonempty, old);
            if (old == x->top)
                x->top = below(x, old);
        }
    }
    if (new_ < 0) {
        x->feasible[w] &= ~bit;
        x->count--;
        Py_CLEAR(x->feasible_int);
    }
    else {
        x->rows[new_][w] |= bit;
        if (x->size[new_]++ == 0) {
            mark(x->nonempty, new_);
            if (new_ > x->top)
                x->top = new_;
        }
    }
    x->score[i] = (int16_t)new_;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* methods: configuration and catching up                                                     */

PyDoc_STRVAR(reset_doc,
"reset(n_nodes, parameters)\n--\n\n"
"Start over for ``n_nodes`` nodes, all infeasible, no class known, cursor 0. ``parameters``: the\n"
"signature and profile as ``(cpu, memory, ephemeral, nonzero_cpu, nonzero_memory, w_fit, w_bal,\n"
"inline, most, cpu_weight, memory_weight)`` (``shapeindex.local_parameters``): requests, weights\n"
"(``w_bal`` 0 for a best-effort pod), whether the refresher's inlined default strategy applies, whether\n"
"the strategy is MostAllocated (else LeastAllocated), and its resource weights.");

static PyObject *Index_reset(Index *x, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("reset", nargs, 2) < 0)
        return NULL;
    free_tables(x);
    x->cursor = 0;
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
    PyObject *p = args[1];
    if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != 11) {
        PyErr_SetString(PyExc_TypeError, "parameters must be a tuple of 11 ints");
        return NULL;
    }
    static const char *const what[11] = {"cpu request", "memory request", "ephemeral request", "non-zero cpu",
                                         "non-zero memory", "w_fit", "w_bal", "inline", "most", "cpu weight",
                                         "memory weight"};
    int64_t v[11];
    for (int k = 0; k < 11; k++)
        if (get_i64(PyTuple_GET_ITEM(p, k), &v[k], what[k]) < 0)
            return NULL;
    if (v[5] < 0 || v[6] < 0 || v[9] < 0 || v[10] < 0) {
        PyErr_SetString(PyExc_ValueError, "weights must not be negative");
        return NULL;
    }
    if (v[5] + v[6] > MAX_SCORE / TOP) {
        PyErr_SetString(PyExc_ValueError, "w_fit + w_bal is too large for the compiled index (see MAX_SCORE)");
        return NULL;
    }
    if (v[6] && !EXACT_FLOAT) {
        PyErr_SetString(PyExc_ValueError, "this build evaluates doubles in extended precision: no BalancedAllocation");
        return NULL;
    }
    x->cpu = v[0];
    x->mem = v[1];
    x->eph = v[2];
    x->nz_cpu = v[3];
    x->nz_mem = v[4];
    x->w_fit = v[5];
    x->w_bal = v[6];
    x->inline_least = v[7] != 0;
    x->most = v[8] != 0;
    x->cpu_weight = v[9];
    x->mem_weight = v[10];
    x->max_score = (int32_t)(TOP * (v[5] + v[6]));
    x->n = n;
    x->nw = ((n + 255) >> 8) << 2; /* a multiple of 4 words */
    Py_ssize_t nw = x->nw, ns = (Py_ssize_t)x->max_score + 1;
    if (!(x->score = zalloc((size_t)n, sizeof(int16_t))) || !(x->rows = zalloc((size_t)ns, sizeof(uint64_t *))) || !(x->size = zalloc((size_t)ns, sizeof(int32_t))) ||
        !(x->nonempty = zalloc((size_t)(ns + 63) / 64, sizeof(uint64_t))) ||
        !(x->feasible = zalloc((size_t)nw, sizeof(uint64_t))) || !(x->ties = zalloc((size_t)nw, sizeof(uint64_t))) ||
        !(x->hit = zalloc((size_t)nw, sizeof(uint64_t))) || !(x->bytes = zalloc((size_t)nw, 8))) {
        free_tables(x);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        x->score[i] = -1;
    x->ready = 1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(set_class_doc,
"set_class(class_id, ok)\n--\n\n"
"Whether nodes of class ``class_id`` pass the signature's static filters (``plugins.static_filter``,\n"
"computed in Python). A class's answer is set once per reset; nodes already placed are not revisited.");

static PyObject *Index_set_class(Index *x, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("set_class", nargs, 2) < 0 || check_ready(x) < 0)
        return NULL;
    int64_t cid;
    if (get_i64(args[0], &cid, "class id") < 0)
        return NULL;
    if (cid < 0 || cid >= MAX_CLASSES) {
        PyErr_SetString(PyExc_ValueError, "class id out of range");
        return NULL;
    }
    int ok = PyObject_IsTrue(args[1]);
    if (ok < 0)
        return NULL;
    if (cid >= x->n_classes) {
        Py_ssize_t cap = x->n_classes ? x->n_classes : 16;
        while (cap <= cid)
            cap *= 2;
        uint8_t *grown = PyMem_Realloc(x->class_ok, (size_t)cap);
        if (!grown)
            return PyErr_NoMemory();
        memset(grown + x->n_classes, UNKNOWN, (size_t)(cap - x->n_classes));
        x->class_ok = grown;
        x->n_classes = cap;
    }
    x->class_ok[cid] = (uint8_t)ok;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(place_all_doc,
"place_all(states, start)\n--\n\n"
"Place nodes ``start``, ``start + 1``, ... from ``states`` (a list of one NodeState per node). Returns\n"
"None when all are placed, or the index of the first node whose class is not known yet: call\n"
"``set_class`` for it, then ``place_all(states, that index)`` again.");

static PyObject *Index_place_all(Index *x, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("place_all", nargs, 2) < 0 || check_ready(x) < 0)
        return NULL;
    PyObject *states = args[0];
    if (!PyList_Check(states) || PyList_GET_SIZE(states) != x->n) {
        PyErr_SetString(PyExc_ValueError, "states must be a list with one state per node");
        return NULL;
    }
    Py_ssize_t start = get_node(args[1], x->n + 1);
    if (start < 0)
        return NULL;
    for (Py_ssize_t i = start; i < x->n; i++) {
        int r = place(x, i, PyList_GET_ITEM(states, i));
        if (r < 0)
            return NULL;
        if (r > 0)
            return PyLong_FromSsize_t(i);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(sync_doc,
"sync(log, log_base, states)\n--\n\n"
"Catch up with the fast path's change log: recompute the nodes of ``log[cursor - log_base:]`` from\n"
"``states`` and set the cursor to ``log_base + len(log)``. A node logged twice is recomputed twice, from\n"
"its current state: the second time changes nothing.\n"
"Returns None, or the index of a node whose class is not known yet: the cursor then points at its\n"
"entry; call ``set_class`` and ``sync`` again. ValueError when the log was truncated past the cursor\n"
"(refill instead).");

static PyObject *Index_sync(Index *x, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("sync", nargs, 3) < 0 || check_ready(x) < 0)
        return NULL;
    PyObject *log = args[0], *states = args[2];
    if (!PyList_Check(log) || !PyList_Check(states)) {
        PyErr_SetString(PyExc_TypeError, "log and states must be lists");
        return NULL;
    }
    int64_t base;
    if (get_i64(args[1], &base, "log_base") < 0)
        return NULL;
    long long start = x->cursor - base;
    if (start < 0) {
        PyErr_SetString(PyExc_ValueError, "the change log was truncated past the cursor: refill the index");
        return NULL;
    }
    Py_ssize_t end = PyList_GET_SIZE(log);
    if (start >= end)
        Py_RETURN_NONE;
    Py_ssize_t n_states = PyList_GET_SIZE(states), limit = x->n < n_states ? x->n : n_states;
    for (Py_ssize_t k = (Py_ssize_t)start; k < end; k++) {
        Py_ssize_t i = get_node(PyList_GET_ITEM(log, k), limit);
        if (i < 0) {
            x->cursor = base + k;
            return NULL;
        }
        int r = place(x, i, PyList_GET_ITEM(states, i));
        if (r != 0) {
            x->cursor = base + k; /* entries before k are applied: resume here */
            return r < 0 ? NULL : PyLong_FromSsize_t(i);
        }
    }
    x->cursor = base + (long long)end;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* methods: decisions                                                                          */

PyDoc_STRVAR(best_doc,
"best()\n--\n\n"
"``(score, count)`` of the best bucket, whose nodes become the tie set (the plain profile's decision:\n"
"no normalized plugin). IndexError when no node is feasible.");

static PyObject *Index_best(Index *x, PyObject *Py_UNUSED(ignored))
{
    if (check_ready(x) < 0)
        return NULL;
    if (x->top < 0) {
        PyErr_SetString(PyExc_IndexError, "no feasible node");
        return NULL;
    }
    memcpy(x->ties, x->rows[x->top], (size_t)x->nw * sizeof(uint64_t));
    x->last_count = x->size[x->top];
    return Py_BuildValue("(in)", (int)x->top, x->last_count);
}

/* hit = a & b over nw words; whether any bit is set */
static inline int and_any(uint64_t *restrict hit, const uint64_t *restrict a, const uint64_t *restrict b,
                          Py_ssize_t nw)
{
    uint64_t any = 0;
    for (Py_ssize_t w = 0; w < nw; w++) {
        uint64_t v = a[w] & b[w];
        hit[w] = v;
        any |= v;
    }
    return any != 0;
}

static inline void or_into(uint64_t *restrict ties, const uint64_t *restrict a, Py_ssize_t nw)
{
    for (Py_ssize_t w = 0; w < nw; w++)
        ties[w] |= a[w];
}

static int grow_groups(Index *x, Py_ssize_t ng)
{
    if (ng <= x->group_cap)
        return 0;
    Py_ssize_t cap = x->group_cap ? x->group_cap : 8;
    while (cap < ng)
        cap *= 2;
    uint64_t *masks = zalloc((size_t)cap * (size_t)x->nw, sizeof(uint64_t));
    int64_t *offsets = zalloc((size_t)cap, sizeof(int64_t));
    uint8_t *converted = zalloc((size_t)cap, 1);
    if (!masks || !offsets || !converted) {
        PyMem_Free(masks);
        PyMem_Free(offsets);
        PyMem_Free(converted);
        return -1;
    }
    PyMem_Free(x->masks);
    PyMem_Free(x->offsets);
    PyMem_Free(x->converted);
    x->masks = masks;
    x->offsets = offsets;
    x->converted = converted;
    x->group_cap = cap;
    return 0;
}

PyDoc_STRVAR(best_total_doc,
"best_total(groups)\n--\n\n"
"``(best, count)``: the highest total (local score + group offset) and how many nodes have it, which\n"
"become the tie set. ``groups``: ``[(offset, mask)]`` by offset descending, masks non-negative ints\n"
"over the nodes (``shapeindex.best_total`` is the reference: the buckets are walked from the top,\n"
"stopping once no offset can reach the best; a bucket's nodes count in the first group, by offset,\n"
"that holds any of them). A mask is converted when the walk first reads it. OverflowError for an\n"
"offset outside int64.");

static PyObject *Index_best_total(Index *x, PyObject *groups)
{
    if (check_ready(x) < 0)
        return NULL;
    Py_ssize_t ng;
    PyObject *const *items;
    if (PyList_Check(groups)) {
        ng = PyList_GET_SIZE(groups);
        items = (PyObject *const *)((PyListObject *)groups)->ob_item;
    }
    else if (PyTuple_Check(groups)) {
        ng = PyTuple_GET_SIZE(groups);
        items = &PyTuple_GET_ITEM(groups, 0);
    }
    else {
        PyErr_Format(PyExc_TypeError, "groups must be a list or tuple, not %.100s", Py_TYPE(groups)->tp_name);
        return NULL;
    }
    if (ng == 0) {
        PyErr_SetString(PyExc_IndexError, "no groups");
        return NULL;
    }
    if (grow_groups(x, ng) < 0)
        return NULL;
    for (Py_ssize_t g = 0; g < ng; g++) {
        PyObject *item = items[g];
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_SetString(PyExc_TypeError, "a group must be a tuple (offset, mask)");
            return NULL;
        }
        if (get_i64(PyTuple_GET_ITEM(item, 0), &x->offsets[g], "an offset") < 0)
            return NULL;
        if (!PyLong_Check(PyTuple_GET_ITEM(item, 1))) {
            PyErr_SetString(PyExc_TypeError, "a group mask must be an int");
            return NULL;
        }
        x->converted[g] = 0;
    }
    Py_ssize_t nw = x->nw;
    const int64_t *offsets = x->offsets;
    uint64_t *masks = x->masks, *ties = x->ties, *hit = x->hit;
    int plain = 0; /* one group of every feasible node: the best bucket is the tie set */
    if (ng == 1) {
        PyObject *mask = PyTuple_GET_ITEM(items[0], 1);
        if (x->feasible_int && mask == x->feasible_int)
            plain = 1;
        else {
            if (int_to_bits(x, mask, masks) < 0)
                return NULL;
            x->converted[0] = 1;
            plain = memcmp(masks, x->feasible, (size_t)nw * sizeof(uint64_t)) == 0;
        }
    }
    int64_t best = -1, total, reach;
    Py_ssize_t count = 0;
    memset(ties, 0, (size_t)nw * sizeof(uint64_t));
    for (int32_t s = x->top; s >= 0; s = below(x, s)) {
        if (ADD((int64_t)s, offsets[0], &reach))
            goto overflow;
        if (reach < best)
            break;
        const uint64_t *members = x->rows[s];
        if (plain) {
            memcpy(ties, members, (size_t)nw * sizeof(uint64_t));
            x->last_count = x->size[s];
            return Py_BuildValue("(Ln)", (long long)reach, x->last_count);
        }
        for (Py_ssize_t g = 0; g < ng; g++) {
            if (ADD((int64_t)s, offsets[g], &total))
                goto overflow;
            if (total < best)
                break;
            uint64_t *mask = masks + (size_t)g * (size_t)nw;
            if (!x->converted[g]) {
                if (int_to_bits(x, PyTuple_GET_ITEM(items[g], 1), mask) < 0)
                    return NULL;
                x->converted[g] = 1;
            }
            if (and_any(hit, members, mask, nw)) {
                if (total > best) {
                    best = total;
                    memcpy(ties, hit, (size_t)nw * sizeof(uint64_t));
                }
                else
                    or_into(ties, hit, nw);
                break;
            }
        }
    }
    count = count_bits(ties, nw);
    x->last_count = count;
    return Py_BuildValue("(Ln)", (long long)best, count);
overflow:
    PyErr_SetString(PyExc_OverflowError, "score + offset does not fit in 64 bits");
    return NULL;
}

/* the node index of the r-th tie of the last decision (0 <= r < last_count) */
static PyObject *tie_at(Index *x, Py_ssize_t r)
{
    Py_ssize_t i = select_bit(x->ties, x->nw, r);
    if (i < 0) {
        PyErr_SetString(PyExc_SystemError, "tie count out of step"); /* unreachable */
        return NULL;
    }
    return PyLong_FromSsize_t(i);
}

PyDoc_STRVAR(pick_doc, "pick(r)\n--\n\nThe node index of the r-th (0-based, node-index order) tie of the last decision.");

static PyObject *Index_pick(Index *x, PyObject *arg)
{
    if (!PyLong_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "r must be an int");
        return NULL;
    }
    Py_ssize_t r = PyLong_AsSsize_t(arg);
    if (r == -1 && PyErr_Occurred())
        return NULL;
    if (!x->ready || r < 0 || r >= x->last_count) {
        PyErr_SetString(PyExc_IndexError, "no such tie in the last decision");
        return NULL;
    }
    return tie_at(x, r);
}

PyDoc_STRVAR(draw_doc,
"draw(rng)\n--\n\n"
"The node index of the last decision's tie that ``rng`` draws: ``pick(rng.randrange(count))``, drawn in C\n"
"when ``rng`` is exactly the type registered with ``set_random`` (the same draw), and ``pick(0)`` with no\n"
"draw when one node is best.");

static PyObject *Index_draw(Index *x, PyObject *rng)
{
    if (!x->ready || x->last_count < 1) {
        PyErr_SetString(PyExc_IndexError, "no tie to draw from: decide with best() or best_total() first");
        return NULL;
    }
    Py_ssize_t r = 0;
    if (x->last_count > 1) {
        int drawn = draw_below(rng, x->last_count, &r);
        if (drawn < 0)
            return NULL;
        if (!drawn) { /* any other generator draws as the Python engine draws: its own randrange */
            PyObject *v = PyObject_CallMethod(rng, "randrange", "n", x->last_count);
            if (!v)
                return NULL;
            r = PyLong_AsSsize_t(v);
            Py_DECREF(v);
            if (r == -1 && PyErr_Occurred())
                return NULL;
            if (r < 0 || r >= x->last_count) {
                PyErr_Format(PyExc_ValueError, "rng.randrange(%zd) answered %zd", x->last_count, r);
                return NULL;
            }
        }
    }
    return tie_at(x, r);
}

PyDoc_STRVAR(score_of_doc, "score_of(i)\n--\n\nNode i's local score, or None when it is infeasible.");

static PyObject *Index_score_of(Index *x, PyObject *arg)
{
    if (check_ready(x) < 0)
        return NULL;
    Py_ssize_t i = get_node(arg, x->n);
    if (i < 0)
        return NULL;
    if (x->score[i] < 0)
        Py_RETURN_NONE;
    return PyLong_FromLong(x->score[i]);
}

PyDoc_STRVAR(snapshot_doc,
"snapshot()\n--\n\n"
"``(scores, {score: (bits, size)}, feasible, count)``: the whole index as Python values (per node\n"
"score or None; buckets as int bitsets), to compare with ``ScoreIndex.snapshot`` in tests.");

static PyObject *Index_snapshot(Index *x, PyObject *Py_UNUSED(ignored))
{
    if (check_ready(x) < 0)
        return NULL;
    PyObject *scores = NULL, *buckets = NULL, *feasible = NULL, *out = NULL;
    if (!(scores = PyList_New(x->n)) || !(buckets = PyDict_New()))
        goto done;
    for (Py_ssize_t i = 0; i < x->n; i++) {
        PyObject *v = x->score[i] < 0 ? Py_NewRef(Py_None) : PyLong_FromLong(x->score[i]);
        if (!v)
            goto done;
        PyList_SET_ITEM(scores, i, v);
    }
    for (int32_t s = x->top; s >= 0; s = below(x, s)) {
        PyObject *bits = bits_to_int(x, x->rows[s]);
        PyObject *value = bits ? Py_BuildValue("(Ni)", bits, (int)x->size[s]) : NULL;
        PyObject *key = value ? PyLong_FromLong(s) : NULL;
        int failed = !key || PyDict_SetItem(buckets, key, value) < 0;
        Py_XDECREF(key);
        Py_XDECREF(value);
        if (failed)
            goto done;
    }
    if (!(feasible = bits_to_int(x, x->feasible)))
        goto done;
    out = Py_BuildValue("(OOOn)", scores, buckets, feasible, x->count);
done:
    Py_XDECREF(scores);
    Py_XDECREF(buckets);
    Py_XDECREF(feasible);
    return out;
}

PyDoc_STRVAR(forget_states_doc,
"forget_states()\n--\n\n"
"Release the decoded node states the indexes share (the NodeState tuples they hold, one per node\n"
"index seen). Never needed for correctness; for tests counting references, or to free memory.");

static PyObject *module_forget_states(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    forget_decoded();
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"forget_states", (PyCFunction)module_forget_states, METH_NOARGS, forget_states_doc},
    {"set_random", (PyCFunction)set_random, METH_O, SET_RANDOM_DOC},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef Index_methods[] = {
    {"reset", (PyCFunction)(void (*)(void))Index_reset, METH_FASTCALL, reset_doc},
    {"set_class", (PyCFunction)(void (*)(void))Index_set_class, METH_FASTCALL, set_class_doc},
    {"place_all", (PyCFunction)(void (*)(void))Index_place_all, METH_FASTCALL, place_all_doc},
    {"sync", (PyCFunction)(void (*)(void))Index_sync, METH_FASTCALL, sync_doc},
    {"best", (PyCFunction)Index_best, METH_NOARGS, best_doc},
    {"best_total", (PyCFunction)Index_best_total, METH_O, best_total_doc},
    {"pick", (PyCFunction)Index_pick, METH_O, pick_doc},
    {"draw", (PyCFunction)Index_draw, METH_O, draw_doc},
    {"score_of", (PyCFunction)Index_score_of, METH_O, score_of_doc},
    {"snapshot", (PyCFunction)Index_snapshot, METH_NOARGS, snapshot_doc},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------------------------------ */
/* attributes                                                                                  */

static PyObject *get_feasible(Index *x, void *Py_UNUSED(closure))
{
    if (!x->ready)
        return PyLong_FromLong(0);
    if (!x->feasible_int && !(x->feasible_int = bits_to_int(x, x->feasible)))
        return NULL;
    return Py_NewRef(x->feasible_int);
}

static PyObject *get_cursor(Index *x, void *Py_UNUSED(closure)) { return PyLong_FromLongLong(x->cursor); }

static int set_cursor(Index *x, PyObject *value, void *Py_UNUSED(closure))
{
    return set_i64_attribute(&x->cursor, value, "cursor");
}

static PyObject *get_count(Index *x, void *Py_UNUSED(closure)) { return PyLong_FromSsize_t(x->count); }
static PyObject *get_n_nodes(Index *x, void *Py_UNUSED(closure)) { return PyLong_FromSsize_t(x->n); }
static PyObject *get_max_score(Index *x, void *Py_UNUSED(closure)) { return PyLong_FromLong(x->max_score); }
static PyObject *get_last_count(Index *x, void *Py_UNUSED(closure)) { return PyLong_FromSsize_t(x->last_count); }

static PyGetSetDef Index_getset[] = {
    {"feasible", (getter)get_feasible, NULL, "the feasible nodes as an int (the same object until they change)",
     NULL},
    {"count", (getter)get_count, NULL, "how many nodes are feasible", NULL},
    {"cursor", (getter)get_cursor, (setter)set_cursor, "log position caught up to (log_base + index)", NULL},
    {"n_nodes", (getter)get_n_nodes, NULL, "nodes since the last reset", NULL},
    {"max_score", (getter)get_max_score, NULL, "the highest local score: 100 x (w_fit + w_bal)", NULL},
    {"last_count", (getter)get_last_count, NULL, "the last decision's tie count (-1: none since reset)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(Index_doc,
"Index()\n--\n\n"
"One pod signature's score index in uint64-word bitsets: every node's local score, the nodes\n"
"bucketed by it, the feasible nodes, and the decisions read off them (see shapeindex.py, whose\n"
"ScoreIndex it must match bit for bit). Configure with reset(), fill with set_class() and\n"
"place_all(), follow the change log with sync(), decide with best() or best_total(), then pick().\n"
"shapeindex.CompiledScoreIndex subclasses it.");

static PyTypeObject IndexType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "podquake.model.scheduling._shapeindex.Index",
    .tp_basicsize = sizeof(Index),
    .tp_itemsize = 0,
    .tp_dealloc = (destructor)Index_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = Index_doc,
    .tp_methods = Index_methods,
    .tp_getset = Index_getset,
    .tp_new = Index_new,
};

PyDoc_STRVAR(module_doc,
"The compiled engine of the per-shape score index (shapeindex.py): local scores, buckets and the\n"
"decisions read off them for one pod signature, on uint64-word bitsets. The Python ScoreIndex is\n"
"the reference it must match bit for bit, and the fallback when this module is not built.");

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "podquake.model.scheduling._shapeindex",
    .m_doc = module_doc,
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__shapeindex(void)
{
    bitset_init();
    if (PyType_Ready(&IndexType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m)
        return NULL;
    if (PyModule_AddType(m, &IndexType) < 0 || PyModule_AddIntConstant(m, "MAX_SCORE", MAX_SCORE) < 0 ||
        PyModule_AddIntConstant(m, "EXACT_FLOAT", EXACT_FLOAT) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
