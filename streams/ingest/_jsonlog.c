/* The C form of `JsonLogs.event`, `JsonMetrics.event` and `JsonSecurity.event`
 * (streams/ingest/jsonfast.py): one parsed JSON object (or a decoder's fields) -> one
 * canonical log, metric or security event, with exactly the result of the Python code
 * (for metrics and security events: of Normalizer.metric and Normalizer.security),
 * which stays the reference and the fallback.
 *
 * `Events(owner, helpers, kind="log")` is a callable bound to one instance: it shares the
 * instance's caches (plans, prefixes and its TimeParser's iso_cache, which
 * are cleared, never replaced) and takes the arguments of the method. The three kinds
 * share every step but the last (the record's keys and shape, the attributes, the id,
 * the time); each does the common case of every step in C, and calls the Python helpers
 * that the Python path calls too for the rest (helpers, in this order):
 *
 *   event        the owner's class's `event`, for the whole call: arguments of unusual
 *                types (keywords, a dict subclass, a negative offset...), a key that is
 *                not a str, a record nested deeper than MAX_DEPTH; a metric sample with
 *                nested labels, labels flattened into "labels.x" keys, or a name or a
 *                value that is not a non-empty str and a finite float or int
 *   text         _text: attribute values and fields that are neither str, int, finite
 *                float, bool nor None
 *   trace_hex    _trace_hex: trace and span ids that are not lowercase str
 *   severity_of  _severity_of: any level not in _SEVERITY_FAST
 *   stable_id    stable_event_id: events of a decoder's record (index > 0)
 *   foreign_id   _foreign_id: an event id that is not a UUID
 *   dumps        orjson.dumps, which formats finite floats
 *   severity_fast, MIN_EPOCH_S, MAX_FUTURE_S, _MAX_OFFSET
 *
 * then, for metrics and security events only:
 *
 *   category     _category: a category that is not an ASCII str
 *   outcome      _outcome: an outcome that is not a key of OUTCOMES
 *   metric_type  _metric_type: a metric type that is not a key of METRIC_TYPES
 *   OUTCOMES, METRIC_TYPES
 *
 * and the owner's methods _new_plan (a key tuple seen for the first time) and _fresh_id
 * (the first record of a partition), and times.event_time (a time that is neither an
 * RFC 3339 text with Z of a second already in iso_cache, an all-digit text nor an
 * in-range number).
 *
 * The input dict is left as it is: the attributes are a new dict (same keys, same order
 * as the Python path leaves in `d`).
 *
 * A record may also come as its JSON bytes (no decoder attributes or labels; an index
 * for an element of a JSON array: the batch loop's JSON records, _hotloop.c): a record
 * whose keys and nesting (its template, _rawjson.h) are remembered is read from the bytes with no dict parsed; any other is
 * parsed by orjson.loads here and read as its dict, and its template remembered. What
 * that road does not take (bytes _rawjson.h declines and orjson rejects, an OTLP batch
 * of another kind than logs, a call the Python path would take) gives NotImplemented:
 * the caller parses and calls again.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "_rawjson.h"
#include "_shared.h"

/* The slots of each kind, in the order of their alias tuples in normalize.py (_LOG,
 * _METRIC, _SECURITY): the six common ones, then the kind's own. */
enum { S_EID, S_TS, S_TENANT, S_SERVICE, S_ENV, S_HOST, N_COMMON };
enum { S_LEVEL = N_COMMON, S_SEVNUM, S_MESSAGE, S_TRACE, S_SPAN, NSLOTS_LOG };
enum { M_NAME = N_COMMON, M_VALUE, M_TYPE, M_UNIT, NSLOTS_METRIC };
enum { X_LEVEL = N_COMMON, X_SEVNUM, X_MESSAGE, X_OUTCOME, X_CATEGORY, X_ACTION, X_ACTOR, X_TARGET, X_SOURCE_IP,
       NSLOTS_SECURITY };
#define MAX_SLOTS NSLOTS_SECURITY
enum { K_LOG, K_METRIC, K_SECURITY };
#define ROLE_ATTR (-1) /* a key that stays an attribute */
#define ROLE_KIND (-2) /* "kind": read as an attribute, then dropped */

/* flatten() of Python recurses once per two levels under a limit of ~1000 frames and
 * orjson parses at most 1024 levels; deeper than this, the Python path decides. */
#define MAX_DEPTH 200
/* dotted keys kept by flatten() (an emitter whose keys vary per record empties it) */
#define KEY_CACHE_LIMIT 20000
/* record shapes remembered (a batch holds a handful, one per emitter) */
#define NSHAPES 16
/* record templates remembered (_rawjson.h), each with its shape */
#define NRAW 16
/* partitions whose event-id prefix is remembered at once */
#define NPFX 16
#define ITEMS_ON_STACK 64
#if RAW_MAX_LEAVES > ITEMS_ON_STACK
#error "read_bytes puts a record's leaves in an Items' own buffers"
#endif
/* room for the columns enrichment adds to the attributes in place (streams/ingest/enrich.py,
   _hotloop.c), so that adding them does not resize the dict */
#define ENRICH_ROOM 5

/* The keys of one record shape, with what the plan of their tuple makes of each. A
 * record whose keys are these very objects (orjson reuses its key objects, flatten()
 * below its dotted keys), in this order, has this shape: no key tuple, hash or lookup. */
typedef struct {
    PyObject *keys;  /* tuple of distinct exact str, NULL: a free entry */
    PyObject *plan;  /* JsonLogs.plans[keys]; None: not a plain log record */
    PyObject *roles; /* bytes: per key, its slot, ROLE_ATTR or ROLE_KIND (NULL when plan is None) */
    Py_ssize_t nattr;
} Shape;

/* A record template (_rawjson.h) and the shape of the records that have it; for a
 * metric sample, where its labels object is among the leaves (read apart, not flattened) */
typedef struct {
    char *t; /* PyMem, NULL: a free entry */
    Py_ssize_t tn;
    Shape shape;
    PyObject *label_keys; /* tuple; NULL: no labels object (a record with none has {}) */
    Py_ssize_t label_at, label_n; /* its leaves: label_n, from label_at (1 for an empty object) */
} RawShape;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    int kind;                 /* K_LOG, K_METRIC or K_SECURITY */
    int as_fields;            /* an event as the tuple of its values (LOG_FIELDS order, or METRIC_FIELDS,
                                 SECURITY_FIELDS), not a dict */
    int nslots;
    PyObject *owner;          /* the JsonLogs (or JsonMetrics, JsonSecurity) instance */
    PyObject *plans;          /* owner.plans */
    PyObject *prefixes;       /* owner.prefixes */
    PyObject *times;          /* owner.times */
    PyObject *iso_cache;      /* owner.times.iso_cache */
    PyObject *new_plan;       /* owner._new_plan */
    PyObject *fresh_id;       /* owner._fresh_id */
    PyObject *py_event;       /* JsonLogs.event */
    PyObject *text;
    PyObject *trace_hex;
    PyObject *severity_of;
    PyObject *stable_id;
    PyObject *foreign_id;
    PyObject *dumps;
    PyObject *severity_fast;
    PyObject *no_severity;    /* severity_of(None, None), once called */
    PyObject *min_epoch_obj;  /* MIN_EPOCH_S */
    PyObject *max_future_obj; /* MAX_FUTURE_S */
    /* metric and security events only */
    PyObject *category;       /* _category */
    PyObject *outcome;        /* _outcome */
    PyObject *metric_type;    /* _metric_type */
    PyObject *outcomes;       /* OUTCOMES */
    PyObject *metric_types;   /* METRIC_TYPES */
    double min_epoch;
    double max_future;
    unsigned long long max_offset;
    PyObject *keys;           /* flatten(): prefix -> {key: prefix + key} */
    Py_ssize_t nkeys;
    Shape shapes[NSHAPES];
    int last_shape, next_shape;
    RawShape raw[NRAW];
    int last_raw, next_raw;
    /* prefixes[(topic, partition)] read, one slot per partition number modulo
       NPFX: the records of a batch interleave a few partitions, and prefixes only ever
       grow */
    PyObject *pfx_topic[NPFX], *pfx_partition[NPFX], *pfx_value[NPFX];
    /* seconds read from iso_cache (key and value), one slot per second of the minute:
       the records of a batch span a few seconds to minutes, in any order */
    char sec_key[60][19];
    double sec_base[60];
    unsigned char sec_known[60];
} Events;

/* interned strings */
static PyObject *k_event_id, *k_ts, *k_observed_ts, *k_tenant, *k_service, *k_env, *k_host, *k_attributes,
    *k_kind, *k_severity_number, *k_severity_text, *k_message, *k_trace_id, *k_span_id;
static PyObject *k_name, *k_type, *k_value, *k_unit, *k_labels, *k_category, *k_action, *k_outcome, *k_actor,
    *k_target, *k_source_ip;
static PyObject *s_log, *s_default, *s_unknown, *s_empty, *s_true, *s_false, *s_dot, *s_event_time,
    *s_islower, *s_decode;
static PyObject *s_resource_logs, *s_resource_metrics;
static PyObject *s_metric, *s_security, *s_gauge, *s_other, *s_tags, *s_dimensions, *s_labels_dot, *s_tags_dot,
    *s_dimensions_dot, *s_attributes_dot;
static PyObject *i_32, *i_16;
static PyObject *orjson_loads;

/* -- small readers ---------------------------------------------------------------- */

/* str.isdecimal() of s[start:end] (False when empty): the digits float() reads */
static int
isdecimal_range(PyObject *s, Py_ssize_t start, Py_ssize_t end)
{
    if (end <= start)
        return 0;
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = start; i < end; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch < 128 ? (ch < '0' || ch > '9') : !Py_UNICODE_ISDECIMAL(ch))
            return 0;
    }
    return 1;
}

