/* The C form of two text decoders and of their detection (streams/ingest/decoders/):
 *
 *   AccessDecoder(fallback, access_time, unescape, Decoded)
 *       apache.decode_access: an Apache / nginx Common or Combined Log Format line
 *   LogfmtDecoder(fallback, Decoded)
 *       logfmt.decode: a logfmt line that logfmt._split reads (no backslash, every
 *       quote opens right after `key=` or closes a value)
 *   text_kind(value)
 *       1 when decoders.sniff certainly picks logfmt for `value`, 2 when it certainly
 *       picks the access decoder, 0 when only the Python code can tell (and for every
 *       value sniff decides on by its first bytes: `{`, `[`, `<`, `#`, `CEF:`)
 *
 * The decoders give exactly what the Python functions give: the same Decoded records,
 * the same dicts (keys, order, str values, the float time), the same effects on
 * DecodeContext.access_dates. They read the usual line in C and hand every other one,
 * unchanged, to `fallback` (the Python function), which stays the reference: lines
 * the regexes read by backtracking (a quoted user with a blank), lines whose reading
 * depends on Unicode (a non-ASCII byte in an unquoted token, a status or size that
 * may hold non-ASCII digits), every error (invalid UTF-8, no match, no pair) and
 * unusual calls (keywords, a value that is not bytes). A decline happens before any
 * effect; after it, the line is the fallback's. The time of a date not in the memo
 * is apache._access_time's (zones, flags, the memo's limit); backslash escapes in an
 * access line are apache._unescape's.
 *
 * Everything is read on the UTF-8 bytes: the delimiters are ASCII, so each field is
 * the decoding of a byte range, and an escape pair `\\.` skips a backslash and the
 * first byte of the next character (continuation bytes are never `"` nor `\`).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <string.h>

/* what a fast path returns to hand the call to the fallback (never a real object) */
static char declined_marker;
#define DECLINED ((PyObject *)&declined_marker)

#define SNIFF_START 64    /* sniff reads the first 64 bytes for the start regexes */
#define SNIFF_BRACKET 300 /* ... looks for ` [` in the first 300 */
#define SNIFF_ACCESS 8192 /* ... and matches ACCESS_START on the first 8192 */

/* interned strings */
static PyObject *k_source_address, *k_sluice_format, *k_user_name, *k_user_ident, *k_method, *k_url, *k_version,
    *k_request_line, *k_status, *k_body_bytes, *k_referrer, *k_agent, *k_extra, *k_message, *k_ts, *k_level,
    *k_access_dates, *s_access, *s_error, *s_warn, *s_info, *s_true, *s_strip, *s_http;

/* -- bytes ---------------------------------------------------------------------------- */

/* str.isspace() of an ASCII character */
static inline int
is_ascii_space(unsigned char c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
}

/* The length of the whitespace character (str.isspace) at p, 0 when p holds none: the
 * ASCII ones and the exact UTF-8 encodings of the others. */
static Py_ssize_t
space_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return is_ascii_space(c);
    if (c == 0xC2)
        return end - p >= 2 && (p[1] == 0x85 || p[1] == 0xA0) ? 2 : 0;
    if (end - p < 3)
        return 0;
    if (c == 0xE1)
        return p[1] == 0x9A && p[2] == 0x80 ? 3 : 0;
    if (c == 0xE2) {
        if (p[1] == 0x80)
            return (p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF ? 3 : 0;
        return p[1] == 0x81 && p[2] == 0x9F ? 3 : 0;
    }
    if (c == 0xE3)
        return p[1] == 0x80 && p[2] == 0x80 ? 3 : 0;
    return 0;
}

/* The text range of a record as base.utf8 leaves it: without one line ending, then
 * without a leading byte order mark. */
static void
record_range(PyObject *value, const unsigned char **start, Py_ssize_t *len)
{
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(value);
    Py_ssize_t n = PyBytes_GET_SIZE(value);
    if (n && p[n - 1] == '\n') {
        n--;
        if (n && p[n - 1] == '\r')
            n--;
    }
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        p += 3;
        n -= 3;
    }
    *start = p;
    *len = n;
}

