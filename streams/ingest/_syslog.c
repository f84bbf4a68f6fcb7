/* The C form of the syslog decoder (streams/ingest/decoders/syslog.py `decode`) and
 * of the Linux auth matcher (streams/ingest/decoders/auth.py `parse`), with exactly
 * the results of the Python code, which stays the reference and the fallback.
 *
 * decode(value, ctx) reads the common shapes in C:
 *   - `<PRI>Mmm dd hh:mm:ss host tag[pid]: msg` (syslog._3164_USUAL), and
 *   - `<PRI>1 stamp host app procid msgid [sd]... msg` (syslog._5424 and its
 *     structured data),
 * each with an ASCII header (the message may be any UTF-8), and builds the Decoded
 * record that syslog.inner builds when the message is plain text or an auth line. It
 * hands the whole record back to the Python decode for every other line (no PRI, a
 * PRI out of range, a header the usual regexes would not match, a non-ASCII header,
 * malformed structured data, invalid UTF-8, a year-less date or a time that raises),
 * so every error comes from the Python code. The Python helpers it calls back into
 * (bound once by `bind`):
 *
 *   decode       syslog._py_decode: the whole record, for the shapes above
 *   inner        syslog.inner: CEF, JSON and access-log messages
 *   date_3164    syslog._date_3164: a year-less date missing from ctx.syslog_dates
 *   iso          syslog._iso: an RFC 5424 time not in TimeParser.iso_cache
 *   Decoded      the record type
 *
 * auth_parse(program, message) is auth.parse: in C for the usual sshd login lines
 * (Accepted/Failed ..., Invalid user ...), `pam_x(service:facility): session
 * opened/closed ...` and sudo; every other line goes to the Python auth.parse
 * (bound by `bind_auth`). Each C matcher either proves what the Python regex matches
 * (same groups, same backtracking order) or declines: it never guesses.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define FALLBACK ((PyObject *)&fallback_marker)
static PyObject fallback_marker; /* never handed to Python */
/* longer auth messages go to Python: the lazy patterns below are quadratic */
#define AUTH_MAX 2048
#define NAME_MAX_LEN 32
#define MAX_NAMES 64

enum { P_NONE, P_SSHD, P_SUDO, P_OTHER };
typedef struct {
    char name[NAME_MAX_LEN + 1];
    Py_ssize_t len;
    int kind;
} Name;

typedef struct {
    Name items[MAX_NAMES];
    int n;
} Names;

/* bound helpers (bind / bind_auth) */
static PyObject *h_decode, *h_inner, *h_date_3164, *h_iso, *h_auth_parse;
static PyTypeObject *h_decoded;
static PyObject *facilities[24], *severities[8];
static Names auth_programs, access_programs, by_program;
static int bound, auth_bound;

/* interned strings */
static PyObject *k_level, *k_ts, *k_host, *k_service, *k_message, *k_format, *k_facility, *k_pid, *k_msgid,
    *s_rfc3164, *s_rfc5424, *a_syslog_dates, *a_times, *a_iso_cache, *a_auth_as_security, *a_stream,
    *s_security, *k_category, *k_action, *k_outcome, *k_actor, *k_target, *k_source_ip, *s_authentication,
    *s_ssh_login, *s_success, *s_failure, *s_warn, *s_info, *k_source_port, *k_auth_method, *k_invalid_user,
    *s_true, *k_key_type, *k_key_fp, *k_pam_module, *k_pam_service, *s_session_open, *s_session_close,
    *s_privilege, *s_sudo, *k_command, *k_pwd, *k_tty, *k_reason, *k_protocol, *s_ssh, *s_empty;

/* -- ASCII classes of Python's `re` on str (ASCII characters only) ------------------- */

/* \s: str.isspace() of an ASCII character, \x1c-\x1f included */
static inline int
is_sp(unsigned char c)
{
    return c == ' ' || (c >= 9 && c <= 13) || (c >= 28 && c <= 31);
}

