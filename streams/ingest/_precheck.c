/* The C form of the built-in redaction gate of `PreCheck.flagged`
 * (streams/ingest/precheck.py): which raw records may hold a card number, and which
 * may hold a secret, by the patterns of `redact.gate_pattern([], raw=True)`, in one
 * pass over each record, without a regex engine.
 *
 * flagged(values) -> (maybe, secret): the indices of the values matching the whole
 * gate, and of those matching it without its card-number part; the same two lists
 * that Python's `re` gives with those patterns (precheck.py checks GATE_SHA256
 * against the patterns redact.py builds and falls back to the regex when they differ).
 *
 * How: 64 bytes at a time, bit masks of the digits, the card separators [ -], [eE]
 * and the few bytes that can anchor a secret part (':', '=', '\\' and the letters
 * that start or end a fixed prefix): AVX2 nibble lookups where the CPU has them, else
 * SSE2 compares, else byte by byte. The card part is a matter of run lengths, decided
 * on the masks, and counted exactly only for a run 13 bytes long or more. At each
 * anchor, the part it belongs to is checked exactly: every part can be decided
 * deterministically from one anchor (see each check), so nothing is approximated and
 * the result equals the regex's. Most of the time goes to reading the records
 * (they are rarely in the cache); a JSON log record has ~25 anchors, mostly ':'.
 *
 * A record that only the card part matches is in the first list only; a secret part
 * ends the record's scan (it is in both lists).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h> /* SSE2, and AVX2 for the functions that ask for it */
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

/* sha256 of the gate pattern (str, UTF-8) this file implements */
#define GATE_SHA256 "9cf204f6b63006580a542a90fef014c077b6d2d1db7f315086ee8dd734b1295c"

enum { HIT_CARD = 1, HIT_SECRET = 2 };

/* byte classes */
enum {
    C_SPACE = 1,    /* \s of a bytes pattern: [ \t\n\r\f\v] */
    C_DIGIT = 2,
    C_HEX = 4,
    C_ALNUM = 8,    /* [A-Za-z0-9] */
    C_UPPER = 16,   /* [A-Z] */
    C_LETTER = 32,  /* [A-Za-z] */
    C_BEARER = 64,  /* [A-Za-z0-9._~+/=-]: what follows "Bearer " */
    C_SCHEME = 128, /* [A-Za-z0-9+.-]: a URL scheme */
};
static unsigned char cls[256];

/* the bytes at which secret_at checks a part of the gate ([eE] aside: only after a
 * digit); for the block masks without SSE2 */
static unsigned char is_anchor[256];

#define IS(c, k) (cls[(unsigned char)(c)] & (k))
static unsigned char lower[256]; /* ASCII letters folded to lowercase, other bytes as they are */
/* [last byte & 31][byte before & 31]: may a secret word end with these two letters
 * (either case)? A coarse first test: other bytes share the slots of letters. */
static unsigned char word_end2[32][32];
#define LOWER(c) lower[(unsigned char)(c)]