static inline PyObject *
text_of(const unsigned char *p, Py_ssize_t start, Py_ssize_t end)
{
    return PyUnicode_DecodeUTF8((const char *)p + start, end - start, NULL);
}

/* A Decoded(None, fields, attributes) record: a tuple of the NamedTuple's type. */
static PyObject *
new_record(PyTypeObject *decoded, PyObject *fields, PyObject *attributes)
{
    PyObject *rec = decoded->tp_alloc(decoded, 4);
    if (rec == NULL)
        return NULL;
    Py_INCREF(Py_None);
    PyTuple_SET_ITEM(rec, 0, Py_None);
    Py_INCREF(fields);
    PyTuple_SET_ITEM(rec, 1, fields);
    if (attributes == NULL)
        attributes = Py_None;
    Py_INCREF(attributes);
    PyTuple_SET_ITEM(rec, 2, attributes);
    Py_INCREF(Py_None);
    PyTuple_SET_ITEM(rec, 3, Py_None);
    PyObject *list = PyList_New(1);
    if (list == NULL) {
        Py_DECREF(rec);
        return NULL;
    }
    PyList_SET_ITEM(list, 0, rec);
    return list;
}

/* d[key] = value, stealing value; -1 on error (value NULL: an error already set) */
static int
set_new(PyObject *d, PyObject *key, PyObject *value)
{
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItem(d, key, value);
    Py_DECREF(value);
    return rc;
}

/* -- the access line ------------------------------------------------------------------ */

/* Byte offsets of the groups of apache.ACCESS in a line, as the regex reads it first. */
typedef struct {
    Py_ssize_t client_end, ident, ident_end, user, user_end, stamp, stamp_end, request, request_end;
    Py_ssize_t status, status_end, size, size_end;
    Py_ssize_t referer, referer_end, agent, agent_end; /* referer -1: no Combined part */
    Py_ssize_t rest;
    int request_bs, referer_bs, agent_bs; /* a backslash in the body */
} AccessParts;

/* The end of the `\S+` at i, ASCII only: -1 when it is empty, holds a non-ASCII byte
 * (a Unicode blank or not) or is not followed by a space. */
static Py_ssize_t
token_end(const unsigned char *p, Py_ssize_t i, Py_ssize_t n)
{
    Py_ssize_t start = i;
    while (i < n && p[i] < 0x80 && !is_ascii_space(p[i]))
        i++;
    if (i == start || i >= n || p[i] != ' ')
        return -1;
    return i;
}

/* The end of base.QUOTED_BODY at i: the first unescaped quote, or where a lone
 * backslash ends the text, or the end. */
static Py_ssize_t
body_end(const unsigned char *p, Py_ssize_t i, Py_ssize_t n, int *backslash)
{
    while (i < n) {
        unsigned char c = p[i];
        if (c == '"')
            break;
        if (c == '\\') {
            if (i + 1 >= n)
                break;
            *backslash = 1;
            i += 2;
            continue;
        }
        i++;
    }
    return i;
}

/* Reads the head of apache.ACCESS (apache.ACCESS_START), and when `whole`, the rest of
 * it: 1 when the regex reads the line as `a` says, 0 when the regex does not match or
 * may read it otherwise (the user alternative `"[^"]*"`, Unicode blanks and digits). */
