/* The end of every event's way through ingest, and the per-record loop of a batch, in C.

   The reference is Python: `deliver` in hotloop.py and the per-record closure
   `Ingestor._record_handler` in pipeline.py. `deliver` here does exactly what the
   Python `deliver` does. `run` takes every record of a known route within the size
   limit through the same steps as the Python path:
   - plain JSON objects (the route allows JSON, bytes starting with '{'): parsed by
     orjson, the event from JsonLogs.event or, for metric samples and security events,
     from JsonLogs.kinds (`json_record`);
   - any other record: decoded by the decoder `decoders.sniff` would pick, called
     directly for the usual text lines (`<PRI>` syslog, and the logfmt and access lines
     `text_kind` tells apart: decoders.SNIFFED), else by `decoders.decode`; its events
     built and delivered here (`text_record`).
   A record that leaves that road (a parse or decoder error, an OTLP batch, no events
   or too many) goes to the Python per-record function `one`, which then does all the
   work for that record, from scratch. A failure after an event exists goes to
   `Ingestor._record_failed`, the same handler the Python path uses.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "_shared.h"

static PyObject *loads, *json_error, *source_ref, *source_heads;
static PyObject *s_active, *s_memo, *s_resolve, *s_by_topic, *s_event_sources, *s_routes, *s_json_logs,
    *s_event, *s_cfg, *s_max_record_bytes, *s_redact, *s_record_failed, *s_enricher, *s_tenant, *s_service,
    *s_host, *s_env, *s_attributes, *s_bar, *s_empty, *s_kinds, *s_resource_logs, *s_resource_metrics, *s_normalizer, *s_kind_topic, *s_decode, *s_stream, *s_sniffed, *s_auto_name,
    *s_log, *s_observed_ts, *s_settle, *s_max_events_per_record, *s_fields;

static PyObject *
imported(const char *module, const char *name)
{
    PyObject *m = PyImport_ImportModule(module);
    if (m == NULL)
        return NULL;
    PyObject *v = PyObject_GetAttrString(m, name);
    Py_DECREF(m);
    return v;
}

#define NHEADS 16
#define NKEYS 64

/* What `deliver` reads of the Enricher and the IngestOutput: looked up once per batch
   in `run`, once per call in the Python-facing `deliver`. */
typedef struct {
    PyObject *memo;    /* Enricher._memo, NULL when the enricher has no tables */
    PyObject *resolve; /* Enricher._resolve */
    PyObject *serialize; /* hotloop.serialize: the event's JSON, exactly sized */
    PyObject *by_topic;
    PyObject *sources; /* IngestOutput.event_sources */
    /* the source reference heads made (a raw partition's name, encoded), one slot per
       partition number modulo NHEADS: the records of a batch interleave a few partitions */
    PyObject *head_topic[NHEADS], *head_partition[NHEADS], *head[NHEADS];
    /* partition keys made, by the very (tenant, service) objects: a batch has a few dozen
       pairs, mostly of the same objects (interned defaults, the raw reader's short values) */
    PyObject *key_tenant[NKEYS], *key_service[NKEYS], *key[NKEYS];
} Sink;

/* Where an event's fields are in the tuples of `Events` in fields mode: read once per
   batch from _jsonlog.LOG_FIELDS (METRIC_FIELDS, SECURITY_FIELDS), the event dict's keys
   in their order. */
typedef struct {
    PyObject *keys;      /* LOG_FIELDS, METRIC_FIELDS or SECURITY_FIELDS */
    PyObject *serialize; /* _eventjson.dumps_fields */
    Py_ssize_t tenant, service, env, host, attributes;
    PyObject *attributes_index; /* attributes, as an int */
} FieldLayout;

static void
sink_clear(Sink *k)
{
    Py_CLEAR(k->memo);
    Py_CLEAR(k->resolve);
    Py_CLEAR(k->serialize);
    Py_CLEAR(k->by_topic);
    Py_CLEAR(k->sources);
    for (int i = 0; i < NHEADS; i++) {
        Py_CLEAR(k->head_topic[i]);
        Py_CLEAR(k->head_partition[i]);
        Py_CLEAR(k->head[i]);
    }
    for (int i = 0; i < NKEYS; i++) {
        Py_CLEAR(k->key_tenant[i]);
        Py_CLEAR(k->key_service[i]);
        Py_CLEAR(k->key[i]);
    }
}

static int
sink_init(Sink *k, PyObject *enricher, PyObject *out)
{
    memset(k, 0, sizeof(*k));
    PyObject *active = PyObject_GetAttr(enricher, s_active);
    if (active == NULL)
        return -1;
    int on = PyObject_IsTrue(active);
    Py_DECREF(active);
    if (on < 0)
        return -1;
    if (on && ((k->memo = PyObject_GetAttr(enricher, s_memo)) == NULL
               || (k->resolve = PyObject_GetAttr(enricher, s_resolve)) == NULL))
        goto fail;
    if ((k->serialize = imported("streams.ingest.hotloop", "serialize")) == NULL
        || (k->by_topic = PyObject_GetAttr(out, s_by_topic)) == NULL
        || (k->sources = PyObject_GetAttr(out, s_event_sources)) == NULL)
        goto fail;
    if (!PyDict_Check(k->by_topic) || (k->memo != NULL && !PyDict_Check(k->memo))) {
        PyErr_SetString(PyExc_TypeError, "deliver: by_topic and the enrichment memo must be dicts");
        goto fail;
    }
    return 0;
fail:
    sink_clear(k);
    return -1;
}

static PyObject *
item(PyObject *d, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(d, key);
    if (v == NULL && !PyErr_Occurred())
        PyErr_SetObject(PyExc_KeyError, key);
    return v; /* borrowed */
}

/* Enricher's (env, attributes, their JSON members) for a service and host, memoized:
   a new reference */
static PyObject *
enrichment(Sink *k, PyObject *service, PyObject *host)
{
    PyObject *hit = NULL, *by_host = PyDict_GetItemWithError(k->memo, service);
    if (by_host != NULL) {
        if (!PyDict_Check(by_host)) {
            PyErr_SetString(PyExc_TypeError, "enrichment memo: a service's entry is not a dict");
            return NULL;
        }
        hit = PyDict_GetItemWithError(by_host, host);
    }
    if (hit != NULL)
        Py_INCREF(hit);
    else if (PyErr_Occurred())
        return NULL;
    else {
        PyObject *a[2] = {service, host};
        if ((hit = PyObject_Vectorcall(k->resolve, a, 2, NULL)) == NULL)
            return NULL;
    }
    if (!PyTuple_CheckExact(hit) || PyTuple_GET_SIZE(hit) != 3
        || (PyTuple_GET_ITEM(hit, 1) != Py_None && !PyDict_Check(PyTuple_GET_ITEM(hit, 1)))
        || !PyBytes_CheckExact(PyTuple_GET_ITEM(hit, 2))) {
        PyErr_SetString(PyExc_ValueError, "enrichment memo entry is not an (env, attributes, JSON) triple");
        Py_DECREF(hit);
        return NULL;
    }
    return hit;
}

/* The attributes with the table's columns they lack: `attrs` itself, filled in place,
   when the event alone holds it (no copy); else a new dict. A new reference. */
static PyObject *
enriched_attributes(PyObject *attrs, PyObject *extra)
{
    if (PyDict_CheckExact(attrs) && Py_REFCNT(attrs) == 1)
        return fill_missing(attrs, extra) < 0 ? NULL : Py_NewRef(attrs);
    int has = PyObject_IsTrue(attrs);
    PyObject *merged = has < 0 ? NULL : PyDict_New();
    if (merged != NULL && ((has && PyDict_Update(merged, attrs) < 0) || fill_missing(merged, extra) < 0))
        Py_CLEAR(merged);
    return merged;
}

/* Whether the table's env goes into an event whose env is `now` (Enricher.apply: only
   into an empty one): 1, 0, or -1 on an error. */