static void
init_tables(void)
{
    for (int c = 0; c < 256; c++) {
        unsigned char k = 0;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
            k |= C_SPACE;
        if (c >= '0' && c <= '9')
            k |= C_DIGIT | C_HEX | C_ALNUM | C_BEARER | C_SCHEME;
        if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
            k |= C_HEX;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            k |= C_ALNUM | C_LETTER | C_BEARER | C_SCHEME;
        if (c >= 'A' && c <= 'Z')
            k |= C_UPPER;
        if (c && strchr("._~+/=-", c))
            k |= C_BEARER;
        if (c && strchr("+.-", c))
            k |= C_SCHEME;
        cls[c] = k;
        lower[c] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    static const char *const ends[] = {"rd", "wd", "se", "ie", "et", "ey", "en", "on", "al", "ls"};
    for (size_t k = 0; k < sizeof ends / sizeof *ends; k++)
        word_end2[ends[k][1] & 31][ends[k][0] & 31] = 1;
    for (const char *c = ":=\\JA_xBb"; *c; c++)
        is_anchor[(unsigned char)*c] = 1;
}

/* s[i:i+len(word)] equals the lowercase `word`, ignoring ASCII case */
static int
equals_ci(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, const char *word)
{
    for (; *word; word++, i++)
        if (i >= n || LOWER(s[i]) != (unsigned char)*word)
            return 0;
    return 1;
}

/* s[i:i+len(word)] equals `word` exactly */
static int
equals(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, const char *word)
{
    size_t len = strlen(word);
    return i >= 0 && (size_t)(n - i) >= len && memcmp(s + i, word, len) == 0;
}

/* count bytes of class k from i on, at most `want` */
static int
run_of(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, unsigned char k, int want)
{
    int got = 0;
    while (got < want && i + got < n && IS(s[i + got], k))
        got++;
    return got;
}

/* Whether s[lo:end] ends with a secret word: (?i:password|passwd|passphrase|
 * client[_-]?secret|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|token|
 * credentials?|authorization|cookie). client_secret ends with "secret" and apikey
 * with api[_-]?key, so those two alternatives need no check of their own. */
static inline int
ends_with_word(const unsigned char *s, Py_ssize_t lo, Py_ssize_t end)
{
    Py_ssize_t len = end - lo;
#define TAIL(w) (len >= (Py_ssize_t)(sizeof(w) - 1) && equals_ci(s, end, end - (Py_ssize_t)(sizeof(w) - 1), w))
    if (len < 5)
        return 0;
    /* the last two letters first: most field names end otherwise */
    if (!word_end2[s[end - 1] & 31][s[end - 2] & 31])
        return 0;
    unsigned char c1 = LOWER(s[end - 1]), c2 = LOWER(s[end - 2]), c3 = LOWER(s[end - 3]);
    switch (c1) {
    case 'd':
        return (c2 == 'r' && c3 == 'o' && TAIL("password")) || (c2 == 'w' && c3 == 's' && TAIL("passwd"));
    case 'e':
        return (c2 == 's' && c3 == 'a' && TAIL("passphrase")) || (c2 == 'i' && c3 == 'k' && TAIL("cookie"));
    case 't':
        return c2 == 'e' && c3 == 'r' && TAIL("secret");
    case 'y': {
        if (c2 != 'e' || c3 != 'k')
            return 0;
        Py_ssize_t k = end - 3;
        for (int sep = 0; sep < 2; sep++) { /* "key" right after the word, or after one [_-] */
            if (sep) {
                if (k <= lo || (s[k - 1] != '_' && s[k - 1] != '-'))
                    break;
                k--;
            }
            Py_ssize_t l2 = k - lo;
            if ((l2 >= 3 && equals_ci(s, k, k - 3, "api")) || (l2 >= 6 && equals_ci(s, k, k - 6, "access"))
                || (l2 >= 7 && equals_ci(s, k, k - 7, "private")))
                return 1;
        }
        return 0;
    }
    case 'n':
        return (c2 == 'e' && c3 == 'k' && TAIL("token")) || (c2 == 'o' && c3 == 'i' && TAIL("authorization"));
    case 'l':
        return c2 == 'a' && c3 == 'i' && TAIL("credential");
    case 's':
        return c2 == 'l' && c3 == 'a' && TAIL("credentials");
    default:
        return 0;
    }
#undef TAIL
}

/* Length of the whitespace unit (?:\s|\\[tnrbf]|\\u00[01][0-9a-fA-F]) at s[i], 0 if
 * none; `ci`: inside (?i:...), where the letters match either case. At most one kind
 * of unit can start at a byte, so skipping units greedily is the only way to match. */
static Py_ssize_t
ws_unit(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, int ci)
{
    if (i >= n)
        return 0;
    if (IS(s[i], C_SPACE))
        return 1;
    if (s[i] != '\\' || i + 1 >= n)
        return 0;
    unsigned char c = ci ? LOWER(s[i + 1]) : s[i + 1];
    if (c == 't' || c == 'n' || c == 'r' || c == 'b' || c == 'f')
        return 2;
    if (c == 'u' && i + 5 < n && s[i + 2] == '0' && s[i + 3] == '0' && (s[i + 4] == '0' || s[i + 4] == '1')
        && IS(s[i + 5], C_HEX))
        return 6;
    return 0;
}

/* The unit of ws_unit that ends right before s[j], 0 if none (ci as there). A unit
 * ends with \s, a letter or a hex digit; the byte before tells the two escapes apart,
 * so again at most one applies. */
static Py_ssize_t
ws_unit_before(const unsigned char *s, Py_ssize_t j, int ci)
{
    if (j < 1)
        return 0;
    if (IS(s[j - 1], C_SPACE))
        return 1;
    if (j >= 2 && s[j - 2] == '\\') {
        unsigned char c = ci ? LOWER(s[j - 1]) : s[j - 1];
        if (c == 't' || c == 'n' || c == 'r' || c == 'b' || c == 'f')
            return 2;
    }
    if (j >= 6 && s[j - 6] == '\\' && (ci ? LOWER(s[j - 5]) : s[j - 5]) == 'u' && s[j - 4] == '0'
        && s[j - 3] == '0' && (s[j - 2] == '0' || s[j - 2] == '1') && IS(s[j - 1], C_HEX))
        return 6;
    return 0;
}

/* (?i:WORD[\\"']*(?:\s|\\[tnrbf]|\\u00[01][0-9a-fA-F])*[:=]) ending at the [:=] at p.
 * Going back from p, the whitespace units are unique (ws_unit_before); at each place
 * they may end, the quotes before it are skipped whole (a word ends with a letter) and
 * the word must end right there. */
static inline int
secret_key_before(const unsigned char *s, Py_ssize_t p)
{
    Py_ssize_t j = p;
    for (;;) {
        Py_ssize_t k = j;
        while (k > 0 && (s[k - 1] == '\\' || s[k - 1] == '"' || s[k - 1] == '\''))
            k--;
        if (ends_with_word(s, 0, k))
            return 1;
        Py_ssize_t unit = ws_unit_before(s, j, 1);
        if (!unit)
            return 0;
        j -= unit;
    }
}

/* (?i:\"key\"\s*:\s*\"[^\"]*WORD\") around the ':' at p */
static inline int
key_value_word(const unsigned char *s, Py_ssize_t n, Py_ssize_t p)
{
    Py_ssize_t k = p;
    while (k > 0 && IS(s[k - 1], C_SPACE))
        k--;
    if (k < 5 || s[k - 1] != '"' || LOWER(s[k - 2]) != 'y')
        return 0;
    if (k < 5 || !equals_ci(s, n, k - 5, "\"key\""))
        return 0;
    Py_ssize_t i = p + 1;
    while (i < n && IS(s[i], C_SPACE))
        i++;
    if (i >= n || s[i] != '"')
        return 0;
    const unsigned char *close = memchr(s + i + 1, '"', (size_t)(n - i - 1));
    return close != NULL && ends_with_word(s, i + 1, close - s);
}

/* (?i:label=[^=]*?WORD) with its '=' at p: a word before the next '=' */
static int
label_word(const unsigned char *s, Py_ssize_t n, Py_ssize_t p)
{
    if (p < 5 || !equals_ci(s, n, p - 5, "label"))
        return 0;
    const unsigned char *next = memchr(s + p + 1, '=', (size_t)(n - p - 1));
    Py_ssize_t end = next ? next - s : n;
    for (Py_ssize_t k = p + 6; k <= end; k++)
        if (ends_with_word(s, p + 1, k))
            return 1;
    return 0;
}

/* [A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\"']+:[^\s@/\"']+@ with its ':' at p. The scheme
 * may start at any letter of the scheme run before "://"; after it, each run is
 * maximal (it cannot hold the byte that ends it). */
static int
url_password(const unsigned char *s, Py_ssize_t n, Py_ssize_t p)
{
    if (p + 2 >= n || s[p + 1] != '/' || s[p + 2] != '/')
        return 0;
    Py_ssize_t k = p;
    int letter = 0;
    while (k > 0 && IS(s[k - 1], C_SCHEME)) {
        k--;
        letter |= IS(s[k], C_LETTER) != 0;
    }
    if (!letter)
        return 0;
    Py_ssize_t i = p + 3, start = i;
    while (i < n && !IS(s[i], C_SPACE) && s[i] != ':' && s[i] != '/' && s[i] != '@' && s[i] != '"' && s[i] != '\'')
        i++;
    if (i == start || i >= n || s[i] != ':')
        return 0;
    start = ++i;
    while (i < n && !IS(s[i], C_SPACE) && s[i] != '@' && s[i] != '/' && s[i] != '"' && s[i] != '\'')
        i++;
    return i > start && i < n && s[i] == '@';
}

/* [:,\[]\s*-?[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9] with its [eE] at q, a digit right
 * before it. The digits before [eE] are whole runs (one, or two around a '.': the
 * first of them cannot follow a digit), and between the first run and [:,[] only a
 * '-' then spaces may stand. */
static int
exponent_number(const unsigned char *s, Py_ssize_t n, Py_ssize_t q)
{
    Py_ssize_t i = q + 1;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i >= n || !IS(s[i], C_DIGIT))
        return 0;
    Py_ssize_t k = q;
    while (k > 0 && IS(s[k - 1], C_DIGIT))
        k--;
    if (k > 0 && s[k - 1] == '.') {
        Py_ssize_t dot = --k;
        while (k > 0 && IS(s[k - 1], C_DIGIT))
            k--;
        if (k == dot)
            return 0;
    }
    if (k > 0 && s[k - 1] == '-')
        k--;
    while (k > 0 && IS(s[k - 1], C_SPACE))
        k--;
    return k > 0 && (s[k - 1] == ':' || s[k - 1] == ',' || s[k - 1] == '[');
}
/* (?i:bearer)(?:\s|\\[tnrbf]|\\u00[01][0-9a-fA-F])+[A-Za-z0-9._~+/=-]{8} at p (the
 * units are case-sensitive here; none starts with a token byte, so they are skipped
 * greedily) */