static int
access_parts(const unsigned char *p, Py_ssize_t n, int whole, AccessParts *a)
{
    Py_ssize_t i = token_end(p, 0, n);
    if (i < 0)
        return 0;
    a->client_end = i;
    a->ident = i + 1;
    if ((i = token_end(p, a->ident, n)) < 0)
        return 0;
    a->ident_end = i;
    a->user = i + 1;
    if ((i = token_end(p, a->user, n)) < 0)
        return 0;
    a->user_end = i;
    if (i + 1 >= n || p[i + 1] != '[')
        return 0;
    a->stamp = i + 2;
    const unsigned char *close = a->stamp < n ? memchr(p + a->stamp, ']', n - a->stamp) : NULL;
    if (close == NULL || close == p + a->stamp)
        return 0;
    a->stamp_end = close - p;
    i = a->stamp_end;
    if (i + 2 >= n || p[i + 1] != ' ' || p[i + 2] != '"')
        return 0;
    a->request = i + 3;
    a->request_bs = 0;
    a->request_end = i = body_end(p, a->request, n, &a->request_bs);
    if (i + 2 >= n || p[i] != '"' || p[i + 1] != ' ')
        return 0;
    a->status = i += 2;
    if (p[i] == '-')
        i += 1;
    else if (i + 3 < n && p[i] >= '0' && p[i] <= '9' && p[i + 1] >= '0' && p[i + 1] <= '9' && p[i + 2] >= '0' &&
             p[i + 2] <= '9')
        i += 3;
    else
        return 0;
    a->status_end = i;
    if (i + 1 >= n || p[i] != ' ')
        return 0;
    a->size = i += 1;
    if (p[i] == '-')
        i += 1;
    else {
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == a->size)
            return 0;
        if (whole && i < n && p[i] >= 0x80)
            return 0; /* `\d+` may go on with a non-ASCII digit */
    }
    a->size_end = i;
    a->referer = -1;
    a->rest = i;
    if (!whole)
        return 1;
    if (i + 1 < n && p[i] == ' ' && p[i + 1] == '"') {
        int rbs = 0, abs_ = 0;
        Py_ssize_t r = i + 2, r_end = body_end(p, r, n, &rbs);
        if (r_end + 2 < n && p[r_end] == '"' && p[r_end + 1] == ' ' && p[r_end + 2] == '"') {
            Py_ssize_t g = r_end + 3, g_end = body_end(p, g, n, &abs_);
            if (g_end < n && p[g_end] == '"') {
                a->referer = r;
                a->referer_end = r_end;
                a->referer_bs = rbs;
                a->agent = g;
                a->agent_end = g_end;
                a->agent_bs = abs_;
                a->rest = g_end + 1;
            }
        }
    }
    return 1;
}

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    int is_access;
    PyObject *fallback;    /* the Python decoder */
    PyObject *access_time; /* apache._access_time */
    PyObject *unescape;    /* apache._unescape */
    PyTypeObject *decoded; /* base.Decoded */
} Decoder;

/* a quoted body as a str, unescaped by apache._unescape when it holds a backslash */
static PyObject *
body_text(Decoder *self, const unsigned char *p, Py_ssize_t start, Py_ssize_t end, int backslash)
{
    PyObject *s = text_of(p, start, end);
    if (s == NULL || !backslash)
        return s;
    PyObject *u = PyObject_CallOneArg(self->unescape, s);
    Py_DECREF(s);
    return u;
}

static inline int
range_is(const unsigned char *p, Py_ssize_t start, Py_ssize_t end, const char *lit)
{
    size_t len = strlen(lit);
    return (size_t)(end - start) == len && memcmp(p + start, lit, len) == 0;
}

/* attributes[...] of the request line: method, url, version, or the whole line */
static int
set_request(PyObject *attributes, PyObject *request)
{
    Py_ssize_t len = PyUnicode_GET_LENGTH(request);
    Py_ssize_t s1 = PyUnicode_FindChar(request, ' ', 0, len, 1);
    Py_ssize_t s2 = s1 >= 0 ? PyUnicode_FindChar(request, ' ', s1 + 1, len, 1) : -1;
    if (s1 == -2 || s2 == -2)
        return -1;
    if (s2 >= 0) {
        Py_ssize_t s3 = PyUnicode_FindChar(request, ' ', s2 + 1, len, 1);
        if (s3 == -2)
            return -1;
        Py_ssize_t http = s3 < 0 ? PyUnicode_Tailmatch(request, s_http, s2 + 1, len, -1) : 0;
        if (http == -1)
            return -1;
        if (http) {
            if (set_new(attributes, k_method, PyUnicode_Substring(request, 0, s1)) < 0 ||
                set_new(attributes, k_url, PyUnicode_Substring(request, s1 + 1, s2)) < 0 ||
                set_new(attributes, k_version, PyUnicode_Substring(request, s2 + 6, len)) < 0)
                return -1;
            return 0;
        }
    }
    return PyDict_SetItem(attributes, k_request_line, request);
}

