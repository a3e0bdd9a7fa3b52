/*
 * What the compiled scheduling cores (_leastalloc.c, _shapeindex.c) share: bitsets of uint64 words
 * (count the set bits of a word array, find the r-th set bit, ctz/clz of a word), reading a Python
 * int into int64 without calling back into Python, Python's floor division, a checked zeroed
 * allocation, the arity check of METH_FASTCALL methods, an integer attribute setter, and
 * random.Random.randrange's tie draw.
 *
 * Population counts. Baseline x86-64 has no POPCNT instruction, so __builtin_popcountll becomes a
 * libgcc call there; the word-array helpers come in two builds, one for CPUs with POPCNT (chosen
 * at import by bitset_init() with __builtin_cpu_supports, no -march flag needed) and a portable one.
 * Each including module gets its own static copies; call bitset_init() once from its PyInit.
 */
#ifndef PODQUAKE_CORES_H
#define PODQUAKE_CORES_H

#include <Python.h>
#include <stdint.h>

static inline int ctz64(uint64_t x) { return __builtin_ctzll(x); }
static inline int clz64(uint64_t x) { return __builtin_clzll(x); }

static inline int popcount_swar(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}

/* count the set bits of a[0..n) */
#define DEFINE_COUNT(name, attr, pop)                                                                           \
    attr static Py_ssize_t name(const uint64_t *a, Py_ssize_t n)                                                \
    {                                                                                                            \
        Py_ssize_t total = 0;                                                                                    \
        for (Py_ssize_t w = 0; w < n; w++)                                                                       \
            total += pop(a[w]);                                                                                  \
        return total;                                                                                            \
    }

/* the index of the r-th (0-based) set bit of a[0..n), or -1 */
#define DEFINE_SELECT(name, attr, pop)                                                                          \
    attr static Py_ssize_t name(const uint64_t *a, Py_ssize_t n, Py_ssize_t r)                                  \
    {                                                                                                            \
        for (Py_ssize_t w = 0; w < n; w++) {                                                                     \
            uint64_t x = a[w];                                                                                   \
            Py_ssize_t k = pop(x);                                                                               \
            if (r >= k) {                                                                                        \
                r -= k;                                                                                          \
                continue;                                                                                        \
            }                                                                                                    \
            while (r--)                                                                                          \
                x &= x - 1;                                                                                      \
            return (w << 6) + ctz64(x);                                                                          \
        }                                                                                                        \
        return -1;                                                                                               \
    }

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define POPCNT_DISPATCH 1
#define HW_ATTR __attribute__((target("popcnt")))
DEFINE_COUNT(count_bits_hw, HW_ATTR, __builtin_popcountll)
DEFINE_SELECT(select_bit_hw, HW_ATTR, __builtin_popcountll)
DEFINE_COUNT(count_bits_sw, , popcount_swar)
DEFINE_SELECT(select_bit_sw, , popcount_swar)
static Py_ssize_t (*count_bits)(const uint64_t *, Py_ssize_t) = count_bits_sw;
static Py_ssize_t (*select_bit)(const uint64_t *, Py_ssize_t, Py_ssize_t) = select_bit_sw;
#else /* elsewhere the builtin is the instruction (aarch64: cnt) or libgcc's best */
DEFINE_COUNT(count_bits, , __builtin_popcountll)
DEFINE_SELECT(select_bit, , __builtin_popcountll)
#endif

/* choose the POPCNT builds when the CPU has the instruction */
static inline void bitset_init(void)
{
#ifdef POPCNT_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("popcnt")) {
        count_bits = count_bits_hw;
        select_bit = select_bit_hw;
    }
#endif
}

/* a zeroed array of count (at least 1) items of size bytes, or NULL with MemoryError set */
static void *zalloc(size_t count, size_t size)
{
    if (count == 0)
        count = 1;
    if (size && count > PY_SSIZE_T_MAX / size) {
        PyErr_NoMemory();
        return NULL;
    }
    void *p = PyMem_Calloc(count, size);
    if (!p)
        PyErr_NoMemory();
    return p;
}