static int
fills_env(PyObject *env, PyObject *now)
{
    int fill = PyObject_IsTrue(env);
    if (fill <= 0)
        return fill;
    int has = PyObject_IsTrue(now);
    return has < 0 ? -1 : !has;
}

/* Enricher.apply */
static int
enrich(Sink *k, PyObject *ev)
{
    PyObject *service = item(ev, s_service), *host = item(ev, s_host);
    PyObject *hit = service == NULL || host == NULL ? NULL : enrichment(k, service, host);
    if (hit == NULL)
        return -1;
    int r = -1;
    PyObject *env = PyTuple_GET_ITEM(hit, 0), *extra = PyTuple_GET_ITEM(hit, 1);
    if (extra != Py_None) {
        PyObject *attrs = item(ev, s_attributes), *merged;
        if (attrs == NULL || (merged = enriched_attributes(attrs, extra)) == NULL)
            goto done;
        int set = merged == attrs ? 0 : PyDict_SetItem(ev, s_attributes, merged);
        Py_DECREF(merged);
        if (set < 0)
            goto done;
    }
    PyObject *now = item(ev, s_env);
    int fill = now == NULL ? -1 : fills_env(env, now);
    if (fill < 0 || (fill && PyDict_SetItem(ev, s_env, env) < 0))
        goto done;
    r = 0;
done:
    Py_DECREF(hit);
    return r;
}

/* f"{tenant}|{service}".encode() */
static PyObject *
partition_key(PyObject *tenant, PyObject *service)
{
    if (PyUnicode_CheckExact(tenant) && PyUnicode_CheckExact(service) && PyUnicode_IS_ASCII(tenant)
        && PyUnicode_IS_ASCII(service)) {
        Py_ssize_t a = PyUnicode_GET_LENGTH(tenant), b = PyUnicode_GET_LENGTH(service);
        PyObject *key = PyBytes_FromStringAndSize(NULL, a + 1 + b);
        if (key == NULL)
            return NULL;
        char *p = PyBytes_AS_STRING(key);
        memcpy(p, PyUnicode_DATA(tenant), a);
        p[a] = '|';
        memcpy(p + a + 1, PyUnicode_DATA(service), b);
        return key;
    }
    PyObject *t = PyObject_Format(tenant, s_empty), *s = NULL, *joined = NULL, *key = NULL;
    if (t != NULL && (s = PyObject_Format(service, s_empty)) != NULL) {
        PyObject *parts[3] = {t, s_bar, s};
        PyObject *list = PyList_New(3);
        if (list != NULL) {
            for (int i = 0; i < 3; i++) {
                Py_INCREF(parts[i]);
                PyList_SET_ITEM(list, i, parts[i]);
            }
            joined = PyUnicode_Join(s_empty, list);
            Py_DECREF(list);
        }
        if (joined != NULL)
            key = PyUnicode_AsUTF8String(joined);
    }
    Py_XDECREF(t);
    Py_XDECREF(s);
    Py_XDECREF(joined);
    return key;
}

/* partition_key, the same bytes object again for the same tenant and service objects
   (held by the cache, so no other object can take their addresses meanwhile) */
static PyObject *
key_of(Sink *k, PyObject *tenant, PyObject *service)
{
    size_t slot = (((uintptr_t)tenant >> 4) * 31u + ((uintptr_t)service >> 4)) % NKEYS;
    if (k->key_tenant[slot] == tenant && k->key_service[slot] == service)
        return Py_NewRef(k->key[slot]);
    PyObject *key = partition_key(tenant, service);
    if (key != NULL) {
        Py_XSETREF(k->key_tenant[slot], Py_NewRef(tenant));
        Py_XSETREF(k->key_service[slot], Py_NewRef(service));
        Py_XSETREF(k->key[slot], Py_NewRef(key));
    }
    return key;
}

/* source.ref(topic, partition, offset, index): offset and index big-endian (8 + 4
   bytes), then the raw partition's name; the Python form for whatever is unusual. */
static PyObject *
source_reference(Sink *k, PyObject *topic, PyObject *partition, PyObject *offset, PyObject *index)
{
    PyObject *head = NULL;
    int slot = partition_slot(partition, NHEADS);
    if (k->head[slot] != NULL && same_coordinate(topic, k->head_topic[slot]) &&
        same_coordinate(partition, k->head_partition[slot]))
        head = k->head[slot];
    else if (PyUnicode_CheckExact(topic) && PyLong_CheckExact(partition)) {
        PyObject *key = PyTuple_Pack(2, topic, partition);
        if (key == NULL)
            return NULL;
        head = PyDict_GetItemWithError(source_heads, key);
        Py_DECREF(key);
        if (head == NULL && PyErr_Occurred())
            return NULL;
        if (head != NULL && PyBytes_CheckExact(head)) {
            Py_INCREF(topic);
            Py_INCREF(partition);
            Py_INCREF(head);
            Py_XSETREF(k->head_topic[slot], topic);
            Py_XSETREF(k->head_partition[slot], partition);
            Py_XSETREF(k->head[slot], head);
        }
        else
            head = NULL;
    }
    unsigned long long off = 0, idx = 0;
    if (head != NULL && PyLong_CheckExact(offset) && PyLong_CheckExact(index)) {
        off = PyLong_AsUnsignedLongLong(offset);
        if (off == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            head = NULL;
        }
        else {
            idx = PyLong_AsUnsignedLongLong(index);
            if ((idx == (unsigned long long)-1 && PyErr_Occurred()) || idx > 0xFFFFFFFFULL) {
                PyErr_Clear();
                head = NULL;
            }
        }
    }
    else
        head = NULL;
    if (head == NULL) {
        PyObject *a[4] = {topic, partition, offset, index};
        return PyObject_Vectorcall(source_ref, a, 4, NULL);
    }
    Py_ssize_t n = PyBytes_GET_SIZE(head);
    PyObject *ref = PyBytes_FromStringAndSize(NULL, 12 + n);
    if (ref == NULL)
        return NULL;
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(ref);
    for (int i = 7; i >= 0; i--, off >>= 8)
        p[i] = (unsigned char)(off & 0xFF);
    for (int i = 11; i >= 8; i--, idx >>= 8)
        p[i] = (unsigned char)(idx & 0xFF);
    memcpy(p + 12, PyBytes_AS_STRING(head), n);
    return ref;
}

static PyObject *zero;

/* (key, body, source reference) appended to the output list of `dest` */
static int
add_output(Sink *k, PyObject *key, PyObject *body, PyObject *dest, PyObject *topic, PyObject *partition,
           PyObject *offset, PyObject *index)
{
    if (!PyBytes_CheckExact(body)) {
        PyErr_SetString(PyExc_TypeError, "hotloop.serialize returned no bytes");
        return -1;
    }
    PyObject *ref = source_reference(k, topic, partition, offset, index), *entry = NULL;
    int r = -1;
    if (ref == NULL || (entry = PyTuple_Pack(3, key, body, ref)) == NULL)
        goto done;
    /* Of bytes only, it can be in no reference cycle: the collector need not walk the
       batch's thousands of entries while the output lives (as it would do once). */
    if (PyBytes_CheckExact(ref) || ref == Py_None)
        PyObject_GC_UnTrack(entry);
    PyObject *bucket = PyDict_GetItemWithError(k->by_topic, dest);
    if (bucket == NULL) {
        if (PyErr_Occurred() || (bucket = PyList_New(0)) == NULL)
            goto done;
        int set = PyDict_SetItem(k->by_topic, dest, bucket);
        Py_DECREF(bucket); /* the dict holds it */
        if (set < 0)
            goto done;
    }
    r = PyList_Append(bucket, entry);
done:
    Py_XDECREF(ref);
    Py_XDECREF(entry);
    return r;
}