/* rest.strip() of the text after the groups: NULL on error, an empty str when blank */
static PyObject *
stripped_rest(const unsigned char *p, Py_ssize_t start, Py_ssize_t end)
{
    while (start < end && p[start] < 0x80 && is_ascii_space(p[start]))
        start++;
    while (end > start && p[end - 1] < 0x80 && is_ascii_space(p[end - 1]))
        end--;
    PyObject *rest = text_of(p, start, end);
    if (rest == NULL || start == end || (p[start] < 0x80 && p[end - 1] < 0x80))
        return rest;
    PyObject *s = PyObject_CallMethodNoArgs(rest, s_strip); /* Unicode blanks at an end */
    Py_DECREF(rest);
    return s;
}

/* apache.decode_access(value, ctx) of the usual line; DECLINED for the others */
static PyObject *
access_fast(Decoder *self, PyObject *value, PyObject *ctx)
{
    const unsigned char *p;
    Py_ssize_t n;
    AccessParts a;
    record_range(value, &p, &n);
    if (!access_parts(p, n, 1, &a))
        return DECLINED;
    PyObject *dates = PyObject_GetAttr(ctx, k_access_dates);
    if (dates == NULL) {
        PyErr_Clear();
        return DECLINED;
    }
    if (!PyDict_CheckExact(dates)) {
        Py_DECREF(dates);
        return DECLINED;
    }
    PyObject *text = text_of(p, 0, n);
    if (text == NULL) { /* invalid UTF-8: base.utf8 says where */
        Py_DECREF(dates);
        PyErr_Clear();
        return DECLINED;
    }
    PyObject *fields = NULL, *attributes = NULL, *stamp = NULL, *ts = NULL, *request = NULL, *result = NULL;
    attributes = _PyDict_NewPresized(12); /* no resize on the way */
    if (attributes == NULL || set_new(attributes, k_source_address, text_of(p, 0, a.client_end)) < 0 ||
        PyDict_SetItem(attributes, k_sluice_format, s_access) < 0)
        goto done;
    if ((stamp = text_of(p, a.stamp, a.stamp_end)) == NULL)
        goto done;
    ts = PyDict_GetItemWithError(dates, stamp);
    if (ts != NULL && ts != Py_None)
        Py_INCREF(ts);
    else if (PyErr_Occurred())
        goto done;
    else {
        PyObject *args[3] = {stamp, ctx, attributes};
        if ((ts = PyObject_Vectorcall(self->access_time, args, 3, NULL)) == NULL)
            goto done;
    }
    if ((fields = PyDict_New()) == NULL || PyDict_SetItem(fields, k_message, text) < 0 ||
        (ts != Py_None && PyDict_SetItem(fields, k_ts, ts) < 0))
        goto done;
    if (!range_is(p, a.user, a.user_end, "-") && !range_is(p, a.user, a.user_end, "\"-\"") &&
        !range_is(p, a.user, a.user_end, "\"\"")) {
        Py_ssize_t u = a.user, u_end = a.user_end; /* user.strip('"') */
        while (u < u_end && p[u] == '"')
            u++;
        while (u_end > u && p[u_end - 1] == '"')
            u_end--;
        if (set_new(attributes, k_user_name, text_of(p, u, u_end)) < 0)
            goto done;
    }
    if (!range_is(p, a.ident, a.ident_end, "-") &&
        set_new(attributes, k_user_ident, text_of(p, a.ident, a.ident_end)) < 0)
        goto done;
    if ((request = body_text(self, p, a.request, a.request_end, a.request_bs)) == NULL ||
        set_request(attributes, request) < 0)
        goto done;
    if (a.status_end - a.status == 3) {
        if (set_new(attributes, k_status, text_of(p, a.status, a.status_end)) < 0)
            goto done;
        PyObject *level = p[a.status] == '5' ? s_error : p[a.status] == '4' ? s_warn : s_info;
        if (PyDict_SetItem(fields, k_level, level) < 0)
            goto done;
    }
    if (!range_is(p, a.size, a.size_end, "-") &&
        set_new(attributes, k_body_bytes, text_of(p, a.size, a.size_end)) < 0)
        goto done;
    if (a.referer >= 0) {
        if (!range_is(p, a.referer, a.referer_end, "-") &&
            set_new(attributes, k_referrer, body_text(self, p, a.referer, a.referer_end, a.referer_bs)) < 0)
            goto done;
        if (!range_is(p, a.agent, a.agent_end, "-") &&
            set_new(attributes, k_agent, body_text(self, p, a.agent, a.agent_end, a.agent_bs)) < 0)
            goto done;
    }
    if (a.rest < n) {
        PyObject *rest = stripped_rest(p, a.rest, n);
        if (rest == NULL)
            goto done;
        if (PyUnicode_GET_LENGTH(rest) && PyDict_SetItem(attributes, k_extra, rest) < 0) {
            Py_DECREF(rest);
            goto done;
        }
        Py_DECREF(rest);
    }
    result = new_record(self->decoded, fields, attributes);
done:
    Py_DECREF(dates);
    Py_DECREF(text);
    Py_XDECREF(stamp);
    Py_XDECREF(ts);
    Py_XDECREF(request);
    Py_XDECREF(fields);
    Py_XDECREF(attributes);
    return result;
}