/* o (an int, no __index__) as int64: TypeError if it is not an int, OverflowError beyond 64 bits */
static int get_i64(PyObject *o, int64_t *out, const char *what)
{
    if (!PyLong_Check(o)) { /* no __index__: nothing may call back into Python */
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000 && PyLong_SHIFT == 30
    /* CPython 3.11: an int of at most two 30-bit digits (|x| < 2**60, every NodeState value of a real
     * node) read from its digits, without a call: replaying the change log reads 8 per node */
    Py_ssize_t size = Py_SIZE(o);
    if (size >= -2 && size <= 2) {
        const digit *d = ((PyLongObject *)o)->ob_digit;
        int64_t v = size == 0 ? 0 : (int64_t)d[0] | (size == 2 || size == -2 ? (int64_t)d[1] << 30 : 0);
        *out = size < 0 ? -v : v;
        return 0;
    }
#endif
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow) {
        PyErr_Format(PyExc_OverflowError, "%s does not fit in 64 bits", what);
        return -1;
    }
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* a settable integer attribute's setter body: *field = value (an int within 64 bits), refusing deletion */
static int set_i64_attribute(long long *field, PyObject *value, const char *name)
{
    if (value == NULL) {
        PyErr_Format(PyExc_AttributeError, "cannot delete %s", name);
        return -1;
    }
    int64_t v;
    if (get_i64(value, &v, name) < 0)
        return -1;
    *field = v;
    return 0;
}

/* TypeError unless a METH_FASTCALL method got exactly want arguments */
static int check_args(const char *name, Py_ssize_t nargs, Py_ssize_t want)
{
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments", name, want);
        return -1;
    }
    return 0;
}

/*
 * The tie draw, in C. random.Random.randrange(n) for n > 0 is, in CPython 3.11 to 3.13 (random.py,
 * _randbelow_with_getrandbits): k = n.bit_length(), then getrandbits(k) until the result is below n.
 * draw_below() does exactly that, calling the generator's own getrandbits, for an rng whose type is
 * exactly the registered random.Random; any other rng (a subclass may override randrange) is drawn
 * by the Python caller. Nothing is registered until the Python side (compiled.py) has checked, at
 * import, that this interpreter's randrange is still that algorithm (set_random(random.Random) or None).
 */
static PyObject *draw_random_type;  /* the registered random.Random, or NULL: every draw is Python's */
static PyObject *draw_getrandbits;  /* the interned name "getrandbits" */

static PyObject *set_random(PyObject *Py_UNUSED(module), PyObject *type)
{
    if (type != Py_None && !PyType_Check(type)) {
        PyErr_SetString(PyExc_TypeError, "set_random() takes random.Random or None");
        return NULL;
    }
    if (!draw_getrandbits && !(draw_getrandbits = PyUnicode_InternFromString("getrandbits")))
        return NULL;
    Py_XSETREF(draw_random_type, type == Py_None ? NULL : Py_NewRef(type));
    Py_RETURN_NONE;
}

#define SET_RANDOM_DOC                                                                                           \
    "set_random(random_type)\n--\n\n"                                                                            \
    "Let the cores draw ties themselves for generators of exactly ``random_type`` (random.Random, whose\n"     \
    "randrange(n) is getrandbits(n.bit_length()) until below n), or never (None, the default)."

/* 1 with *out = rng.randrange(n) when rng is exactly the registered type; 0 when the caller must draw
 * (nothing drawn); -1 with an exception set when getrandbits failed. n > 0. */
static int draw_below(PyObject *rng, Py_ssize_t n, Py_ssize_t *out)
{
    if (!draw_random_type || (PyObject *)Py_TYPE(rng) != draw_random_type)
        return 0;
    int k = 0;
    for (size_t m = (size_t)n; m; m >>= 1)
        k++;
    PyObject *bits = PyLong_FromLong(k); /* a cached small int */
    if (!bits)
        return -1;
    for (;;) {
        PyObject *r = PyObject_CallMethodOneArg(rng, draw_getrandbits, bits);
        if (!r) {
            Py_DECREF(bits);
            return -1;
        }
        Py_ssize_t v = PyLong_AsSsize_t(r);
        Py_DECREF(r);
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(bits);
            return -1;
        }
        if (v >= 0 && v < n) {
            Py_DECREF(bits);
            *out = v;
            return 1;
        }
    }
}

/* Python's floor division (b != 0, and not INT64_MIN / -1) */
static inline int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

#endif /* PODQUAKE_CORES_H */