static int
bearer(const unsigned char *s, Py_ssize_t n, Py_ssize_t p)
{
    if (!equals_ci(s, n, p, "bearer"))
        return 0;
    Py_ssize_t i = p + 6, unit, start = i;
    while ((unit = ws_unit(s, n, i, 0)) != 0)
        i += unit;
    return i > start && run_of(s, n, i, C_BEARER, 8) == 8;
}

/* -----BEGIN [A-Z0-9 ]*PRIVATE KEY with its 'B' at p: "PRIVATE KEY" within the run
 * of [A-Z0-9 ] after "BEGIN " */
static int
private_key(const unsigned char *s, Py_ssize_t n, Py_ssize_t p)
{
    if (p < 5 || !equals(s, n, p - 5, "-----BEGIN "))
        return 0;
    Py_ssize_t i = p + 6;
    while (i < n && (IS(s[i], C_UPPER | C_DIGIT) || s[i] == ' '))
        i++;
    static const char want[] = "PRIVATE KEY";
    for (Py_ssize_t k = p + 6; k + (Py_ssize_t)sizeof(want) - 1 <= i; k++)
        if (memcmp(s + k, want, sizeof(want) - 1) == 0)
            return 1;
    return 0;
}

/* [0-9](?:[ -]?[0-9]){12}: 13 digits in a maximal run of digits joined by single
 * [ -], for the runs that start in s[from:to] (`from` is not inside a run). Only run
 * where the block masks saw a run 13 bytes long or more. */
