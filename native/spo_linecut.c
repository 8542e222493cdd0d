/*
 * spo_linecut: an optional speed-up for the audit parser of spo.security_profiles.
 *
 * Copyright: (c) 2026, Security Profiles Operator Ansible edition team
 * GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
 *
 * One grammar-free primitive, the part of the bulk scan that pure Python cannot do without
 * creating several objects per line:
 *
 *   cut_count(buffer, start, middle, stop, counts[, prefixes]) -> (lines, cut, heads, tails, rest)
 *
 * For each line of ``buffer`` (split at '\n'; a last line without '\n' counts), the line's key is
 * the bytes between its first ``start`` and the first ``stop`` after it;  with ``prefixes`` (a
 * tuple of bytes), only a line that begins with one of them has a key (the audit parser passes the
 * openings the kernel gives its records, so text inside another record is never cut); the key's last ``middle``
 * splits it into a head and a tail, and ``counts[head][tail] += 1`` (``counts`` is a dict of
 * dicts; missing inner dicts are created).  A line whose key is missing or holds no ``middle`` is
 * not cut.  Returns the number of lines, the number of lines cut, the distinct heads and tails
 * of this call (lists, in first-seen order), and ``rest``: the lines not cut, as bytes, each with
 * its newline (the caller parses those its own way).
 *
 * Keys are counted in a hash table of this call (a line whose key was seen before costs one hash
 * and one probe); heads and tails are split out once per distinct key, so a bytes object is made
 * once per distinct head or tail and call, not once per line, and equal tails share one object.  What a head or a tail means is for the caller to check (plugins/module_utils/audit.py
 * checks each against the exact grammar once).
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* An entry is a span of the buffer (ptr, len); a key's entry also holds the numbers of its head
 * (a) and tail (b) entries. */
typedef struct {
    uint64_t hash;
    const char *ptr;
    Py_ssize_t len;
    Py_ssize_t a, b;
    Py_ssize_t count;
} entry;

typedef struct {
    entry *entries;    /* in first-seen order */
    Py_ssize_t used;
    Py_ssize_t *slots; /* open addressing: entry number + 1, 0 = empty; at most half full */
    size_t mask;
} table;

static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 29);
}