/* s.isdigit() and s.isascii() */
static int
ascii_digits(PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (n == 0 || !PyUnicode_IS_ASCII(s))
        return 0;
    const Py_UCS1 *p = PyUnicode_1BYTE_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* type(v) is str and len(v) == 36 and _UUID.match(v) */
static int
is_uuid(PyObject *v)
{
    if (!PyUnicode_CheckExact(v) || PyUnicode_GET_LENGTH(v) != 36)
        return 0;
    int kind = PyUnicode_KIND(v);
    const void *data = PyUnicode_DATA(v);
    for (Py_ssize_t i = 0; i < 36; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-')
                return 0;
        }
        else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
            return 0;
    }
    return 1;
}

/* v.lower() of an ASCII str */
static PyObject *
ascii_lower(PyObject *v)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    const Py_UCS1 *p = PyUnicode_1BYTE_DATA(v);
    Py_ssize_t i = 0;
    while (i < n && !(p[i] >= 'A' && p[i] <= 'Z'))
        i++;
    if (i == n) {
        Py_INCREF(v);
        return v;
    }
    PyObject *out = PyUnicode_New(n, 127);
    if (out == NULL)
        return NULL;
    Py_UCS1 *q = PyUnicode_1BYTE_DATA(out);
    for (i = 0; i < n; i++)
        q[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (Py_UCS1)(p[i] + 32) : p[i];
    return out;
}

/* str.islower() of a str: 1, 0 or -1 */
static int
str_islower(PyObject *s)
{
    if (!PyUnicode_IS_ASCII(s)) {
        PyObject *r = PyObject_CallMethodNoArgs(s, s_islower);
        if (r == NULL)
            return -1;
        int t = PyObject_IsTrue(r);
        Py_DECREF(r);
        return t;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    const Py_UCS1 *p = PyUnicode_1BYTE_DATA(s);
    int cased = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] >= 'A' && p[i] <= 'Z')
            return 0;
        if (p[i] >= 'a' && p[i] <= 'z')
            cased = 1;
    }
    return cased;
}

/* timeparse.epoch_seconds: seconds, ms, µs or ns told apart by magnitude */
static double
epoch_seconds(double v)
{
    double a = fabs(v);
    if (a >= 1e17)
        return v / 1e9;
    if (a >= 1e14)
        return v / 1e6;
    if (a >= 1e11)
        return v / 1e3;
    return v;
}

/* MIN_EPOCH_S <= ts <= observed + MAX_FUTURE_S: 1, 0 or -1 */
static int
in_range(Events *self, PyObject *ts, double hi)
{
    if (PyFloat_CheckExact(ts)) {
        double t = PyFloat_AS_DOUBLE(ts);
        return self->min_epoch <= t && t <= hi;
    }
    int r = PyObject_RichCompareBool(self->min_epoch_obj, ts, Py_LE);
    if (r <= 0)
        return r;
    PyObject *h = PyFloat_FromDouble(hi);
    if (h == NULL)
        return -1;
    r = PyObject_RichCompareBool(ts, h, Py_LE);
    Py_DECREF(h);
    return r;
}

static PyObject *
call_text(Events *self, PyObject *v)
{
    return PyObject_CallOneArg(self->text, v);
}

/* v == "" for a value that is not a str and not None: 1, 0 or -1 */
static int
equals_empty(PyObject *v)
{
    return PyObject_RichCompareBool(v, s_empty, Py_EQ);
}

/* `v if type(v) is str and v else <dflt> if v is None or v == "" else _text(v)` */
static PyObject *
name_field(Events *self, PyObject *v, PyObject *dflt)
{
    if (PyUnicode_CheckExact(v)) {
        PyObject *r = PyUnicode_GET_LENGTH(v) ? v : dflt;
        Py_INCREF(r);
        return r;
    }
    if (v != Py_None) {
        int e = equals_empty(v);
        if (e < 0)
            return NULL;
        if (!e)
            return call_text(self, v);
    }
    Py_INCREF(dflt);
    return dflt;
}

/* `v if type(v) is str else "" if v is None else _text(v)` */
static PyObject *
text_field(Events *self, PyObject *v)
{
    if (PyUnicode_CheckExact(v)) {
        Py_INCREF(v);
        return v;
    }
    if (v == Py_None) {
        Py_INCREF(s_empty);
        return s_empty;
    }
    return call_text(self, v);
}

/* `v if type(v) is str and v.islower() else "" if v is None or v == "" else _trace_hex(v, width)` */
static PyObject *
id_field(Events *self, PyObject *v, PyObject *width)
{
    int empty;
    if (PyUnicode_CheckExact(v)) {
        int low = str_islower(v);
        if (low < 0)
            return NULL;
        if (low) {
            Py_INCREF(v);
            return v;
        }
        empty = PyUnicode_GET_LENGTH(v) == 0;
    }
    else if (v == Py_None)
        empty = 1;
    else if ((empty = equals_empty(v)) < 0)
        return NULL;
    if (empty) {
        Py_INCREF(s_empty);
        return s_empty;
    }
    PyObject *args[2] = {v, width};
    return PyObject_Vectorcall(self->trace_hex, args, 2, NULL);
}

/* orjson.dumps(v).decode() */
static PyObject *
float_text(Events *self, PyObject *v)
{
    PyObject *b = PyObject_CallOneArg(self->dumps, v);
    if (b == NULL)
        return NULL;
    PyObject *s;
    if (PyBytes_CheckExact(b))
        s = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), NULL);
    else
        s = PyObject_CallMethodNoArgs(b, s_decode);
    Py_DECREF(b);
    return s;
}

/* -- the keys and values of a record ------------------------------------------------ */

/* Growable arrays of (key, value), both strong references. */
typedef struct {
    PyObject **k, **v;
    Py_ssize_t n, cap;
    int nested; /* flatten() merged objects: a dotted key may have come twice */
    PyObject *kbuf[ITEMS_ON_STACK], *vbuf[ITEMS_ON_STACK];
} Items;

static void
items_init(Items *it)
{
    it->k = it->kbuf;
    it->v = it->vbuf;
    it->n = 0;
    it->cap = ITEMS_ON_STACK;
    it->nested = 0;
}

/* steals `k`, not `v` */
static int
items_push(Items *it, PyObject *k, PyObject *v)
{
    if (it->n == it->cap) {
        Py_ssize_t cap = it->cap * 2;
        PyObject **nk = PyMem_New(PyObject *, cap), **nv = PyMem_New(PyObject *, cap);
        if (nk == NULL || nv == NULL) {
            PyMem_Free(nk);
            PyMem_Free(nv);
            Py_DECREF(k);
            PyErr_NoMemory();
            return -1;
        }
        memcpy(nk, it->k, it->n * sizeof(PyObject *));
        memcpy(nv, it->v, it->n * sizeof(PyObject *));
        if (it->k != it->kbuf) {
            PyMem_Free(it->k);
            PyMem_Free(it->v);
        }
        it->k = nk;
        it->v = nv;
        it->cap = cap;
    }
    Py_INCREF(v);
    it->k[it->n] = k;
    it->v[it->n] = v;
    it->n++;
    return 0;
}

/* drops the references, keeps the buffers */
static void
items_drop(Items *it)
{
    for (Py_ssize_t i = 0; i < it->n; i++) {
        Py_DECREF(it->k[i]);
        Py_DECREF(it->v[i]);
    }
    it->n = 0;
}

static void
items_free(Items *it)
{
    items_drop(it);
    if (it->k != it->kbuf) {
        PyMem_Free(it->k);
        PyMem_Free(it->v);
    }
}

/* prefix + k through a cache: the dotted keys of one emitter are the same from record
 * to record, and a cached key is found by identity (in the shapes, the dicts and the
 * plan tuples that follow) where a new one is hashed and compared. */
static PyObject *
joined(Events *self, PyObject *prefix, PyObject *k)
{
    PyObject *sub = PyDict_GetItemWithError(self->keys, prefix);
    if (sub == NULL) {
        if (PyErr_Occurred())
            return NULL;
        sub = PyDict_New();
        if (sub == NULL)
            return NULL;
        int r = PyDict_SetItem(self->keys, prefix, sub);
        Py_DECREF(sub); /* held by self->keys */
        if (r < 0)
            return NULL;
    }
    PyObject *key = PyDict_GetItemWithError(sub, k);
    if (key != NULL) {
        Py_INCREF(key);
        return key;
    }
    if (PyErr_Occurred())
        return NULL;
    key = PyUnicode_Concat(prefix, k);
    if (key == NULL)
        return NULL;
    if (PyDict_SetItem(sub, k, key) < 0) {
        Py_DECREF(key);
        return NULL;
    }
    self->nkeys++;
    return key;
}

/* The leaves of `obj` as flatten() / _nest() (normalize.py) name them: nested objects
 * become dotted keys, but for a top-level "attributes" object, whose keys stay as they
 * are; an empty object stays a value. prefix: NULL for none; skip: a top-level key to
 * leave out, or NULL. 0 done, -1 error, 1 let the Python path decide (a key that is not a
 * str, too deep). */
static int
collect_nested(Events *self, PyObject *obj, PyObject *prefix, Items *it, int depth, PyObject *skip)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    if (depth > MAX_DEPTH)
        return 1;
    while (PyDict_Next(obj, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k))
            return 1;
        if (skip != NULL && (k == skip || PyUnicode_Compare(k, skip) == 0))
            continue; /* a metric's labels, read apart */
        PyObject *key = prefix ? joined(self, prefix, k) : (Py_INCREF(k), k);
        if (key == NULL)
            return -1;
        if (PyDict_CheckExact(v) && PyDict_GET_SIZE(v)) {
            PyObject *p = NULL;
            if (!(depth == 0 && PyUnicode_Compare(k, k_attributes) == 0)) {
                p = joined(self, key, s_dot);
                if (p == NULL) {
                    Py_DECREF(key);
                    return -1;
                }
            }
            Py_DECREF(key);
            it->nested = 1;
            Py_INCREF(v);
            int r = collect_nested(self, v, p, it, depth + 1, NULL);
            Py_DECREF(v);
            Py_XDECREF(p);
            if (r)
                return r;
        }
        else if (items_push(it, key, v) < 0)
            return -1;
    }
    return 0;
}