static int
card_run(const unsigned char *s, Py_ssize_t n, Py_ssize_t from, Py_ssize_t to)
{
    Py_ssize_t i = from;
    while (i < to) {
        if (!IS(s[i], C_DIGIT)) {
            i++;
            continue;
        }
        Py_ssize_t digits = 0;
        for (;;) {
            Py_ssize_t group = i;
            while (i < n && IS(s[i], C_DIGIT))
                i++;
            digits += i - group;
            if (i + 1 < n && (s[i] == ' ' || s[i] == '-') && IS(s[i + 1], C_DIGIT)) {
                i++;
                continue;
            }
            break;
        }
        if (digits >= 13)
            return 1;
    }
    return 0;
}

/* Whether a secret part of the gate matches at the anchor byte s[q]. */
static int
secret_at(const unsigned char *s, Py_ssize_t n, Py_ssize_t q)
{
    if (s[q] == ':') /* the common anchor (a JSON record has one per field): the cheap tests first */
        return url_password(s, n, q) || key_value_word(s, n, q) || secret_key_before(s, q);
    switch (s[q]) {
    case '=':
        return secret_key_before(s, q) || label_word(s, n, q);
    case 'e':
    case 'E': /* only after a digit */
        return exponent_number(s, n, q);
    case '\\': /* \\u[0-9a-fA-F]{4} */
        return q + 1 < n && s[q + 1] == 'u' && run_of(s, n, q + 2, C_HEX, 4) == 4;
    case 'J': /* eyJ[A-Za-z0-9_-]{4} */
        if (q >= 2 && s[q - 2] == 'e' && s[q - 1] == 'y') {
            int k = 0;
            while (k < 4 && q + 1 + k < n && (IS(s[q + 1 + k], C_ALNUM) || s[q + 1 + k] == '_' || s[q + 1 + k] == '-'))
                k++;
            return k == 4;
        }
        return 0;
    case 'A': /* (?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16} */
        if (q + 20 <= n) {
            static const char *const ids[] = {"AKIA", "ASIA", "AGPA", "AIDA", "AROA",
                                              "AIPA", "ANPA", "ANVA", "ABIA", "ACCA"};
            for (size_t k = 0; k < sizeof ids / sizeof *ids; k++)
                if (memcmp(s + q, ids[k], 4) == 0)
                    return run_of(s, n, q + 4, C_UPPER | C_DIGIT, 16) == 16;
        }
        return 0;
    case '_': /* [sr]k_(?:live|test)_[0-9A-Za-z]{10} and gh[pousr]_[A-Za-z0-9]{30} */
        if (q >= 2 && (s[q - 2] == 's' || s[q - 2] == 'r') && s[q - 1] == 'k'
            && (equals(s, n, q + 1, "live_") || equals(s, n, q + 1, "test_")) && run_of(s, n, q + 6, C_ALNUM, 10) == 10)
            return 1;
        return q >= 3 && s[q - 3] == 'g' && s[q - 2] == 'h' && s[q - 1] && strchr("pousr", s[q - 1])
            && run_of(s, n, q + 1, C_ALNUM, 30) == 30;
    case 'x': /* xox[abposr]-[A-Za-z0-9-]{10} */
        if (q + 4 < n && s[q + 1] == 'o' && s[q + 2] == 'x' && s[q + 3] && strchr("abposr", s[q + 3])
            && s[q + 4] == '-') {
            int k = 0;
            while (k < 10 && q + 5 + k < n && (IS(s[q + 5 + k], C_ALNUM) || s[q + 5 + k] == '-'))
                k++;
            return k == 10;
        }
        return 0;
    case 'B':
        return private_key(s, n, q) || bearer(s, n, q);
    case 'b':
        return bearer(s, n, q);
    default:
        return 0;
    }
}

