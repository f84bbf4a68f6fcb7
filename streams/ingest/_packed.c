/* schemas/packed.py `pack` in C: ingest's (key, value, source) triples of one topic ->
   (key, value, headers) records, the events of one key and raw partition together. The
   Python `_pack_python` stays the reference, and this gives equal output, record for
   record: first every event without a source, alone and without a header, in input
   order; then the groups (key, src[12:]) in order of first appearance, each cut into
   records of at most max_events events and (but for a record's first event) max_bytes
   bytes counting a newline per event; a record of one event is (key, value,
   [(header_name, src)]) with that event's own objects, a longer one (key,
   b"\n".join(values), [(sources_name, count >I + each src[:12] + name)]).

   The key of a group's records is its first event's key object, as in the dict of the
   Python version. Events are found by group with a small open-addressing table over
   (key bytes, name bytes) and the last group seen (a batch has tens to hundreds of
   groups and 10,000 events); the events of a group are chained by index in one array.

   Only what the ingest loop hands over is taken: a list or tuple of exact 3-tuples of
   (None or bytes, bytes, None or bytes). Anything else raises TypeError and a source
   reference shorter than its 12 bytes of position raises ValueError, before any input
   is consumed; schemas/packed.py runs the Python version then, which decides what such
   input gives (some of it, a list for an item, is fine there). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define POSITION 12 /* bytes of (offset >Q, index >I) before a source reference's name */

/* what the records need of an event with a source, in one compact array (the tuples
   lie all over the heap, the groups visit them out of order) */
typedef struct {
    Py_ssize_t next; /* the group's next event, -1 after its last */
    Py_ssize_t len;  /* of the value */
    const char *value, *position;
} Event;

typedef struct {
    PyObject *key;    /* borrowed: the first event's key, None or bytes */
    const char *name; /* borrowed: the raw partition name in the first event's source */
    Py_ssize_t name_len;
    uint64_t hash;
    Py_ssize_t head, tail; /* first and last event of the group, chained by Event.next */
} Group;

typedef struct {
    Group *groups;
    Py_ssize_t n, cap;
    uint32_t *slots; /* group index + 1; 0 for an empty slot */
    size_t mask;
} Groups;

static uint64_t
mix(uint64_t h, const char *p, Py_ssize_t n)
{
    const uint64_t k = 0x9E3779B97F4A7C15ULL;
    uint64_t w = 0, len = (uint64_t)n;
    if (n >= 8) {
        for (; n > 8; p += 8, n -= 8) {
            memcpy(&w, p, 8);
            h = (h ^ w) * k;
            h ^= h >> 29;
        }
        memcpy(&w, p + n - 8, 8); /* the last 8 bytes, some of them hashed already */
    }
    else
        for (Py_ssize_t i = 0; i < n; i++)
            w = w << 8 | (unsigned char)p[i];
    h = (h ^ w ^ (len << 56)) * k;
    return h ^ (h >> 32);
}

/* whether `g` is the group of (key, name): keys None or bytes, None equal only to None */
static int
same_group(const Group *g, PyObject *key, const char *name, Py_ssize_t name_len)
{
    if (g->name_len != name_len || memcmp(g->name, name, (size_t)name_len) != 0)
        return 0;
    if (g->key == key)
        return 1;
    if (g->key == Py_None || key == Py_None || PyBytes_GET_SIZE(g->key) != PyBytes_GET_SIZE(key))
        return 0;
    return memcmp(PyBytes_AS_STRING(g->key), PyBytes_AS_STRING(key), (size_t)PyBytes_GET_SIZE(key)) == 0;
}

/* twice the slots and every group placed again: 0, or -1 with MemoryError */
static int
grow_slots(Groups *gs)
{
    size_t size = gs->slots == NULL ? 64 : (gs->mask + 1) * 2;
    uint32_t *slots = PyMem_Calloc(size, sizeof(uint32_t));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < gs->n; i++) {
        size_t at = (size_t)gs->groups[i].hash & (size - 1);
        while (slots[at] != 0)
            at = (at + 1) & (size - 1);
        slots[at] = (uint32_t)(i + 1);
    }
    PyMem_Free(gs->slots);
    gs->slots = slots;
    gs->mask = size - 1;
    return 0;
}

/* the index of the group of (key, name), a new one (head = tail = `event`) if none is
   there yet; -1 with MemoryError */