/* the event and its coordinates kept for the caller (IngestOutput.events, .event_sources) */
static int
keep_event(Sink *k, PyObject *events, PyObject *ev, PyObject *topic, PyObject *partition, PyObject *offset,
           PyObject *index)
{
    PyObject *coords = PyTuple_Pack(4, topic, partition, offset, index);
    if (coords == NULL)
        return -1;
    int a = PyList_Append(events, ev), b = a < 0 ? -1 : PyList_Append(k->sources, coords);
    Py_DECREF(coords);
    return a < 0 || b < 0 ? -1 : 0;
}

/* hotloop.deliver, with the coordinates spread out */
static int
deliver_event(Sink *k, PyObject *ev, PyObject *dest, PyObject *events, PyObject *topic, PyObject *partition,
              PyObject *offset, PyObject *index)
{
    if (!PyDict_Check(ev)) {
        PyErr_SetString(PyExc_TypeError, "deliver: the event is not a dict");
        return -1;
    }
    if (k->memo != NULL && enrich(k, ev) < 0)
        return -1;
    PyObject *tenant = item(ev, s_tenant), *service = tenant == NULL ? NULL : item(ev, s_service);
    PyObject *key = NULL, *body = NULL;
    int r = -1;
    if (service == NULL || (key = key_of(k, tenant, service)) == NULL
        || (body = PyObject_CallOneArg(k->serialize, ev)) == NULL
        || add_output(k, key, body, dest, topic, partition, offset, index) < 0)
        goto done;
    r = events == Py_None ? 0 : keep_event(k, events, ev, topic, partition, offset, index);
done:
    Py_XDECREF(key);
    Py_XDECREF(body);
    return r;
}

/* dict(zip(keys, values)) of two tuples of one length */
static PyObject *
fields_dict(PyObject *keys, PyObject *values)
{
    return dict_of(&PyTuple_GET_ITEM(keys, 0), &PyTuple_GET_ITEM(values, 0), PyTuple_GET_SIZE(keys));
}

/* Field `i` of a field tuple replaced (the tuple is the caller's own, seen by no one
   else yet): steals `value`. */
static void
replace_field(PyObject *fields, Py_ssize_t i, PyObject *value)
{
    PyObject *old = PyTuple_GET_ITEM(fields, i);
    PyTuple_SET_ITEM(fields, i, value);
    Py_DECREF(old);
}

/* deliver_event for an event as its field values (`Events` in fields mode, _jsonlog.c:
   the values of the event dict, in the order of LOG_FIELDS, METRIC_FIELDS or
   SECURITY_FIELDS, which `at` tells), with no dict built: the same enrichment, key,
   JSON and output. The table's attributes are not added to the event's: the serializer
   writes them after those (the JSON the memo holds, when the event has none of their
   keys). `fields` must be held by the caller alone. With `events` (a list), the event
   is kept as its dict, enriched, as deliver_event keeps it. */
static int
deliver_fields(Sink *k, const FieldLayout *at, PyObject *fields, PyObject *dest, PyObject *events,
               PyObject *topic, PyObject *partition, PyObject *offset, PyObject *index)
{
    PyObject *hit = NULL, *extra = Py_None;
    if (k->memo != NULL) {
        if ((hit = enrichment(k, PyTuple_GET_ITEM(fields, at->service), PyTuple_GET_ITEM(fields, at->host))) == NULL)
            return -1;
        PyObject *env = PyTuple_GET_ITEM(hit, 0);
        int fill = fills_env(env, PyTuple_GET_ITEM(fields, at->env));
        if (fill < 0) {
            Py_DECREF(hit);
            return -1;
        }
        if (fill)
            replace_field(fields, at->env, Py_NewRef(env));
        extra = PyTuple_GET_ITEM(hit, 1);
    }
    PyObject *key = key_of(k, PyTuple_GET_ITEM(fields, at->tenant), PyTuple_GET_ITEM(fields, at->service));
    PyObject *body = NULL;
    int r = -1;
    if (key == NULL)
        goto done;
    if (extra == Py_None) {
        PyObject *a[2] = {at->keys, fields};
        body = PyObject_Vectorcall(at->serialize, a, 2, NULL);
    }
    else { /* dumps_fields writes the table's columns into the attributes */
        PyObject *a[5] = {at->keys, fields, at->attributes_index, extra, PyTuple_GET_ITEM(hit, 2)};
        body = PyObject_Vectorcall(at->serialize, a, 5, NULL);
    }
    r = body == NULL ? -1 : add_output(k, key, body, dest, topic, partition, offset, index);
    if (r == 0 && events != Py_None) {
        PyObject *attrs, *ev;
        if (extra != Py_None) { /* now the kept event's: added in place */
            if ((attrs = enriched_attributes(PyTuple_GET_ITEM(fields, at->attributes), extra)) == NULL)
                r = -1;
            else
                replace_field(fields, at->attributes, attrs);
        }
        if (r == 0 && (ev = fields_dict(at->keys, fields)) == NULL)
            r = -1;
        else if (r == 0) {
            r = keep_event(k, events, ev, topic, partition, offset, index);
            Py_DECREF(ev);
        }
    }
done:
    Py_XDECREF(hit);
    Py_XDECREF(key);
    Py_XDECREF(body);
    return r;
}