/* Per 64-byte block, bit k for byte k: digits, card separators [ -], the anchors of
 * secret_at but [eE], and [eE]. */
typedef struct {
    uint64_t digit, sep, anchor, e, sign;
} Masks;

/* Three ways to the same masks: byte by byte (any machine), SSE2 compares (any
 * x86-64) and AVX2 nibble lookups (most x86-64 of the last ten years, chosen at import). */
static void
block_masks_scalar(const unsigned char *p, Masks *m)
{
    m->digit = m->sep = m->anchor = m->e = m->sign = 0;
    for (int k = 0; k < 64; k++) {
        uint64_t bit = (uint64_t)1 << k;
        unsigned char c = p[k];
        if (IS(c, C_DIGIT))
            m->digit |= bit;
        if (c == ' ' || c == '-')
            m->sep |= bit;
        if (c == '+' || c == '-')
            m->sign |= bit;
        if (c == 'e' || c == 'E')
            m->e |= bit;
        if (is_anchor[c])
            m->anchor |= bit;
    }
}

#if defined(__SSE2__)
static void
block_masks_sse2(const unsigned char *p, Masks *m)
{
    const __m128i below0 = _mm_set1_epi8('0' - 1), above9 = _mm_set1_epi8('9' + 1), lower20 = _mm_set1_epi8(0x20);
    uint64_t digit = 0, sep = 0, anchor = 0, e = 0, sign = 0;
    for (int o = 0; o < 64; o += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + o));
        __m128i d = _mm_and_si128(_mm_cmpgt_epi8(v, below0), _mm_cmplt_epi8(v, above9));
        __m128i minus = _mm_cmpeq_epi8(v, _mm_set1_epi8('-'));
        __m128i sp = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), minus);
        __m128i sg = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')), minus);
        __m128i folded = _mm_or_si128(v, lower20);
        __m128i a = _mm_or_si128(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(':')), _mm_cmpeq_epi8(v, _mm_set1_epi8('='))),
                         _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')), _mm_cmpeq_epi8(v, _mm_set1_epi8('J')))),
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('A')), _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))),
                         _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('x')), _mm_cmpeq_epi8(folded, _mm_set1_epi8('b')))));
        __m128i ee = _mm_cmpeq_epi8(folded, _mm_set1_epi8('e'));
        digit |= (uint64_t)(unsigned)_mm_movemask_epi8(d) << o;
        sep |= (uint64_t)(unsigned)_mm_movemask_epi8(sp) << o;
        sign |= (uint64_t)(unsigned)_mm_movemask_epi8(sg) << o;
        anchor |= (uint64_t)(unsigned)_mm_movemask_epi8(a) << o;
        e |= (uint64_t)(unsigned)_mm_movemask_epi8(ee) << o;
    }
    m->digit = digit, m->sep = sep, m->anchor = anchor, m->e = e, m->sign = sign;
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX2_PATH 1
/* Each byte gets a class byte = LO[low nibble] & HI[high nibble]; every bit stands
 * for a set of bytes that is a product (high nibbles x low nibbles):
 *   1 digit  3 x 0-9          2 sep  2 x {0,d} (' ' '-')    4 sign  2 x {b,d} ('+' '-')
 *   8 [eE]   {4,6} x 5       16 3 x {a,d} (':' '=')         32 4 x {1,2,a} ('A' 'B' 'J')
 *  64 {5,7} x {8,c,f} ('\\' '_' 'x', and 'X' '|' DEL, which secret_at passes over)
 * 128 6 x 2 ('b'). Bytes from 0x80 up have no bit. */
