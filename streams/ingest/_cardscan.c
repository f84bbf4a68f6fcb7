/* Whether `Redactor.cards` (redact.py) has anything to do for an event: does one of
   the strings its loop would hand to `_cards_only` hold a run that `_RUN13`
   ([0-9](?:[ -]?[0-9]){12}) matches? The loop's own rules decide which strings:
   str values but event_id and kind, and trace_id/span_id only where `_W3C_ID` does
   not match them (asked of the Python regex, passed in); str keys and str values of
   dict values. A False answer means the loop would change nothing. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static int
has_run(PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (n < 13)
        return 0;
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    int digits = 0, after_separator = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= '0' && c <= '9') {
            if (++digits >= 13)
                return 1;
            after_separator = 0;
        }
        else if ((c == ' ' || c == '-') && digits > 0 && !after_separator)
            after_separator = 1;
        else
            digits = after_separator = 0;
    }
    return 0;
}

static int
named(PyObject *name, const char *a, const char *b)
{
    return PyUnicode_Check(name)
           && (PyUnicode_CompareWithASCIIString(name, a) == 0 || PyUnicode_CompareWithASCIIString(name, b) == 0);
}

/* Whether Redactor.cards would look at a string of the field `name` = `value`: 1, 0, or
   -1 on an error. */
static int
candidate_field(PyObject *w3c_match, PyObject *name, PyObject *value)
{
    if (PyUnicode_CheckExact(value)) {
        if (!has_run(value) || named(name, "event_id", "kind")) /* the cheap test first */
            return 0;
        if (named(name, "trace_id", "span_id")) {
            PyObject *m = PyObject_CallOneArg(w3c_match, value);
            if (m == NULL)
                return -1;
            int exempt = m != Py_None;
            Py_DECREF(m);
            return !exempt;
        }
        return 1;
    }
    if (PyDict_CheckExact(value)) {
        Py_ssize_t inner = 0;
        PyObject *k, *v;
        while (PyDict_Next(value, &inner, &k, &v))
            if ((PyUnicode_CheckExact(k) && has_run(k)) || (PyUnicode_CheckExact(v) && has_run(v)))
                return 1;
    }
    return 0;
}

/* card_candidate(w3c_match, ev) -> bool: the match first, so that
   functools.partial(card_candidate, match) is the one-argument test, with no Python
   frame per call */
static PyObject *
card_candidate(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 2 || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "card_candidate(w3c_match, ev: dict)");
        return NULL;
    }
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(args[1], &pos, &name, &value)) {
        int r = candidate_field(args[0], name, value);
        if (r != 0)
            return r < 0 ? NULL : Py_NewRef(Py_True);
    }
    Py_RETURN_FALSE;
}

/* card_candidate_fields(w3c_match, keys, values) -> bool: card_candidate of the event
   dict(zip(keys, values)), with no dict built (an event the ingest loop keeps as its
   field values, _jsonlog.c) */
static PyObject *
card_candidate_fields(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 3 || !PyTuple_CheckExact(args[1]) || !PyTuple_CheckExact(args[2])
        || PyTuple_GET_SIZE(args[1]) != PyTuple_GET_SIZE(args[2])) {
        PyErr_SetString(PyExc_TypeError, "card_candidate_fields(w3c_match, keys, values): two tuples of one length");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args[1]); i++) {
        int r = candidate_field(args[0], PyTuple_GET_ITEM(args[1], i), PyTuple_GET_ITEM(args[2], i));
        if (r != 0)
            return r < 0 ? NULL : Py_NewRef(Py_True);
    }
    Py_RETURN_FALSE;
}

static PyMethodDef methods[] = {
    {"card_candidate", (PyCFunction)(void (*)(void))card_candidate, METH_FASTCALL,
     "card_candidate(w3c_match, ev): whether Redactor.cards would look at any string of ev"},
    {"card_candidate_fields", (PyCFunction)(void (*)(void))card_candidate_fields, METH_FASTCALL,
     "card_candidate_fields(w3c_match, keys, values): card_candidate of dict(zip(keys, values))"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cardscan", "The cheap test before Redactor.cards.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__cardscan(void)
{
    return PyModule_Create(&module);
}
