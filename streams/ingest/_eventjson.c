/* `dumps(obj) -> bytes`: orjson.dumps(obj) (no options), byte for byte, for the canonical
 * events that leave ingest, written straight into an exact-size bytes object.
 *
 * Why: every event is serialized once (hotloop.deliver / _hotloop.c deliver_event), and
 * orjson over-allocates its output, so ingest copies it into an exact-size bytes; this
 * module writes into a reusable scratch buffer and allocates the result once, with a
 * writer specialised for the events' shape (str keys; str, float, int, bool, None values;
 * small nested dicts).
 *
 * Covered in C: exact dict with exact str keys, exact list and tuple, exact str without
 * lone surrogates, exact int within the signed or unsigned 64-bit range, bool, None and
 * every float (nan and +-inf as null, like orjson), nested up to MAX_DEPTH.
 *
 * Everything else makes the whole call fall back to orjson.dumps(obj) (and an exact-size
 * copy of its result, or its exception): other types (subclasses of str, dict, int or
 * float included), non-str keys, lone surrogates, ints beyond 64 bits, deeper nesting.
 * The writer decides this before returning anything: a fallback never follows a
 * partial result.
 *
 * Floats: orjson prints the shortest round-trip digits, like repr(), but in fixed
 * notation for decimal exponents -5..15 (repr: -4..15) and otherwise as "1.5e+16" or
 * "1e-7" (repr pads the exponent to two digits). In [1e-5, 1e15) the digits are proven
 * with exact double arithmetic (put_short_float: 15 digits or fewer, and 16 or 17
 * digits unless the decimal is nearly a tie); the rest take repr's digits
 * (PyOS_double_to_string, which allocates) and reformat them.
 *
 * Strings are read from their canonical storage (PyUnicode_DATA) and encoded here, so
 * no UTF-8 copy is cached in non-ASCII str objects. The JSON text of recent dict keys is
 * cached by identity (write_key): up to KEY_SLOTS key objects stay referenced.
 *
 * The GIL is held throughout, and no Python code runs while the scratch buffer is in
 * use (exact dicts, lists and strs only; orjson is called after the writer is done).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_shared.h"

/* orjson raises "Recursion limit reached" at 255 levels; fall back long before */
#define MAX_DEPTH 64
/* a scratch buffer grown beyond this by one big object is given back after the call */
#define SCRATCH_KEEP (1 << 20)
#define SCRATCH_START 4096

enum { DONE = 0, FALLBACK = 1 };

static PyObject *orjson_dumps;
static char *scratch;
static Py_ssize_t scratch_cap;

/* out: the next byte to write; end: one past the scratch buffer */
typedef struct {
    char *out;
    char *end;
} Writer;

/* Grows the scratch buffer to hold n more bytes. */
static int
grow(Writer *w, Py_ssize_t n)
{
    Py_ssize_t used = w->out - scratch;
    if (n > PY_SSIZE_T_MAX / 2 - used)
        return FALLBACK;
    Py_ssize_t cap = scratch_cap;
    while (cap - used < n)
        cap *= 2;
    char *grown = PyMem_Realloc(scratch, (size_t)cap);
    if (grown == NULL)
        return FALLBACK; /* orjson decides what running out of memory raises */
    scratch = grown;
    scratch_cap = cap;
    w->out = scratch + used;
    w->end = scratch + cap;
    return DONE;
}

static inline int
reserve(Writer *w, Py_ssize_t n)
{
    if (w->end - w->out >= n)
        return DONE;
    return grow(w, n);
}

static inline void
put(Writer *w, const char *s, size_t n)
{
    memcpy(w->out, s, n);
    w->out += n;
}

/* -- strings ---------------------------------------------------------------------- */

/* for each ASCII byte: 0 to copy it, else the letter after the backslash ('u': \u00XX) */
static char escape[128];

static void
init_escape(void)
{
    for (int c = 0; c < 0x20; c++)
        escape[c] = 'u';
    escape['\b'] = 'b';
    escape['\f'] = 'f';
    escape['\n'] = 'n';
    escape['\r'] = 'r';
    escape['\t'] = 't';
    escape['"'] = '"';
    escape['\\'] = '\\';
}