__attribute__((target("avx2"))) static void
block_masks_avx2(const unsigned char *p, Masks *m)
{
    const __m256i lo_table = _mm256_setr_epi8(
        0x03, 0x21, 0xA1, 0x01, 0x01, 0x09, 0x01, 0x01, 0x41, 0x01, 0x30, 0x04, 0x40, 0x16, 0x00, 0x40,
        0x03, 0x21, 0xA1, 0x01, 0x01, 0x09, 0x01, 0x01, 0x41, 0x01, 0x30, 0x04, 0x40, 0x16, 0x00, 0x40);
    const __m256i hi_table = _mm256_setr_epi8(
        0x00, 0x00, 0x06, 0x11, 0x28, 0x40, 0x88, 0x40, 0, 0, 0, 0, 0, 0, 0, 0,
        0x00, 0x00, 0x06, 0x11, 0x28, 0x40, 0x88, 0x40, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i nibble = _mm256_set1_epi8(0x0f), anchors = _mm256_set1_epi8((char)0xF0);
    uint64_t digit = 0, sep = 0, anchor = 0, e = 0, sign = 0;
    for (int o = 0; o < 64; o += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(p + o));
        __m256i lo = _mm256_and_si256(v, nibble);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
        __m256i c = _mm256_and_si256(_mm256_shuffle_epi8(lo_table, lo), _mm256_shuffle_epi8(hi_table, hi));
        /* movemask reads the top bit of each byte: shift the wanted bit there */
        digit |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(c, 7)) << o;
        sep |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(c, 6)) << o;
        sign |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(c, 5)) << o;
        e |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(c, 4)) << o;
        anchor |= (uint64_t)(uint32_t)~_mm256_movemask_epi8(
                      _mm256_cmpeq_epi8(_mm256_and_si256(c, anchors), _mm256_setzero_si256())) << o;
    }
    m->digit = digit, m->sep = sep, m->anchor = anchor, m->e = e, m->sign = sign;
}
#endif