/* -- record shapes ------------------------------------------------------------------ */

static void
shape_clear(Shape *s)
{
    Py_CLEAR(s->keys);
    Py_CLEAR(s->plan);
    Py_CLEAR(s->roles);
    s->nattr = 0;
}

/* *dst = *src, with references of its own */
static void
shape_hold(Shape *dst, const Shape *src)
{
    *dst = *src;
    Py_INCREF(dst->keys);
    Py_INCREF(dst->plan);
    Py_XINCREF(dst->roles);
}

/* the shape whose keys are the very keys of `it`, or NULL */
static Shape *
find_shape(Events *self, Items *it)
{
    for (int i = 0; i < NSHAPES; i++) {
        int j = (self->last_shape + i) % NSHAPES;
        Shape *s = &self->shapes[j];
        if (s->keys != NULL && PyTuple_GET_SIZE(s->keys) == it->n
            && memcmp(((PyTupleObject *)s->keys)->ob_item, it->k, it->n * sizeof(PyObject *)) == 0) {
            self->last_shape = j;
            return s;
        }
    }
    return NULL;
}

/* The shape of a record whose shape is not remembered: the plan of its key tuple (from
 * JsonLogs.plans, or _new_plan) and the role of each key; remembered unless flatten()
 * met a key twice. *out gets new references. 0 done, -1 error, 1 let the Python path
 * decide (a key that is not a str). */
static int
learn_shape(Events *self, Items *it, Shape *out)
{
    PyObject *keys = NULL, *plan = NULL, *roles = NULL;
    Py_ssize_t nattr = 0;
    int remember = 1;
    for (Py_ssize_t j = 0; j < it->n; j++)
        if (!PyUnicode_CheckExact(it->k[j]))
            return 1;
    if (it->nested) {
        /* flatten() writes into a dict: a key met twice keeps its first place, its last value */
#if PY_VERSION_HEX < 0x030D0000
        PyObject *tmp = _PyDict_NewPresized(it->n);
#else
        PyObject *tmp = PyDict_New();
#endif
        if (tmp == NULL)
            return -1;
        for (Py_ssize_t j = 0; j < it->n; j++) {
            if (PyDict_SetItem(tmp, it->k[j], it->v[j]) < 0) {
                Py_DECREF(tmp);
                return -1;
            }
        }
        if (PyDict_GET_SIZE(tmp) != it->n) {
            Py_ssize_t pos = 0;
            PyObject *k, *v;
            remember = 0;
            items_drop(it);
            while (PyDict_Next(tmp, &pos, &k, &v)) {
                Py_INCREF(k);
                if (items_push(it, k, v) < 0) {
                    Py_DECREF(tmp);
                    return -1;
                }
            }
        }
        Py_DECREF(tmp);
    }
    keys = PyTuple_New(it->n);
    if (keys == NULL)
        return -1;
    for (Py_ssize_t j = 0; j < it->n; j++) {
        Py_INCREF(it->k[j]);
        PyTuple_SET_ITEM(keys, j, it->k[j]);
    }
    plan = PyDict_GetItemWithError(self->plans, keys);
    if (plan != NULL)
        Py_INCREF(plan);
    else if (PyErr_Occurred() || (plan = PyObject_CallOneArg(self->new_plan, keys)) == NULL)
        goto error;
    if (plan != Py_None) {
        if (!PyTuple_CheckExact(plan) || PyTuple_GET_SIZE(plan) != 3 || !PyTuple_CheckExact(PyTuple_GET_ITEM(plan, 2))
            || PyTuple_GET_SIZE(PyTuple_GET_ITEM(plan, 2)) != self->nslots) {
            PyErr_SetString(PyExc_TypeError, "Events: a plan is not (getter, drop, slots)");
            goto error;
        }
        PyObject *slots = PyTuple_GET_ITEM(plan, 2);
        roles = PyBytes_FromStringAndSize(NULL, it->n);
        if (roles == NULL)
            goto error;
        signed char *role = (signed char *)PyBytes_AS_STRING(roles);
        for (Py_ssize_t j = 0; j < it->n; j++) {
            PyObject *k = it->k[j];
            role[j] = ROLE_ATTR;
            for (int i = 0; i < self->nslots; i++) {
                PyObject *slot = PyTuple_GET_ITEM(slots, i);
                if (slot == Py_None)
                    continue;
                int eq = slot == k ? 1 : PyObject_RichCompareBool(slot, k, Py_EQ);
                if (eq < 0)
                    goto error;
                if (eq) {
                    role[j] = (signed char)i;
                    break;
                }
            }
            if (role[j] == ROLE_ATTR) {
                if (PyUnicode_Compare(k, k_kind) == 0)
                    role[j] = ROLE_KIND;
                else
                    nattr++;
            }
        }
    }
    out->keys = keys;
    out->plan = plan;
    out->roles = roles;
    out->nattr = nattr;
    if (remember) {
        Shape *s = &self->shapes[self->next_shape];
        shape_clear(s);
        shape_hold(s, out);
        self->last_shape = self->next_shape;
        self->next_shape = (self->next_shape + 1) % NSHAPES;
    }
    return 0;
error:
    Py_XDECREF(keys);
    Py_XDECREF(plan);
    Py_XDECREF(roles);
    return -1;
}

/* -- the event --------------------------------------------------------------------- */

/* JsonLogs.event(owner, *args, **kwargs) */
static PyObject *
delegate(Events *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    PyObject *small[16];
    PyObject **buf = small;
    if (total + 1 > 16) {
        buf = PyMem_New(PyObject *, total + 1);
        if (buf == NULL)
            return PyErr_NoMemory();
    }
    buf[0] = self->owner;
    if (total)
        memcpy(buf + 1, args, total * sizeof(PyObject *));
    PyObject *r = PyObject_Vectorcall(self->py_event, buf, nargs + 1, kwnames);
    if (buf != small)
        PyMem_Free(buf);
    return r;
}

/* the value of `v` as an attribute (str), as the Python path converts it */
static PyObject *
attribute_text(Events *self, PyObject *v)
{
    if (PyUnicode_CheckExact(v)) {
        Py_INCREF(v);
        return v;
    }
    if (PyLong_CheckExact(v))
        return PyObject_Str(v);
    if (PyFloat_CheckExact(v) && isfinite(PyFloat_AS_DOUBLE(v)))
        return float_text(self, v);
    if (v == Py_True || v == Py_False || v == Py_None) { /* as _text reads them */
        PyObject *s = v == Py_True ? s_true : v == Py_False ? s_false : s_empty;
        Py_INCREF(s);
        return s;
    }
    return call_text(self, v);
}

/* prefixes.get((topic, partition)), borrowed, or NULL (with or without an error) */
static PyObject *
prefix_of(Events *self, PyObject *topic, PyObject *partition)
{
    int i = partition_slot(partition, NPFX);
    if (self->pfx_value[i] != NULL
        && (self->pfx_topic[i] == topic || PyUnicode_Compare(self->pfx_topic[i], topic) == 0)) {
        int same = self->pfx_partition[i] == partition ? 1
                   : PyObject_RichCompareBool(self->pfx_partition[i], partition, Py_EQ);
        if (same < 0)
            return NULL;
        if (same)
            return self->pfx_value[i];
    }
    else if (PyErr_Occurred())
        return NULL;
    PyObject *key = PyTuple_Pack(2, topic, partition);
    if (key == NULL)
        return NULL;
    PyObject *prefix = PyDict_GetItemWithError(self->prefixes, key);
    Py_DECREF(key);
    if (prefix != NULL && prefix != Py_None) {
        Py_INCREF(topic);
        Py_XSETREF(self->pfx_topic[i], topic);
        Py_INCREF(partition);
        Py_XSETREF(self->pfx_partition[i], partition);
        Py_INCREF(prefix);
        Py_XSETREF(self->pfx_value[i], prefix);
    }
    return prefix;
}

/* 12 hex digits of offset (offset.to_bytes(6, "big").hex()) after prefix */
static PyObject *
prefixed_id(PyObject *prefix, unsigned long long offset)
{
    static const char hex[] = "0123456789abcdef";
    char tail[13];
    for (int i = 11; i >= 0; i--) {
        tail[i] = hex[offset & 0xF];
        offset >>= 4;
    }
    tail[12] = '\0';
    if (PyUnicode_CheckExact(prefix) && PyUnicode_IS_ASCII(prefix)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(prefix);
        PyObject *out = PyUnicode_New(n + 12, 127);
        if (out == NULL)
            return NULL;
        Py_UCS1 *q = PyUnicode_1BYTE_DATA(out);
        memcpy(q, PyUnicode_1BYTE_DATA(prefix), n);
        memcpy(q + n, tail, 12);
        return out;
    }
    PyObject *t = PyUnicode_FromStringAndSize(tail, 12);
    if (t == NULL)
        return NULL;
    PyObject *out = PyNumber_Add(prefix, t);
    Py_DECREF(t);
    return out;
}

/* RFC 3339 in UTC with 1 to 15 ASCII digits of fraction (`2026-01-01T00:00:00.123Z`),
 * the commonest event time: the second from iso_cache (through a memo of the seconds
 * read), plus the fraction. digits / 10**k is the double nearest to float(".digits"), as
 * both are exact before the one rounding. NULL (no error) when it is not that form or
 * its second is not in iso_cache yet. */
