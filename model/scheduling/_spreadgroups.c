/*
 * podquake.model.scheduling._spreadgroups: PodTopologySpread's score groups, compiled.
 *
 * What it does. ``Spreading.score_groups`` (``spreading.py``) splits the feasible nodes of a decision
 * into (node class, hostname level) groups that share one raw PodTopologySpread score, normalizes
 * the raw scores as upstream does (podtopologyspread/scoring.go), adds each class's other
 * normalized plugins' offset, and merges the groups with equal totals. This file is that last step,
 * ``score_groups(kept, terms, host, ignored, offsets, weight, top)``, over the same Python objects
 * the Python code reads (``_groups_python`` in ``spreading.py`` is the reference and the fallback):
 *
 *   kept     [(class id, mask, before, has_host, after)]: the classes with every required key, their
 *            feasible nodes (a Python int bitset) and their domain terms before and after the
 *            hostname term, as (constraint index, domain value) pairs;
 *   terms    [dict value -> float]: per constraint, count x weight + (maxSkew - 1), this decision's;
 *   host     None, or (any, levels, weight, skew): the hostname constraint's tracker (nodes with at
 *            least one matching pod, {k: nodes with exactly k}) and its weight and skew;
 *   ignored  [(class id, mask)]: classes lacking a required key (they score 0);
 *   offsets  {class id: int}; weight: PodTopologySpread's plugin weight; top: MaxNodeScore.
 *
 * It returns ``[(offset, mask)]`` by offset descending, exactly what the Python code returns.
 *
 * Why. This runs once per decision of the kube default profile; in Python it is ~60 lines
 * executed (~20 us on the benchmark machine, a third of a decision); here it is the ~15 big-int
 * operations (PyNumber_And and friends, as Python does them) and a few dict lookups.
 *
 * Exactness. The floats are added in the same order as the Python code (Go's order: the terms
 * before the hostname term, the hostname term, the terms after it, from 0.0), with the same IEEE
 * double operations; the rounding is Go's math.Round for a non-negative score, as in Python. The
 * integer normalization and offsets use int64 with overflow checks: OverflowError if a value does
 * not fit, and ``spreading.py`` then uses the Python code. Bad arguments raise TypeError.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

typedef struct {
    long long cid;
    PyObject *mask; /* borrowed from kept, or a new reference from an operation (owned) */
    int owned;
    long long raw;
} Part;

typedef struct {
    long long offset;
    PyObject *mask; /* owned */
} Group;

static double term_of(PyObject *terms, PyObject *pair)
{
    /* terms[i][value] as a double, -1.0 with an exception set on failure (terms are never negative
     * in a consistent call, so the caller checks PyErr_Occurred only when it sees -1.0) */
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        PyErr_SetString(PyExc_TypeError, "a term is an (index, value) pair");
        return -1.0;
    }
    Py_ssize_t i = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
    if (i == -1 && PyErr_Occurred())
        return -1.0;
    if (i < 0 || i >= PyList_GET_SIZE(terms)) {
        PyErr_SetString(PyExc_IndexError, "a term's constraint index is out of range");
        return -1.0;
    }
    PyObject *table = PyList_GET_ITEM(terms, i);
    if (!PyDict_CheckExact(table)) {
        PyErr_SetString(PyExc_TypeError, "terms holds a dict per constraint");
        return -1.0;
    }
    PyObject *value = PyDict_GetItemWithError(table, PyTuple_GET_ITEM(pair, 1));
    if (value == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, PyTuple_GET_ITEM(pair, 1));
        return -1.0;
    }
    if (!PyFloat_CheckExact(value)) {
        PyErr_SetString(PyExc_TypeError, "a term is a float");
        return -1.0;
    }
    return PyFloat_AS_DOUBLE(value);
}

static int add_terms(PyObject *terms, PyObject *pairs, double *score)
{
    if (!PyTuple_Check(pairs)) {
        PyErr_SetString(PyExc_TypeError, "a class's terms are a tuple of (index, value) pairs");
        return -1;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(pairs); k++) {
        double term = term_of(terms, PyTuple_GET_ITEM(pairs, k));
        if (term == -1.0 && PyErr_Occurred())
            return -1;
        *score += term;
    }
    return 0;
}

static int add_part(Part **parts, Py_ssize_t *n, Py_ssize_t *cap, long long cid, PyObject *mask, int owned,
                    long long raw)
{
    if (*n == *cap) {
        Py_ssize_t grown = *cap ? *cap * 2 : 16;
        Part *more = PyMem_Realloc(*parts, (size_t)grown * sizeof(Part));
        if (more == NULL) {
            if (owned)
                Py_DECREF(mask);
            PyErr_NoMemory();
            return -1;
        }
        *parts = more;
        *cap = grown;
    }
    (*parts)[*n] = (Part){cid, mask, owned, raw};
    (*n)++;
    return 0;
}

