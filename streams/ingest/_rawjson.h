/* The leaves of one JSON object read straight from its bytes, for _jsonlog.c: a batch
 * repeats a handful of record shapes, and for those the dict orjson.loads builds (and
 * the flattening of it, and freeing it) is work no one needs.
 *
 * raw_read gives the leaf values as orjson.loads makes them, in document order (nested
 * objects walked depth first, as flatten() walks them), and a template: the record's
 * keys and nesting, spelled so that two records have one template exactly when they
 * have the same keys in the same places. Anything unusual is declined, never guessed
 * at: the caller then parses the record with orjson, which also says what is wrong with
 * invalid JSON. Declined: a string with an escape or a control character, a key that is
 * not ASCII or is longer than 255 bytes, an array, an integer of more than 18 digits,
 * -0, a float that is not finite or has a mantissa of more than 17 digits, nesting
 * deeper than RAW_MAX_DEPTH, more than RAW_MAX_LEAVES leaves, a template longer than
 * RAW_TEMPLATE_MAX, invalid UTF-8, anything but whitespace after the object.
 *
 * Template: per key 'k', its length (one byte), its bytes, then 'v' (a leaf: a scalar),
 * 'e' (a leaf: an empty object, which a metric sample's labels may be, unlike a scalar)
 * or 'o' (an object whose members follow); '}' ends each object.
 * An entry starts with 'k' or is '}', so the spelling reads back one way only. */
#ifndef SLUICE_RAWJSON_H
#define SLUICE_RAWJSON_H

#include <Python.h>
#include <math.h>
#include <string.h>

#define RAW_MAX_LEAVES 64
#define RAW_MAX_DEPTH 16
#define RAW_TEMPLATE_MAX 2048

typedef struct {
    PyObject *v[RAW_MAX_LEAVES]; /* the leaf values, owned */
    Py_ssize_t n;
    char t[RAW_TEMPLATE_MAX];    /* the template */
    Py_ssize_t tn;
} RawRecord;

/* 0: read; 1: declined (no error set); -1: an error (memory) */
enum { RAW_OK = 0, RAW_DECLINED = 1, RAW_ERROR = -1 };

static void
raw_release(RawRecord *r)
{
    for (Py_ssize_t i = 0; i < r->n; i++)
        Py_DECREF(r->v[i]);
    r->n = 0;
}

static inline const char *
raw_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static inline int
raw_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

#define RAW_ONES 0x0101010101010101ULL
#define RAW_HIGHS 0x8080808080808080ULL
/* whether some byte of w is below n (n <= 128), or equals c */
#define RAW_BELOW(w, n) (((w) - RAW_ONES * (n)) & ~(w) & RAW_HIGHS)
#define RAW_HAS(w, c) RAW_BELOW((w) ^ (RAW_ONES * (c)), 1)

/* The closing quote of the string whose contents start at p, or NULL (declined);
   *ascii: whether every byte of it is ASCII. Eight bytes at a time; in the word that
   holds a quote, a backslash or a control byte, the lowest flag is the first such byte
   (the tests above only ever flag too much above a true hit, through a borrow). */
static inline const char *
raw_string_end(const char *p, const char *end, int *ascii)
{
    unsigned char seen = 0;
    unsigned long long high = 0, w;
    for (; end - p >= 8; p += 8) {
        memcpy(&w, p, 8);
        unsigned long long stop = RAW_HAS(w, '"') | RAW_HAS(w, '\\') | RAW_BELOW(w, 0x20);
        if (stop) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            int at = __builtin_ctzll(stop) >> 3;
            high |= w & RAW_HIGHS & ((1ULL << (at * 8)) - 1);
            if (p[at] != '"')
                return NULL;
            *ascii = high == 0;
            return p + at;
#else
            break;
#endif
        }
        high |= w & RAW_HIGHS;
    }
    seen = high ? 0x80 : 0;
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *ascii = seen < 0x80;
            return p;
        }
        if (c == '\\' || c < 0x20)
            return NULL;
        seen |= c;
    }
    return NULL;
}

/* a leaf `v` (stolen), spelled `kind` in the template */
static int
raw_leaf_of(RawRecord *r, PyObject *v, char kind)
{
    if (v == NULL)
        return RAW_ERROR;
    if (r->n == RAW_MAX_LEAVES || r->tn == RAW_TEMPLATE_MAX) {
        Py_DECREF(v);
        return RAW_DECLINED;
    }
    r->v[r->n++] = v;
    r->t[r->tn++] = kind;
    return RAW_OK;
}