static void (*block_masks)(const unsigned char *, Masks *) = block_masks_scalar;

#if defined(__GNUC__)
#define CTZ(x) __builtin_ctzll(x)
#define CLZ(x) __builtin_clzll(x)
#else
static int CTZ(uint64_t x) { int k = 0; while (!(x & 1)) { x >>= 1; k++; } return k; }
static int CLZ(uint64_t x) { int k = 0; while (!(x >> 63)) { x <<= 1; k++; } return k; }
#endif

/* HIT_CARD and/or HIT_SECRET for one record, 64 bytes at a time: the secret parts
 * are checked at their anchors (the first hit ends the record: a secret flags it for
 * both lists), the card part by the lengths of the runs of digits and separators,
 * exactly only when one is 13 bytes long or more. */
static int
scan(const unsigned char *s, Py_ssize_t n)
{
    int card = 0;
    uint64_t carry = 0;      /* bytes of a run of digits and separators ending the previous block */
    uint64_t prev_digit = 0; /* the last byte of the previous block is a digit */
    for (Py_ssize_t base = 0; base < n; base += 64) {
        Masks m;
        if (n - base >= 64) {
            block_masks(s + base, &m);
        } else { /* NUL bytes are in no class */
            unsigned char tail[64] = {0};
            memcpy(tail, s + base, (size_t)(n - base));
            block_masks(tail, &m);
        }
        uint64_t after_digit = (m.digit << 1) | prev_digit;
        if (!card) {
            uint64_t next_digit = base + 64 < n && IS(s[base + 64], C_DIGIT);
            uint64_t before_digit = (m.digit >> 1) | (next_digit << 63);
            uint64_t run = m.digit | (m.sep & after_digit & before_digit);
            uint64_t lead = ~run ? (uint64_t)CTZ(~run) : 64;
            uint64_t r2 = run & (run >> 1), r4 = r2 & (r2 >> 2), r8 = r4 & (r4 >> 4);
            if ((carry + lead >= 13 || (r8 & (r4 >> 8) & (run >> 12)))
                && card_run(s, n, base - (Py_ssize_t)carry, base + 64 < n ? base + 64 : n))
                card = 1;
            carry = ~run ? (uint64_t)CLZ(~run) : carry + 64;
        }
        /* [eE] between a digit and a digit or sign (or the next block) */
        uint64_t e = m.e & after_digit & ((m.digit >> 1) | (m.sign >> 1) | (uint64_t)1 << 63);
        uint64_t todo = m.anchor | e;
        while (todo) {
            Py_ssize_t q = base + CTZ(todo);
            todo &= todo - 1;
            if (secret_at(s, n, q))
                return HIT_SECRET;
        }
        prev_digit = m.digit >> 63;
    }
    return card ? HIT_CARD : 0;
}