/* deliver(enricher, out, ev, dest, events, coords) */
static PyObject *
py_deliver(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 6) {
        PyErr_Format(PyExc_TypeError, "deliver expected 6 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *coords = args[5], *events = args[4];
    if (!PyTuple_CheckExact(coords) || PyTuple_GET_SIZE(coords) != 4) {
        PyErr_SetString(PyExc_TypeError, "deliver: coords must be (topic, partition, offset, index)");
        return NULL;
    }
    if (events != Py_None && !PyList_Check(events)) {
        PyErr_SetString(PyExc_TypeError, "deliver: events must be a list or None");
        return NULL;
    }
    Sink k;
    if (sink_init(&k, args[0], args[1]) < 0)
        return NULL;
    int r = deliver_event(&k, args[2], args[3], events, PyTuple_GET_ITEM(coords, 0), PyTuple_GET_ITEM(coords, 1),
                          PyTuple_GET_ITEM(coords, 2), PyTuple_GET_ITEM(coords, 3));
    sink_clear(&k);
    if (r < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* A failure once the event exists: Ingestor._record_failed, for an Exception (a
   KeyboardInterrupt or SystemExit goes on up, as in Python). */
/* The raised Exception, taken (a new reference), as `except Exception as exc` takes
   it; NULL with the error still set for a KeyboardInterrupt, SystemExit and the like. */
static PyObject *
caught(void)
{
    if (!PyErr_ExceptionMatches(PyExc_Exception))
        return NULL;
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
    if (tb != NULL && exc != NULL)
        PyException_SetTraceback(exc, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    if (exc == NULL) {
        Py_INCREF(Py_None);
        exc = Py_None;
    }
    return exc;
}

static int
record_failed(PyObject *failed, PyObject *out, PyObject *value, PyObject *topic, PyObject *partition,
              PyObject *offset, PyObject *stream, PyObject *observed)
{
    PyObject *exc = caught();
    if (exc == NULL)
        return -1;
    PyObject *a[8] = {out, exc, value, topic, partition, offset, stream, observed};
    PyObject *r = PyObject_Vectorcall(failed, a, 8, NULL);
    Py_DECREF(exc);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
call_one(PyObject *one, PyObject *record, unsigned char flag)
{
    PyObject *f = PyLong_FromLong(flag);
    if (f == NULL)
        return -1;
    PyObject *a[2] = {record, f};
    PyObject *r = PyObject_Vectorcall(one, a, 2, NULL);
    Py_DECREF(f);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* How the events of one kind are built: as dicts (`event`), and as the tuple of their
   values (`fields`, Events in fields mode, with the layout of its tuples; NULL when the
   maker has none or events are not serialized by _eventjson: dicts only). */
typedef struct {
    PyObject *kind;   /* "log", "metric", "security" */
    PyObject *event;  /* JsonLogs.event, JsonLogs.kinds[kind].event */
    PyObject *fields; /* their `fields`, or NULL */
    FieldLayout at;
} Road;
enum { R_LOG, R_METRIC, R_SECURITY, NROADS };

static void
road_clear(Road *r)
{
    Py_CLEAR(r->kind);
    Py_CLEAR(r->event);
    Py_CLEAR(r->fields);
    Py_CLEAR(r->at.keys);
    Py_CLEAR(r->at.serialize);
    Py_CLEAR(r->at.attributes_index);
}

#define NTOPICS 4

/* What one call of `run` works with: looked up once per batch. */
typedef struct {
    Sink sink;
    PyObject *ingestor, *observed, *out, *events, *ctx; /* borrowed: the arguments */
    PyObject *routes, *normalizer, *kind_topic, *decode, *failed, *failure_of, *enricher;
    /* decoders.SNIFFED: text_kind and the syslog, logfmt and access decoders; or NULL */
    PyObject *text_kind, *syslog, *logfmt, *access;
    PyObject *auto_fmt; /* decoders.AUTO: the format that sniffs */
    PyObject *may_hold_card; /* redact._may_hold_card */
    PyObject *card_fields; /* redact._may_hold_card_fields, NULL: records flagged for cards take dicts */
    int reads_bytes; /* JsonLogs.event is an Events (_jsonlog.c), which reads a JSON record from its bytes (so
                        are the kinds' `event`: they share JsonLogs' choice of form) */
    Road roads[NROADS];
    Py_ssize_t max_bytes, max_events;
    /* routes[topic] of the batch's first topics (route_of) */
    PyObject *topic_seen[NTOPICS], *route_seen[NTOPICS];
    int ntopics;
} Batch;

static void
batch_clear(Batch *b)
{
    sink_clear(&b->sink);
    Py_CLEAR(b->routes);
    Py_CLEAR(b->normalizer);
    Py_CLEAR(b->kind_topic);
    Py_CLEAR(b->decode);
    Py_CLEAR(b->text_kind);
    Py_CLEAR(b->syslog);
    Py_CLEAR(b->logfmt);
    Py_CLEAR(b->access);
    Py_CLEAR(b->auto_fmt);
    Py_CLEAR(b->failed);
    Py_CLEAR(b->failure_of);
    Py_CLEAR(b->enricher);
    Py_CLEAR(b->may_hold_card);
    Py_CLEAR(b->card_fields);
    for (int i = 0; i < NROADS; i++)
        road_clear(&b->roads[i]);
    for (int i = 0; i < b->ntopics; i++) {
        Py_CLEAR(b->topic_seen[i]);
        Py_CLEAR(b->route_seen[i]);
    }
    b->ntopics = 0;
}

static Py_ssize_t
size_setting(PyObject *cfg, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(cfg, name);
    if (v == NULL)
        return -1;
    Py_ssize_t n = PyLong_AsSsize_t(v);
    Py_DECREF(v);
    return n;
}

/* The road of one kind: `maker` (JsonLogs, or one of its kinds) and its `event`, and
   the road of its events as field values when the maker has it (its `fields` is not None:
   C built) and events are serialized by _eventjson (`ser`, hotloop.serialize_fields, not
   None); `names`: the _jsonlog module attribute of its keys. */
static int
road_init(Road *road, const char *kind, PyObject *maker, PyObject *ser, const char *names)
{
    PyObject *fn = NULL, *keys = NULL;
    int r = -1;
    if ((road->kind = PyUnicode_InternFromString(kind)) == NULL
        || (road->event = PyObject_GetAttr(maker, s_event)) == NULL || (fn = PyObject_GetAttr(maker, s_fields)) == NULL)
        goto done;
    if (fn == Py_None || ser == Py_None) {
        r = 0;
        goto done;
    }
    if ((keys = imported("streams.ingest._jsonlog", names)) == NULL)
        goto done;
    if (!PyTuple_CheckExact(keys)) {
        PyErr_Format(PyExc_TypeError, "run: _jsonlog.%s is not a tuple", names);
        goto done;
    }
    FieldLayout *at = &road->at;
    PyObject *fields[5] = {s_tenant, s_service, s_env, s_host, s_attributes};
    Py_ssize_t *slot[5] = {&at->tenant, &at->service, &at->env, &at->host, &at->attributes};
    for (int i = 0; i < 5; i++)
        if ((*slot[i] = PySequence_Index(keys, fields[i])) < 0)
            goto done;
    if ((at->attributes_index = PyLong_FromSsize_t(at->attributes)) == NULL)
        goto done;
    road->fields = Py_NewRef(fn);
    at->keys = Py_NewRef(keys);
    at->serialize = Py_NewRef(ser);
    r = 0;
done:
    Py_XDECREF(fn);
    Py_XDECREF(keys);
    return r;
}

/* The roads of logs, metric samples and security events (JsonLogs and its `kinds`) */
static int
roads_init(Batch *b, PyObject *json_logs, PyObject *kinds_of)
{
    static const char *kinds[NROADS] = {"log", "metric", "security"};
    static const char *names[NROADS] = {"LOG_FIELDS", "METRIC_FIELDS", "SECURITY_FIELDS"};
    PyObject *ser = imported("streams.ingest.hotloop", "serialize_fields"), *cards = NULL;
    int r = -1;
    if (ser == NULL || (cards = imported("streams.ingest.redact", "_may_hold_card_fields")) == NULL)
        goto done;
    for (int i = 0; i < NROADS; i++) {
        PyObject *maker = i == R_LOG ? json_logs : PyDict_GetItemString(kinds_of, kinds[i]);
        if (maker == NULL) {
            PyErr_Format(PyExc_TypeError, "run: JsonLogs.kinds has no %s", kinds[i]);
            goto done;
        }
        if (road_init(&b->roads[i], kinds[i], maker, ser, names[i]) < 0)
            goto done;
    }
    b->card_fields = cards == Py_None ? NULL : Py_NewRef(cards);
    r = 0;
done:
    Py_XDECREF(ser);
    Py_XDECREF(cards);
    return r;
}

/* The road of the events of `kind` (borrowed), or NULL (KeyError set) */
static Road *
road_of(Batch *b, PyObject *kind)
{
    for (int i = 0; i < NROADS; i++)
        if (b->roads[i].kind == kind)
            return &b->roads[i];
    for (int i = 0; i < NROADS; i++) {
        int eq = PyObject_RichCompareBool(b->roads[i].kind, kind, Py_EQ);
        if (eq != 0)
            return eq < 0 ? NULL : &b->roads[i];
    }
    PyErr_SetObject(PyExc_KeyError, kind);
    return NULL;
}

/* Whether `maker` is an Events (_jsonlog.c): 1 or 0, -1 on an error */
static int
reads_bytes(PyObject *maker)
{
    PyObject *type = imported("streams.ingest._jsonlog", "Events");
    if (type == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_ImportError))
            return -1;
        PyErr_Clear(); /* not built: JsonLogs.event is the Python method */
        return 0;
    }
    int is = Py_IS_TYPE(maker, (PyTypeObject *)type);
    Py_DECREF(type);
    return is;
}

static int
batch_init(Batch *b, PyObject *ingestor, PyObject *observed, PyObject *out, PyObject *events, PyObject *ctx)
{
    memset(b, 0, sizeof(*b));
    b->ingestor = ingestor;
    b->observed = observed;
    b->out = out;
    b->events = events;
    b->ctx = ctx;
    PyObject *json_logs = NULL, *kinds = NULL, *cfg = NULL, *decoders = NULL, *sniffed = NULL;
    int r = -1;
    if ((b->routes = PyObject_GetAttr(ingestor, s_routes)) == NULL
        || (json_logs = PyObject_GetAttr(ingestor, s_json_logs)) == NULL
        || (kinds = PyObject_GetAttr(json_logs, s_kinds)) == NULL
        || (b->normalizer = PyObject_GetAttr(ingestor, s_normalizer)) == NULL
        || (b->kind_topic = PyObject_GetAttr(ingestor, s_kind_topic)) == NULL
        || (b->failed = PyObject_GetAttr(ingestor, s_record_failed)) == NULL
        || (b->failure_of = imported("streams.ingest.pipeline", "_failure")) == NULL
        || (b->may_hold_card = imported("streams.ingest.redact", "_may_hold_card")) == NULL
        || (decoders = PyImport_ImportModule("streams.ingest.decoders")) == NULL
        || (b->decode = PyObject_GetAttr(decoders, s_decode)) == NULL
        || (sniffed = PyObject_GetAttr(decoders, s_sniffed)) == NULL
        || (b->auto_fmt = PyObject_GetAttr(decoders, s_auto_name)) == NULL
        || (b->enricher = PyObject_GetAttr(ingestor, s_enricher)) == NULL
        || (cfg = PyObject_GetAttr(ingestor, s_cfg)) == NULL)
        goto done;
    if (!PyDict_Check(b->routes) || !PyDict_Check(kinds) || !PyDict_Check(b->kind_topic)) {
        PyErr_SetString(PyExc_TypeError, "run: Ingestor._routes, ._kind_topic and JsonLogs.kinds must be dicts");
        goto done;
    }
    if (sniffed != Py_None) {
        if (!PyTuple_CheckExact(sniffed) || PyTuple_GET_SIZE(sniffed) != 4) {
            PyErr_SetString(PyExc_TypeError, "run: decoders.SNIFFED must be None or a 4-tuple");
            goto done;
        }
        PyObject **slot[4] = {&b->text_kind, &b->syslog, &b->logfmt, &b->access};
        for (int i = 0; i < 4; i++) {
            *slot[i] = PyTuple_GET_ITEM(sniffed, i);
            Py_INCREF(*slot[i]);
        }
    }
    if (((b->max_bytes = size_setting(cfg, s_max_record_bytes)) == -1
         || (b->max_events = size_setting(cfg, s_max_events_per_record)) == -1) && PyErr_Occurred())
        goto done;
    r = sink_init(&b->sink, b->enricher, out);
    if (r == 0)
        r = roads_init(b, json_logs, kinds);
    if (r == 0 && (r = reads_bytes(b->roads[R_LOG].event)) >= 0) {
        b->reads_bytes = r;
        r = 0;
    }
done:
    Py_XDECREF(json_logs);
    Py_XDECREF(kinds);
    Py_XDECREF(cfg);
    Py_XDECREF(decoders);
    Py_XDECREF(sniffed);
    if (r < 0)
        batch_clear(b);
    return r;
}

/* Ingestor._redact(out, ev, observed, flag), skipped where it would do nothing: a
   record flagged for card numbers only (1) whose event has no string
   Redactor.cards would look at. */
static int
redact(Batch *b, PyObject *ev, PyObject *observed, unsigned char flag)
{
    if (flag == 1) {
        PyObject *maybe = PyObject_CallOneArg(b->may_hold_card, ev);
        if (maybe == NULL)
            return -1;
        int look = PyObject_IsTrue(maybe);
        Py_DECREF(maybe);
        if (look <= 0)
            return look;
    }
    PyObject *f = PyLong_FromLong(flag), *done = NULL;
    if (f != NULL) {
        done = PyObject_CallMethodObjArgs(b->ingestor, s_redact, b->out, ev, observed, f, NULL);
        Py_DECREF(f);
    }
    if (done == NULL)
        return -1;
    Py_DECREF(done);
    return 0;
}

/* Whether an event of a record with this redaction flag may stay field values (no
   dict): the road has them, and the record holds no secret, or at most a card number
   the card scan can rule out on the values (redaction works on dicts). */
static int
fields_ok(Batch *b, const Road *road, unsigned char flag)
{
    return road->fields != NULL && (flag == 0 || (flag == 1 && b->card_fields != NULL));
}

/* What builds an event of the road: Events in fields mode when fields_ok, else as a dict. */
static PyObject *
maker_of(Batch *b, const Road *road, unsigned char flag)
{
    return fields_ok(b, road, flag) ? road->fields : road->event;
}

/* A built event delivered: field values (a tuple from Events in fields mode) as they
   are, unless a card number may be among them; a dict redacted when the record was
   flagged (`observed` NULL: the event's observed_ts is the time redaction gets). */
static int
deliver_built(Batch *b, const Road *road, PyObject *ev, unsigned char flag, PyObject *observed, PyObject *dest,
              PyObject *topic, PyObject *partition, PyObject *offset, PyObject *index)
{
    PyObject *own = NULL;
    if (PyTuple_CheckExact(ev)) {
        int look = 0;
        if (road->fields == NULL || PyTuple_GET_SIZE(ev) != PyTuple_GET_SIZE(road->at.keys) || Py_REFCNT(ev) != 1) {
            PyErr_Format(PyExc_TypeError, "run: a %U event in fields mode that is not the tuple of its fields",
                         road->kind);
            return -1;
        }
        if (!fields_ok(b, road, flag))
            look = 1; /* the dict, for redaction (maker_of builds no such tuple) */
        else if (flag) {
            PyObject *a[2] = {road->at.keys, ev}, *maybe = PyObject_Vectorcall(b->card_fields, a, 2, NULL);
            look = maybe == NULL ? -1 : PyObject_IsTrue(maybe);
            Py_XDECREF(maybe);
        }
        if (look <= 0)
            return look < 0 ? -1
                            : deliver_fields(&b->sink, &road->at, ev, dest, b->events, topic, partition, offset,
                                             index);
        if ((own = fields_dict(road->at.keys, ev)) == NULL)
            return -1;
        ev = own;
    }
    int r = 0;
    if (flag) {
        PyObject *seen = observed != NULL ? observed : item(ev, s_observed_ts);
        r = seen == NULL ? -1 : redact(b, ev, seen, flag);
    }
    if (r == 0)
        r = deliver_event(&b->sink, ev, dest, b->events, topic, partition, offset, index);
    Py_XDECREF(own);
    return r;
}

/* One plain JSON record: a log, or (the route's kind) a metric sample or security
   event. 1 when it left the road (nothing done yet: `one` takes it), 0 when handled
   (delivered or dead-lettered), -1 on an error to raise. */
static int
json_record(Batch *b, PyObject *value, PyObject *topic, PyObject *partition, PyObject *offset, PyObject *route,
            unsigned char flag)
{
    const char *s = PyBytes_AS_STRING(value);
    Py_ssize_t n = PyBytes_GET_SIZE(value);
    int log = PyTuple_GET_ITEM(route, 4) == Py_True;
    PyObject *d, *ev;
    const Road *road = log ? &b->roads[R_LOG] : road_of(b, PyTuple_GET_ITEM(route, 2));
    if (road == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError))
            return -1;
        PyErr_Clear();
        return 1;
    }
    PyObject *maker = maker_of(b, road, flag);
    if (b->reads_bytes) { /* the shapes a batch repeats, with no dict parsed */
        PyObject *a[6] = {value, b->observed, topic, partition, offset, Py_False};
        if ((ev = PyObject_Vectorcall(maker, a, log ? 6 : 5, NULL)) != Py_NotImplemented)
            goto built;
        Py_DECREF(ev);
    }
    if ((d = PyObject_CallOneArg(loads, value)) == NULL) {
        if (!PyErr_ExceptionMatches(json_error))
            return -1;
        PyErr_Clear();
        return 1;
    }
    if (log) {
        PyObject *flat = memchr(s + 1, '{', n - 1) == NULL ? Py_True : Py_False;
        PyObject *a[6] = {d, b->observed, topic, partition, offset, flat};
        ev = PyObject_Vectorcall(maker, a, 6, NULL);
    }
    else {
        int otlp = PyDict_Check(d) ? PyDict_Contains(d, s_resource_logs) : 1;
        if (otlp == 0)
            otlp = PyDict_Contains(d, s_resource_metrics);
        if (otlp != 0) {
            Py_DECREF(d);
            return otlp < 0 ? -1 : 1; /* an OTLP batch (or no object): the generic path, from the bytes */
        }
        PyObject *a[5] = {d, b->observed, topic, partition, offset};
        ev = PyObject_Vectorcall(maker, a, 5, NULL);
    }
    Py_DECREF(d);
built:;
    PyObject *stream = PyTuple_GET_ITEM(route, 0), *dest = PyTuple_GET_ITEM(route, 3);
    if (ev == NULL)
        return record_failed(b->failed, b->out, value, topic, partition, offset, stream, b->observed);
    if (ev == Py_None) {
        Py_DECREF(ev);
        return 1; /* an OTLP batch: the generic path, from the bytes */
    }
    int r = deliver_built(b, road, ev, flag, b->observed, dest, topic, partition, offset, zero);
    Py_DECREF(ev);
    if (r < 0)
        return record_failed(b->failed, b->out, value, topic, partition, offset, stream, b->observed);
    return 0;
}

/* Ingestor._failure(exc) appended to `failures` (created on the first); for an
   Exception only, as the Python `except Exception` takes. */
static int
add_failure(PyObject **failures, PyObject *failure_of)
{
    PyObject *exc = caught();
    if (exc == NULL)
        return -1;
    PyObject *failure = PyObject_CallOneArg(failure_of, exc);
    Py_DECREF(exc);
    if (failure == NULL || (*failures == NULL && (*failures = PyList_New(0)) == NULL)) {
        Py_XDECREF(failure);
        return -1;
    }
    int r = PyList_Append(*failures, failure);
    Py_DECREF(failure);
    return r;
}

/* The event of a decoded record's parts (Decoded: kind, fields, attributes, labels;
   a kind not set is the stream's), as `Ingestor._generic` builds it, and its
   destination topic (borrowed). Fields may be the JSON bytes of an object (an element
   of a JSON array record, no attributes or labels): NotImplemented when the bytes road
   does not build it, for the caller to call again with the parsed dict. */
static PyObject *
event_of(Batch *b, PyObject *kind, PyObject *fields, PyObject *attributes, PyObject *labels, PyObject *stream_kind,
         PyObject *topic, PyObject *partition, PyObject *offset, PyObject *index, unsigned char flag,
         PyObject **dest, const Road **road)
{
    PyObject *ev;
    int set = PyObject_IsTrue(kind);
    if (set < 0)
        return NULL;
    if (!set)
        kind = stream_kind;
    if ((*road = road_of(b, kind)) == NULL)
        return NULL;
    if (*road == &b->roads[R_LOG]) {
        PyObject *a[8] = {fields, b->observed, topic, partition, offset, Py_False, attributes, index};
        ev = PyObject_Vectorcall(maker_of(b, *road, flag), a, 8, NULL);
        if (ev == Py_None && PyBytes_CheckExact(fields)) {
            Py_DECREF(ev); /* an OTLP batch of logs as an element: its dict takes the way below */
            ev = Py_NewRef(Py_NotImplemented);
        }
        else if (ev == Py_None) {
            Py_DECREF(ev);
            PyObject *coords = PyTuple_Pack(4, topic, partition, offset, index);
            if (coords == NULL)
                return NULL;
            PyObject *c[5] = {b->normalizer, fields, b->observed, coords, attributes};
            ev = PyObject_VectorcallMethod(s_log, c, 5, NULL);
            Py_DECREF(coords);
        }
    }
    else {
        PyObject *a[8] = {fields, b->observed, topic, partition, offset, attributes, index, labels};
        ev = PyObject_Vectorcall(maker_of(b, *road, flag), a, *road == &b->roads[R_METRIC] ? 8 : 7, NULL);
    }
    if (ev == NULL)
        return NULL;
    if ((*dest = PyDict_GetItemWithError(b->kind_topic, kind)) == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, kind);
        Py_DECREF(ev);
        return NULL;
    }
    return ev;
}

/* event_of a decoder's record (a Decoded tuple). */
static PyObject *
decoded_event(Batch *b, PyObject *rec, PyObject *stream_kind, PyObject *topic, PyObject *partition,
              PyObject *offset, PyObject *index, unsigned char flag, PyObject **dest, const Road **road)
{
    if (!PyTuple_Check(rec) || PyTuple_GET_SIZE(rec) < 4) {
        PyErr_SetString(PyExc_TypeError, "a decoder returned something other than Decoded records");
        return NULL;
    }
    return event_of(b, PyTuple_GET_ITEM(rec, 0), PyTuple_GET_ITEM(rec, 1), PyTuple_GET_ITEM(rec, 2),
                    PyTuple_GET_ITEM(rec, 3), stream_kind, topic, partition, offset, index, flag, dest, road);
}

/* Ingestor._settle of a record of n events, some of which failed (`failures`, not NULL). */
static int
settle(Batch *b, PyObject *failures, Py_ssize_t n, PyObject *value, PyObject *topic, PyObject *partition,
       PyObject *offset, PyObject *stream)
{
    PyObject *count = PyLong_FromSsize_t(n), *done = NULL;
    if (count != NULL)
        done = PyObject_CallMethodObjArgs(b->ingestor, s_settle, b->out, failures, count, value, topic, partition,
                                          offset, stream, b->observed, NULL);
    Py_XDECREF(count);
    Py_XDECREF(done);
    return done == NULL ? -1 : 0;
}

/* The decoder `decoders.decode` would run on `value` (borrowed), for the usual text
   lines of an "auto" route: a `<PRI>` line (syslog), or what text_kind tells apart
   (logfmt, access). NULL without an error: let `decode` sniff. */
static PyObject *
sniffed(Batch *b, PyObject *value, PyObject *fmt)
{
    if (b->text_kind == NULL)
        return NULL;
    int sniffs = fmt == b->auto_fmt ? 1 : PyObject_RichCompareBool(fmt, b->auto_fmt, Py_EQ);
    if (sniffs <= 0)
        return NULL; /* a forced format (or an error, which the caller raises) */
    const char *s = PyBytes_AS_STRING(value);
    Py_ssize_t n = PyBytes_GET_SIZE(value);
    /* what `decode` strips first, and the first bytes `sniff` tests before text_kind */
    if (n == 0 || memchr("\xef \t\r\n{[#", s[0], 8) != NULL || (n >= 4 && memcmp(s, "CEF:", 4) == 0))
        return NULL;
    if (s[0] == '<')
        return b->syslog;
    PyObject *kind = PyObject_CallOneArg(b->text_kind, value);
    if (kind == NULL)
        return NULL;
    long k = PyLong_Check(kind) ? PyLong_AsLong(kind) : 0;
    Py_DECREF(kind);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    return k == 1 ? b->logfmt : k == 2 ? b->access : NULL;
}

/* A record of any other format (`Ingestor._generic`): decoded by the Python
   decoders, its events built and delivered here. 1 when the Python path must take
   it (the decoder raised, or gave no events or too many: nothing done yet but the
   decoders' memos), 0 when handled, -1 on an error to raise. */
static int
text_record(Batch *b, PyObject *value, PyObject *topic, PyObject *partition, PyObject *offset, PyObject *route,
            unsigned char flag)
{
    PyObject *stream = PyTuple_GET_ITEM(route, 0);
    if (PyObject_SetAttr(b->ctx, s_stream, stream) < 0)
        return -1;
    PyObject *decoder = sniffed(b, value, PyTuple_GET_ITEM(route, 1)), *decoded;
    if (decoder == NULL && PyErr_Occurred())
        return -1;
    if (decoder != NULL) { /* a decoder error: `one` decodes again, and says why */
        PyObject *a[2] = {value, b->ctx};
        decoded = PyObject_Vectorcall(decoder, a, 2, NULL);
    }
    else {
        PyObject *a[3] = {value, PyTuple_GET_ITEM(route, 1), b->ctx};
        decoded = PyObject_Vectorcall(b->decode, a, 3, NULL);
    }
    if (decoded == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return -1;
        PyErr_Clear();
        return 1;
    }
    Py_ssize_t n = PyList_Check(decoded) ? PyList_GET_SIZE(decoded) : 0;
    if (n == 0 || n > b->max_events) {
        Py_DECREF(decoded);
        return 1;
    }
    PyObject *failures = NULL;
    int r = 0;
    for (Py_ssize_t i = 0; i < n && r == 0 && i < PyList_GET_SIZE(decoded); i++) {
        PyObject *rec = PyList_GET_ITEM(decoded, i), *dest = NULL, *ev = NULL;
        PyObject *index = PyLong_FromSsize_t(i);
        if (index == NULL) {
            r = -1;
            break;
        }
        Py_INCREF(rec);
        const Road *road = NULL;
        ev = decoded_event(b, rec, PyTuple_GET_ITEM(route, 2), topic, partition, offset, index, flag, &dest, &road);
        int ok = ev != NULL && deliver_built(b, road, ev, flag, NULL, dest, topic, partition, offset, index) == 0;
        if (!ok && add_failure(&failures, b->failure_of) < 0)
            r = -1;
        Py_XDECREF(ev);
        Py_DECREF(rec);
        Py_DECREF(index);
    }
    if (r == 0 && failures != NULL)
        r = settle(b, failures, n, value, topic, partition, offset, stream);
    Py_XDECREF(failures);
    Py_DECREF(decoded);
    return r;
}

static int
json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The position of the quote that closes the string opened at `open` (n if none): most
   of an element's bytes are in strings, so memchr finds each candidate quote, and one
   after an odd run of backslashes is escaped. */
static Py_ssize_t
string_end(const char *s, Py_ssize_t n, Py_ssize_t open)
{
    Py_ssize_t p = open;
    for (;;) {
        const char *q = memchr(s + p + 1, '"', (size_t)(n - p - 1));
        if (q == NULL)
            return n;
        p = q - s;
        Py_ssize_t k = p - 1;
        while (k > open && s[k] == '\\')
            k--;
        if ((p - 1 - k) % 2 == 0)
            return p;
    }
}

/* The elements of a JSON array record that holds objects only, `[{...}, {...}]`, as
   a list of their bytes; NULL without an error when the record is not that, or not
   within 1..max elements: the Python path decodes it and says why. Only the nesting
   and the strings are followed here; each element's own validity is its parser's. */
static PyObject *
array_elements(PyObject *value, Py_ssize_t max)
{
    const char *s = PyBytes_AS_STRING(value);
    Py_ssize_t n = PyBytes_GET_SIZE(value), p = 1;
    PyObject *elements = PyList_New(0);
    if (elements == NULL)
        return NULL;
    for (;;) {
        while (p < n && json_space(s[p]))
            p++;
        if (p >= n || s[p] != '{' || PyList_GET_SIZE(elements) >= max)
            break;
        Py_ssize_t start = p, depth = 0;
        for (; p < n; p++) {
            char c = s[p];
            if (c == '"')
                p = string_end(s, n, p);
            else if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                break;
        }
        if (p >= n)
            break;
        PyObject *element = PyBytes_FromStringAndSize(s + start, ++p - start);
        if (element == NULL || PyList_Append(elements, element) < 0) {
            Py_XDECREF(element);
            Py_DECREF(elements);
            return NULL;
        }
        Py_DECREF(element);
        while (p < n && json_space(s[p]))
            p++;
        if (p < n && s[p] == ',') {
            p++;
            continue;
        }
        if (p < n && s[p] == ']') {
            for (p++; p < n && json_space(s[p]); p++)
                ;
            if (p == n)
                return elements;
        }
        break;
    }
    Py_DECREF(elements);
    return NULL;
}

/* The event of an array element (bytes), from its bytes or else its parsed dict;
   NotImplemented when the element is not JSON (the record then is no JSON array: the
   Python path reads it as text). NULL with an error: the element failed. */
static PyObject *
element_event(Batch *b, PyObject *element, PyObject *stream_kind, PyObject *topic, PyObject *partition,
              PyObject *offset, PyObject *index, unsigned char flag, PyObject **dest, const Road **road)
{
    PyObject *ev = b->reads_bytes ? event_of(b, Py_None, element, Py_None, Py_None, stream_kind, topic, partition,
                                             offset, index, flag, dest, road)
                                  : Py_NewRef(Py_NotImplemented);
    if (ev != Py_NotImplemented)
        return ev;
    Py_DECREF(ev);
    PyObject *d = PyObject_CallOneArg(loads, element);
    if (d == NULL) {
        if (!PyErr_ExceptionMatches(json_error))
            return NULL;
        PyErr_Clear();
        return Py_NewRef(Py_NotImplemented);
    }
    ev = event_of(b, Py_None, d, Py_None, Py_None, stream_kind, topic, partition, offset, index, flag, dest, road);
    Py_DECREF(d);
    return ev;
}

/* A JSON array of objects (`Ingestor._generic` on what jsonlog.decode gives: one
   event per object, its index its place). Every element is built before any is
   delivered, since an element that is not JSON makes the whole record text (the
   Python path's verdict), which must leave nothing delivered. 1 when the Python path
   must take it, 0 when handled, -1 on an error to raise. */
static int
json_array_record(Batch *b, PyObject *value, PyObject *topic, PyObject *partition, PyObject *offset,
                  PyObject *route, unsigned char flag)
{
    PyObject *elements = array_elements(value, b->max_events);
    if (elements == NULL)
        return PyErr_Occurred() ? -1 : 1;
    Py_ssize_t n = PyList_GET_SIZE(elements), built = 0;
    /* per element: its event (the only reference: a fields-mode tuple must have no
       other), destination and road; or, for an element that failed, its failure */
    PyObject **evs = PyMem_Calloc((size_t)n, sizeof(PyObject *)), **dests = PyMem_Calloc((size_t)n, sizeof(PyObject *));
    const Road **roads = PyMem_Calloc((size_t)n, sizeof(Road *));
    PyObject *failures = NULL;
    int r = evs == NULL || dests == NULL || roads == NULL ? -1 : 0;
    if (r < 0)
        PyErr_NoMemory();
    for (; r == 0 && built < n; built++) {
        PyObject *index = PyLong_FromSsize_t(built), *ev = NULL;
        if (index != NULL)
            ev = element_event(b, PyList_GET_ITEM(elements, built), PyTuple_GET_ITEM(route, 2), topic, partition,
                               offset, index, flag, &dests[built], &roads[built]);
        Py_XDECREF(index);
        if (ev == Py_NotImplemented) {
            Py_DECREF(ev);
            r = 1;
        }
        else if (ev == NULL) {
            PyObject *exc = index == NULL ? NULL : caught();
            evs[built] = exc == NULL ? NULL : PyObject_CallOneArg(b->failure_of, exc);
            Py_XDECREF(exc);
            if (evs[built] == NULL)
                r = -1;
            roads[built] = NULL; /* evs[built] is the failure */
        }
        else
            evs[built] = ev;
    }
    for (Py_ssize_t i = 0; r == 0 && i < n; i++) {
        int ok = roads[i] != NULL;
        if (ok) {
            PyObject *index = PyLong_FromSsize_t(i);
            ok = index != NULL
                 && deliver_built(b, roads[i], evs[i], flag, NULL, dests[i], topic, partition, offset, index) == 0;
            Py_XDECREF(index);
            if (!ok && add_failure(&failures, b->failure_of) < 0)
                r = -1;
        }
        else if ((failures == NULL && (failures = PyList_New(0)) == NULL) || PyList_Append(failures, evs[i]) < 0)
            r = -1;
    }
    if (r == 0 && failures != NULL)
        r = settle(b, failures, n, value, topic, partition, offset, PyTuple_GET_ITEM(route, 0));
    for (Py_ssize_t i = 0; evs != NULL && i < built; i++)
        Py_XDECREF(evs[i]);
    PyMem_Free(evs);
    PyMem_Free(dests);
    PyMem_Free(roads);
    Py_XDECREF(failures);
    Py_DECREF(elements);
    return r;
}

/* routes[topic] (borrowed; NULL, with an error set or not), remembered for the batch's
   first few topics: a batch has a handful, and each record's topic is a str of its
   own (confluent-kafka's Message.topic()), which a dict look-up would hash anew. A route
   once found stays what the batch uses (the Python path only adds routes). */
static PyObject *
route_of(Batch *b, PyObject *topic)
{
    int exact = PyUnicode_CheckExact(topic);
    if (exact) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(topic);
        int kind = PyUnicode_KIND(topic);
        for (int i = 0; i < b->ntopics; i++) {
            PyObject *t = b->topic_seen[i];
            if (t == topic || (PyUnicode_GET_LENGTH(t) == n && PyUnicode_KIND(t) == kind
                               && memcmp(PyUnicode_DATA(t), PyUnicode_DATA(topic), (size_t)n * kind) == 0))
                return b->route_seen[i];
        }
    }
    PyObject *route = PyDict_GetItemWithError(b->routes, topic);
    if (route != NULL && exact && b->ntopics < NTOPICS) {
        b->topic_seen[b->ntopics] = Py_NewRef(topic);
        b->route_seen[b->ntopics++] = Py_NewRef(route);
    }
    return route;
}