static Py_ssize_t
group_of(Groups *gs, PyObject *key, const char *name, Py_ssize_t name_len, Py_ssize_t event)
{
    uint64_t hash = key == Py_None ? 0x2545F4914F6CDD1DULL
                                   : mix(0xCBF29CE484222325ULL, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key));
    hash = mix(hash, name, name_len);
    size_t at = (size_t)hash & gs->mask;
    for (uint32_t g; (g = gs->slots[at]) != 0; at = (at + 1) & gs->mask)
        if (gs->groups[g - 1].hash == hash && same_group(&gs->groups[g - 1], key, name, name_len))
            return (Py_ssize_t)g - 1;
    if (gs->n == gs->cap) {
        Py_ssize_t cap = gs->cap * 2;
        Group *groups = cap < (Py_ssize_t)UINT32_MAX ? PyMem_Realloc(gs->groups, (size_t)cap * sizeof(Group)) : NULL;
        if (groups == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        gs->groups = groups;
        gs->cap = cap;
    }
    Py_ssize_t i = gs->n++;
    gs->groups[i] = (Group){key, name, name_len, hash, event, event};
    gs->slots[at] = (uint32_t)(i + 1);
    if ((size_t)gs->n * 2 > gs->mask + 1 && grow_slots(gs) < 0)
        return -1;
    return i;
}

/* out.append((key, value, headers)), taking over `value` and `headers` (new references,
   NULL after a failure to make them): 0, or -1 with an exception set */
static int
append_record(PyObject *out, PyObject *key, PyObject *value, PyObject *headers)
{
    PyObject *record = value != NULL && headers != NULL ? PyTuple_New(3) : NULL;
    if (record == NULL) {
        Py_XDECREF(value);
        Py_XDECREF(headers);
        return -1;
    }
    PyTuple_SET_ITEM(record, 0, Py_NewRef(key));
    PyTuple_SET_ITEM(record, 1, value);
    PyTuple_SET_ITEM(record, 2, headers);
    int r = PyList_Append(out, record);
    Py_DECREF(record);
    return r;
}

/* [(name, value)], taking over `value` (a new reference, NULL after a failure) */
static PyObject *
one_header(PyObject *name, PyObject *value)
{
    if (value == NULL)
        return NULL;
    PyObject *pair = PyTuple_New(2), *list = pair != NULL ? PyList_New(1) : NULL;
    if (list == NULL) {
        Py_XDECREF(pair);
        Py_DECREF(value);
        return NULL;
    }
    PyTuple_SET_ITEM(pair, 0, Py_NewRef(name));
    PyTuple_SET_ITEM(pair, 1, value);
    PyList_SET_ITEM(list, 0, pair);
    return list;
}

/* The record of the `count` events of group `g` from `first` on (`size`: their values'
   bytes plus one each) appended to `out`: 0, or -1 with an exception set. */
static int
append_chunk(PyObject *out, PyObject *seq, const Event *events, const Group *g, Py_ssize_t first,
             Py_ssize_t count, Py_ssize_t size, PyObject *header_name, PyObject *sources_name)
{
    if (count == 1) {
        PyObject *item = PyTuple_GET_ITEM(seq, first);
        return append_record(out, g->key, Py_NewRef(PyTuple_GET_ITEM(item, 1)),
                             one_header(header_name, Py_NewRef(PyTuple_GET_ITEM(item, 2))));
    }
    if ((uint64_t)count > UINT32_MAX) { /* what struct.pack(">I") refuses */
        PyErr_SetString(PyExc_ValueError, "more events in a record than its count holds");
        return -1;
    }
    PyObject *value = PyBytes_FromStringAndSize(NULL, size - 1);
    PyObject *header = value != NULL ? PyBytes_FromStringAndSize(NULL, 4 + POSITION * count + g->name_len) : NULL;
    if (header == NULL) {
        Py_XDECREF(value);
        return -1;
    }
    char *v = PyBytes_AS_STRING(value), *h = PyBytes_AS_STRING(header);
    uint32_t n = (uint32_t)count;
    *h++ = (char)(n >> 24);
    *h++ = (char)(n >> 16);
    *h++ = (char)(n >> 8);
    *h++ = (char)n;
    for (Py_ssize_t i = 0, e = first; i < count; i++, e = events[e].next) {
        if (i > 0)
            *v++ = '\n';
        memcpy(v, events[e].value, (size_t)events[e].len);
        v += events[e].len;
        memcpy(h, events[e].position, POSITION);
        h += POSITION;
    }
    memcpy(h, g->name, (size_t)g->name_len);
    return append_record(out, g->key, value, one_header(sources_name, header));
}

/* an int argument as a long long, what lies beyond clamped to its ends (compared only
   with sizes and counts): 0, or -1 with TypeError */