static inline char *
put_escaped(char *d, unsigned c)
{
    static const char hex[] = "0123456789abcdef";
    char e = escape[c];
    *d++ = '\\';
    *d++ = e;
    if (e == 'u') {
        d[0] = '0';
        d[1] = '0';
        d[2] = hex[c >> 4];
        d[3] = hex[c & 15];
        d += 4;
    }
    return d;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* whether any of 8 ASCII bytes must be escaped: < 0x20, '"' or '\\' (may say yes when
 * none is: the caller then goes byte by byte, which decides exactly) */
static inline int
needs_escape8(uint64_t x)
{
    uint64_t quote = x ^ (ONES * '"'), backslash = x ^ (ONES * '\\');
    return ((((x - ONES * 0x20) & ~x) | ((quote - ONES) & ~quote) | ((backslash - ONES) & ~backslash)) & HIGHS) != 0;
}

static inline uint64_t
load8(const unsigned char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* s[0..n), ASCII, at d as it is, when none of its bytes needs escaping (the common
 * case): returns d + n, else NULL. Whole words only, overlapping at the ends, never
 * past the string: no call to memcpy for a few bytes. */
static inline char *
put_plain_ascii(char *d, const unsigned char *s, Py_ssize_t n)
{
    uint64_t x;
    if (n >= 8) {
        for (Py_ssize_t i = 0; i + 8 <= n; i += 8) {
            if (needs_escape8(x = load8(s + i)))
                return NULL;
            memcpy(d + i, &x, 8);
        }
        if (n % 8) {
            if (needs_escape8(x = load8(s + n - 8)))
                return NULL;
            memcpy(d + n - 8, &x, 8);
        }
        return d + n;
    }
    if (n >= 4) {
        uint32_t head, tail;
        memcpy(&head, s, 4);
        memcpy(&tail, s + n - 4, 4);
        if (needs_escape8(head | (uint64_t)tail << 32))
            return NULL;
        memcpy(d, &head, 4);
        memcpy(d + n - 4, &tail, 4);
        return d + n;
    }
    if (n >= 2) {
        uint16_t head, tail;
        memcpy(&head, s, 2);
        memcpy(&tail, s + n - 2, 2);
        if (needs_escape8(head | (uint64_t)tail << 16 | ONES * 'a' << 32))
            return NULL;
        memcpy(d, &head, 2);
        memcpy(d + n - 2, &tail, 2);
        return d + n;
    }
    if (n == 1) {
        if (escape[s[0]])
            return NULL;
        *d = (char)s[0];
    }
    return d + n;
}

/* any str: escapes, UTF-8 of Latin-1, UCS-2 and UCS-4 storage */
static int
write_any_str(Writer *w, PyObject *s)
{
#if PY_VERSION_HEX < 0x030C0000
    if (!PyUnicode_IS_READY(s)) /* a legacy str (deprecated C API): orjson knows best */
        return FALLBACK;
#endif
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    /* at most 6 bytes a character: \u00XX, or UTF-8 (up to 4) */
    if (n > (PY_SSIZE_T_MAX - 16) / 6 || reserve(w, 6 * n + 2) != DONE)
        return FALLBACK;
    char *d = w->out;
    *d++ = '"';
    const void *data = PyUnicode_DATA(s);
    int kind = PyUnicode_KIND(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) {
            if (escape[c])
                d = put_escaped(d, c);
            else
                *d++ = (char)c;
        }
        else if (c < 0x800) {
            *d++ = (char)(0xc0 | (c >> 6));
            *d++ = (char)(0x80 | (c & 0x3f));
        }
        else if (c < 0x10000) {
            if (c >= 0xd800 && c <= 0xdfff)
                return FALLBACK; /* orjson raises: surrogates are not UTF-8 */
            *d++ = (char)(0xe0 | (c >> 12));
            *d++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *d++ = (char)(0x80 | (c & 0x3f));
        }
        else {
            *d++ = (char)(0xf0 | (c >> 18));
            *d++ = (char)(0x80 | ((c >> 12) & 0x3f));
            *d++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *d++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *d++ = '"';
    w->out = d;
    return DONE;
}

/* The common case inline: a compact ASCII str with nothing to escape */
static inline int
write_str(Writer *w, PyObject *s)
{
    if (PyUnicode_IS_COMPACT_ASCII(s)) {
        Py_ssize_t n = ((PyASCIIObject *)s)->length;
        if (reserve(w, n + 2) != DONE)
            return FALLBACK;
        char *end = put_plain_ascii(w->out + 1, (const unsigned char *)(((PyASCIIObject *)s) + 1), n);
        if (end != NULL) {
            *w->out = '"';
            *end = '"';
            w->out = end + 1;
            return DONE;
        }
    }
    return write_any_str(w, s);
}

/* -- numbers ---------------------------------------------------------------------- */

static const char DIGIT_PAIRS[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                  "8081828384858687888990919293949596979899";

/* the decimal digits of v, at the end of a buffer ending at `end`; returns the first */
static inline char *
digits_of(unsigned long long v, char *end)
{
    char *p = end;
    while (v >= 100) {
        unsigned pair = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, DIGIT_PAIRS + 2 * pair, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, DIGIT_PAIRS + 2 * v, 2);
    }
    else
        *--p = (char)('0' + v);
    return p;
}

static int
write_int(Writer *w, PyObject *o)
{
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    unsigned long long mag;
    int negative = 0;
    if (overflow == 0) {
        if (v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return FALLBACK;
        }
        negative = v < 0;
        mag = negative ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    }
    else if (overflow > 0) {
        mag = PyLong_AsUnsignedLongLong(o);
        if (mag == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            return FALLBACK; /* beyond 64 bits: orjson raises */
        }
    }
    else
        return FALLBACK;
    if (reserve(w, 24) != DONE)
        return FALLBACK;
    char buf[24], *p = digits_of(mag, buf + sizeof buf);
    if (negative)
        *w->out++ = '-';
    put(w, p, (size_t)(buf + sizeof buf - p));
    return DONE;
}

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10,
                               1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* m / 10**scale in fixed notation, trailing zeros of the fraction dropped (one kept) */
static void
put_fixed(Writer *w, unsigned long long m, int scale)
{
    char buf[24], *end = buf + sizeof buf, *p = digits_of(m, end);
    int n = (int)(end - p);
    if (scale == 0) {
        put(w, p, (size_t)n);
        put(w, ".0", 2);
        return;
    }
    while (end - p > 1 && end[-1] == '0' && scale > 1) { /* never with a minimal scale */
        end--;
        scale--;
    }
    n = (int)(end - p);
    if (n > scale) {
        put(w, p, (size_t)(n - scale));
        *w->out++ = '.';
        put(w, p + n - scale, (size_t)scale);
    }
    else {
        put(w, "0.", 2);
        for (int i = n; i < scale; i++)
            *w->out++ = '0';
        put(w, p, (size_t)n);
    }
}

/* The integer nearest to a * 10**scale (computed exactly: hi + lo, with fma), and in
 * *dist its distance from it. */
static inline unsigned long long
nearest_scaled(double a, int scale, double *dist)
{
    double hi = a * POW10[scale], lo = fma(a, POW10[scale], -hi);
    double whole = rint(hi), r = (hi - whole) + lo; /* hi - whole is exact */
    double k = rint(r);
    *dist = fabs(r - k);
    return (unsigned long long)whole + (unsigned long long)(long long)k;
}

/* repr's digits of `a` (1e-5 <= a < 1e15), in fixed notation, without dtoa when it can
 * prove them; FALLBACK otherwise (dtoa then decides).
 *
 * 15 digits or fewer: m / 10**scale rounds to a (m < 1e15 and 10**scale are exact
 * doubles, and IEEE division rounds correctly), and two different decimals of at most
 * 15 digits (DBL_DIG) never round to the same double, so it is the only one that short:
 * repr's. Epoch seconds in milliseconds and most metric values end here.
 *
 * 16 digits, at the first scale where a * 10**scale >= 1e15: repr's when none shorter
 * exists and the nearest integer is the only one inside a's rounding interval.
 * 17 digits (one scale further): when no 16-digit decimal rounds to a, repr gives the
 * 17-digit decimal nearest to a; ties and near-misses of the interval bounds fall back. */
static int
put_short_float(Writer *w, double a)
{
    int scale = 0;
    for (;; scale++) {
        double t = a * POW10[scale];
        double m = floor(t + 0.5);
        if (m < 1e15 && m / POW10[scale] == a) {
            put_fixed(w, (unsigned long long)m, scale);
            return DONE;
        }
        if (t >= 1e15)
            break;
        if (scale == 20) /* a >= 1e-5 never gets here */
            return FALLBACK;
    }
    /* a's rounding interval, scaled: half the gaps to its neighbours */
    double up = nextafter(a, INFINITY) - a, down = a - nextafter(a, 0.0);
    double widest = fmax(up, down) * 0.5 * POW10[scale], narrowest = fmin(up, down) * 0.5 * POW10[scale];
    double dist;
    unsigned long long m = nearest_scaled(a, scale, &dist);
    if (m < 1000000000000000ULL || m >= 10000000000000000ULL)
        return FALLBACK;
    if (widest < 0.49 && dist < narrowest * (1 - 1e-9)) {
        put_fixed(w, m, scale);
        return DONE;
    }
    if (!(dist > widest * (1 + 1e-9) + 1e-12))
        return FALLBACK; /* maybe more than one 16-digit decimal, or on a bound */
    scale++;
    m = nearest_scaled(a, scale, &dist);
    if (m < 10000000000000000ULL || m >= 100000000000000000ULL || dist > 0.5 - 1e-6)
        return FALLBACK;
    put_fixed(w, m, scale);
    return DONE;
}

/* repr's digits ("d.ddde-XX", "ddd.dd"), in orjson's notation */
static int
put_repr_float(Writer *w, double v)
{
    char *r = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (r == NULL) {
        PyErr_Clear();
        return FALLBACK;
    }
    char *e = strchr(r, 'e');
    if (e == NULL) {
        put(w, r, strlen(r));
        PyMem_Free(r);
        return DONE;
    }
    int exp = atoi(e + 1);
    const char *mant = r;
    if (*mant == '-') {
        *w->out++ = '-';
        mant++;
    }
    if (exp >= -5 && exp < 16) { /* only -5: repr is fixed from -4 on */
        put(w, "0.", 2);
        for (int i = exp + 1; i < 0; i++)
            *w->out++ = '0';
        for (const char *c = mant; c < e; c++)
            if (*c != '.')
                *w->out++ = *c;
    }
    else {
        put(w, mant, (size_t)(e - mant));
        *w->out++ = 'e';
        *w->out++ = exp < 0 ? '-' : '+';
        char buf[24], *p = digits_of((unsigned long long)(exp < 0 ? -exp : exp), buf + sizeof buf);
        put(w, p, (size_t)(buf + sizeof buf - p));
    }
    PyMem_Free(r);
    return DONE;
}

static int
write_float(Writer *w, double v)
{
    if (reserve(w, 40) != DONE)
        return FALLBACK;
    if (!isfinite(v)) {
        put(w, "null", 4);
        return DONE;
    }
    if (v == 0.0) {
        if (signbit(v))
            put(w, "-0.0", 4);
        else
            put(w, "0.0", 3);
        return DONE;
    }
    double a = fabs(v);
    if (a >= 1e-5 && a < 1e15) {
        char *start = w->out;
        if (v < 0)
            *w->out++ = '-';
        if (put_short_float(w, a) == DONE)
            return DONE;
        w->out = start;
    }
    return put_repr_float(w, v);
}

/* -- containers ------------------------------------------------------------------- */

/* The JSON text of recent dict keys ('"name":'), by identity. Events reuse a few dozen
 * key objects (interned names, orjson's key cache), and copying 64 bytes beats escaping
 * them again. (Caching str values too was measured slower: too many are new objects.)
 * A slot holds a reference to its key: a cached object lives on, so its address cannot
 * come back as another str. Direct-mapped; a collision replaces the slot. Keys longer
 * than KEY_TEXT bytes of JSON are not kept. */
#define KEY_SLOTS 256
#define KEY_TEXT 48

typedef struct {
    PyObject *key;
    Py_ssize_t len;
    char text[KEY_TEXT];
} KeySlot;

static KeySlot key_slots[KEY_SLOTS];

static int
write_key(Writer *w, PyObject *key)
{
    KeySlot *slot = &key_slots[((uintptr_t)key * 0x9E3779B97F4A7C15ULL) >> 56];
    if (reserve(w, KEY_TEXT) != DONE)
        return FALLBACK;
    if (slot->key == key) {
        memcpy(w->out, slot->text, KEY_TEXT); /* a constant size: a few moves */
        w->out += slot->len;
        return DONE;
    }
    Py_ssize_t at = w->out - scratch; /* write_str may move the scratch buffer */
    if (write_str(w, key) != DONE || reserve(w, 1) != DONE)
        return FALLBACK;
    *w->out++ = ':';
    Py_ssize_t len = w->out - (scratch + at);
    if (len <= KEY_TEXT) {
        PyObject *old = slot->key;
        Py_INCREF(key);
        slot->key = key;
        slot->len = len;
        memcpy(slot->text, scratch + at, (size_t)len);
        Py_XDECREF(old); /* an exact str: freeing it runs no Python code */
    }
    return DONE;
}

static int write_value(Writer *w, PyObject *o, int depth);

static int write_enriched(Writer *w, PyObject *d, PyObject *extra, PyObject *extra_json, int depth);

/* One member of an object, after '{' or a previous member (whose reserve kept room for
   the ',' and for a '}' after it); with `extra`, its value is a dict written enriched
   (write_enriched). */
static int
write_member(Writer *w, PyObject *key, PyObject *value, int first, int depth, PyObject *extra,
             PyObject *extra_json)
{
    if (!PyUnicode_CheckExact(key))
        return FALLBACK; /* orjson raises for non-str keys, and has its say on subclasses */
    if (!first)
        *w->out++ = ',';
    if (write_key(w, key) != DONE
        || (extra == NULL ? write_value(w, value, depth) : write_enriched(w, value, extra, extra_json, depth + 1))
               != DONE
        || reserve(w, 2) != DONE)
        return FALLBACK;
    return DONE;
}

static int
write_dict(Writer *w, PyObject *d, int depth)
{
    if (reserve(w, 2) != DONE)
        return FALLBACK;
    *w->out++ = '{';
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    int first = 1;
    while (PyDict_Next(d, &pos, &key, &value)) {
        if (write_member(w, key, value, first, depth, NULL, NULL) != DONE)
            return FALLBACK;
        first = 0;
    }
    *w->out++ = '}';
    return DONE;
}

static int
write_array(Writer *w, PyObject **items, Py_ssize_t n, int depth)
{
    if (reserve(w, 2) != DONE)
        return FALLBACK;
    *w->out++ = '[';
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i)
            *w->out++ = ',';
        if (write_value(w, items[i], depth) != DONE || reserve(w, 2) != DONE)
            return FALLBACK;
    }
    *w->out++ = ']';
    return DONE;
}

static int
write_value(Writer *w, PyObject *o, int depth)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyUnicode_Type)
        return write_str(w, o);
    if (t == &PyFloat_Type)
        return write_float(w, PyFloat_AS_DOUBLE(o));
    if (t == &PyLong_Type)
        return write_int(w, o);
    if (o == Py_None || o == Py_True || o == Py_False) {
        if (reserve(w, 5) != DONE)
            return FALLBACK;
        if (o == Py_None)
            put(w, "null", 4);
        else if (o == Py_True)
            put(w, "true", 4);
        else
            put(w, "false", 5);
        return DONE;
    }
    if (depth >= MAX_DEPTH)
        return FALLBACK;
    if (t == &PyDict_Type)
        return write_dict(w, o, depth + 1);
    if (t == &PyList_Type)
        return write_array(w, PySequence_Fast_ITEMS(o), PyList_GET_SIZE(o), depth + 1);
    if (t == &PyTuple_Type)
        return write_array(w, PySequence_Fast_ITEMS(o), PyTuple_GET_SIZE(o), depth + 1);
    return FALLBACK;
}