static int
raw_leaf(RawRecord *r, PyObject *v)
{
    return raw_leaf_of(r, v, 'v');
}

/* Short ASCII values recently read (levels, services, hosts, methods, regions...), by a
 * hash of their bytes: most records repeat a few dozen of them, and the same object
 * again spares allocating, copying, freeing and hashing it anew (the event builder
 * looks several up in dicts). Longer strings (messages, ids, times) are seldom
 * repeated and stay out. Each slot holds a reference until another value takes it. */
#define RAW_SHORT 20
#define RAW_SLOTS 512
static PyObject *raw_short[RAW_SLOTS];

static PyObject *
raw_ascii(const char *p, Py_ssize_t n)
{
    PyObject **slot = NULL;
    if (n <= RAW_SHORT) {
        unsigned long long head = 0, tail = 0;
        memcpy(&head, p, n < 8 ? n : 8);
        if (n > 8)
            memcpy(&tail, p + n - 8, 8);
        unsigned long long h = (head * 0x9E3779B97F4A7C15ULL) ^ (tail + (unsigned long long)n) * 0xC2B2AE3D27D4EB4FULL;
        slot = &raw_short[(h >> 40) % RAW_SLOTS];
        PyObject *hit = *slot;
        if (hit != NULL && PyUnicode_GET_LENGTH(hit) == n && memcmp(PyUnicode_DATA(hit), p, n) == 0)
            return Py_NewRef(hit);
    }
    PyObject *s = PyUnicode_New(n, 127);
    if (s == NULL)
        return NULL;
    memcpy(PyUnicode_DATA(s), p, n);
    if (slot != NULL)
        Py_XSETREF(*slot, Py_NewRef(s));
    return s;
}

static int
raw_text(const char **pp, const char *end, RawRecord *r)
{
    const char *p = *pp + 1;
    int ascii;
    const char *q = raw_string_end(p, end, &ascii);
    if (q == NULL)
        return RAW_DECLINED;
    PyObject *s;
    if (ascii)
        s = raw_ascii(p, q - p);
    else if ((s = PyUnicode_DecodeUTF8(p, q - p, NULL)) == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return RAW_ERROR;
        PyErr_Clear();
        return RAW_DECLINED;
    }
    *pp = q + 1;
    return raw_leaf(r, s);
}

/* A JSON number (RFC 8259) as orjson reads it: an int, or a float when it has a
   fraction or an exponent. */
static int
raw_number(const char **pp, const char *end, RawRecord *r)
{
    const char *start = *pp, *p = start;
    int negative = *p == '-', is_float = 0;
    p += negative;
    if (!raw_digit(p, end))
        return RAW_DECLINED;
    if (*p == '0') {
        if (raw_digit(++p, end))
            return RAW_DECLINED; /* a leading zero */
    }
    else
        while (raw_digit(p, end))
            p++;
    const char *int_end = p;
    if (p < end && *p == '.') {
        is_float = 1;
        if (!raw_digit(++p, end))
            return RAW_DECLINED;
        while (raw_digit(p, end))
            p++;
    }
    const char *mantissa_end = p;
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_float = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!raw_digit(p, end))
            return RAW_DECLINED;
        while (raw_digit(p, end))
            p++;
    }
    PyObject *v;
    if (!is_float) {
        Py_ssize_t digits = int_end - start - negative;
        if (digits > 18 || (negative && digits == 1 && start[1] == '0'))
            return RAW_DECLINED;
        long long n = 0;
        for (const char *d = start + negative; d < int_end; d++)
            n = n * 10 + (*d - '0');
        v = PyLong_FromLongLong(negative ? -n : n);
    }
    else if (p == mantissa_end && mantissa_end - start - negative <= 16) {
        /* d.ddd with at most 15 digits: their integer is exact in a double, and so is
           the power of ten, so one division rounds correctly, as strtod does */
        static const double tens[16] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
                                        1e14, 1e15};
        long long n = 0;
        for (const char *d = start + negative; d < p; d++)
            if (*d != '.')
                n = n * 10 + (*d - '0');
        double x = (double)n / tens[p - int_end - 1];
        v = PyFloat_FromDouble(negative ? -x : x);
    }
    else {
        char buf[64];
        Py_ssize_t len = p - start;
        if (len >= (Py_ssize_t)sizeof(buf) || mantissa_end - start - negative > 18) /* 17 digits and a point */
            return RAW_DECLINED;
        memcpy(buf, start, len);
        buf[len] = '\0';
        double x = PyOS_string_to_double(buf, NULL, NULL);
        if (x == -1.0 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_ValueError))
                return RAW_ERROR;
            PyErr_Clear();
            return RAW_DECLINED;
        }
        if (!isfinite(x))
            return RAW_DECLINED;
        v = PyFloat_FromDouble(x);
    }
    *pp = p;
    return raw_leaf(r, v);
}