static int
limit(PyObject *o, long long *out)
{
    int overflow;
    if (!PyLong_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "pack: max_events and max_bytes are ints");
        return -1;
    }
    *out = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow != 0)
        *out = overflow > 0 ? LLONG_MAX : LLONG_MIN;
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

/* pack(items, max_events, max_bytes, header_name, sources_name) -> records */
static PyObject *
pack(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    long long max_events, max_bytes;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "pack(items, max_events, max_bytes, header_name, sources_name)");
        return NULL;
    }
    if (limit(args[1], &max_events) < 0 || limit(args[2], &max_bytes) < 0)
        return NULL;
    PyObject *header_name = args[3], *sources_name = args[4], *seq;
    if (PyTuple_CheckExact(args[0]))
        seq = Py_NewRef(args[0]);
    else if (PyList_CheckExact(args[0]))
        seq = PyList_AsTuple(args[0]); /* ours: nothing a collection runs can change it */
    else {
        PyErr_SetString(PyExc_TypeError, "pack: items is a list or tuple");
        return NULL;
    }
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(seq), last = -1; /* the group of the last event with a source */
    Event *events = PyMem_Malloc(((size_t)n + 1) * sizeof(Event));
    Groups gs = {PyMem_Malloc(16 * sizeof(Group)), 0, 16, NULL, 0};
    PyObject *out = PyList_New(0);
    if (out == NULL || events == NULL || gs.groups == NULL || grow_slots(&gs) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(seq, i), *key, *value, *src;
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 3) {
            PyErr_Format(PyExc_TypeError, "pack: item %zd is not a (key, value, source) tuple", i);
            goto fail;
        }
        key = PyTuple_GET_ITEM(item, 0);
        value = PyTuple_GET_ITEM(item, 1);
        src = PyTuple_GET_ITEM(item, 2);
        if ((key != Py_None && !PyBytes_CheckExact(key)) || !PyBytes_CheckExact(value)
            || (src != Py_None && !PyBytes_CheckExact(src))) {
            PyErr_Format(PyExc_TypeError, "pack: item %zd is not a (bytes or None, bytes, bytes or None)", i);
            goto fail;
        }
        if (src == Py_None) {
            if (append_record(out, key, Py_NewRef(value), Py_NewRef(Py_None)) < 0)
                goto fail;
            continue;
        }
        if (PyBytes_GET_SIZE(src) < POSITION) {
            PyErr_Format(PyExc_ValueError, "pack: the source of item %zd is shorter than %d bytes", i, POSITION);
            goto fail;
        }
        const char *name = PyBytes_AS_STRING(src) + POSITION;
        Py_ssize_t name_len = PyBytes_GET_SIZE(src) - POSITION;
        events[i] = (Event){-1, PyBytes_GET_SIZE(value), PyBytes_AS_STRING(value), PyBytes_AS_STRING(src)};
        if (last >= 0 && same_group(&gs.groups[last], key, name, name_len)) {
            events[gs.groups[last].tail].next = i;
            gs.groups[last].tail = i;
            continue;
        }
        Py_ssize_t at = group_of(&gs, key, name, name_len, i);
        if (at < 0)
            goto fail;
        if (gs.groups[at].head != i) {
            events[gs.groups[at].tail].next = i;
            gs.groups[at].tail = i;
        }
        last = at;
    }
    for (Py_ssize_t k = 0; k < gs.n; k++) {
        const Group *g = &gs.groups[k];
        Py_ssize_t first = g->head, count = 0, size = 0;
        for (Py_ssize_t e = g->head; e >= 0; e = events[e].next) {
            Py_ssize_t len = events[e].len;
            if (count > 0 && (count >= max_events || size + len > max_bytes)) {
                if (append_chunk(out, seq, events, g, first, count, size, header_name, sources_name) < 0)
                    goto fail;
                first = e;
                count = size = 0;
            }
            size += len + 1;
            count++;
        }
        if (append_chunk(out, seq, events, g, first, count, size, header_name, sources_name) < 0)
            goto fail;
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    PyMem_Free(events);
    PyMem_Free(gs.groups);
    PyMem_Free(gs.slots);
    Py_DECREF(seq);
    return out;
}

static PyMethodDef methods[] = {
    {"pack", (PyCFunction)(void (*)(void))pack, METH_FASTCALL,
     "pack(items, max_events, max_bytes, header_name, sources_name): schemas.packed.pack's records"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_packed", "schemas.packed.pack in C: events of one key and raw partition together.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__packed(void)
{
    return PyModule_Create(&module);
}