/* -- logfmt --------------------------------------------------------------------------- */

/* The key objects of logfmt lines, by their bytes: an emitter repeats its keys, and
 * the same key objects let the JSON log path recognise a record's shape by identity. */
#define KEY_SLOTS 512
#define KEY_MAX 48
static struct {
    Py_ssize_t len;
    PyObject *key; /* an ASCII str */
} key_cache[KEY_SLOTS];

static PyObject *
key_of(const unsigned char *p, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t len = end - start;
    if (len > KEY_MAX)
        return text_of(p, start, end);
    unsigned int h = 2166136261u;
    for (Py_ssize_t i = start; i < end; i++) {
        if (p[i] >= 0x80)
            return text_of(p, start, end);
        h = (h ^ p[i]) * 16777619u;
    }
    unsigned int slot = (h ^ (h >> 16)) & (KEY_SLOTS - 1);
    PyObject *key = key_cache[slot].key;
    if (key != NULL && key_cache[slot].len == len && memcmp(PyUnicode_1BYTE_DATA(key), p + start, len) == 0) {
        Py_INCREF(key);
        return key;
    }
    if ((key = text_of(p, start, end)) == NULL)
        return NULL;
    Py_XSETREF(key_cache[slot].key, Py_NewRef(key));
    key_cache[slot].len = len;
    return key;
}

/* fields[key] = value of the byte ranges; value_start -1: the flag value "true" */
static int
set_pair(PyObject *fields, const unsigned char *p, Py_ssize_t key_start, Py_ssize_t key_end,
         Py_ssize_t value_start, Py_ssize_t value_end)
{
    PyObject *key = key_of(p, key_start, key_end);
    if (key == NULL)
        return -1;
    PyObject *value = value_start < 0 ? Py_NewRef(s_true) : text_of(p, value_start, value_end);
    if (value == NULL) {
        Py_DECREF(key);
        return -1;
    }
    int rc = PyDict_SetItem(fields, key, value);
    Py_DECREF(key);
    Py_DECREF(value);
    return rc;
}

/* The blank-separated tokens of p[start:end) (str.split()) into `fields` as logfmt._split
 * reads them; with `quoted_key`, the last token is the key of the quoted value that
 * follows, and its range is left in *key_start, *key_end. 1 read, 0 _split gives None,
 * -1 error (invalid UTF-8 too: the caller declines). */