/* -- module ----------------------------------------------------------------------- */

static PyObject *
from_orjson(PyObject *obj)
{
    PyObject *json = PyObject_CallOneArg(orjson_dumps, obj);
    if (json == NULL)
        return NULL;
    if (!PyBytes_CheckExact(json)) {
        Py_DECREF(json);
        PyErr_SetString(PyExc_TypeError, "orjson.dumps returned no bytes");
        return NULL;
    }
    PyObject *copy = PyBytes_FromStringAndSize(PyBytes_AS_STRING(json), PyBytes_GET_SIZE(json));
    Py_DECREF(json);
    return copy;
}

/* A scratch buffer grown by one big object goes back to its start size. */
static void
trim_scratch(void)
{
    if (scratch_cap > SCRATCH_KEEP) {
        char *shrunk = PyMem_Realloc(scratch, SCRATCH_START);
        if (shrunk != NULL) {
            scratch = shrunk;
            scratch_cap = SCRATCH_START;
        }
    }
}

/* The exact-size result of a finished writer. */
static PyObject *
written(Writer *w)
{
    PyObject *json = PyBytes_FromStringAndSize(scratch, w->out - scratch);
    trim_scratch();
    return json;
}

static PyObject *
dumps(PyObject *Py_UNUSED(module), PyObject *obj)
{
    Writer w = {scratch, scratch + scratch_cap};
    /* nothing below runs Python code, so the scratch buffer is never used twice at once */
    if (write_value(&w, obj, 0) == DONE)
        return written(&w);
    trim_scratch();
    return from_orjson(obj);
}