static PyObject *
iso_z(Events *self, PyObject *raw)
{
    static const double pow10[16] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
                                     1e14, 1e15};
    if (!PyUnicode_IS_ASCII(raw))
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(raw);
    const char *p = (const char *)PyUnicode_1BYTE_DATA(raw);
    if (n < 21 || n > 20 + 15 + 1 || p[n - 1] != 'Z' || p[19] != '.')
        return NULL;
    unsigned long long u = 0;
    for (Py_ssize_t i = 20; i < n - 1; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9)
            return NULL;
        u = u * 10 + d;
    }
    unsigned tens = (unsigned)(p[17] - '0'), ones = (unsigned)(p[18] - '0');
    if (tens > 5 || ones > 9)
        return NULL; /* not a second of a minute: event_time() says what it is */
    unsigned i = tens * 10 + ones;
    if (!self->sec_known[i] || memcmp(self->sec_key[i], p, 19) != 0) {
        PyObject *key = PyUnicode_FromStringAndSize(p, 19);
        if (key == NULL)
            return NULL;
        PyObject *base = PyDict_GetItemWithError(self->iso_cache, key);
        Py_DECREF(key);
        if (base == NULL || !PyFloat_CheckExact(base))
            return NULL;
        memcpy(self->sec_key[i], p, 19);
        self->sec_base[i] = PyFloat_AS_DOUBLE(base);
        self->sec_known[i] = 1;
    }
    return PyFloat_FromDouble(self->sec_base[i] + (double)u / pow10[n - 21]);
}

/* The event time from the cached or fast readings, or NULL with no error set when
 * event_time() must decide (or NULL with an error). */
static PyObject *
fast_time(Events *self, PyObject *raw, double hi)
{
    PyObject *ts = NULL;
    if (PyUnicode_CheckExact(raw)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(raw);
        int kind = PyUnicode_KIND(raw);
        const void *data = PyUnicode_DATA(raw);
        if ((ts = iso_z(self, raw)) != NULL || PyErr_Occurred())
            ; /* the commonest form */
        else if (n >= 20 && PyUnicode_READ(kind, data, n - 1) == 'Z' && PyUnicode_READ(kind, data, 19) == '.') {
            /* what iso_z leaves: over 15 digits, other decimal digits, or a new second */
            PyObject *key = PyUnicode_Substring(raw, 0, 19);
            if (key == NULL)
                return NULL;
            PyObject *base = PyDict_GetItemWithError(self->iso_cache, key);
            Py_DECREF(key);
            if (base == NULL) {
                if (PyErr_Occurred())
                    return NULL;
            }
            else if (isdecimal_range(raw, 20, n - 1)) {
                Py_INCREF(base);
                PyObject *fs = PyUnicode_Substring(raw, 19, n - 1);
                PyObject *frac = fs ? PyFloat_FromString(fs) : NULL;
                Py_XDECREF(fs);
                if (frac == NULL) {
                    Py_DECREF(base);
                    return NULL;
                }
                if (PyFloat_CheckExact(base))
                    ts = PyFloat_FromDouble(PyFloat_AS_DOUBLE(base) + PyFloat_AS_DOUBLE(frac));
                else
                    ts = PyNumber_Add(base, frac);
                Py_DECREF(base);
                Py_DECREF(frac);
                if (ts == NULL)
                    return NULL;
            }
        }
        else if (ascii_digits(raw)) {
            /* OpenTelemetry's timeUnixNano; as event_time() reads it */
            double v;
            Py_ssize_t len = PyUnicode_GET_LENGTH(raw);
            if (len <= 19) {
                /* below 10**19 < 2**64: the integer is exact, and its conversion rounds
                 * to nearest even as float(text) does */
                const Py_UCS1 *p = PyUnicode_1BYTE_DATA(raw);
                unsigned long long u = 0;
                for (Py_ssize_t i = 0; i < len; i++)
                    u = u * 10 + (unsigned long long)(p[i] - '0');
                v = (double)u;
            }
            else {
                PyObject *f = PyFloat_FromString(raw);
                if (f == NULL)
                    return NULL;
                v = PyFloat_AS_DOUBLE(f);
                Py_DECREF(f);
            }
            ts = PyFloat_FromDouble(epoch_seconds(v));
            if (ts == NULL)
                return NULL;
        }
        if (ts == NULL && PyErr_Occurred())
            return NULL;
        if (ts != NULL) {
            int ok = in_range(self, ts, hi);
            if (ok <= 0) {
                Py_CLEAR(ts);
                if (ok < 0)
                    return NULL;
            }
        }
        return ts;
    }
    if (PyFloat_CheckExact(raw)) {
        double v = PyFloat_AS_DOUBLE(raw);
        if (self->min_epoch <= v && v <= hi) {
            Py_INCREF(raw);
            return raw;
        }
        /* else as event_time() reads a number, when that is in range */
        v = epoch_seconds(v);
        if (self->min_epoch <= v && v <= hi)
            return PyFloat_FromDouble(v);
        return NULL;
    }
    if (PyLong_CheckExact(raw)) {
        /* as event_time() reads an int, when that is in range (pino's epoch ms) */
        double v = PyLong_AsDouble(raw);
        if (v == -1.0 && PyErr_Occurred()) {
            PyErr_Clear(); /* too large for a float: event_time() flags it */
            return NULL;
        }
        v = epoch_seconds(v);
        if (self->min_epoch <= v && v <= hi)
            return PyFloat_FromDouble(v);
    }
    return NULL;
}

/* -- one call ------------------------------------------------------------------------ */

/* The arguments of a call in the common case: (d, observed, topic, partition, offset,
 * flat, attributes=None, index=0) for a log; the same without `flat` for a security
 * event, and with labels=None after `index` for a metric sample. */
typedef struct {
    PyObject *const *args;
    size_t nargsf;
    PyObject *kwnames;
    PyObject *d, *observed, *topic, *partition, *offset, *flat, *attributes, *index, *labels;
    unsigned long long off;
    int big_offset; /* beyond 48 bits: the stable id is a full hash */
    int indexed;    /* index > 0: the id of an event of a decoder's record */
} Call;

/* 0: read, 1: let the Python path take the call, -1: error */
static int
read_call(Events *self, PyObject *const *args, size_t nargsf, PyObject *kwnames, Call *c)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    int log = self->kind == K_LOG;
    Py_ssize_t least = log ? 6 : 5, most = least + (self->kind == K_METRIC ? 3 : 2);
    c->args = args;
    c->nargsf = nargsf;
    c->kwnames = kwnames;
    if (kwnames != NULL || nargs < least || nargs > most)
        return 1;
    c->d = args[0];
    c->observed = args[1];
    c->topic = args[2];
    c->partition = args[3];
    c->offset = args[4];
    c->flat = log ? args[5] : Py_False;
    c->attributes = nargs > least ? args[least] : Py_None;
    c->index = nargs > least + 1 ? args[least + 1] : NULL;
    c->labels = nargs > least + 2 ? args[least + 2] : Py_None;
    if (PyBytes_CheckExact(c->d) && c->attributes == Py_None && c->labels == Py_None) {
        c->d = NULL; /* a JSON record (or an element of a JSON array, with its index) as its bytes: raw_event */
        c->flat = Py_False;
    }
    else if (!PyDict_CheckExact(c->d))
        return 1;
    if (!PyFloat_CheckExact(c->observed) || !PyUnicode_CheckExact(c->topic)
        || !PyLong_CheckExact(c->partition) || !PyLong_CheckExact(c->offset)
        || (c->flat != Py_True && c->flat != Py_False)
        || (c->attributes != Py_None && !PyDict_CheckExact(c->attributes))
        || (c->index != NULL && !PyLong_CheckExact(c->index)))
        return 1;
    int overflow;
    long long off = PyLong_AsLongLongAndOverflow(c->offset, &overflow);
    if (off == -1 && PyErr_Occurred())
        return -1;
    if (overflow < 0 || (overflow == 0 && off < 0))
        return 1;
    c->off = (unsigned long long)off;
    c->big_offset = overflow > 0 || c->off > self->max_offset;
    c->indexed = 0;
    if (c->index != NULL && (c->indexed = PyObject_IsTrue(c->index)) < 0)
        return -1;
    return 0;
}

/* The keys and values of the record, nested objects flattened (but for `skip`, a
 * top-level key), into `it`, and its shape into `shape` (new references). 0 done, -1
 * error, 1 let the Python path decide. */
static int
read_record(Events *self, Call *c, PyObject *skip, Items *it, Shape *shape)
{
    int r = 0;
    if (c->flat == Py_False) {
        if (self->nkeys > KEY_CACHE_LIMIT) {
            PyDict_Clear(self->keys);
            self->nkeys = 0;
        }
        r = collect_nested(self, c->d, NULL, it, 0, skip);
    }
    else {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(c->d, &pos, &k, &v)) {
            Py_INCREF(k);
            if ((r = items_push(it, k, v)) < 0)
                break;
        }
    }
    if (r != 0)
        return r;
    Shape *known = find_shape(self, it);
    if (known == NULL)
        return learn_shape(self, it, shape);
    shape_hold(shape, known);
    return 0;
}

/* The slot values of the record (borrowed from `it`, None when absent). */
static void
take_slots(Events *self, Shape *shape, Items *it, PyObject **vals)
{
    const signed char *role = (const signed char *)PyBytes_AS_STRING(shape->roles);
    for (int i = 0; i < self->nslots; i++)
        vals[i] = Py_None;
    for (Py_ssize_t j = 0; j < it->n; j++)
        if (role[j] >= 0)
            vals[(int)role[j]] = it->v[j];
}

/* The attributes: the keys that fill no slot, their values as text, but "kind"; then
 * the decoder's `attributes`. A log keeps a "kind" of the decoder's (JsonLogs.event),
 * other kinds drop it (Normalizer's _attributes). A new dict. */