static int
split_tokens(PyObject *fields, const unsigned char *p, Py_ssize_t start, Py_ssize_t end, int quoted_key,
             Py_ssize_t *key_start, Py_ssize_t *key_end)
{
    const unsigned char *stop = p + end;
    Py_ssize_t i = start;
    for (;;) {
        Py_ssize_t blank;
        while (i < end && (blank = space_len(p + i, stop)) > 0)
            i += blank;
        if (i >= end)
            return 1;
        Py_ssize_t t = i, eq = -1;
        while (i < end && (p[i] < 0x80 ? !is_ascii_space(p[i]) : space_len(p + i, stop) == 0)) {
            if (p[i] == '=' && eq < 0)
                eq = i;
            i++;
        }
        if (quoted_key && i >= end) { /* the token before the quote: `key=` */
            *key_start = t;
            *key_end = i - 1;
            if (*key_end == t || memchr(p + t, '=', *key_end - t) != NULL)
                return 0;
            return 1;
        }
        if (eq == t)
            return 0; /* no key */
        if (set_pair(fields, p, t, eq < 0 ? i : eq, eq < 0 ? -1 : eq + 1, i) < 0)
            return -1;
    }
}

/* logfmt.decode(value, ctx) of a line logfmt._split reads; DECLINED for the others */
static PyObject *
logfmt_fast(Decoder *self, PyObject *value)
{
    const unsigned char *p;
    Py_ssize_t n;
    record_range(value, &p, &n);
    if (n == 0 || memchr(p, '\\', n) != NULL || memchr(p, '=', n) == NULL)
        return DECLINED;
    Py_ssize_t pairs = 0; /* at most one per `=`: sized once */
    for (const unsigned char *e = p; pairs < 64 && (e = memchr(e, '=', n - (e - p))) != NULL; e++)
        pairs++;
    PyObject *fields = _PyDict_NewPresized(pairs);
    if (fields == NULL)
        return NULL;
    Py_ssize_t pos = 0;
    int rc = 1;
    while (rc == 1) {
        const unsigned char *q = memchr(p + pos, '"', n - pos);
        if (q == NULL) {
            rc = split_tokens(fields, p, pos, n, 0, NULL, NULL);
            break;
        }
        Py_ssize_t open = q - p;
        const unsigned char *q2 = memchr(p + open + 1, '"', n - open - 1);
        if (q2 == NULL || open == pos || p[open - 1] != '=') {
            rc = 0; /* an unmatched quote, or one not opening a value */
            break;
        }
        Py_ssize_t key_start = -1, key_end = -1, close = q2 - p;
        rc = split_tokens(fields, p, pos, open, 1, &key_start, &key_end);
        if (rc == 1 && set_pair(fields, p, key_start, key_end, open + 1, close) < 0)
            rc = -1;
        pos = close + 1;
        if (pos >= n)
            break;
    }
    if (rc == 1 && PyDict_GET_SIZE(fields) > 0) {
        PyObject *result = new_record(self->decoded, fields, NULL);
        Py_DECREF(fields);
        return result;
    }
    Py_DECREF(fields);
    if (rc < 0) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return NULL;
        PyErr_Clear(); /* invalid UTF-8: base.utf8 says where */
    }
    return DECLINED;
}

/* -- the decoder type ------------------------------------------------------------------- */

static PyObject *
decoder_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Decoder *self = (Decoder *)op;
    if (kwnames == NULL && PyVectorcall_NARGS(nargsf) == 2 && PyBytes_CheckExact(args[0])) {
        PyObject *r = self->is_access ? access_fast(self, args[0], args[1]) : logfmt_fast(self, args[0]);
        if (r != DECLINED)
            return r;
    }
    return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
}