/* The dict `d` with the items of `extra` whose keys it lacks after its own (what
   enrichment makes of an event's attributes): `extra_json` is extra's members as JSON
   (orjson.dumps(extra)[1:-1]), written as they are when d has none of its keys. */
static int
write_enriched(Writer *w, PyObject *d, PyObject *extra, PyObject *extra_json, int depth)
{
    if (!PyDict_CheckExact(d) || !PyDict_CheckExact(extra) || !PyBytes_CheckExact(extra_json))
        return FALLBACK;
    Py_ssize_t pos = 0, n = PyBytes_GET_SIZE(extra_json);
    PyObject *key, *value;
    int clash = 0;
    while (!clash && PyDict_Next(extra, &pos, &key, &value)) {
        int has = PyDict_Contains(d, key);
        if (has < 0) {
            PyErr_Clear();
            return FALLBACK;
        }
        clash = has;
    }
    int first = PyDict_GET_SIZE(d) == 0;
    if (write_dict(w, d, depth) != DONE)
        return FALLBACK;
    w->out--; /* the '}': the table's columns go before it */
    if (!clash) {
        if (n && reserve(w, n + 2) != DONE)
            return FALLBACK;
        if (n && !first)
            *w->out++ = ',';
        put(w, PyBytes_AS_STRING(extra_json), (size_t)n);
    }
    else {
        pos = 0;
        while (PyDict_Next(extra, &pos, &key, &value)) {
            int has = PyDict_Contains(d, key);
            if (has < 0) {
                PyErr_Clear();
                return FALLBACK;
            }
            if (!has) {
                if (write_member(w, key, value, first, depth, NULL, NULL) != DONE)
                    return FALLBACK;
                first = 0;
            }
        }
    }
    *w->out++ = '}';
    return DONE;
}