static PyObject *
attributes_of(Events *self, Shape *shape, Items *it, PyObject *attributes)
{
    const signed char *role = (const signed char *)PyBytes_AS_STRING(shape->roles);
    Py_ssize_t extra = attributes == Py_None ? 0 : PyDict_GET_SIZE(attributes);
#if PY_VERSION_HEX < 0x030D0000
    PyObject *attrs = _PyDict_NewPresized(shape->nattr + extra + ENRICH_ROOM);
#else
    PyObject *attrs = PyDict_New();
#endif
    if (attrs == NULL)
        return NULL;
    for (Py_ssize_t j = 0; j < it->n; j++) {
        if (role[j] >= 0)
            continue;
        PyObject *s = attribute_text(self, it->v[j]);
        if (s == NULL)
            goto error;
        int r = role[j] == ROLE_ATTR ? PyDict_SetItem(attrs, it->k[j], s) : 0;
        Py_DECREF(s);
        if (r < 0)
            goto error;
    }
    if (extra) {
        if (PyDict_Update(attrs, attributes) < 0)
            goto error;
        if (self->kind != K_LOG) {
            int has = PyDict_Contains(attrs, k_kind);
            if (has < 0 || (has && PyDict_DelItem(attrs, k_kind) < 0))
                goto error;
        }
    }
    return attrs;
error:
    Py_DECREF(attrs);
    return NULL;
}

/* The event id: the record's own when it is a UUID (lowercase), else the stable id of its
 * coordinates (an id that is not a UUID kept in attrs). */
static PyObject *
event_id(Events *self, Call *c, PyObject *raw, PyObject *attrs)
{
    if (c->indexed) {
        if (raw == Py_None) {
            PyObject *a[4] = {c->topic, c->partition, c->offset, c->index};
            return PyObject_Vectorcall(self->stable_id, a, 4, NULL);
        }
        if (!is_uuid(raw)) {
            PyObject *a[6] = {attrs, raw, c->topic, c->partition, c->offset, c->index};
            return PyObject_Vectorcall(self->foreign_id, a, 6, NULL);
        }
        return ascii_lower(raw);
    }
    if (raw == Py_None) {
        PyObject *prefix = prefix_of(self, c->topic, c->partition);
        if (prefix == NULL && PyErr_Occurred())
            return NULL;
        if (prefix == NULL || prefix == Py_None || c->big_offset) {
            PyObject *a[3] = {c->topic, c->partition, c->offset};
            return PyObject_Vectorcall(self->fresh_id, a, 3, NULL);
        }
        return prefixed_id(prefix, c->off);
    }
    if (!is_uuid(raw)) {
        PyObject *a[5] = {attrs, raw, c->topic, c->partition, c->offset};
        return PyObject_Vectorcall(self->foreign_id, a, 5, NULL);
    }
    return ascii_lower(raw);
}

/* The event time: observed when there is none, the fast readings, else event_time(). */
static PyObject *
event_time(Events *self, PyObject *raw, PyObject *observed, PyObject *attrs)
{
    if (raw == Py_None) {
        Py_INCREF(observed);
        return observed;
    }
    PyObject *ts = fast_time(self, raw, PyFloat_AS_DOUBLE(observed) + self->max_future);
    if (ts != NULL || PyErr_Occurred())
        return ts;
    return PyObject_CallMethodObjArgs(self->times, s_event_time, raw, observed, attrs, NULL);
}

/* _severity_of(level, number) as (number, text), new references in out[0], out[1] */
static int
severity_pair(Events *self, PyObject *level, PyObject *number, PyObject **out)
{
    PyObject *sev = NULL;
    if (number == Py_None && PyUnicode_CheckExact(level)) {
        sev = PyDict_GetItemWithError(self->severity_fast, level);
        if (sev != NULL)
            Py_INCREF(sev);
        else if (PyErr_Occurred())
            return -1;
    }
    else if (number == Py_None && level == Py_None && self->no_severity != NULL)
        sev = Py_NewRef(self->no_severity);
    if (sev == NULL) {
        PyObject *a[2] = {level, number};
        sev = PyObject_Vectorcall(self->severity_of, a, 2, NULL);
        if (sev == NULL)
            return -1;
        if (number == Py_None && level == Py_None) /* a security event's usual case */
            self->no_severity = Py_NewRef(sev);
    }
    if (PyTuple_CheckExact(sev) && PyTuple_GET_SIZE(sev) >= 2) {
        out[0] = PyTuple_GET_ITEM(sev, 0);
        out[1] = PyTuple_GET_ITEM(sev, 1);
        Py_INCREF(out[0]);
        Py_INCREF(out[1]);
    }
    else if ((out[0] = PySequence_GetItem(sev, 0)) == NULL || (out[1] = PySequence_GetItem(sev, 1)) == NULL) {
        Py_DECREF(sev);
        return -1;
    }
    Py_DECREF(sev);
    return 0;
}

/* `table[v]` for an exact str found there (the tables' keys are lowercase and stripped, so
 * such a v needs no folding), else helper(v); a new reference */
static PyObject *
folded_lookup(PyObject *table, PyObject *helper, PyObject *v)
{
    if (PyUnicode_CheckExact(v)) {
        PyObject *hit = PyDict_GetItemWithError(table, v);
        if (hit != NULL) {
            Py_INCREF(hit);
            return hit;
        }
        if (PyErr_Occurred())
            return NULL;
    }
    return PyObject_CallOneArg(helper, v);
}

/* a dict of n keys and values (not stolen), in that order */
/* -- the three kinds ----------------------------------------------------------------- */

/* The fields every event starts with, in this order; the kind's own follow. */
enum { F_EID, F_TS, F_OBSERVED, F_TENANT, F_SERVICE, F_ENV, F_HOST, F_ATTRS, F_KIND, N_HEAD };
#define MAX_FIELDS 20

/* Normalizer._head into f[]: new references, in the order the Python path reads them */
static int
read_head(Events *self, Call *c, PyObject **vals, PyObject *attrs, PyObject **f)
{
    if ((f[F_EID] = event_id(self, c, vals[S_EID], attrs)) == NULL
        || (f[F_TS] = event_time(self, vals[S_TS], c->observed, attrs)) == NULL
        || (f[F_TENANT] = name_field(self, vals[S_TENANT], s_default)) == NULL
        || (f[F_SERVICE] = name_field(self, vals[S_SERVICE], s_unknown)) == NULL
        || (f[F_ENV] = text_field(self, vals[S_ENV])) == NULL
        || (f[F_HOST] = text_field(self, vals[S_HOST])) == NULL)
        return -1;
    return 0;
}

/* the event of fields f[0..n) (all set but observed, attrs, kind): its dict, or in
   fields mode the tuple of its values (f[] stays the caller's to release) */
static PyObject *
finish(Events *self, Call *c, PyObject *const *keys, PyObject **f, int n, PyObject *attrs, PyObject *kind)
{
    f[F_OBSERVED] = c->observed;
    f[F_ATTRS] = attrs;
    f[F_KIND] = kind;
    PyObject *result = self->as_fields ? PyTuple_New(n) : dict_of(keys, f, n);
    if (self->as_fields && result != NULL)
        for (int i = 0; i < n; i++)
            PyTuple_SET_ITEM(result, i, Py_NewRef(f[i]));
    f[F_OBSERVED] = f[F_ATTRS] = f[F_KIND] = NULL; /* borrowed */
    return result;
}

static void
release(PyObject **f, int n)
{
    for (int i = 0; i < n; i++)
        Py_CLEAR(f[i]);
}

/* A log event's fields, in the order of its dict (LOG_FIELDS) */
enum { L_SEVNUM = N_HEAD, L_SEVTEXT, L_MESSAGE, L_TRACE, L_SPAN, N_LOG };
static PyObject **log_keys[N_LOG] = {&k_event_id, &k_ts, &k_observed_ts, &k_tenant, &k_service, &k_env, &k_host,
                                     &k_attributes, &k_kind, &k_severity_number, &k_severity_text, &k_message,
                                     &k_trace_id, &k_span_id};
/* a metric sample's and a security event's fields, in the order of their dicts */
#define N_METRIC 14
static PyObject **metric_keys[N_METRIC] = {&k_event_id, &k_ts, &k_observed_ts, &k_tenant, &k_service, &k_env,
                                           &k_host, &k_attributes, &k_kind, &k_name, &k_type, &k_value, &k_unit,
                                           &k_labels};
#define N_SECURITY 18
static PyObject **security_keys[N_SECURITY] = {
    &k_event_id, &k_ts, &k_observed_ts, &k_tenant, &k_service, &k_env, &k_host, &k_attributes, &k_kind,
    &k_category, &k_action, &k_outcome, &k_actor, &k_target, &k_source_ip, &k_severity_number, &k_severity_text,
    &k_message};

/* JsonLogs.event */
static PyObject *
log_event(Events *self, Call *c, Items *it, Shape *shape)
{
    enum { N = N_LOG };
    PyObject *vals[MAX_SLOTS], *f[MAX_FIELDS] = {NULL}, *k[N], *attrs, *result = NULL;
    take_slots(self, shape, it, vals);
    if ((attrs = attributes_of(self, shape, it, c->attributes)) == NULL)
        return NULL;
    /* the order of JsonLogs.event: id, time, severity, then the dict display */
    if ((f[F_EID] = event_id(self, c, vals[S_EID], attrs)) == NULL
        || (f[F_TS] = event_time(self, vals[S_TS], c->observed, attrs)) == NULL
        || severity_pair(self, vals[S_LEVEL], vals[S_SEVNUM], &f[L_SEVNUM]) < 0
        || (f[F_TENANT] = name_field(self, vals[S_TENANT], s_default)) == NULL
        || (f[F_SERVICE] = name_field(self, vals[S_SERVICE], s_unknown)) == NULL
        || (f[F_ENV] = text_field(self, vals[S_ENV])) == NULL || (f[F_HOST] = text_field(self, vals[S_HOST])) == NULL
        || (f[L_MESSAGE] = text_field(self, vals[S_MESSAGE])) == NULL
        || (f[L_TRACE] = id_field(self, vals[S_TRACE], i_32)) == NULL
        || (f[L_SPAN] = id_field(self, vals[S_SPAN], i_16)) == NULL)
        goto done;
    for (int i = 0; i < N; i++)
        k[i] = *log_keys[i];
    result = finish(self, c, k, f, N, attrs, s_log);
done:
    Py_DECREF(attrs);
    release(f, N);
    return result;
}