static Decoder *
decoder_new(PyTypeObject *type, int is_access, PyObject *fallback, PyObject *access_time, PyObject *unescape,
            PyObject *decoded)
{
    if (!PyCallable_Check(fallback) || (access_time && !PyCallable_Check(access_time)) ||
        (unescape && !PyCallable_Check(unescape))) {
        PyErr_SetString(PyExc_TypeError, "the fallback and the helpers must be callable");
        return NULL;
    }
    if (!PyType_Check(decoded) || !PyType_IsSubtype((PyTypeObject *)decoded, &PyTuple_Type) ||
        ((PyTypeObject *)decoded)->tp_basicsize != PyTuple_Type.tp_basicsize) {
        PyErr_SetString(PyExc_TypeError, "Decoded must be a NamedTuple type");
        return NULL;
    }
    Decoder *self = (Decoder *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = decoder_vectorcall;
    self->is_access = is_access;
    self->fallback = Py_NewRef(fallback);
    self->access_time = Py_XNewRef(access_time);
    self->unescape = Py_XNewRef(unescape);
    self->decoded = (PyTypeObject *)Py_NewRef(decoded);
    return self;
}

static PyObject *
access_decoder_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *fallback, *access_time, *unescape, *decoded;
    static char *names[] = {"fallback", "access_time", "unescape", "Decoded", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOO:AccessDecoder", names, &fallback, &access_time, &unescape,
                                     &decoded))
        return NULL;
    return (PyObject *)decoder_new(type, 1, fallback, access_time, unescape, decoded);
}

static PyObject *
logfmt_decoder_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *fallback, *decoded;
    static char *names[] = {"fallback", "Decoded", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:LogfmtDecoder", names, &fallback, &decoded))
        return NULL;
    return (PyObject *)decoder_new(type, 0, fallback, NULL, NULL, decoded);
}

static int
decoder_traverse(Decoder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fallback);
    Py_VISIT(self->access_time);
    Py_VISIT(self->unescape);
    Py_VISIT(self->decoded);
    return 0;
}

static int
decoder_clear(Decoder *self)
{
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->access_time);
    Py_CLEAR(self->unescape);
    Py_CLEAR(self->decoded);
    return 0;
}

static void
decoder_dealloc(Decoder *self)
{
    PyObject_GC_UnTrack(self);
    decoder_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
decoder_get_fallback(Decoder *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->fallback);
}

static PyGetSetDef decoder_getset[] = {
    {"fallback", (getter)decoder_get_fallback, NULL, "the Python decoder, for the lines read in Python", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject AccessDecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "streams.ingest._textlog.AccessDecoder",
    .tp_doc = "AccessDecoder(fallback, access_time, unescape, Decoded): apache.decode_access in C.",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = access_decoder_new,
    .tp_dealloc = (destructor)decoder_dealloc,
    .tp_traverse = (traverseproc)decoder_traverse,
    .tp_clear = (inquiry)decoder_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Decoder, vectorcall),
    .tp_getset = decoder_getset,
};

static PyTypeObject LogfmtDecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "streams.ingest._textlog.LogfmtDecoder",
    .tp_doc = "LogfmtDecoder(fallback, Decoded): logfmt.decode in C.",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = logfmt_decoder_new,
    .tp_dealloc = (destructor)decoder_dealloc,
    .tp_traverse = (traverseproc)decoder_traverse,
    .tp_clear = (inquiry)decoder_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Decoder, vectorcall),
    .tp_getset = decoder_getset,
};

/* -- detection ---------------------------------------------------------------------------- */

/* logfmt.DETECT on the first 64 bytes: 1 match, 0 no match, -1 cannot tell (a non-ASCII
 * character where `\w` reads it). */
static int
detect_logfmt(const unsigned char *p, Py_ssize_t n)
{
    Py_ssize_t m = n < SNIFF_START ? n : SNIFF_START;
    if (m == 0)
        return 0;
    unsigned char c = p[0];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '@'))
        return 0;
    Py_ssize_t i = 1;
    while (i < m) {
        c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-' || c == '/' || c == '@'))
            break;
        i++;
    }
    if (i >= m || p[i] != '=')
        return i < m && p[i] >= 0x80 ? -1 : 0;
    return i + 1 >= m || p[i + 1] != '=';
}

/* A fixed-width pattern at the start: 'A' [A-Z], 'a' [a-z], '9' \d, '_' [ \d], 'T' [T ],
 * anything else itself. 1 match, 0 no match, -1 cannot tell (a non-ASCII byte met). */