static uint64_t hash_span(const char *p, Py_ssize_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n;
    uint64_t word;
    while (n >= 8) {
        memcpy(&word, p, 8);
        h = (h ^ word) * 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    word = 0;
    memcpy(&word, p, (size_t)n);
    return mix(h ^ word);
}

static int table_grow(table *t) {
    size_t size = t->mask ? 2 * (t->mask + 1) : 256;
    Py_ssize_t *slots = PyMem_Calloc(size, sizeof(Py_ssize_t));
    entry *entries = PyMem_Realloc(t->entries, (size / 2) * sizeof(entry));
    if (entries != NULL)
        t->entries = entries;
    if (slots == NULL || entries == NULL) {
        PyMem_Free(slots);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < t->used; i++) {
        size_t at = (size_t)entries[i].hash & (size - 1);
        while (slots[at])
            at = (at + 1) & (size - 1);
        slots[at] = i + 1;
    }
    PyMem_Free(t->slots);
    t->slots = slots;
    t->mask = size - 1;
    return 0;
}

/* The number of the entry equal to (ptr, len) or, if ptr is NULL, to (a, b); -1 if there is none
 * and add is 0.  With add, a missing entry is added with count 0 (-1 only when out of memory). */
static Py_ssize_t table_find(table *t, uint64_t h, const char *ptr, Py_ssize_t len, Py_ssize_t a, Py_ssize_t b,
                             int add) {
    for (;;) {
        size_t at = (size_t)h & t->mask;
        Py_ssize_t slot;
        while ((slot = t->slots[at]) != 0) {
            const entry *e = &t->entries[slot - 1];
            if (e->hash == h && e->len == len &&
                (ptr ? memcmp(e->ptr, ptr, (size_t)len) == 0 : (e->a == a && e->b == b)))
                return slot - 1;
            at = (at + 1) & t->mask;
        }
        if (!add)
            return -1;
        if ((size_t)(t->used + 1) * 2 <= t->mask + 1) {
            t->entries[t->used] = (entry){h, ptr, len, a, b, 0};
            t->slots[at] = t->used + 1;
            return t->used++;
        }
        if (table_grow(t) < 0)
            return -1;
    }
}

static const char *last_match(const char *p, Py_ssize_t n, const char *needle, Py_ssize_t m) {
    for (Py_ssize_t i = n - m; i >= 0; i--)
        if (p[i] == needle[0] && memcmp(p + i, needle, (size_t)m) == 0)
            return p + i;
    return NULL;
}

/* Bytes objects for a table's spans, in first-seen order. */
static PyObject *span_list(const table *t) {
    PyObject *list = PyList_New(t->used);
    for (Py_ssize_t i = 0; list != NULL && i < t->used; i++) {
        PyObject *item = PyBytes_FromStringAndSize(t->entries[i].ptr, t->entries[i].len);
        if (item == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, item);
    }
    return list;
}

/* counts[head][tail] += count for each key, in first-seen order. */
static int flush(const table *keys, PyObject *heads, PyObject *tails, PyObject *counts) {
    for (Py_ssize_t i = 0; i < keys->used; i++) {
        const entry *e = &keys->entries[i];
        PyObject *head = PyList_GET_ITEM(heads, e->a), *tail = PyList_GET_ITEM(tails, e->b);
        PyObject *inner = PyDict_GetItemWithError(counts, head);
        if (inner == NULL) {
            if (PyErr_Occurred())
                return -1;
            inner = PyDict_New();
            if (inner == NULL || PyDict_SetItem(counts, head, inner) < 0) {
                Py_XDECREF(inner);
                return -1;
            }
            Py_DECREF(inner); /* counts holds it */
        } else if (!PyDict_Check(inner)) {
            PyErr_SetString(PyExc_TypeError, "cut_count: counts must map heads to dicts");
            return -1;
        }
        Py_ssize_t value = e->count;
        PyObject *old = PyDict_GetItemWithError(inner, tail);
        if (old != NULL) {
            Py_ssize_t have = PyLong_AsSsize_t(old);
            if (have == -1 && PyErr_Occurred())
                return -1;
            value += have;
        } else if (PyErr_Occurred()) {
            return -1;
        }
        PyObject *number = PyLong_FromSsize_t(value);
        int rc = number == NULL ? -1 : PyDict_SetItem(inner, tail, number);
        Py_XDECREF(number);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* The lines not cut, copied one after the other. */
typedef struct {
    char *data;
    size_t len, cap;
} text;

static int text_add(text *t, const char *p, size_t n) {
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n)
            cap *= 2;
        char *data = PyMem_Realloc(t->data, cap);
        if (data == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        t->data = data;
        t->cap = cap;
    }
    memcpy(t->data + t->len, p, n);
    t->len += n;
    return 0;
}

#define MAX_PREFIXES 8

/* Whether the line p..end begins with one of the n prefixes (n == 0: every line does). */
static int has_prefix(const char *p, const char *end, const Py_buffer *prefixes, Py_ssize_t n) {
    if (n == 0)
        return 1;
    for (Py_ssize_t i = 0; i < n; i++)
        if (end - p >= prefixes[i].len && memcmp(p, prefixes[i].buf, (size_t)prefixes[i].len) == 0)
            return 1;
    return 0;
}

static PyObject *cut_count(PyObject *self, PyObject *args) {
    Py_buffer buf, start, middle, stop;
    Py_buffer prefixes[MAX_PREFIXES];
    Py_ssize_t nprefixes = 0;
    PyObject *counts, *prefix_tuple = NULL, *heads = NULL, *tails = NULL, *rest = NULL, *result = NULL;
    text uncut = {NULL, 0, 0};
    table head_table = {0}, tail_table = {0}, key_table = {0};
    Py_ssize_t lines = 0, cut = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*y*O!|O!:cut_count", &buf, &start, &middle, &stop, &PyDict_Type, &counts,
                          &PyTuple_Type, &prefix_tuple))
        return NULL;
    if (prefix_tuple != NULL) {
        if (PyTuple_GET_SIZE(prefix_tuple) > MAX_PREFIXES) {
            PyErr_SetString(PyExc_ValueError, "cut_count: at most 8 prefixes");
            goto done;
        }
        for (; nprefixes < PyTuple_GET_SIZE(prefix_tuple); nprefixes++) {
            PyObject *item = PyTuple_GET_ITEM(prefix_tuple, nprefixes);
            if (!PyBytes_Check(item)) {
                PyErr_SetString(PyExc_TypeError, "cut_count: prefixes must be a tuple of bytes");
                goto done;
            }
            if (PyObject_GetBuffer(item, &prefixes[nprefixes], PyBUF_SIMPLE) < 0)
                goto done;
        }
    }
    if (start.len == 0 || middle.len == 0 || stop.len == 0) {
        PyErr_SetString(PyExc_ValueError, "cut_count: start, middle and stop must not be empty");
        goto done;
    }
    if (table_grow(&head_table) < 0 || table_grow(&tail_table) < 0 || table_grow(&key_table) < 0)
        goto done;
    const char *p = buf.buf, *end = p + buf.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        lines++;
        const char *s = has_prefix(p, line_end, prefixes, nprefixes)
                            ? memmem(p, (size_t)(line_end - p), start.buf, (size_t)start.len)
                            : NULL;
        const char *key = s ? s + start.len : NULL;
        const char *key_end = key ? memmem(key, (size_t)(line_end - key), stop.buf, (size_t)stop.len) : NULL;
        int is_cut = 0;
        if (key_end != NULL) {
            /* a key seen before in this call costs one hash and one probe */
            Py_ssize_t len = key_end - key;
            uint64_t hash = hash_span(key, len);
            Py_ssize_t found = table_find(&key_table, hash, key, len, 0, 0, 0);
            if (found < 0) {
                const char *mid = last_match(key, len, middle.buf, middle.len);
                if (mid != NULL) {
                    const char *tail = mid + middle.len;
                    Py_ssize_t h = table_find(&head_table, hash_span(key, mid - key), key, mid - key, 0, 0, 1);
                    Py_ssize_t t = h < 0 ? -1 : table_find(&tail_table, hash_span(tail, key_end - tail), tail,
                                                           key_end - tail, 0, 0, 1);
                    found = t < 0 ? -1 : table_find(&key_table, hash, key, len, h, t, 1);
                    if (found < 0)
                        goto done;
                }
            }
            if (found >= 0) {
                key_table.entries[found].count++;
                cut++;
                is_cut = 1;
            }
        }
        if (!is_cut && text_add(&uncut, p, (size_t)((nl ? nl + 1 : end) - p)) < 0)
            goto done;
        p = nl ? nl + 1 : end;
    }
    heads = span_list(&head_table);
    tails = heads ? span_list(&tail_table) : NULL;
    rest = tails ? PyBytes_FromStringAndSize(uncut.data, (Py_ssize_t)uncut.len) : NULL;
    if (rest == NULL || flush(&key_table, heads, tails, counts) < 0)
        goto done;
    result = Py_BuildValue("nnOOO", lines, cut, heads, tails, rest);