static inline int
is_dg(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline int
is_al(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline int
is_wd(unsigned char c)
{
    return is_dg(c) || is_al(c) || c == '_';
}

static inline int
starts(const char *s, Py_ssize_t n, Py_ssize_t at, const char *lit, Py_ssize_t ln)
{
    return at >= 0 && n - at >= ln && memcmp(s + at, lit, (size_t)ln) == 0;
}
#define STARTS(s, n, at, lit) starts((s), (n), (at), (lit), (Py_ssize_t)sizeof(lit) - 1)

/* end of the \S run at `at` (== at when there is none) */
static inline Py_ssize_t
nonspace(const char *s, Py_ssize_t n, Py_ssize_t at)
{
    while (at < n && !is_sp((unsigned char)s[at]))
        at++;
    return at;
}

static inline Py_ssize_t
digits(const char *s, Py_ssize_t n, Py_ssize_t at)
{
    while (at < n && is_dg((unsigned char)s[at]))
        at++;
    return at;
}

static inline Py_ssize_t
words(const char *s, Py_ssize_t n, Py_ssize_t at)
{
    while (at < n && is_wd((unsigned char)s[at]))
        at++;
    return at;
}

static int
all_space(const char *s, Py_ssize_t n, Py_ssize_t at)
{
    for (; at < n; at++)
        if (!is_sp((unsigned char)s[at]))
            return 0;
    return 1;
}

static int
ascii_only(const char *s, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* a str of ASCII bytes s[a:b] */
static PyObject *
sub(const char *s, Py_ssize_t a, Py_ssize_t b)
{
    PyObject *u = PyUnicode_New(b - a, 127);
    if (u != NULL && b > a)
        memcpy(PyUnicode_1BYTE_DATA(u), s + a, (size_t)(b - a));
    return u;
}

/* str.lower() of ASCII bytes */
static PyObject *
sub_lower(const char *s, Py_ssize_t n)
{
    PyObject *u = PyUnicode_New(n, 127);
    if (u == NULL)
        return NULL;
    Py_UCS1 *d = PyUnicode_1BYTE_DATA(u);
    for (Py_ssize_t i = 0; i < n; i++)
        d[i] = (Py_UCS1)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    return u;
}

/* the kind of `name` in a table (P_NONE when absent); `lower`: compare s lowercased */
static int
lookup(const Names *t, const char *s, Py_ssize_t n, int lower)
{
    if (n > NAME_MAX_LEN)
        return P_NONE;
    char buf[NAME_MAX_LEN];
    for (Py_ssize_t i = 0; i < n; i++)
        buf[i] = (char)(lower && s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    for (int i = 0; i < t->n; i++)
        if (t->items[i].len == n && memcmp(t->items[i].name, buf, (size_t)n) == 0)
            return t->items[i].kind;
    return P_NONE;
}

/* set d[k] = v and drop the reference to v (a new reference, may be NULL) */
static int
set_new(PyObject *d, PyObject *k, PyObject *v)
{
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItem(d, k, v);
    Py_DECREF(v);
    return rc;
}

/* -- auth lines (auth.py) --------------------------------------------------------- */

/* What a matcher found: the event of auth._ev and its attributes, as spans of the
 * message (a < 0: ""), written out by emit() once the match is certain. */
typedef struct {
    Py_ssize_t a, b;
} Span;

typedef struct {
    PyObject *key;
    PyObject *constant; /* or NULL: the span */
    Span span;
} Attr;

typedef struct {
    PyObject *category, *action, *outcome; /* interned, borrowed */
    Span actor, target, ip;
    Attr attrs[6];
    int nattrs;
    int ssh; /* the pam.service is "sshd" */
} Hit;

static const Span NO_SPAN = {-1, -1};

static void
add_attr(Hit *h, PyObject *key, PyObject *constant, Py_ssize_t a, Py_ssize_t b)
{
    Attr *at = &h->attrs[h->nattrs++];
    at->key = key, at->constant = constant, at->span.a = a, at->span.b = b;
}

static PyObject *
span_text(const char *s, Span sp)
{
    if (sp.a < 0) {
        Py_INCREF(s_empty);
        return s_empty;
    }
    return sub(s, sp.a, sp.b);
}

/* auth.parse's fields and attributes of a hit, added to `fields` and `attrs` in the
 * order of the Python dicts (`message` last: auth.parse sets it after _ev) */
static int
emit(const Hit *h, const char *s, PyObject *message, const char *prog, Py_ssize_t plen, PyObject *fields,
     PyObject *attrs)
{
    if (PyDict_SetItem(fields, k_category, h->category) || PyDict_SetItem(fields, k_action, h->action)
        || PyDict_SetItem(fields, k_outcome, h->outcome) || set_new(fields, k_actor, span_text(s, h->actor))
        || set_new(fields, k_target, span_text(s, h->target)) || set_new(fields, k_source_ip, span_text(s, h->ip))
        || PyDict_SetItem(fields, k_level, h->outcome == s_failure ? s_warn : s_info)
        || PyDict_SetItem(fields, k_message, message))
        return -1;
    for (int i = 0; i < h->nattrs; i++) {
        const Attr *at = &h->attrs[i];
        if (at->constant != NULL ? PyDict_SetItem(attrs, at->key, at->constant)
                                 : set_new(attrs, at->key, sub(s, at->span.a, at->span.b)))
            return -1;
    }
    if ((h->ssh || (plen >= 4 && memcmp(prog, "sshd", 4) == 0)) && PyDict_SetItem(attrs, k_protocol, s_ssh))
        return -1;
    return 0;
}

static void
event(Hit *h, PyObject *category, PyObject *action, PyObject *outcome, Span actor, Span target, Span ip)
{
    h->category = category, h->action = action, h->outcome = outcome;
    h->actor = actor, h->target = target, h->ip = ip;
    h->nattrs = 0;
    h->ssh = 0;
}

/* The rest of _SSH_LOGIN once `(.*?)` ends at k:
 * ` from (\S+) port (\d+)(?: (ssh\d?)|)(?:: (\S+) (\S+)|)`. Positions in g[]. */
static int
ssh_login_tail(const char *s, Py_ssize_t n, Py_ssize_t k, Py_ssize_t *g)
{
    if (!STARTS(s, n, k, " from "))
        return 0;
    Py_ssize_t ip0 = k + 6, ip1 = nonspace(s, n, ip0);
    if (ip1 == ip0 || !STARTS(s, n, ip1, " port "))
        return 0;
    Py_ssize_t p0 = ip1 + 6, p1 = digits(s, n, p0);
    if (p1 == p0)
        return 0;
    g[0] = ip0, g[1] = ip1, g[2] = p0, g[3] = p1, g[4] = -1;
    Py_ssize_t e = p1;
    if (STARTS(s, n, e, " ssh")) {
        e += 4;
        if (e < n && is_dg((unsigned char)s[e]))
            e++;
    }
    Py_ssize_t t0 = e + 2, t1 = nonspace(s, n, t0);
    if (STARTS(s, n, e, ": ") && t1 > t0 && t1 < n && s[t1] == ' ') {
        Py_ssize_t f1 = nonspace(s, n, t1 + 1);
        if (f1 > t1 + 1)
            g[4] = t0, g[5] = t1, g[6] = t1 + 1, g[7] = f1;
    }
    return 1;
}

/* _SSH_LOGIN: 1 matched, 0 certainly not */
static int
ssh_login(const char *s, Py_ssize_t n, Hit *h)
{
    int accepted;
    Py_ssize_t p;
    if (STARTS(s, n, 0, "Accepted "))
        accepted = 1, p = 9;
    else if (STARTS(s, n, 0, "Failed "))
        accepted = 0, p = 7;
    else
        return 0;
    Py_ssize_t m1 = nonspace(s, n, p);
    if (m1 == p || !STARTS(s, n, m1, " for "))
        return 0;
    Py_ssize_t q = m1 + 5, g[8] = {0};
    for (int invalid = 1; invalid >= 0; invalid--) {
        Py_ssize_t u0 = q;
        if (invalid) {
            if (!STARTS(s, n, q, "invalid user "))
                continue;
            u0 = q + 13;
        }
        for (Py_ssize_t k = u0; k <= n; k++) {
            if (ssh_login_tail(s, n, k, g)) {
                event(h, s_authentication, s_ssh_login, accepted ? s_success : s_failure, (Span){u0, k}, NO_SPAN,
                      (Span){g[0], g[1]});
                add_attr(h, k_source_port, NULL, g[2], g[3]);
                add_attr(h, k_auth_method, NULL, p, m1);
                if (invalid)
                    add_attr(h, k_invalid_user, s_true, 0, 0);
                if (g[4] >= 0) {
                    add_attr(h, k_key_type, NULL, g[4], g[5]);
                    add_attr(h, k_key_fp, NULL, g[6], g[7]);
                }
                return 1;
            }
            if (k < n && s[k] == '\n') /* `.` stops at a newline */
                break;
        }
    }
    return 0;
}

/* _SSH_INVALID: `[Ii]nvalid user (.*?) from (\S+)(?: port (\d+)|)` */
static int
ssh_invalid(const char *s, Py_ssize_t n, Hit *h)
{
    if (!(STARTS(s, n, 0, "Invalid user ") || STARTS(s, n, 0, "invalid user ")))
        return 0;
    for (Py_ssize_t k = 13; k <= n; k++) {
        if (STARTS(s, n, k, " from ") && k + 6 < n && !is_sp((unsigned char)s[k + 6])) {
            Py_ssize_t ip0 = k + 6, ip1 = nonspace(s, n, ip0);
            event(h, s_authentication, s_ssh_login, s_failure, (Span){13, k}, NO_SPAN, (Span){ip0, ip1});
            add_attr(h, k_invalid_user, s_true, 0, 0);
            if (STARTS(s, n, ip1, " port ")) {
                Py_ssize_t p1 = digits(s, n, ip1 + 6);
                if (p1 > ip1 + 6)
                    add_attr(h, k_source_port, NULL, ip1 + 6, p1);
            }
            return 1;
        }
        if (k < n && s[k] == '\n')
            break;
    }
    return 0;
}

/* `\(uid=\d+\)` at p: its end, or -1 */
static Py_ssize_t
uid_at(const char *s, Py_ssize_t n, Py_ssize_t p)
{
    if (!STARTS(s, n, p, "(uid="))
        return -1;
    Py_ssize_t d = digits(s, n, p + 5);
    return d > p + 5 && d < n && s[d] == ')' ? d + 1 : -1;
}

/* _PAM_SESSION on s[r:], in the regex's backtracking order: `session (opened|closed)
 * for user (\S+?)(?:\(uid=\d+\)|)(?: by (\S*?)(?:\(uid=\d+\)|)|)\s*\Z`. g: user
 * start/end, by start/end (-1: no by group) */
static int
pam_session(const char *s, Py_ssize_t n, Py_ssize_t r, int *opened, Py_ssize_t *g)
{
    if (STARTS(s, n, r, "session opened for user "))
        *opened = 1;
    else if (STARTS(s, n, r, "session closed for user "))
        *opened = 0;
    else
        return 0;
    Py_ssize_t u0 = r + 24, run = nonspace(s, n, u0);
    for (Py_ssize_t u1 = u0 + 1; u1 <= run; u1++) {
        Py_ssize_t after_user[2] = {uid_at(s, n, u1), u1};
        for (int a = 0; a < 2; a++) {
            Py_ssize_t p = after_user[a];
            if (p < 0)
                continue;
            if (STARTS(s, n, p, " by ")) {
                Py_ssize_t b0 = p + 4, brun = nonspace(s, n, b0);
                for (Py_ssize_t b1 = b0; b1 <= brun; b1++) {
                    Py_ssize_t after_by[2] = {uid_at(s, n, b1), b1};
                    for (int b = 0; b < 2; b++) {
                        if (after_by[b] >= 0 && all_space(s, n, after_by[b])) {
                            g[0] = u0, g[1] = u1, g[2] = b0, g[3] = b1;
                            return 1;
                        }
                    }
                }
            }
            if (all_space(s, n, p)) {
                g[0] = u0, g[1] = u1, g[2] = g[3] = -1;
                return 1;
            }
        }
    }
    return 0;
}

/* _PAM + _PAM_SESSION: 1 hit, 0 anything else (Python decides) */
static int
pam(const char *s, Py_ssize_t n, Hit *h)
{
    if (!STARTS(s, n, 0, "pam_"))
        return 0;
    Py_ssize_t m1 = words(s, n, 4);
    if (m1 == 4 || m1 >= n || s[m1] != '(')
        return 0;
    Py_ssize_t s0 = m1 + 1, s1 = s0;
    while (s1 < n && s[s1] != ':' && s[s1] != ')')
        s1++;
    if (s1 == s0 || s1 >= n || s[s1] != ':')
        return 0;
    Py_ssize_t f1 = words(s, n, s1 + 1);
    if (f1 == s1 + 1 || !STARTS(s, n, f1, "): "))
        return 0;
    int opened;
    Py_ssize_t g[4];
    if (!pam_session(s, n, f1 + 3, &opened, g))
        return 0;
    Span user = {g[0], g[1]}, by = {g[2], g[3]};
    event(h, s_authentication, opened ? s_session_open : s_session_close, s_success, by.b > by.a ? by : user, user,
          NO_SPAN); /* actor = by or user */
    add_attr(h, k_pam_module, NULL, 0, m1);
    add_attr(h, k_pam_service, NULL, s0, s1);
    h->ssh = s1 - s0 == 4 && memcmp(s + s0, "sshd", 4) == 0;
    return 1;
}

/* The tail of _SUDO after `USER=(\S+) ;`, at t:
 * `(?: GROUP=\S+ ;|)(?: TSID=\S+ ;|)(?: ENV=.*? ;|) COMMAND=(.*)\Z`: the start of
 * the command, or -1 */
static Py_ssize_t
sudo_tail(const char *s, Py_ssize_t n, Py_ssize_t t)
{
    Py_ssize_t groups[2] = {-1, t};
    if (STARTS(s, n, t, " GROUP=")) {
        Py_ssize_t e = nonspace(s, n, t + 7);
        if (e > t + 7 && STARTS(s, n, e, " ;"))
            groups[0] = e + 2;
    }
    for (int a = 0; a < 2; a++) {
        Py_ssize_t g = groups[a];
        if (g < 0)
            continue;
        Py_ssize_t tsids[2] = {-1, g};
        if (STARTS(s, n, g, " TSID=")) {
            Py_ssize_t e = nonspace(s, n, g + 6);
            if (e > g + 6 && STARTS(s, n, e, " ;"))
                tsids[0] = e + 2;
        }
        for (int b = 0; b < 2; b++) {
            Py_ssize_t q = tsids[b];
            if (q < 0)
                continue;
            if (STARTS(s, n, q, " ENV=")) {
                for (Py_ssize_t e = q + 5; e < n; e++)
                    if (STARTS(s, n, e, " ; COMMAND="))
                        return e + 11;
            }
            if (STARTS(s, n, q, " COMMAND="))
                return q + 9;
        }
    }
    return -1;
}

/* `PWD=(.*?) ; USER=(\S+) ;` + tail at q; g: pwd, user, command start */
static int
sudo_pwd(const char *s, Py_ssize_t n, Py_ssize_t q, Py_ssize_t *g)
{
    if (!STARTS(s, n, q, "PWD="))
        return 0;
    for (Py_ssize_t e = q + 4; e < n; e++) {
        if (!STARTS(s, n, e, " ; USER="))
            continue;
        Py_ssize_t u0 = e + 8, u1 = nonspace(s, n, u0);
        if (u1 == u0 || !STARTS(s, n, u1, " ;"))
            continue;
        Py_ssize_t c = sudo_tail(s, n, u1 + 2);
        if (c >= 0) {
            g[0] = q + 4, g[1] = e, g[2] = u0, g[3] = u1, g[4] = c;
            return 1;
        }
    }
    return 0;
}

/* `(?:TTY=(\S+) ; |)` + PWD... at q; g[5..6]: the tty (-1: none) */
static int
sudo_rest(const char *s, Py_ssize_t n, Py_ssize_t q, Py_ssize_t *g)
{
    if (STARTS(s, n, q, "TTY=")) {
        Py_ssize_t e = nonspace(s, n, q + 4);
        if (e > q + 4 && STARTS(s, n, e, " ; ") && sudo_pwd(s, n, e + 3, g)) {
            g[5] = q + 4, g[6] = e;
            return 1;
        }
    }
    if (sudo_pwd(s, n, q, g)) {
        g[5] = g[6] = -1;
        return 1;
    }
    return 0;
}

/* _SUDO: 1 hit, 0 no match (Python decides) */
static int
sudo(const char *s, Py_ssize_t n, Hit *h)
{
    Py_ssize_t p = 0;
    while (p < n && is_sp((unsigned char)s[p]))
        p++;
    Py_ssize_t a1 = nonspace(s, n, p);
    if (a1 == p || !STARTS(s, n, a1, " : "))
        return 0;
    Py_ssize_t r0 = a1 + 3, r1 = -1, g[7];
    int found = 0;
    if (!STARTS(s, n, r0, "TTY=") && !STARTS(s, n, r0, "PWD=")) {
        for (Py_ssize_t r = r0; r <= n; r++) {
            if (STARTS(s, n, r, " ; ") && sudo_rest(s, n, r + 3, g)) {
                r1 = r, found = 1;
                break;
            }
            if (r == n || s[r] == ';')
                break;
        }
    }
    if (!found && !sudo_rest(s, n, r0, g))
        return 0;
    int failed = r1 > r0; /* a reason was given */
    event(h, s_privilege, s_sudo, failed ? s_failure : s_success, (Span){p, a1}, (Span){g[2], g[3]}, NO_SPAN);
    add_attr(h, k_command, NULL, g[4], n);
    add_attr(h, k_pwd, NULL, g[0], g[1]);
    if (g[5] >= 0)
        add_attr(h, k_tty, NULL, g[5], g[6]);
    if (failed)
        add_attr(h, k_reason, NULL, r0, r1);
    return 1;
}

/* auth.parse's matching in C: 1 hit (in *h), 0 None, -2 the Python auth.parse decides.
 * `message` is an exact str; `prog` the program (ASCII, as auth.parse receives it). */
static int
auth_match(const char *prog, Py_ssize_t plen, PyObject *message, Hit *h)
{
    if (!PyUnicode_IS_ASCII(message))
        return -2;
    const char *s = (const char *)PyUnicode_1BYTE_DATA(message);
    Py_ssize_t n = PyUnicode_GET_LENGTH(message);
    if (n > AUTH_MAX || STARTS(s, n, 0, "message repeated "))
        return -2;
    if (STARTS(s, n, 0, "pam_") || STARTS(s, n, 0, "PAM "))
        return pam(s, n, h) ? 1 : -2;
    switch (lookup(&by_program, prog, plen, 0)) {
    case P_NONE:
        return 0;
    case P_SSHD:
        /* the rarer sshd lines (max tries, closed, no identification) are Python's */
        return ssh_login(s, n, h) || ssh_invalid(s, n, h) ? 1 : -2;
    case P_SUDO:
        return sudo(s, n, h) ? 1 : -2;
    default:
        return -2;
    }
}

static PyObject *
sl_auth_parse(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (!auth_bound)
        return PyErr_Format(PyExc_RuntimeError, "streams.ingest._syslog: bind_auth() first");
    if (nargs == 2 && PyUnicode_CheckExact(args[0]) && PyUnicode_CheckExact(args[1])
        && PyUnicode_IS_ASCII(args[0])) {
        const char *prog = (const char *)PyUnicode_1BYTE_DATA(args[0]);
        Py_ssize_t plen = PyUnicode_GET_LENGTH(args[0]);
        Hit h;
        int rc = auth_match(prog, plen, args[1], &h);
        if (rc == 0)
            Py_RETURN_NONE;
        if (rc == 1) {
            PyObject *fields = PyDict_New(), *attrs = PyDict_New(), *hit = NULL;
            if (fields != NULL && attrs != NULL
                && emit(&h, (const char *)PyUnicode_1BYTE_DATA(args[1]), args[1], prog, plen, fields, attrs) == 0)
                hit = PyTuple_Pack(2, fields, attrs);
            Py_XDECREF(fields);
            Py_XDECREF(attrs);
            return hit;
        }
    }
    return PyObject_Vectorcall(h_auth_parse, args, (size_t)nargs, NULL);
}

/* -- the syslog envelope (syslog.py) ------------------------------------------------ */

/* The text of the message, s[a:b] (any UTF-8), or FALLBACK when it is not valid UTF-8
 * (the Python path raises invalid_utf8 with the offset in the whole record). */
static PyObject *
message_text(const char *s, Py_ssize_t a, Py_ssize_t b)
{
    PyObject *u = PyUnicode_DecodeUTF8(s + a, b - a, "strict");
    if (u == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        return FALLBACK;
    }
    return u;
}

/* float(text) of `.digits` as Python reads it */
static int
fraction(const char *s, Py_ssize_t n, double *out)
{
    char buf[64];
    if (n >= (Py_ssize_t)sizeof buf)
        return 0;
    memcpy(buf, s, (size_t)n);
    buf[n] = '\0';
    *out = PyOS_string_to_double(buf, NULL, NULL);
    if (*out == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* syslog._iso: the 5424 time s[a:b] (new reference), NULL on error */
static PyObject *
iso_time(PyObject *ctx, const char *s, Py_ssize_t a, Py_ssize_t b)
{
    Py_ssize_t n = b - a;
    const char *t = s + a;
    PyObject *stamp;
    if (n >= 22 && t[n - 1] == 'Z' && t[19] == '.') {
        /* the usual `...hh:mm:ss.fffZ`: TimeParser.iso_cache per second, as _iso reads it */
        Py_ssize_t d = 20;
        while (d < n - 1 && is_dg((unsigned char)t[d]))
            d++;
        if (d == n - 1) {
            PyObject *times = PyObject_GetAttr(ctx, a_times);
            PyObject *cache = times == NULL ? NULL : PyObject_GetAttr(times, a_iso_cache);
            Py_XDECREF(times);
            if (cache == NULL)
                return NULL;
            PyObject *key = PyDict_CheckExact(cache) ? sub(s, a, a + 19) : NULL;
            PyObject *base = key == NULL ? NULL : PyDict_GetItemWithError(cache, key);
            Py_XDECREF(key);
            Py_DECREF(cache);
            double frac;
            if (base != NULL && PyFloat_CheckExact(base) && fraction(t + 19, n - 20, &frac))
                return PyFloat_FromDouble(PyFloat_AS_DOUBLE(base) + frac);
            if (PyErr_Occurred())
                return NULL;
        }
    }
    stamp = sub(s, a, b);
    if (stamp == NULL)
        return NULL;
    PyObject *args[2] = {stamp, ctx};
    PyObject *ts = PyObject_Vectorcall(h_iso, args, 2, NULL);
    Py_DECREF(stamp);
    return ts;
}

/* Structured data at s[p:] (ASCII up to its end): the attributes it adds, and the
 * position after it; FALLBACK for whatever the Python code would read otherwise. */
static PyObject *
structured_data(const char *s, Py_ssize_t n, Py_ssize_t *pos, PyObject *attributes)
{
    Py_ssize_t p = *pos;
    char key[512];
    while (p < n && s[p] == '[') {
        /* _SD_ELEMENT: \[([^\s\]="]+)((?:\s+[^\s=\]"]+="QUOTED")*)\s*\] */
        Py_ssize_t i0 = p + 1, i1 = i0;
        while (i1 < n && !is_sp((unsigned char)s[i1]) && s[i1] != ']' && s[i1] != '=' && s[i1] != '"') {
            if ((unsigned char)s[i1] >= 0x80)
                return FALLBACK;
            i1++;
        }
        if (i1 == i0)
            break;
        Py_ssize_t params[64][4];
        int nparams = 0;
        Py_ssize_t q = i1;
        for (;;) {
            Py_ssize_t w = q;
            while (w < n && is_sp((unsigned char)s[w]))
                w++;
            if (w == q)
                break;
            Py_ssize_t n0 = w, n1 = n0;
            while (n1 < n && !is_sp((unsigned char)s[n1]) && s[n1] != '=' && s[n1] != ']' && s[n1] != '"') {
                if ((unsigned char)s[n1] >= 0x80)
                    return FALLBACK;
                n1++;
            }
            if (n1 == n0 || !STARTS(s, n, n1, "=\""))
                break;
            Py_ssize_t v0 = n1 + 2, v = v0;
            int closed = 0;
            while (v < n) {
                unsigned char c = (unsigned char)s[v];
                if (c >= 0x80)
                    return FALLBACK;
                if (c == '"') {
                    closed = 1;
                    break;
                }
                if (c == '\\') {
                    if (v + 1 >= n || s[v + 1] == '\n') /* `\\.`: `.` is not a newline */
                        break;
                    if ((unsigned char)s[v + 1] >= 0x80)
                        return FALLBACK;
                    v += 2;
                }
                else
                    v++;
            }
            if (!closed)
                break;
            if (nparams == 64)
                return FALLBACK;
            params[nparams][0] = n0, params[nparams][1] = n1, params[nparams][2] = v0, params[nparams][3] = v;
            nparams++;
            q = v + 1;
        }
        Py_ssize_t e = q;
        while (e < n && is_sp((unsigned char)s[e]))
            e++;
        if (e < n && (unsigned char)s[e] >= 0x80)
            return FALLBACK; /* a blank beyond ASCII may close it */
        if (e >= n || s[e] != ']')
            break;
        /* the element: syslog.sd.<id>.<name> = value, unescaped */
        Py_ssize_t idlen = i1 - i0;
        if (idlen + 12 >= (Py_ssize_t)sizeof key)
            return FALLBACK;
        memcpy(key, "syslog.sd.", 10);
        memcpy(key + 10, s + i0, (size_t)idlen);
        Py_ssize_t kl = 10 + idlen;
        if (nparams == 0) {
            PyObject *k = PyUnicode_FromStringAndSize(key, kl);
            if (k == NULL)
                return NULL;
            int rc = PyDict_SetItem(attributes, k, s_empty);
            Py_DECREF(k);
            if (rc < 0)
                return NULL;
        }
        for (int i = 0; i < nparams; i++) {
            Py_ssize_t nl = params[i][1] - params[i][0];
            if (kl + 1 + nl >= (Py_ssize_t)sizeof key)
                return FALLBACK;
            key[kl] = '.';
            memcpy(key + kl + 1, s + params[i][0], (size_t)nl);
            PyObject *k = PyUnicode_FromStringAndSize(key, kl + 1 + nl);
            if (k == NULL)
                return NULL;
            Py_ssize_t v0 = params[i][2], v1 = params[i][3];
            PyObject *val = PyUnicode_New(v1 - v0, 127);
            if (val == NULL) {
                Py_DECREF(k);
                return NULL;
            }
            Py_UCS1 *d = PyUnicode_1BYTE_DATA(val);
            Py_ssize_t len = 0;
            for (Py_ssize_t j = v0; j < v1; j++) {
                if (s[j] == '\\' && j + 1 < v1 && (s[j + 1] == '"' || s[j + 1] == '\\' || s[j + 1] == ']'))
                    j++;
                d[len++] = (Py_UCS1)s[j];
            }
            if (len < v1 - v0) {
                PyObject *shorter = sub((const char *)d, 0, len);
                Py_DECREF(val);
                val = shorter;
            }
            int rc = set_new(attributes, k, val);
            Py_DECREF(k);
            if (rc < 0)
                return NULL;
        }
        p = e + 1;
    }
    if (p == *pos)
        return FALLBACK; /* "malformed structured data": the Python code raises it */
    *pos = p;
    return Py_None;
}

/* The Python decode of the whole record */
static PyObject *
fallback(PyObject *value, PyObject *ctx)
{
    PyObject *args[2] = {value, ctx};
    return PyObject_Vectorcall(h_decode, args, 2, NULL);
}

/* [Decoded(kind, fields, attributes)] (references stolen, kind borrowed) */
static PyObject *
one_record(PyObject *kind, PyObject *fields, PyObject *attributes)
{
    PyObject *rec = h_decoded->tp_alloc(h_decoded, 4);
    if (rec == NULL) {
        Py_DECREF(fields);
        Py_DECREF(attributes);
        return NULL;
    }
    Py_INCREF(kind);
    Py_INCREF(Py_None);
    PyTuple_SET_ITEM(rec, 0, kind);
    PyTuple_SET_ITEM(rec, 1, fields);
    PyTuple_SET_ITEM(rec, 2, attributes);
    PyTuple_SET_ITEM(rec, 3, Py_None);
    PyObject *list = PyList_New(1);
    if (list == NULL) {
        Py_DECREF(rec);
        return NULL;
    }
    PyList_SET_ITEM(list, 0, rec);
    return list;
}

/* auth.is_candidate(program, msg), the program not lowered yet */
static int
auth_candidate(PyObject *msg, const char *prog, Py_ssize_t plen)
{
    if (PyUnicode_GET_LENGTH(msg) >= 4) {
        Py_UCS4 c[4] = {PyUnicode_READ_CHAR(msg, 0), PyUnicode_READ_CHAR(msg, 1), PyUnicode_READ_CHAR(msg, 2),
                        PyUnicode_READ_CHAR(msg, 3)};
        if ((c[0] == 'p' && c[1] == 'a' && c[2] == 'm' && c[3] == '_')
            || (c[0] == 'P' && c[1] == 'A' && c[2] == 'M' && c[3] == ' '))
            return 1;
    }
    return lookup(&auth_programs, prog, plen, 1) != P_NONE;
}

/* The fields dict of an envelope: an auth line adds 7 keys to its 5 (presized: no
 * resize on the way) */
static PyObject *
fields_dict(int candidate)
{
    return candidate ? _PyDict_NewPresized(12) : PyDict_New();
}

/* syslog.inner on (fields, attributes), both owned; `msg` (ASCII or not) is
 * fields["message"], `service` s[sv0:sv1] (sv0 < 0: no service), `candidate`
 * auth.is_candidate of the two. */
static PyObject *
inner(PyObject *ctx, PyObject *fields, PyObject *attributes, PyObject *msg, const char *s, Py_ssize_t sv0,
      Py_ssize_t sv1, int candidate)
{
    PyObject *result = NULL, *program = NULL, *hit = NULL;
    const char *prog = sv0 >= 0 ? s + sv0 : "";
    Py_ssize_t plen = sv0 >= 0 ? sv1 - sv0 : 0;
    Py_ssize_t mlen = PyUnicode_GET_LENGTH(msg);
    Py_UCS4 first = mlen ? PyUnicode_READ_CHAR(msg, 0) : 0, last = mlen ? PyUnicode_READ_CHAR(msg, mlen - 1) : 0;
    if (mlen >= 4 && first == 'C' && PyUnicode_READ_CHAR(msg, 1) == 'E' && PyUnicode_READ_CHAR(msg, 2) == 'F'
        && PyUnicode_READ_CHAR(msg, 3) == ':')
        goto python;
    if (candidate) {
        char lowered[NAME_MAX_LEN];
        Hit h;
        int rc = -2;
        if (plen <= NAME_MAX_LEN) {
            for (Py_ssize_t i = 0; i < plen; i++)
                lowered[i] = (char)(prog[i] >= 'A' && prog[i] <= 'Z' ? prog[i] + 32 : prog[i]);
            rc = auth_match(lowered, plen, msg, &h);
        }
        if (rc == -2) {
            program = sub_lower(prog, plen);
            if (program == NULL)
                goto done;
            PyObject *args[2] = {program, msg};
            hit = PyObject_Vectorcall(h_auth_parse, args, 2, NULL);
            if (hit == NULL)
                goto done;
            if (hit == Py_None)
                Py_CLEAR(hit);
            else if (!PyTuple_CheckExact(hit) || PyTuple_GET_SIZE(hit) != 2
                     || !PyDict_CheckExact(PyTuple_GET_ITEM(hit, 0)) || !PyDict_CheckExact(PyTuple_GET_ITEM(hit, 1)))
                goto python;
        }
        if (rc == 1 || hit != NULL) {
            /* fields.pop("level", None); fields.update(hit[0]); attributes.update(hit[1]) */
            if (PyDict_DelItem(fields, k_level) < 0) {
                if (!PyErr_ExceptionMatches(PyExc_KeyError))
                    goto done;
                PyErr_Clear();
            }
            if (rc == 1 ? emit(&h, (const char *)PyUnicode_1BYTE_DATA(msg), msg, lowered, plen, fields, attributes)
                        : (PyDict_Update(fields, PyTuple_GET_ITEM(hit, 0)) < 0
                           || PyDict_Update(attributes, PyTuple_GET_ITEM(hit, 1)) < 0))
                goto done;
            PyObject *flag = PyObject_GetAttr(ctx, a_auth_as_security);
            if (flag == NULL)
                goto done;
            int security = PyObject_IsTrue(flag);
            Py_DECREF(flag);
            if (security == 0) {
                PyObject *stream = PyObject_GetAttr(ctx, a_stream);
                if (stream == NULL)
                    goto done;
                security = PyObject_RichCompareBool(stream, s_security, Py_EQ);
                Py_DECREF(stream);
            }
            if (security < 0)
                goto done;
            result = one_record(security ? s_security : Py_None, fields, attributes);
            fields = attributes = NULL;
            goto done;
        }
    }
    if ((first == '{' && last == '}') || lookup(&access_programs, prog, plen, 1) != P_NONE)
        goto python;
    result = one_record(Py_None, fields, attributes);
    fields = attributes = NULL;
    goto done;
python: {
        PyObject *args[3] = {fields, attributes, ctx};
        PyObject *rec = PyObject_Vectorcall(h_inner, args, 3, NULL);
        if (rec != NULL) {
            result = PyList_New(1);
            if (result == NULL)
                Py_DECREF(rec);
            else
                PyList_SET_ITEM(result, 0, rec);
        }
    }
done:
    Py_XDECREF(fields);
    Py_XDECREF(attributes);
    Py_XDECREF(program);
    Py_XDECREF(hit);
    return result;
}

/* [PRI + ] `Mmm dd hh:mm:ss host tag[pid]: msg` (syslog._3164_USUAL) at s[p:n] */
static PyObject *
usual_3164(PyObject *ctx, const char *s, Py_ssize_t n, Py_ssize_t p, int pri)
{
    Py_ssize_t d0 = p; /* the date */
    if (n - p < 3 || !is_al((unsigned char)s[p]) || !is_al((unsigned char)s[p + 1])
        || !is_al((unsigned char)s[p + 2]))
        return FALLBACK;
    p += 3;
    Py_ssize_t sp0 = p;
    while (p < n && p - sp0 < 2 && s[p] == ' ')
        p++;
    if (p == sp0)
        return FALLBACK;
    Py_ssize_t day0 = p, day1 = digits(s, n, p);
    if (day1 == day0 || day1 - day0 > 2 || !STARTS(s, n, day1, " "))
        return FALLBACK;
    Py_ssize_t h0 = day1 + 1;
    if (n - h0 < 9 || !is_dg((unsigned char)s[h0]) || !is_dg((unsigned char)s[h0 + 1]) || s[h0 + 2] != ':'
        || !is_dg((unsigned char)s[h0 + 3]) || !is_dg((unsigned char)s[h0 + 4]) || s[h0 + 5] != ':'
        || !is_dg((unsigned char)s[h0 + 6]) || !is_dg((unsigned char)s[h0 + 7]) || s[h0 + 8] != ' ')
        return FALLBACK;
    Py_ssize_t d1 = h0 + 8;
    /* host: [^\s\[\]:]+ then a blank */
    Py_ssize_t host0 = d1 + 1, host1 = host0;
    for (; host1 < n; host1++) {
        unsigned char c = (unsigned char)s[host1];
        if (c >= 0x80)
            return FALLBACK;
        if (is_sp(c) || c == '[' || c == ']' || c == ':')
            break;
    }
    if (host1 == host0 || !STARTS(s, n, host1, " "))
        return FALLBACK;
    /* tag: [^\s\[\]:]{1,64}, then [pid] or nothing, then `:` and a blank or the end */
    Py_ssize_t tag0 = host1 + 1, tag1 = tag0;
    for (; tag1 < n; tag1++) {
        unsigned char c = (unsigned char)s[tag1];
        if (c >= 0x80)
            return FALLBACK;
        if (is_sp(c) || c == '[' || c == ']' || c == ':')
            break;
    }
    if (tag1 == tag0 || tag1 - tag0 > 64 || tag1 >= n)
        return FALLBACK;
    Py_ssize_t pid0 = -1, pid1 = -1, e = tag1;
    if (s[e] == '[') {
        pid0 = pid1 = e + 1;
        for (; pid1 < n; pid1++) {
            unsigned char c = (unsigned char)s[pid1];
            if (c >= 0x80)
                return FALLBACK;
            if (is_sp(c) || c == ']')
                break;
        }
        if (pid1 == pid0 || pid1 - pid0 > 32 || pid1 >= n || s[pid1] != ']')
            return FALLBACK;
        e = pid1 + 1;
    }
    if (e >= n || s[e] != ':')
        return FALLBACK;
    e++;
    if (e < n) {
        if (s[e] != ' ')
            return FALLBACK;
        e++;
    }

    PyObject *msg = message_text(s, e, n);
    if (msg == NULL || msg == FALLBACK)
        return msg;
    PyObject *fields = NULL, *attributes = NULL, *date = NULL, *memo = NULL, *ts = NULL;
    date = sub(s, d0, d1);
    if (date == NULL)
        goto error;
    memo = PyObject_GetAttr(ctx, a_syslog_dates);
    if (memo == NULL)
        goto error;
    if (!PyDict_CheckExact(memo))
        goto fallback;
    ts = PyDict_GetItemWithError(memo, date);
    if (ts != NULL && ts != Py_None) /* `if ts is None`: read the date */
        Py_INCREF(ts);
    else if (PyErr_Occurred())
        goto error;
    else {
        ts = NULL;
        PyObject *month = sub(s, d0, d0 + 3), *day = sub(s, day0, day1), *hms = sub(s, h0, d1);
        if (month != NULL && day != NULL && hms != NULL) {
            PyObject *args[5] = {ctx, date, month, day, hms};
            ts = PyObject_Vectorcall(h_date_3164, args, 5, NULL);
        }
        Py_XDECREF(month);
        Py_XDECREF(day);
        Py_XDECREF(hms);
        if (ts == NULL) {
            /* an impossible date (Feb 30): the Python code raises its DecodeError; the
             * memo is only written on success, so the second reading sees the same */
            PyErr_Clear();
            goto fallback;
        }
    }
    int candidate = auth_candidate(msg, s + tag0, tag1 - tag0);
    fields = fields_dict(candidate);
    attributes = PyDict_New();
    if (fields == NULL || attributes == NULL || PyDict_SetItem(fields, k_level, severities[pri & 7])
        || PyDict_SetItem(fields, k_ts, ts) || set_new(fields, k_host, sub(s, host0, host1))
        || set_new(fields, k_service, sub(s, tag0, tag1)) || PyDict_SetItem(fields, k_message, msg)
        || PyDict_SetItem(attributes, k_format, s_rfc3164) || PyDict_SetItem(attributes, k_facility, facilities[pri >> 3])
        || (pid0 >= 0 && set_new(attributes, k_pid, sub(s, pid0, pid1))))
        goto error;
    Py_DECREF(date);
    Py_DECREF(memo);
    Py_DECREF(ts);
    PyObject *result = inner(ctx, fields, attributes, msg, s, tag0, tag1, candidate);
    Py_DECREF(msg);
    return result;
fallback:
    Py_XDECREF(date);
    Py_XDECREF(memo);
    Py_XDECREF(ts);
    Py_DECREF(msg);
    return FALLBACK;
error:
    Py_XDECREF(date);
    Py_XDECREF(memo);
    Py_XDECREF(ts);
    Py_XDECREF(fields);
    Py_XDECREF(attributes);
    Py_DECREF(msg);
    return NULL;
}

/* `<PRI>V stamp host app procid msgid [sd] msg` (syslog._5424) from the version at p */
static PyObject *
rfc5424(PyObject *ctx, const char *s, Py_ssize_t n, Py_ssize_t p, int pri)
{
    Py_ssize_t v1 = digits(s, n, p);
    if (v1 - p > 2 || !STARTS(s, n, v1, " "))
        return FALLBACK;
    Py_ssize_t tok[5][2], q = v1 + 1;
    for (int i = 0; i < 5; i++) {
        Py_ssize_t e = q;
        for (; e < n; e++) {
            unsigned char c = (unsigned char)s[e];
            if (c >= 0x80)
                return FALLBACK;
            if (is_sp(c))
                break;
        }
        if (e == q || (i < 4 && !STARTS(s, n, e, " ")))
            return FALLBACK;
        tok[i][0] = q, tok[i][1] = e;
        q = e + 1;
    }
    Py_ssize_t pos = tok[4][1];
    if (STARTS(s, n, pos, " "))
        pos++;
#define IS_NIL(i) (tok[i][1] - tok[i][0] == 1 && s[tok[i][0]] == '-')
    int no_app = IS_NIL(2);
    /* Everything that may hand the record back to Python comes before the time is read:
     * the Python decode reads no time for a record it finds invalid UTF-8. */
    PyObject *fields = NULL, *attributes = PyDict_New(), *msg = NULL, *sd = NULL;
    if (attributes == NULL || PyDict_SetItem(attributes, k_facility, facilities[pri >> 3])
        || PyDict_SetItem(attributes, k_format, s_rfc5424)
        || (!IS_NIL(3) && set_new(attributes, k_pid, sub(s, tok[3][0], tok[3][1])))
        || (!IS_NIL(4) && set_new(attributes, k_msgid, sub(s, tok[4][0], tok[4][1]))))
        goto error;
    if (pos < n && s[pos] == '-')
        pos++;
    else if (pos < n && s[pos] == '[') {
        sd = structured_data(s, n, &pos, attributes);
        if (sd == NULL)
            goto error;
        if (sd == FALLBACK)
            goto fallback;
    }
    if (STARTS(s, n, pos, " "))
        pos++;
    if (STARTS(s, n, pos, "\xef\xbb\xbf"))
        pos += 3;
    msg = message_text(s, pos, n);
    if (msg == NULL)
        goto error;
    if (msg == FALLBACK)
        goto fallback;
    int candidate = auth_candidate(msg, no_app ? "" : s + tok[2][0], no_app ? 0 : tok[2][1] - tok[2][0]);
    fields = fields_dict(candidate);
    if (fields == NULL || PyDict_SetItem(fields, k_level, severities[pri & 7])
        || set_new(fields, k_host, IS_NIL(1) ? (Py_INCREF(s_empty), s_empty) : sub(s, tok[1][0], tok[1][1]))
        || set_new(fields, k_service, IS_NIL(2) ? (Py_INCREF(Py_None), Py_None) : sub(s, tok[2][0], tok[2][1])))
        goto error;
    if (!IS_NIL(0)) {
        PyObject *ts = iso_time(ctx, s, tok[0][0], tok[0][1]);
        if (ts == NULL) {
            PyErr_Clear(); /* the Python code raises its DecodeError */
            goto fallback;
        }
        if (set_new(fields, k_ts, ts) < 0)
            goto error;
    }
#undef IS_NIL
    if (PyDict_SetItem(fields, k_message, msg) < 0)
        goto error;
    PyObject *result = inner(ctx, fields, attributes, msg, s, no_app ? -1 : tok[2][0], tok[2][1], candidate);
    Py_DECREF(msg);
    return result;
fallback:
    Py_XDECREF(fields);
    Py_XDECREF(attributes);
    Py_XDECREF(msg == FALLBACK ? NULL : msg);
    return FALLBACK;
error:
    Py_XDECREF(fields);
    Py_XDECREF(attributes);
    Py_XDECREF(msg == FALLBACK ? NULL : msg);
    return NULL;
}

static PyObject *
sl_decode(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (!bound)
        return PyErr_Format(PyExc_RuntimeError, "streams.ingest._syslog: bind() first");
    if (nargs != 2 || !PyBytes_CheckExact(args[0]))
        return PyObject_Vectorcall(h_decode, args, (size_t)nargs, NULL);
    PyObject *value = args[0], *ctx = args[1];
    const char *s = PyBytes_AS_STRING(value);
    Py_ssize_t n = PyBytes_GET_SIZE(value);
    /* base.utf8(): one line ending off, then a byte order mark */
    if (n && s[n - 1] == '\n')
        n -= n >= 2 && s[n - 2] == '\r' ? 2 : 1;
    if (STARTS(s, n, 0, "\xef\xbb\xbf"))
        s += 3, n -= 3;
    if (n < 4 || s[0] != '<')
        return fallback(value, ctx);
    Py_ssize_t p1 = digits(s, n, 1);
    if (p1 == 1 || p1 > 4 || p1 >= n || s[p1] != '>')
        return fallback(value, ctx);
    int pri = 0;
    for (Py_ssize_t i = 1; i < p1; i++)
        pri = pri * 10 + (s[i] - '0');
    if (pri > 191)
        return fallback(value, ctx);
    Py_ssize_t p = p1 + 1;
    PyObject *result = FALLBACK;
    if (p < n && is_al((unsigned char)s[p]))
        result = usual_3164(ctx, s, n, p, pri);
    else if (p < n && is_dg((unsigned char)s[p]))
        result = rfc5424(ctx, s, n, p, pri);
    return result == FALLBACK ? fallback(value, ctx) : result;
}

/* -- binding -------------------------------------------------------------------------- */

/* a table of names from an iterable of str; kinds from `kinds` (a dict name -> kind
 * object) compared with sshd / sudo, else P_OTHER */
static int
fill_names(Names *t, PyObject *names, PyObject *kinds, PyObject *sshd, PyObject *sudo_fn)
{
    PyObject *it = PyObject_GetIter(names), *name;
    if (it == NULL)
        return -1;
    t->n = 0;
    while ((name = PyIter_Next(it)) != NULL) {
        Py_ssize_t len;
        const char *text = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &len) : NULL;
        if (text == NULL || len > NAME_MAX_LEN || t->n == MAX_NAMES || !ascii_only(text, len)) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "program name %R: not a short ASCII str", name);
            Py_DECREF(name);
            Py_DECREF(it);
            return -1;
        }
        Name *item = &t->items[t->n++];
        memcpy(item->name, text, (size_t)len);
        item->len = len;
        item->kind = P_OTHER;
        if (kinds != NULL) {
            PyObject *fn = PyDict_GetItemWithError(kinds, name);
            item->kind = fn == sshd ? P_SSHD : fn == sudo_fn ? P_SUDO : P_OTHER;
        }
        Py_DECREF(name);
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static void
keep(PyObject **slot, PyObject *value)
{
    Py_INCREF(value);
    Py_XSETREF(*slot, value);
}

static PyObject *
sl_bind(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *decode, *inner_fn, *date_3164, *iso, *decoded, *facility_names, *severity_names, *access;
    if (!PyArg_ParseTuple(args, "OOOOO!O!O!O:bind", &decode, &inner_fn, &date_3164, &iso, &PyType_Type, &decoded,
                          &PyTuple_Type, &facility_names, &PyTuple_Type, &severity_names, &access))
        return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)decoded, &PyTuple_Type) || PyTuple_GET_SIZE(facility_names) != 24
        || PyTuple_GET_SIZE(severity_names) != 8)
        return PyErr_Format(PyExc_ValueError, "bind: unexpected helpers");
    if (fill_names(&access_programs, access, NULL, NULL, NULL) < 0)
        return NULL;
    keep(&h_decode, decode);
    keep(&h_inner, inner_fn);
    keep(&h_date_3164, date_3164);
    keep(&h_iso, iso);
    keep((PyObject **)&h_decoded, decoded);
    for (int i = 0; i < 24; i++)
        keep(&facilities[i], PyTuple_GET_ITEM(facility_names, i));
    for (int i = 0; i < 8; i++)
        keep(&severities[i], PyTuple_GET_ITEM(severity_names, i));
    bound = auth_bound;
    Py_RETURN_NONE;
}

static PyObject *
sl_bind_auth(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *parse, *programs, *by_prog, *sshd, *sudo_fn;
    if (!PyArg_ParseTuple(args, "OOO!OO:bind_auth", &parse, &programs, &PyDict_Type, &by_prog, &sshd, &sudo_fn))
        return NULL;
    if (fill_names(&auth_programs, programs, NULL, NULL, NULL) < 0
        || fill_names(&by_program, by_prog, by_prog, sshd, sudo_fn) < 0)
        return NULL;
    keep(&h_auth_parse, parse);
    auth_bound = 1;
    bound = h_decode != NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"decode", (PyCFunction)(void (*)(void))sl_decode, METH_FASTCALL,
     "decode(value, ctx): syslog.decode (the Python decode reads the rare shapes)."},
    {"auth_parse", (PyCFunction)(void (*)(void))sl_auth_parse, METH_FASTCALL,
     "auth_parse(program, message): auth.parse (the Python parse reads the rare lines)."},
    {"bind", sl_bind, METH_VARARGS,
     "bind(decode, inner, date_3164, iso, Decoded, FACILITIES, SEVERITIES, access_programs)."},
    {"bind_auth", sl_bind_auth, METH_VARARGS, "bind_auth(parse, AUTH_PROGRAMS, _BY_PROGRAM, _sshd, _sudo)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "streams.ingest._syslog",
    .m_doc = "The C form of the syslog and auth decoders (streams/ingest/decoders/syslog.py, auth.py).",
    .m_size = -1,
    .m_methods = methods,
};

static int
intern(PyObject **slot, const char *text)
{
    *slot = PyUnicode_InternFromString(text);
    return *slot == NULL ? -1 : 0;
}

PyMODINIT_FUNC
PyInit__syslog(void)
{
    if (intern(&k_level, "level") || intern(&k_ts, "ts") || intern(&k_host, "host") || intern(&k_service, "service")
        || intern(&k_message, "message") || intern(&k_format, "sluice.format")
        || intern(&k_facility, "syslog.facility") || intern(&k_pid, "process.pid")
        || intern(&k_msgid, "syslog.msgid") || intern(&s_rfc3164, "rfc3164") || intern(&s_rfc5424, "rfc5424")
        || intern(&a_syslog_dates, "syslog_dates") || intern(&a_times, "times")
        || intern(&a_iso_cache, "iso_cache") || intern(&a_auth_as_security, "auth_as_security")
        || intern(&a_stream, "stream") || intern(&s_security, "security") || intern(&k_category, "category")
        || intern(&k_action, "action") || intern(&k_outcome, "outcome") || intern(&k_actor, "actor")
        || intern(&k_target, "target") || intern(&k_source_ip, "source_ip")
        || intern(&s_authentication, "authentication") || intern(&s_ssh_login, "ssh_login")
        || intern(&s_success, "success") || intern(&s_failure, "failure") || intern(&s_warn, "warn")
        || intern(&s_info, "info") || intern(&k_source_port, "source.port") || intern(&k_auth_method, "auth.method")
        || intern(&k_invalid_user, "ssh.invalid_user") || intern(&s_true, "true")
        || intern(&k_key_type, "ssh.key_type") || intern(&k_key_fp, "ssh.key_fingerprint")
        || intern(&k_pam_module, "pam.module") || intern(&k_pam_service, "pam.service")
        || intern(&s_session_open, "session_open") || intern(&s_session_close, "session_close")
        || intern(&s_privilege, "privilege") || intern(&s_sudo, "sudo") || intern(&k_command, "command")
        || intern(&k_pwd, "pwd") || intern(&k_tty, "tty") || intern(&k_reason, "reason")
        || intern(&k_protocol, "protocol") || intern(&s_ssh, "ssh") || intern(&s_empty, ""))
        return NULL;
    return PyModule_Create(&module);
}