static long long go_round(double score)
{
    long long raw = (long long)score; /* int(score): the score is non-negative and small */
    if (score - (double)raw >= 0.5)
        raw += 1;
    return raw;
}

/* merge (offset, mask) into groups: OR into the group with that offset, or a new group */
static int merge(Group *groups, Py_ssize_t *n, long long offset, PyObject *mask)
{
    for (Py_ssize_t g = 0; g < *n; g++) {
        if (groups[g].offset == offset) {
            PyObject *merged = PyNumber_Or(groups[g].mask, mask);
            if (merged == NULL)
                return -1;
            Py_SETREF(groups[g].mask, merged);
            return 0;
        }
    }
    Py_INCREF(mask);
    groups[*n] = (Group){offset, mask};
    (*n)++;
    return 0;
}

static int offset_of(PyObject *offsets, long long cid, long long *offset)
{
    PyObject *key = PyLong_FromLongLong(cid);
    if (key == NULL)
        return -1;
    PyObject *value = PyDict_GetItemWithError(offsets, key);
    if (value == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, key);
        Py_DECREF(key);
        return -1;
    }
    Py_DECREF(key);
    *offset = PyLong_AsLongLong(value);
    if (*offset == -1 && PyErr_Occurred())
        return -1;
    return 0;
}

static int class_entry(PyObject *entry, long long *cid, PyObject **mask)
{
    *cid = PyLong_AsLongLong(PyTuple_GET_ITEM(entry, 0));
    if (*cid == -1 && PyErr_Occurred())
        return -1;
    *mask = PyTuple_GET_ITEM(entry, 1);
    if (!PyLong_CheckExact(*mask)) {
        PyErr_SetString(PyExc_TypeError, "a class's mask is an int");
        return -1;
    }
    return 0;
}