done:
    Py_XDECREF(heads);
    Py_XDECREF(tails);
    Py_XDECREF(rest);
    PyMem_Free(uncut.data);
    PyMem_Free(head_table.entries);
    PyMem_Free(head_table.slots);
    PyMem_Free(tail_table.entries);
    PyMem_Free(tail_table.slots);
    PyMem_Free(key_table.entries);
    PyMem_Free(key_table.slots);
    PyBuffer_Release(&buf);
    PyBuffer_Release(&start);
    PyBuffer_Release(&middle);
    PyBuffer_Release(&stop);
    for (Py_ssize_t i = 0; i < nprefixes; i++)
        PyBuffer_Release(&prefixes[i]);
    return result;
}

PyDoc_STRVAR(cut_count_doc,
             "cut_count(buffer, start, middle, stop, counts[, prefixes]) -> (lines, cut, heads, tails, rest)\n\n"
             "Each line's key runs from after its first `start` to the first `stop` after that;\n"
             "with `prefixes` (a tuple of bytes) only lines that begin with one of them have a key;\n"
             "the key's last `middle` splits it: counts[head][tail] += 1.  Returns the number of\n"
             "lines, of lines cut, this call's distinct heads and tails in first-seen order, and\n"
             "the lines not cut (bytes, each with its newline).");

static PyMethodDef methods[] = {
    {"cut_count", cut_count, METH_VARARGS, cut_count_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "spo_linecut",
    "Optional speed-up of the spo.security_profiles audit parser (see cut_count).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_spo_linecut(void) { return PyModule_Create(&module); }