/* Normalizer.metric, the labels read. NULL with no error set: let the Python path decide. */
static PyObject *
metric_event(Events *self, Call *c, Items *it, Shape *shape, PyObject *labels)
{
    enum { F_NAME = N_HEAD, F_TYPE, F_VALUE, F_UNIT, F_LABELS, N = N_METRIC };
    PyObject **const *keys = metric_keys;
    PyObject *vals[MAX_SLOTS], *f[MAX_FIELDS] = {NULL}, *k[N], *attrs, *result = NULL;
    double value;
    take_slots(self, shape, it, vals);
    /* a sample without a name or a finite number: the Python path raises what it raises */
    PyObject *name = vals[M_NAME], *raw = vals[M_VALUE];
    if (!PyUnicode_CheckExact(name) || PyUnicode_GET_LENGTH(name) == 0)
        return NULL;
    if (PyFloat_CheckExact(raw))
        value = PyFloat_AS_DOUBLE(raw);
    else if (PyLong_CheckExact(raw)) {
        value = PyLong_AsDouble(raw);
        if (value == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return NULL;
        }
    }
    else
        return NULL;
    if (!isfinite(value))
        return NULL;
    if ((attrs = attributes_of(self, shape, it, c->attributes)) == NULL)
        return NULL;
    if (read_head(self, c, vals, attrs, f) < 0)
        goto done;
    if (vals[M_TYPE] == Py_None)
        f[F_TYPE] = Py_NewRef(s_gauge);
    else if ((f[F_TYPE] = folded_lookup(self->metric_types, self->metric_type, vals[M_TYPE])) == NULL)
        goto done;
    if ((f[F_VALUE] = PyFloat_CheckExact(raw) ? Py_NewRef(raw) : PyFloat_FromDouble(value)) == NULL
        || (f[F_UNIT] = text_field(self, vals[M_UNIT])) == NULL)
        goto done;
    f[F_NAME] = Py_NewRef(name);
    f[F_LABELS] = Py_NewRef(labels);
    for (int i = 0; i < N; i++)
        k[i] = *keys[i];
    result = finish(self, c, k, f, N, attrs, s_metric);
done:
    Py_DECREF(attrs);
    release(f, N);
    return result;
}

/* Normalizer.security */
static PyObject *
security_event(Events *self, Call *c, Items *it, Shape *shape)
{
    enum { F_CATEGORY = N_HEAD, F_ACTION, F_OUTCOME, F_ACTOR, F_TARGET, F_SOURCE_IP, F_SEVNUM, F_SEVTEXT, F_MESSAGE,
           N = N_SECURITY };
    PyObject **const *keys = security_keys;
    PyObject *vals[MAX_SLOTS], *f[MAX_FIELDS] = {NULL}, *k[N], *attrs, *result = NULL;
    take_slots(self, shape, it, vals);
    if ((attrs = attributes_of(self, shape, it, c->attributes)) == NULL)
        return NULL;
    if (read_head(self, c, vals, attrs, f) < 0
        || severity_pair(self, vals[X_LEVEL], vals[X_SEVNUM], &f[F_SEVNUM]) < 0)
        goto done;
    /* then the dict display of Normalizer.security, in its order */
    PyObject *v = vals[X_CATEGORY];
    if (v == Py_None || (PyUnicode_CheckExact(v) && PyUnicode_GET_LENGTH(v) == 0))
        f[F_CATEGORY] = Py_NewRef(s_other);
    else if (PyUnicode_CheckExact(v) && PyUnicode_IS_ASCII(v))
        f[F_CATEGORY] = ascii_lower(v);
    else
        f[F_CATEGORY] = PyObject_CallOneArg(self->category, v);
    if (f[F_CATEGORY] == NULL || (f[F_ACTION] = text_field(self, vals[X_ACTION])) == NULL)
        goto done;
    if (vals[X_OUTCOME] == Py_None)
        f[F_OUTCOME] = Py_NewRef(s_unknown);
    else if ((f[F_OUTCOME] = folded_lookup(self->outcomes, self->outcome, vals[X_OUTCOME])) == NULL)
        goto done;
    if ((f[F_ACTOR] = text_field(self, vals[X_ACTOR])) == NULL
        || (f[F_TARGET] = text_field(self, vals[X_TARGET])) == NULL
        || (f[F_SOURCE_IP] = text_field(self, vals[X_SOURCE_IP])) == NULL
        || (f[F_MESSAGE] = text_field(self, vals[X_MESSAGE])) == NULL)
        goto done;
    for (int i = 0; i < N; i++)
        k[i] = *keys[i];
    result = finish(self, c, k, f, N, attrs, s_security);
done:
    Py_DECREF(attrs);
    release(f, N);
    return result;
}

/* The labels of a metric sample that brings none from its decoder, as _pop_labels reads
 * them, and the key they are under (borrowed) in *key. NULL with no error set: let the
 * Python path decide (nested labels, labels flattened into "labels.x" keys). */
static PyObject *
metric_labels(Events *self, PyObject *d, PyObject **key)
{
    static PyObject **label_keys[] = {&k_labels, &s_tags, &s_dimensions, &k_attributes};
    static PyObject **prefixes[] = {&s_labels_dot, &s_tags_dot, &s_dimensions_dot, &s_attributes_dot};
    *key = NULL;
    for (int i = 0; i < 4; i++) {
        PyObject *obj = PyDict_GetItemWithError(d, *label_keys[i]);
        if (obj == NULL) {
            if (PyErr_Occurred())
                return NULL;
            continue;
        }
        if (!PyDict_CheckExact(obj))
            continue;
        *key = *label_keys[i];
#if PY_VERSION_HEX < 0x030D0000
        PyObject *labels = _PyDict_NewPresized(PyDict_GET_SIZE(obj));
#else
        PyObject *labels = PyDict_New();
#endif
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        if (labels == NULL)
            return NULL;
        Py_INCREF(obj);
        while (PyDict_Next(obj, &pos, &k, &v)) {
            if (PyDict_CheckExact(v) && PyDict_GET_SIZE(v)) {
                Py_CLEAR(labels); /* nested: flatten() decides */
                break;
            }
            PyObject *s = attribute_text(self, v);
            int r = s == NULL ? -1 : PyDict_SetItem(labels, k, s);
            Py_XDECREF(s);
            if (r < 0) {
                Py_CLEAR(labels);
                break;
            }
        }
        Py_DECREF(obj);
        return labels;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k))
            return NULL;
        if (PyUnicode_IS_ASCII(k)) {
            /* the common case, without a call per prefix */
            Py_ssize_t n = PyUnicode_GET_LENGTH(k);
            const char *p = (const char *)PyUnicode_1BYTE_DATA(k);
            for (int i = 0; i < 4; i++) {
                Py_ssize_t m = PyUnicode_GET_LENGTH(*prefixes[i]);
                if (n >= m && p[0] == (char)PyUnicode_1BYTE_DATA(*prefixes[i])[0]
                    && memcmp(p, PyUnicode_1BYTE_DATA(*prefixes[i]), m) == 0)
                    return NULL;
            }
            continue;
        }
        for (int i = 0; i < 4; i++) {
            int hit = (int)PyUnicode_Tailmatch(k, *prefixes[i], 0, PY_SSIZE_T_MAX, -1);
            if (hit) /* 1, or -1 with an error */
                return NULL;
        }
    }
    return PyDict_New();
}

/* -- records read from their bytes (_rawjson.h) ---------------------------------------- */

static void
raw_clear(RawShape *e)
{
    PyMem_Free(e->t);
    e->t = NULL;
    e->tn = 0;
    shape_clear(&e->shape);
    Py_CLEAR(e->label_keys);
}

static RawShape *
find_raw(Events *self, const RawRecord *rec)
{
    for (int i = 0; i < NRAW; i++) {
        int j = (self->last_raw + i) % NRAW;
        RawShape *e = &self->raw[j];
        if (e->t != NULL && e->tn == rec->tn && memcmp(e->t, rec->t, rec->tn) == 0) {
            self->last_raw = j;
            return e;
        }
    }
    return NULL;
}

/* the leaves flatten() makes of v */
static Py_ssize_t
leaf_count(PyObject *v)
{
    if (!PyDict_CheckExact(v) || PyDict_GET_SIZE(v) == 0)
        return 1;
    Py_ssize_t pos = 0, n = 0;
    PyObject *k, *sub;
    while (PyDict_Next(v, &pos, &k, &sub))
        n += leaf_count(sub);
    return n;
}

/* The template of `rec` (whose bytes had `leaves` leaves) remembered with the shape of
 * its record `d` (read into `it` and `shape`; `skip`: the key of its labels object, or
 * NULL), when flatten() gave one leaf per leaf of the bytes: no key twice, so the
 * template's leaves are d's, in d's order. */