static PyObject *score_groups(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *kept, *terms, *host, *ignored, *offsets;
    long long weight, top;
    if (!PyArg_ParseTuple(args, "O!O!OO!O!LL:score_groups", &PyList_Type, &kept, &PyList_Type, &terms, &host,
                          &PyList_Type, &ignored, &PyDict_Type, &offsets, &weight, &top))
        return NULL;
    PyObject *any_host = NULL, *levels = NULL;
    double host_weight = 0.0, host_skew = 0.0;
    if (host != Py_None) {
        if (!PyTuple_Check(host) || PyTuple_GET_SIZE(host) != 4 || !PyLong_CheckExact(PyTuple_GET_ITEM(host, 0)) ||
            !PyDict_CheckExact(PyTuple_GET_ITEM(host, 1)) || !PyFloat_CheckExact(PyTuple_GET_ITEM(host, 2)) ||
            !PyFloat_CheckExact(PyTuple_GET_ITEM(host, 3))) {
            PyErr_SetString(PyExc_TypeError, "host is None or (any: int, levels: dict, weight: float, skew: float)");
            return NULL;
        }
        any_host = PyTuple_GET_ITEM(host, 0);
        levels = PyTuple_GET_ITEM(host, 1);
        host_weight = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(host, 2));
        host_skew = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(host, 3));
    }
    Part *parts = NULL;
    Py_ssize_t n_parts = 0, cap = 0;
    Group *groups = NULL;
    Py_ssize_t n_groups = 0;
    PyObject *result = NULL;
    long long high = -1, low = -1;

    for (Py_ssize_t c = 0; c < PyList_GET_SIZE(kept); c++) {
        PyObject *entry = PyList_GET_ITEM(kept, c);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 5) {
            PyErr_SetString(PyExc_TypeError, "kept holds (class id, mask, before, has_host, after) tuples");
            goto done;
        }
        long long cid;
        PyObject *mask;
        if (class_entry(entry, &cid, &mask) < 0)
            goto done;
        double before = 0.0;
        if (add_terms(terms, PyTuple_GET_ITEM(entry, 2), &before) < 0)
            goto done;
        int has_host = PyObject_IsTrue(PyTuple_GET_ITEM(entry, 3));
        if (has_host < 0)
            goto done;
        PyObject *after = PyTuple_GET_ITEM(entry, 4);
        Py_ssize_t first = n_parts;
        if (has_host && any_host != NULL) {
            /* the parts, as the Python code lists them: level 0 first, then the levels in dict order */
            PyObject *hit = PyNumber_And(mask, any_host);
            if (hit == NULL)
                goto done;
            int whole = PyObject_RichCompareBool(hit, mask, Py_EQ);
            if (whole < 0) {
                Py_DECREF(hit);
                goto done;
            }
            if (!whole) {
                PyObject *zero = PyNumber_Xor(mask, hit);
                if (zero == NULL || add_part(&parts, &n_parts, &cap, cid, zero, 1, 0) < 0) {
                    Py_DECREF(hit);
                    goto done;
                }
                double score = before + host_skew; /* level 0: 0 x weight + skew */
                if (add_terms(terms, after, &score) < 0) {
                    Py_DECREF(hit);
                    goto done;
                }
                parts[n_parts - 1].raw = go_round(score);
            }
            int any_hit = PyObject_IsTrue(hit);
            if (any_hit < 0) {
                Py_DECREF(hit);
                goto done;
            }
            if (any_hit) {
                Py_ssize_t pos = 0;
                PyObject *level, *bits;
                while (PyDict_Next(levels, &pos, &level, &bits)) {
                    PyObject *sub = PyNumber_And(hit, bits);
                    if (sub == NULL) {
                        Py_DECREF(hit);
                        goto done;
                    }
                    int nonzero = PyObject_IsTrue(sub);
                    if (nonzero <= 0) {
                        Py_DECREF(sub);
                        if (nonzero < 0) {
                            Py_DECREF(hit);
                            goto done;
                        }
                        continue;
                    }
                    long long k = PyLong_AsLongLong(level);
                    if (k == -1 && PyErr_Occurred()) {
                        Py_DECREF(sub);
                        Py_DECREF(hit);
                        goto done;
                    }
                    if (add_part(&parts, &n_parts, &cap, cid, sub, 1, 0) < 0) {
                        Py_DECREF(hit);
                        goto done;
                    }
                    double score = before + ((double)k * host_weight + host_skew);
                    if (add_terms(terms, after, &score) < 0) {
                        Py_DECREF(hit);
                        goto done;
                    }
                    parts[n_parts - 1].raw = go_round(score);
                }
            }
            Py_DECREF(hit);
        } else {
            double score = before;
            if (add_terms(terms, after, &score) < 0)
                goto done;
            if (add_part(&parts, &n_parts, &cap, cid, mask, 0, go_round(score)) < 0)
                goto done;
        }
        for (Py_ssize_t q = first; q < n_parts; q++) {
            long long raw = parts[q].raw;
            if (raw > high)
                high = raw;
            if (raw < low || low < 0)
                low = raw;
        }
    }

    groups = PyMem_Malloc((size_t)(PyList_GET_SIZE(ignored) + n_parts + 1) * sizeof(Group));
    if (groups == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t g = 0; g < PyList_GET_SIZE(ignored); g++) {
        PyObject *entry = PyList_GET_ITEM(ignored, g);
        long long cid, offset;
        PyObject *mask;
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2) {
            PyErr_SetString(PyExc_TypeError, "ignored holds (class id, mask) pairs");
            goto done;
        }
        if (class_entry(entry, &cid, &mask) < 0 || offset_of(offsets, cid, &offset) < 0 ||
            merge(groups, &n_groups, offset, mask) < 0)
            goto done;
    }
    for (Py_ssize_t q = 0; q < n_parts; q++) {
        long long offset, score, scaled;
        if (offset_of(offsets, parts[q].cid, &offset) < 0)
            goto done;
        if (high <= 0)
            score = top;
        else if (__builtin_mul_overflow(top, high + low - parts[q].raw, &score)) {
            PyErr_SetString(PyExc_OverflowError, "spread score out of int64");
            goto done;
        } else
            score /= high; /* non-negative: C division is Python's floor division here */
        if (__builtin_mul_overflow(weight, score, &scaled) || __builtin_add_overflow(offset, scaled, &offset)) {
            PyErr_SetString(PyExc_OverflowError, "spread offset out of int64");
            goto done;
        }
        if (merge(groups, &n_groups, offset, parts[q].mask) < 0)
            goto done;
    }
    /* by offset descending (offsets are distinct): an insertion sort, there are a handful */
    for (Py_ssize_t i = 1; i < n_groups; i++) {
        Group g = groups[i];
        Py_ssize_t j = i;
        while (j > 0 && groups[j - 1].offset < g.offset) {
            groups[j] = groups[j - 1];
            j--;
        }
        groups[j] = g;
    }
    result = PyList_New(n_groups);
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n_groups; i++) {
        PyObject *pair = Py_BuildValue("(LO)", groups[i].offset, groups[i].mask);
        if (pair == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, pair);
    }

done:
    for (Py_ssize_t q = 0; q < n_parts; q++)
        if (parts[q].owned)
            Py_DECREF(parts[q].mask);
    PyMem_Free(parts);
    if (groups != NULL) {
        for (Py_ssize_t g = 0; g < n_groups; g++)
            Py_DECREF(groups[g].mask);
        PyMem_Free(groups);
    }
    return result;
}

static PyMethodDef methods[] = {
    {"score_groups", score_groups, METH_VARARGS,
     "score_groups(kept, terms, host, ignored, offsets, weight, top) -> [(offset, mask)] by offset descending\n\n"
     "PodTopologySpread's (class, hostname level) groups, normalized, offset and merged: exactly\n"
     "spreading._groups_python (see spreading.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "podquake.model.scheduling._spreadgroups",
    .m_doc = "PodTopologySpread's score groups, compiled (see _spreadgroups.c and spreading.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__spreadgroups(void) { return PyModule_Create(&moduledef); }