/* dict(zip(keys, values)), its item `at` replaced by the enriched attributes */
static PyObject *
fields_as_dict(PyObject *keys, PyObject *values, Py_ssize_t at, PyObject *extra)
{
    PyObject *d = dict_of(&PyTuple_GET_ITEM(keys, 0), &PyTuple_GET_ITEM(values, 0), PyTuple_GET_SIZE(keys));
    if (d == NULL || extra == NULL)
        return d;
    PyObject *merged = PyDict_Copy(PyTuple_GET_ITEM(values, at));
    if (merged == NULL || fill_missing(merged, extra) < 0 || PyDict_SetItem(d, PyTuple_GET_ITEM(keys, at), merged) < 0)
        Py_CLEAR(d);
    Py_XDECREF(merged);
    return d;
}

/* dumps_fields(keys, values[, at, extra, extra_json]): dumps(dict(zip(keys, values)))
   for two tuples of one length and distinct keys (an event the ingest loop keeps as its
   field values, _jsonlog.c), with no dict built; with `at`, the dict values[at] is
   written with the items of the dict `extra` it lacks (enrichment, _hotloop.c), whose
   members `extra_json` holds already serialized. */
static PyObject *
dumps_fields(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if ((nargs != 2 && nargs != 5) || !PyTuple_CheckExact(args[0]) || !PyTuple_CheckExact(args[1])
        || PyTuple_GET_SIZE(args[0]) != PyTuple_GET_SIZE(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "dumps_fields(keys, values[, at, extra, extra_json]): two tuples of one length");
        return NULL;
    }
    PyObject *keys = args[0], *values = args[1], *extra = NULL, *extra_json = NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(keys), at = -1;
    if (nargs == 5) {
        at = PyLong_AsSsize_t(args[2]);
        if (at == -1 && PyErr_Occurred())
            return NULL;
        if (at < 0 || at >= n || !PyDict_Check(PyTuple_GET_ITEM(values, at)) || !PyDict_Check(args[3])
            || !PyBytes_Check(args[4])) {
            PyErr_SetString(PyExc_TypeError, "dumps_fields: values[at] and extra must be dicts, extra_json bytes");
            return NULL;
        }
        extra = args[3];
        extra_json = args[4];
    }
    Writer w = {scratch, scratch + scratch_cap};
    int r = reserve(&w, 2);
    if (r == DONE) {
        *w.out++ = '{';
        for (Py_ssize_t i = 0; r == DONE && i < n; i++)
            r = write_member(&w, PyTuple_GET_ITEM(keys, i), PyTuple_GET_ITEM(values, i), i == 0, 1,
                             i == at ? extra : NULL, extra_json);
    }
    if (r == DONE) {
        *w.out++ = '}';
        return written(&w);
    }
    trim_scratch();
    PyObject *d = fields_as_dict(keys, values, at, extra), *json;
    if (d == NULL)
        return NULL;
    json = from_orjson(d);
    Py_DECREF(d);
    return json;
}

static PyMethodDef methods[] = {
    {"dumps", dumps, METH_O,
     "dumps(obj) -> bytes: orjson.dumps(obj), byte for byte, as an exact-size bytes object."},
    {"dumps_fields", (PyCFunction)(void (*)(void))dumps_fields, METH_FASTCALL,
     "dumps_fields(keys, values[, at, extra, extra_json]) -> bytes: dumps(dict(zip(keys, values))), with no "
     "dict built; with `at`, values[at] enriched with the items of extra it lacks."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_eventjson",
    "orjson.dumps for canonical events, written straight into an exact-size bytes object.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__eventjson(void)
{
    init_escape();
    if (scratch == NULL) {
        if ((scratch = PyMem_Malloc(SCRATCH_START)) == NULL)
            return PyErr_NoMemory();
        scratch_cap = SCRATCH_START;
    }
    if (orjson_dumps == NULL) {
        PyObject *orjson = PyImport_ImportModule("orjson");
        if (orjson == NULL)
            return NULL;
        orjson_dumps = PyObject_GetAttrString(orjson, "dumps");
        Py_DECREF(orjson);
        if (orjson_dumps == NULL)
            return NULL;
    }
    return PyModule_Create(&module);
}