static int
remember_raw(Events *self, const RawRecord *rec, Py_ssize_t leaves, PyObject *d, PyObject *skip, const Items *it,
             const Shape *shape)
{
    PyObject *labels = NULL, *label_keys = NULL;
    Py_ssize_t label_at = 0, label_n = 0;
    if (skip != NULL) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(d, &pos, &k, &v) && !(k == skip || PyUnicode_Compare(k, skip) == 0))
            label_at += leaf_count(v);
        if (PyErr_Occurred())
            return -1;
        labels = PyDict_GetItemWithError(d, skip);
        if (labels == NULL)
            return PyErr_Occurred() ? -1 : 0;
        label_n = leaf_count(labels); /* labels holds no object: metric_labels read it */
    }
    if (it->n + label_n != leaves)
        return 0;
    if (labels != NULL) {
        PyObject *list = PyDict_Keys(labels);
        label_keys = list == NULL ? NULL : PySequence_Tuple(list);
        Py_XDECREF(list);
        if (label_keys == NULL)
            return -1;
    }
    char *t = PyMem_Malloc(rec->tn);
    if (t == NULL) {
        Py_XDECREF(label_keys);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(t, rec->t, rec->tn);
    RawShape *e = &self->raw[self->next_raw];
    raw_clear(e);
    e->t = t;
    e->tn = rec->tn;
    shape_hold(&e->shape, shape);
    e->label_keys = label_keys;
    e->label_at = label_at;
    e->label_n = label_n;
    self->last_raw = self->next_raw;
    self->next_raw = (self->next_raw + 1) % NRAW;
    return 0;
}

/* The items of a record of a remembered template, and for a metric sample its labels
 * (a new dict, as metric_labels makes it; `labels` NULL for other kinds) */
static int
take_raw(Events *self, const RawShape *known, RawRecord *rec, Items *it, Shape *shape, PyObject **labels)
{
    PyObject **keys = ((PyTupleObject *)known->shape.keys)->ob_item;
    Py_ssize_t from = known->label_at, to = from + known->label_n, j = 0;
    if (labels != NULL) {
        Py_ssize_t n = known->label_keys == NULL ? 0 : PyTuple_GET_SIZE(known->label_keys);
#if PY_VERSION_HEX < 0x030D0000
        *labels = _PyDict_NewPresized(n);
#else
        *labels = PyDict_New();
#endif
        for (Py_ssize_t i = 0; *labels != NULL && i < n; i++) {
            PyObject *text = attribute_text(self, rec->v[from + i]);
            if (text == NULL || PyDict_SetItem(*labels, PyTuple_GET_ITEM(known->label_keys, i), text) < 0)
                Py_CLEAR(*labels);
            Py_XDECREF(text);
        }
        if (*labels == NULL)
            return -1;
    }
    for (Py_ssize_t i = 0; i < rec->n; i++) {
        if (i >= from && i < to) {
            Py_DECREF(rec->v[i]);
            continue;
        }
        it->k[j] = Py_NewRef(keys[j]);
        it->v[j++] = rec->v[i]; /* the record's reference, handed over */
    }
    it->n = j;
    rec->n = 0;
    shape_hold(shape, &known->shape);
    return 0;
}

/* The items and shape of a JSON record given as its bytes (c->d NULL), into `it` and
 * `shape` (new references), and for a metric sample its labels into *labels. A record
 * whose template is remembered is read by raw_read alone; any other is parsed by orjson
 * and read as its dict (c->d then holds it, a new reference), and its template
 * remembered. An OTLP batch is never read here (the batch loop sends it down the
 * generic path before it makes an event, but for a log, which is None). 0 done, -1
 * error, 1 not read (the caller parses it). */
static int
read_bytes(Events *self, Call *c, PyObject *value, Items *it, Shape *shape, PyObject **labels)
{
    RawRecord rec;
    PyObject *skip = NULL;
    int r = raw_read(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value), &rec);
    RawShape *known = r == RAW_OK ? find_raw(self, &rec) : NULL;
    if (known != NULL)
        r = take_raw(self, known, &rec, it, shape, self->kind == K_METRIC ? labels : NULL);
    Py_ssize_t leaves = rec.n;
    raw_release(&rec);
    if (r != RAW_OK || known != NULL)
        return r;
    if ((c->d = PyObject_CallOneArg(orjson_loads, value)) == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return -1;
        PyErr_Clear();
        return 1;
    }
    if (!PyDict_CheckExact(c->d))
        return 1;
    if (self->kind != K_LOG) {
        int otlp = PyDict_Contains(c->d, s_resource_logs);
        if (otlp == 0)
            otlp = PyDict_Contains(c->d, s_resource_metrics);
        if (otlp != 0)
            return otlp;
    }
    if (self->kind == K_METRIC && (*labels = metric_labels(self, c->d, &skip)) == NULL)
        return PyErr_Occurred() ? -1 : 1;
    if ((r = read_record(self, c, skip, it, shape)) != 0)
        return r;
    return remember_raw(self, &rec, leaves, c->d, skip, it, shape);
}

/* Events(value: bytes, observed, topic, partition, offset[, flat]): the event of the
 * JSON record `value`, or NotImplemented when this road does not read it (the caller
 * parses it with orjson and calls again with the dict, which also says why an invalid
 * record is invalid). */
static PyObject *
raw_event(Events *self, Call *c)
{
    Items it;
    Shape shape = {NULL, NULL, NULL, 0};
    PyObject *value = c->args[0], *labels = NULL, *result = NULL;
    items_init(&it);
    int r = read_bytes(self, c, value, &it, &shape, &labels);
    if (r == 0 && shape.plan == Py_None)
        result = Py_NewRef(Py_None); /* an OTLP batch of logs: the caller takes the generic path */
    else if (r == 0 && self->kind == K_LOG)
        result = log_event(self, c, &it, &shape);
    else if (r == 0 && self->kind == K_SECURITY)
        result = security_event(self, c, &it, &shape);
    else if (r == 0)
        result = metric_event(self, c, &it, &shape, labels);
    items_free(&it);
    shape_clear(&shape);
    Py_XDECREF(labels);
    Py_XDECREF(c->d);
    if (result == NULL && r >= 0 && !PyErr_Occurred())
        r = 1;
    return r > 0 ? Py_NewRef(Py_NotImplemented) : result;
}

static PyObject *
events_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Events *self = (Events *)op;
    Call c;
    Items it;
    Shape shape = {NULL, NULL, NULL, 0};
    PyObject *labels = NULL, *skip = NULL, *result = NULL;
    if (self->owner == NULL) {
        PyErr_SetString(PyExc_ReferenceError, "Events: the instance it is bound to is gone");
        return NULL;
    }
    int r = read_call(self, args, nargsf, kwnames, &c);
    int raw = PyVectorcall_NARGS(nargsf) > 0 && PyBytes_CheckExact(args[0]);
    if (r == 0 && raw)
        return raw_event(self, &c);
    if (r != 0)
        return r < 0 ? NULL : raw ? Py_NewRef(Py_NotImplemented) : delegate(self, args, nargsf, kwnames);
    if (self->kind == K_METRIC) {
        if (c.labels != Py_None)
            labels = Py_NewRef(c.labels);
        else if ((labels = metric_labels(self, c.d, &skip)) == NULL)
            return PyErr_Occurred() ? NULL : delegate(self, args, nargsf, kwnames);
    }
    items_init(&it);
    r = read_record(self, &c, skip, &it, &shape);
    if (r == 0 && shape.plan == Py_None)
        result = Py_NewRef(Py_None); /* an OTLP batch: the caller takes the generic path */
    else if (r == 0 && self->kind == K_LOG)
        result = log_event(self, &c, &it, &shape);
    else if (r == 0 && self->kind == K_SECURITY)
        result = security_event(self, &c, &it, &shape);
    else if (r == 0)
        result = metric_event(self, &c, &it, &shape, labels);
    items_free(&it);
    shape_clear(&shape);
    Py_XDECREF(labels);
    if (result == NULL && r >= 0 && !PyErr_Occurred())
        r = 1;
    if (r > 0)
        return delegate(self, args, nargsf, kwnames);
    return result;
}

/* -- the type ------------------------------------------------------------------------ */

static int
events_traverse(Events *self, visitproc visit, void *arg)
{
    Py_VISIT(self->owner);
    Py_VISIT(self->plans);
    Py_VISIT(self->prefixes);
    Py_VISIT(self->times);
    Py_VISIT(self->iso_cache);
    Py_VISIT(self->new_plan);
    Py_VISIT(self->fresh_id);
    Py_VISIT(self->py_event);
    Py_VISIT(self->text);
    Py_VISIT(self->trace_hex);
    Py_VISIT(self->severity_of);
    Py_VISIT(self->stable_id);
    Py_VISIT(self->foreign_id);
    Py_VISIT(self->dumps);
    Py_VISIT(self->severity_fast);
    Py_VISIT(self->no_severity);
    Py_VISIT(self->min_epoch_obj);
    Py_VISIT(self->max_future_obj);
    Py_VISIT(self->category);
    Py_VISIT(self->outcome);
    Py_VISIT(self->metric_type);
    Py_VISIT(self->outcomes);
    Py_VISIT(self->metric_types);
    Py_VISIT(self->keys);
    for (int i = 0; i < NSHAPES; i++) {
        Py_VISIT(self->shapes[i].keys);
        Py_VISIT(self->shapes[i].plan);
        Py_VISIT(self->shapes[i].roles);
    }
    for (int i = 0; i < NRAW; i++) {
        Py_VISIT(self->raw[i].shape.keys);
        Py_VISIT(self->raw[i].shape.plan);
        Py_VISIT(self->raw[i].shape.roles);
        Py_VISIT(self->raw[i].label_keys);
    }
    for (int i = 0; i < NPFX; i++) {
        Py_VISIT(self->pfx_topic[i]);
        Py_VISIT(self->pfx_partition[i]);
        Py_VISIT(self->pfx_value[i]);
    }
    return 0;
}