static int
match_start(const unsigned char *p, Py_ssize_t n, const char *pattern)
{
    for (Py_ssize_t i = 0; pattern[i]; i++) {
        if (i >= n)
            return 0;
        unsigned char c = p[i];
        if (c >= 0x80)
            return -1;
        int ok;
        switch (pattern[i]) {
        case 'A': ok = c >= 'A' && c <= 'Z'; break;
        case 'a': ok = c >= 'a' && c <= 'z'; break;
        case '9': ok = c >= '0' && c <= '9'; break;
        case '_': ok = c == ' ' || (c >= '0' && c <= '9'); break;
        case 'T': ok = c == 'T' || c == ' '; break;
        default: ok = c == (unsigned char)pattern[i];
        }
        if (!ok)
            return 0;
    }
    return 1;
}

static PyObject *
text_kind(PyObject *Py_UNUSED(module), PyObject *value)
{
    if (!PyBytes_Check(value))
        return PyLong_FromLong(0); /* the Python code says what it makes of it */
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(value);
    Py_ssize_t n = PyBytes_GET_SIZE(value);
    /* the first bytes sniff decides on before the regexes */
    if (n == 0 || p[0] == '{' || p[0] == '[' || p[0] == '<' || p[0] == '#' || (n >= 4 && memcmp(p, "CEF:", 4) == 0))
        return PyLong_FromLong(0);
    int lf = detect_logfmt(p, n);
    if (lf)
        return PyLong_FromLong(lf > 0 ? 1 : 0);
    /* then syslog.BARE_START, apache.NGINX_ERROR_START (its first 5 characters decide
     * nothing when they match: Python does), ` [` and apache.ACCESS_START */
    if (match_start(p, n, "Aaa _9 99:99:99") || match_start(p, n, "9999-99-99T99:99:99") ||
        match_start(p, n, "9999/"))
        return PyLong_FromLong(0);
    Py_ssize_t m = n < SNIFF_BRACKET ? n : SNIFF_BRACKET;
    int bracket = 0;
    for (Py_ssize_t i = 0; i + 1 < m; i++)
        if (p[i] == ' ' && p[i + 1] == '[') {
            bracket = 1;
            break;
        }
    AccessParts a;
    if (bracket && access_parts(p, n < SNIFF_ACCESS ? n : SNIFF_ACCESS, 0, &a))
        return PyLong_FromLong(2);
    return PyLong_FromLong(0);
}

static PyMethodDef methods[] = {
    {"text_kind", text_kind, METH_O,
     "text_kind(value): 1 when decoders.sniff certainly picks logfmt, 2 the access decoder, 0 cannot tell."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "streams.ingest._textlog",
    "Access log and logfmt lines in C (see streams/ingest/decoders/apache.py and logfmt.py).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

static int
intern(PyObject **slot, const char *text)
{
    *slot = PyUnicode_InternFromString(text);
    return *slot == NULL ? -1 : 0;
}

PyMODINIT_FUNC
PyInit__textlog(void)
{
    if (intern(&k_source_address, "source.address") || intern(&k_sluice_format, "sluice.format") ||
        intern(&k_user_name, "user.name") || intern(&k_user_ident, "user.ident") ||
        intern(&k_method, "http.request.method") || intern(&k_url, "url.original") ||
        intern(&k_version, "http.version") || intern(&k_request_line, "http.request.line") ||
        intern(&k_status, "http.response.status_code") || intern(&k_body_bytes, "http.response.body.bytes") ||
        intern(&k_referrer, "http.request.referrer") || intern(&k_agent, "user_agent.original") ||
        intern(&k_extra, "access.extra") || intern(&k_message, "message") || intern(&k_ts, "ts") ||
        intern(&k_level, "level") || intern(&k_access_dates, "access_dates") || intern(&s_access, "access") ||
        intern(&s_error, "error") || intern(&s_warn, "warn") || intern(&s_info, "info") ||
        intern(&s_true, "true") || intern(&s_strip, "strip") || intern(&s_http, "HTTP/"))
        return NULL;
    if (PyType_Ready(&AccessDecoderType) < 0 || PyType_Ready(&LogfmtDecoderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "AccessDecoder", (PyObject *)&AccessDecoderType) < 0 ||
        PyModule_AddObjectRef(m, "LogfmtDecoder", (PyObject *)&LogfmtDecoderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