/* run(ingestor, records, need, observed, out, events, one, ctx) */
static PyObject *
py_run(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "run expected 8 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *records = args[1], *need = args[2], *observed = args[3], *events = args[5], *one = args[6];
    if (!PyList_Check(records) || !PyByteArray_Check(need) || PyByteArray_GET_SIZE(need) != PyList_GET_SIZE(records)
        || !PyFloat_CheckExact(observed) || (events != Py_None && !PyList_Check(events))) {
        PyErr_SetString(PyExc_TypeError, "run: records (list), need (bytearray of as many flags), observed "
                                         "(float), events (list or None)");
        return NULL;
    }
    Batch b;
    if (batch_init(&b, args[0], observed, args[4], events, args[7]) < 0)
        return NULL;
    PyObject *result = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(records); i++) {
        PyObject *record = PyList_GET_ITEM(records, i);
        unsigned char flag = (unsigned char)PyByteArray_AS_STRING(need)[i];
        int r = 1;
        Py_INCREF(record); /* `one` or a callback may change the list */
        if (PyTuple_CheckExact(record) && PyTuple_GET_SIZE(record) == 4) {
            PyObject *value = PyTuple_GET_ITEM(record, 0), *topic = PyTuple_GET_ITEM(record, 1);
            PyObject *route = route_of(&b, topic);
            /* route: (stream, format, kind, destination, JSON logs, JSON allowed) */
            if (route == NULL && PyErr_Occurred())
                r = -1;
            else if (route != NULL && PyTuple_CheckExact(route) && PyTuple_GET_SIZE(route) == 6
                     && PyBytes_CheckExact(value) && PyBytes_GET_SIZE(value) <= b.max_bytes) {
                Py_INCREF(route);
                char first = PyBytes_GET_SIZE(value) > 0 ? PyBytes_AS_STRING(value)[0] : '\0';
                if (PyTuple_GET_ITEM(route, 5) == Py_True && first == '{')
                    r = json_record(&b, value, topic, PyTuple_GET_ITEM(record, 2), PyTuple_GET_ITEM(record, 3),
                                    route, flag);
                else if (PyTuple_GET_ITEM(route, 5) == Py_True && first == '[')
                    r = json_array_record(&b, value, topic, PyTuple_GET_ITEM(record, 2),
                                          PyTuple_GET_ITEM(record, 3), route, flag);
                else
                    r = text_record(&b, value, topic, PyTuple_GET_ITEM(record, 2), PyTuple_GET_ITEM(record, 3),
                                    route, flag);
                Py_DECREF(route);
            }
        }
        if (r == 1)
            r = call_one(one, record, flag);
        Py_DECREF(record);
        if (r < 0)
            goto done;
        if (i >= PyList_GET_SIZE(records) || PyByteArray_GET_SIZE(need) != PyList_GET_SIZE(records)) {
            PyErr_SetString(PyExc_RuntimeError, "run: the batch changed during the loop");
            goto done;
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    batch_clear(&b);
    return result;
}

static PyMethodDef methods[] = {
    {"deliver", (PyCFunction)(void (*)(void))py_deliver, METH_FASTCALL,
     "deliver(enricher, out, ev, dest, events, coords): hotloop.deliver in C"},
    {"run", (PyCFunction)(void (*)(void))py_run, METH_FASTCALL,
     "run(ingestor, records, need, observed, out, events, one, ctx): the per-record loop of a batch"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_hotloop", "The end of every event's way through ingest, and the JSON-log loop.", -1,
    methods, NULL, NULL, NULL, NULL,
};

static int
intern(PyObject **slot, const char *text)
{
    *slot = PyUnicode_InternFromString(text);
    return *slot == NULL ? -1 : 0;
}

PyMODINIT_FUNC
PyInit__hotloop(void)
{
    if (intern(&s_active, "active") < 0 || intern(&s_memo, "_memo") < 0 || intern(&s_resolve, "_resolve") < 0
        || intern(&s_by_topic, "by_topic") < 0 || intern(&s_event_sources, "event_sources") < 0
        || intern(&s_routes, "_routes") < 0 || intern(&s_json_logs, "_json_logs") < 0
        || intern(&s_event, "event") < 0 || intern(&s_cfg, "cfg") < 0
        || intern(&s_max_record_bytes, "max_record_bytes") < 0 || intern(&s_redact, "_redact") < 0
        || intern(&s_record_failed, "_record_failed") < 0 || intern(&s_enricher, "enricher") < 0
        || intern(&s_tenant, "tenant") < 0 || intern(&s_service, "service") < 0 || intern(&s_host, "host") < 0
        || intern(&s_env, "env") < 0 || intern(&s_attributes, "attributes") < 0 || intern(&s_bar, "|") < 0
        || intern(&s_empty, "") < 0 || intern(&s_kinds, "kinds") < 0
        || intern(&s_resource_logs, "resourceLogs") < 0 || intern(&s_resource_metrics, "resourceMetrics") < 0
        || intern(&s_normalizer, "normalizer") < 0 || intern(&s_kind_topic, "_kind_topic") < 0
        || intern(&s_decode, "decode") < 0 || intern(&s_stream, "stream") < 0 || intern(&s_sniffed, "SNIFFED") < 0
        || intern(&s_auto_name, "AUTO") < 0 || intern(&s_log, "log") < 0
        || intern(&s_observed_ts, "observed_ts") < 0 || intern(&s_settle, "_settle") < 0
        || intern(&s_max_events_per_record, "max_events_per_record") < 0 || intern(&s_fields, "fields") < 0)
        return NULL;
    if ((zero = PyLong_FromLong(0)) == NULL || (loads = imported("orjson", "loads")) == NULL
        || (json_error = imported("orjson", "JSONDecodeError")) == NULL
        || (source_ref = imported("schemas.source", "ref")) == NULL
        || (source_heads = imported("schemas.source", "_HEADS")) == NULL)
        return NULL;
    if (!PyDict_Check(source_heads)) {
        PyErr_SetString(PyExc_TypeError, "schemas.source._HEADS is not a dict");
        return NULL;
    }
    return PyModule_Create(&module);
}
