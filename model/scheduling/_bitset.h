/*
 * Bitsets of uint64 words for the compiled scheduling cores (_leastalloc.c, _shapeindex.c):
 * count the set bits of a word array, find the r-th set bit, ctz/clz of a word.
 *
 * Population counts. Baseline x86-64 has no POPCNT instruction, so __builtin_popcountll becomes a
 * libgcc call there; the word-array helpers come in two builds, one for CPUs with POPCNT (chosen
 * at import by bitset_init() with __builtin_cpu_supports, no -march flag needed) and a portable one.
 * Each including module gets its own static copies; call bitset_init() once from its PyInit.
 */
#ifndef PODQUAKE_BITSET_H
#define PODQUAKE_BITSET_H

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

#endif /* PODQUAKE_BITSET_H */