static int
append_index(PyObject *list, Py_ssize_t i)
{
    PyObject *index = PyLong_FromSsize_t(i);
    if (index == NULL)
        return -1;
    int rc = PyList_Append(list, index);
    Py_DECREF(index);
    return rc;
}

static PyObject *
flagged(PyObject *Py_UNUSED(module), PyObject *values)
{
    PyObject *seq = PySequence_Fast(values, "flagged() takes a list of bytes");
    if (seq == NULL)
        return NULL;
    PyObject *maybe = PyList_New(0), *secret = PyList_New(0);
    if (maybe == NULL || secret == NULL)
        goto fail;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *value = PySequence_Fast_GET_ITEM(seq, i);
        int hits;
        if (PyBytes_CheckExact(value)) {
            hits = scan((const unsigned char *)PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
        } else {
            /* bytearray, memoryview...: what `re` takes; a str is refused as there */
            Py_buffer view;
            if (PyUnicode_Check(value) || PyObject_GetBuffer(value, &view, PyBUF_SIMPLE) < 0) {
                if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
                    PyErr_Clear();
                    PyErr_Format(PyExc_TypeError, "expected a bytes-like object, %.200s found",
                                 Py_TYPE(value)->tp_name);
                }
                goto fail;
            }
            hits = scan((const unsigned char *)view.buf, view.len);
            PyBuffer_Release(&view);
        }
        if (hits && append_index(maybe, i) < 0)
            goto fail;
        if ((hits & HIT_SECRET) && append_index(secret, i) < 0)
            goto fail;
    }
    Py_DECREF(seq);
    return Py_BuildValue("(NN)", maybe, secret);
fail:
    Py_DECREF(seq);
    Py_XDECREF(maybe);
    Py_XDECREF(secret);
    return NULL;
}

static const char *masks_name = "scalar";

/* _use_masks(name) -> the previous name: "avx2", "sse2" or "scalar", for the tests
 * to run every form this machine has. ValueError for a form it lacks. */
static PyObject *
use_masks(PyObject *Py_UNUSED(module), PyObject *arg)
{
    const char *name = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (name == NULL) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "_use_masks() takes a str");
        return NULL;
    }
    const char *previous = masks_name;
    if (strcmp(name, "scalar") == 0) {
        block_masks = block_masks_scalar, masks_name = "scalar";
#if defined(__SSE2__)
    } else if (strcmp(name, "sse2") == 0) {
        block_masks = block_masks_sse2, masks_name = "sse2";
#endif
#ifdef HAVE_AVX2_PATH
    } else if (strcmp(name, "avx2") == 0 && __builtin_cpu_supports("avx2")) {
        block_masks = block_masks_avx2, masks_name = "avx2";
#endif
    } else {
        PyErr_Format(PyExc_ValueError, "no %.50s form of the block masks here", name);
        return NULL;
    }
    return PyUnicode_FromString(previous);
}

static PyMethodDef methods[] = {
    {"flagged", flagged, METH_O,
     "flagged(values) -> (maybe, secret): indices of the values (bytes) that match the built-in gate,\n"
     "and of those that match it without its card-number part."},
    {"_use_masks", use_masks, METH_O, "_use_masks(name) -> previous: the form of the block masks (tests only)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "streams.ingest._precheck",
    .m_doc = "The C form of the built-in redaction gate of PreCheck.flagged (streams/ingest/precheck.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__precheck(void)
{
    init_tables();
#if defined(__SSE2__)
    block_masks = block_masks_sse2, masks_name = "sse2";
#endif
#ifdef HAVE_AVX2_PATH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        block_masks = block_masks_avx2, masks_name = "avx2";
#endif
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddStringConstant(m, "GATE_SHA256", GATE_SHA256) < 0)
        Py_CLEAR(m);
    return m;
}
