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
    PyObject *w3c_match = args[0], *ev = args[1], *name, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(ev, &pos, &name, &value)) {
        if (PyUnicode_CheckExact(value)) {
            if (!has_run(value) || named(name, "event_id", "kind")) /* the cheap test first */
                continue;
            if (named(name, "trace_id", "span_id")) {
                PyObject *m = PyObject_CallOneArg(w3c_match, value);
                if (m == NULL)
                    return NULL;
                int exempt = m != Py_None;
                Py_DECREF(m);
                if (exempt)
                    continue;
            }
            Py_RETURN_TRUE;
        }
        if (PyDict_CheckExact(value)) {
            Py_ssize_t inner = 0;
            PyObject *k, *v;
            while (PyDict_Next(value, &inner, &k, &v))
                if ((PyUnicode_CheckExact(k) && has_run(k)) || (PyUnicode_CheckExact(v) && has_run(v)))
                    Py_RETURN_TRUE;
        }
    }
    Py_RETURN_FALSE;
}

static PyMethodDef methods[] = {
    {"card_candidate", (PyCFunction)(void (*)(void))card_candidate, METH_FASTCALL,
     "card_candidate(w3c_match, ev): whether Redactor.cards would look at any string of ev"},
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