static int
raw_literal(const char **pp, const char *end, const char *word, Py_ssize_t len, PyObject *v, RawRecord *r)
{
    if (end - *pp < len || memcmp(*pp, word, len) != 0)
        return RAW_DECLINED;
    *pp += len;
    return raw_leaf(r, Py_NewRef(v));
}

static int raw_members(const char **pp, const char *end, RawRecord *r, int depth);

/* one value at *pp (no whitespace before it) */
static int
raw_value(const char **pp, const char *end, RawRecord *r, int depth)
{
    const char *p = *pp;
    switch (*p) {
    case '"':
        return raw_text(pp, end, r);
    case '{': {
        const char *q = raw_ws(p + 1, end);
        if (q < end && *q == '}') { /* an empty object stays a value */
            *pp = q + 1;
            return raw_leaf_of(r, PyDict_New(), 'e');
        }
        if (depth >= RAW_MAX_DEPTH || r->tn == RAW_TEMPLATE_MAX)
            return RAW_DECLINED;
        r->t[r->tn++] = 'o';
        *pp = p + 1;
        return raw_members(pp, end, r, depth + 1);
    }
    case 't':
        return raw_literal(pp, end, "true", 4, Py_True, r);
    case 'f':
        return raw_literal(pp, end, "false", 5, Py_False, r);
    case 'n':
        return raw_literal(pp, end, "null", 4, Py_None, r);
    default:
        return *p == '-' || (*p >= '0' && *p <= '9') ? raw_number(pp, end, r) : RAW_DECLINED;
    }
}

/* the members of an object whose '{' is behind *pp, and its '}' */
static int
raw_members(const char **pp, const char *end, RawRecord *r, int depth)
{
    const char *p = raw_ws(*pp, end);
    if (p < end && *p == '}')
        p++; /* {} at the top */
    else
        for (;;) {
            int ascii;
            const char *q = p < end && *p == '"' ? raw_string_end(p + 1, end, &ascii) : NULL;
            Py_ssize_t len = q == NULL ? 0 : q - p - 1;
            if (q == NULL || !ascii || len > 255 || r->tn + len + 3 > RAW_TEMPLATE_MAX)
                return RAW_DECLINED;
            r->t[r->tn++] = 'k';
            r->t[r->tn++] = (char)(unsigned char)len;
            memcpy(r->t + r->tn, p + 1, len);
            r->tn += len;
            p = raw_ws(q + 1, end);
            if (p == end || *p != ':' || (p = raw_ws(p + 1, end)) == end)
                return RAW_DECLINED;
            int rc = raw_value(&p, end, r, depth);
            if (rc != RAW_OK)
                return rc;
            p = raw_ws(p, end);
            if (p < end && *p == ',') {
                p = raw_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            return RAW_DECLINED;
        }
    if (r->tn == RAW_TEMPLATE_MAX)
        return RAW_DECLINED;
    r->t[r->tn++] = '}';
    *pp = p;
    return RAW_OK;
}

/* The leaves and the template of the JSON object s[0..n) into r (r->n and r->tn start at
   0). On RAW_DECLINED or RAW_ERROR, r's values are the caller's to release all the same. */
static int
raw_read(const char *s, Py_ssize_t n, RawRecord *r)
{
    const char *end = s + n, *p = raw_ws(s, end);
    r->n = r->tn = 0;
    if (p == end || *p != '{')
        return RAW_DECLINED;
    p++;
    int rc = raw_members(&p, end, r, 0);
    if (rc == RAW_OK && raw_ws(p, end) != end)
        return RAW_DECLINED;
    return rc;
}

#endif