static int
events_clear(Events *self)
{
    Py_CLEAR(self->owner);
    Py_CLEAR(self->plans);
    Py_CLEAR(self->prefixes);
    Py_CLEAR(self->times);
    Py_CLEAR(self->iso_cache);
    Py_CLEAR(self->new_plan);
    Py_CLEAR(self->fresh_id);
    Py_CLEAR(self->py_event);
    Py_CLEAR(self->text);
    Py_CLEAR(self->trace_hex);
    Py_CLEAR(self->severity_of);
    Py_CLEAR(self->stable_id);
    Py_CLEAR(self->foreign_id);
    Py_CLEAR(self->dumps);
    Py_CLEAR(self->severity_fast);
    Py_CLEAR(self->no_severity);
    Py_CLEAR(self->min_epoch_obj);
    Py_CLEAR(self->max_future_obj);
    Py_CLEAR(self->category);
    Py_CLEAR(self->outcome);
    Py_CLEAR(self->metric_type);
    Py_CLEAR(self->outcomes);
    Py_CLEAR(self->metric_types);
    Py_CLEAR(self->keys);
    for (int i = 0; i < NSHAPES; i++)
        shape_clear(&self->shapes[i]);
    for (int i = 0; i < NRAW; i++)
        raw_clear(&self->raw[i]);
    for (int i = 0; i < NPFX; i++) {
        Py_CLEAR(self->pfx_topic[i]);
        Py_CLEAR(self->pfx_partition[i]);
        Py_CLEAR(self->pfx_value[i]);
    }
    return 0;
}

static void
events_dealloc(Events *self)
{
    PyObject_GC_UnTrack(self);
    events_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* getattr(obj, name), which must be an exact dict when `dict` */
static PyObject *
attr(PyObject *obj, const char *name, int dict)
{
    PyObject *v = PyObject_GetAttrString(obj, name);
    if (v != NULL && dict && !PyDict_CheckExact(v)) {
        PyErr_Format(PyExc_TypeError, "Events: %s must be a dict", name);
        Py_CLEAR(v);
    }
    return v;
}

static PyObject *
events_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *owner, *helpers, *kind_name = NULL;
    int as_fields = 0;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "Events() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OO!|Up:Events", &owner, &PyTuple_Type, &helpers, &kind_name, &as_fields))
        return NULL;
    int kind = K_LOG;
    if (kind_name != NULL) {
        if (PyUnicode_CompareWithASCIIString(kind_name, "log") == 0)
            kind = K_LOG;
        else if (PyUnicode_CompareWithASCIIString(kind_name, "metric") == 0)
            kind = K_METRIC;
        else if (PyUnicode_CompareWithASCIIString(kind_name, "security") == 0)
            kind = K_SECURITY;
        else {
            PyErr_Format(PyExc_ValueError, "Events: no kind %R (log, metric or security)", kind_name);
            return NULL;
        }
    }
    PyObject *event, *text, *trace_hex, *severity_of, *stable_id, *foreign_id, *dumps, *severity_fast;
    PyObject *min_epoch, *max_future, *max_offset;
    PyObject *category = NULL, *outcome = NULL, *metric_type = NULL, *outcomes = NULL, *metric_types = NULL;
    if (!PyArg_ParseTuple(helpers, "OOOOOOOO!O!O!O!|OOOO!O!:Events helpers", &event, &text, &trace_hex,
                          &severity_of, &stable_id, &foreign_id, &dumps, &PyDict_Type, &severity_fast, &PyFloat_Type,
                          &min_epoch, &PyFloat_Type, &max_future, &PyLong_Type, &max_offset,
                          &category, &outcome, &metric_type, &PyDict_Type, &outcomes, &PyDict_Type, &metric_types))
        return NULL;
    if (kind != K_LOG && metric_types == NULL) {
        PyErr_SetString(PyExc_TypeError, "Events: metric and security events need the helpers of their kind");
        return NULL;
    }
    Events *self = (Events *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = events_vectorcall;
    self->kind = kind;
    self->as_fields = as_fields;
    self->nslots = kind == K_LOG ? NSLOTS_LOG : kind == K_METRIC ? NSLOTS_METRIC : NSLOTS_SECURITY;
    self->min_epoch = PyFloat_AS_DOUBLE(min_epoch);
    self->max_future = PyFloat_AS_DOUBLE(max_future);
    self->max_offset = PyLong_AsUnsignedLongLong(max_offset);
    if (PyErr_Occurred())
        goto error;
#define KEEP(field, value) (Py_XINCREF(value), self->field = (value))
    KEEP(owner, owner);
    KEEP(py_event, event);
    KEEP(text, text);
    KEEP(trace_hex, trace_hex);
    KEEP(severity_of, severity_of);
    KEEP(stable_id, stable_id);
    KEEP(foreign_id, foreign_id);
    KEEP(dumps, dumps);
    KEEP(severity_fast, severity_fast);
    KEEP(min_epoch_obj, min_epoch);
    KEEP(max_future_obj, max_future);
    KEEP(category, category);
    KEEP(outcome, outcome);
    KEEP(metric_type, metric_type);
    KEEP(outcomes, outcomes);
    KEEP(metric_types, metric_types);
#undef KEEP
    if ((self->keys = PyDict_New()) == NULL || (self->plans = attr(owner, "plans", 1)) == NULL
        || (self->prefixes = attr(owner, "prefixes", 1)) == NULL || (self->times = attr(owner, "times", 0)) == NULL
        || (self->iso_cache = attr(self->times, "iso_cache", 1)) == NULL
        || (self->new_plan = attr(owner, "_new_plan", 0)) == NULL
        || (self->fresh_id = attr(owner, "_fresh_id", 0)) == NULL)
        goto error;
    return (PyObject *)self;
error:
    Py_DECREF(self);
    return NULL;
}

static PyTypeObject EventsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "streams.ingest._jsonlog.Events",
    .tp_doc = "Events(owner, helpers, kind='log', fields=False): the `event` method of `owner` (a JsonLogs, "
              "JsonMetrics or JsonSecurity), in C. With fields=True, an event it builds in C is the tuple of its "
              "dict's values, in the order of LOG_FIELDS (METRIC_FIELDS, SECURITY_FIELDS); one the Python method "
              "builds stays a dict. A record may be given as its JSON bytes: "
              "NotImplemented when it is not read that way (the caller then passes orjson.loads of them).",
    .tp_basicsize = sizeof(Events),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = events_new,
    .tp_dealloc = (destructor)events_dealloc,
    .tp_traverse = (traverseproc)events_traverse,
    .tp_clear = (inquiry)events_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Events, vectorcall),
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "streams.ingest._jsonlog",
    .m_doc = "The C form of JsonLogs.event, JsonMetrics.event and JsonSecurity.event (streams/ingest/jsonfast.py).",
    .m_size = -1,
};

static int
intern(PyObject **slot, const char *text)
{
    *slot = PyUnicode_InternFromString(text);
    return *slot == NULL ? -1 : 0;
}

/* module.name = the tuple of the keys of one kind's events, in the order of their dicts
   (and of their tuples in fields mode) */
static int
add_fields(PyObject *m, const char *name, PyObject **const *keys, int n)
{
    PyObject *fields = PyTuple_New(n);
    if (fields == NULL)
        return -1;
    for (int i = 0; i < n; i++)
        PyTuple_SET_ITEM(fields, i, Py_NewRef(*keys[i]));
    if (PyModule_AddObject(m, name, fields) < 0) {
        Py_DECREF(fields);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC
PyInit__jsonlog(void)
{
    if (intern(&k_event_id, "event_id") || intern(&k_ts, "ts") || intern(&k_observed_ts, "observed_ts")
        || intern(&k_tenant, "tenant") || intern(&k_service, "service") || intern(&k_env, "env")
        || intern(&k_host, "host") || intern(&k_attributes, "attributes") || intern(&k_kind, "kind")
        || intern(&k_severity_number, "severity_number") || intern(&k_severity_text, "severity_text")
        || intern(&k_message, "message") || intern(&k_trace_id, "trace_id") || intern(&k_span_id, "span_id")
        || intern(&s_log, "log") || intern(&s_default, "default") || intern(&s_unknown, "unknown")
        || intern(&s_empty, "") || intern(&s_true, "true") || intern(&s_false, "false") || intern(&s_dot, ".")
        || intern(&s_event_time, "event_time") || intern(&s_islower, "islower") || intern(&s_decode, "decode")
        || intern(&k_name, "name") || intern(&k_type, "type") || intern(&k_value, "value")
        || intern(&k_unit, "unit") || intern(&k_labels, "labels") || intern(&k_category, "category")
        || intern(&k_action, "action") || intern(&k_outcome, "outcome") || intern(&k_actor, "actor")
        || intern(&k_target, "target") || intern(&k_source_ip, "source_ip") || intern(&s_metric, "metric")
        || intern(&s_security, "security") || intern(&s_gauge, "gauge") || intern(&s_other, "other")
        || intern(&s_tags, "tags") || intern(&s_dimensions, "dimensions") || intern(&s_labels_dot, "labels.")
        || intern(&s_tags_dot, "tags.") || intern(&s_dimensions_dot, "dimensions.")
        || intern(&s_attributes_dot, "attributes.") || intern(&s_resource_logs, "resourceLogs")
        || intern(&s_resource_metrics, "resourceMetrics"))
        return NULL;
    if (i_32 == NULL && ((i_32 = PyLong_FromLong(32)) == NULL || (i_16 = PyLong_FromLong(16)) == NULL))
        return NULL;
    if (orjson_loads == NULL) {
        PyObject *orjson = PyImport_ImportModule("orjson");
        orjson_loads = orjson == NULL ? NULL : PyObject_GetAttrString(orjson, "loads");
        Py_XDECREF(orjson);
        if (orjson_loads == NULL)
            return NULL;
    }
    if (PyType_Ready(&EventsType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&EventsType);
    if (PyModule_AddObject(m, "Events", (PyObject *)&EventsType) < 0) {
        Py_DECREF(&EventsType);
        Py_DECREF(m);
        return NULL;
    }
    if (add_fields(m, "LOG_FIELDS", log_keys, N_LOG) < 0 || add_fields(m, "METRIC_FIELDS", metric_keys, N_METRIC) < 0
        || add_fields(m, "SECURITY_FIELDS", security_keys, N_SECURITY) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
