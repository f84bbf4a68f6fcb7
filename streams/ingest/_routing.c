/* The rule pre-filter of ingest (DetectFilter.wanted in routing.py) in C: which events
   some rule wants, so that only those travel to the detect stage.

   Per event and rule, the guards (streams/detect/guards.py `passes`) are tested here,
   then the rule's sufficient conditions (streams/detect/sufficient.py `holds`: a login
   is taken for the login rule without interpreting it), and only an event that passes
   the one and meets none of the other is handed to the rule's Python `accepts`. In
   the ingest worker this loop ran in Python over every event of every batch, ~14% of
   the stage's time. The Python `passes`, `holds` and `DetectFilter.wanted` stay the
   reference; anything unusual (an item that is not a dict, a guard of another shape)
   is asked of the Python `passes`, and meets no sufficient condition.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *s_kind, *s_lower, *s_empty, *s_accepts;

/* v.lower(), new reference: `v` itself when it is ASCII without a capital (most field
   values), so that no string is made and its cached hash serves the set lookup. */
static PyObject *
lowered(PyObject *v)
{
    if (PyUnicode_IS_ASCII(v)) {
        const Py_UCS1 *c = PyUnicode_1BYTE_DATA(v);
        Py_ssize_t n = PyUnicode_GET_LENGTH(v), i = 0;
        while (i < n && !(c[i] >= 'A' && c[i] <= 'Z'))
            i++;
        if (i == n)
            return Py_NewRef(v);
    }
    return PyObject_CallMethodNoArgs(v, s_lower);
}

/* guards.passes(guards, item): 1, 0, or -1 with an error; `py_passes` for what is unusual */
/* `(v.lower() if fold else v) in values`: 1, 0, or -1 with an exception set. */
static int
contains(PyObject *values, PyObject *v, int fold)
{
    if (!fold)
        return PySequence_Contains(values, v);
    PyObject *low = lowered(v);
    if (low == NULL)
        return -1;
    int found = PySequence_Contains(values, low);
    Py_DECREF(low);
    return found;
}

static int
guards_pass(PyObject *guards, PyObject *item, PyObject *py_passes)
{
    if (!PyList_CheckExact(guards) || !PyDict_CheckExact(item))
        goto python;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(guards); i++) {
        PyObject *g = PyList_GET_ITEM(guards, i);
        if (!PyTuple_CheckExact(g) || PyTuple_GET_SIZE(g) != 3)
            goto python;
        PyObject *key = PyTuple_GET_ITEM(g, 0), *values = PyTuple_GET_ITEM(g, 1), *v;
        int fold = PyObject_IsTrue(PyTuple_GET_ITEM(g, 2));
        if (fold < 0)
            return -1;
        if (PyUnicode_CheckExact(key)) {
            v = PyDict_GetItemWithError(item, key);
        }
        else if (PyTuple_CheckExact(key) && PyTuple_GET_SIZE(key) == 2) {
            PyObject *attributes = PyDict_GetItemWithError(item, PyTuple_GET_ITEM(key, 0));
            if (attributes == NULL && PyErr_Occurred())
                return -1;
            if (attributes == NULL || !PyDict_CheckExact(attributes))
                continue;
            v = PyDict_GetItemWithError(attributes, PyTuple_GET_ITEM(key, 1));
            if ((v == NULL && !PyErr_Occurred()) || v == Py_None)
                return 0; /* `attributes.get(name) is None` */
        }
        else
            goto python;
        if (v == NULL && PyErr_Occurred())
            return -1;
        if (v == NULL || !PyUnicode_CheckExact(v)) {
            if (values == Py_None && (v == NULL || v == Py_None))
                return 0; /* presence: null or absent */
            continue; /* cannot conclude: let the rule decide */
        }
        if (values == Py_None) {
            if (PyUnicode_GET_LENGTH(v) == 0)
                return 0;
            continue;
        }
        int found = contains(values, v, fold);
        if (found <= 0)
            return found;
    }
    return 1;
python:;
    PyObject *r = PyObject_CallFunctionObjArgs(py_passes, guards, item, NULL);
    if (r == NULL)
        return -1;
    int ok = PyObject_IsTrue(r);
    Py_DECREF(r);
    return ok;
}

/* sufficient.holds(alternatives, item): 1 when every guard of some alternative holds
   positively (the field a string among its values, or present and not "" for presence),
   0 when none does or the item is not a dict (the rule's accepts then decides), -1 on
   an error. */
static int
sure_holds(PyObject *alternatives, PyObject *item)
{
    if (!PyDict_CheckExact(item) || !PyList_CheckExact(alternatives))
        return 0;
    for (Py_ssize_t a = 0; a < PyList_GET_SIZE(alternatives); a++) {
        PyObject *alt = PyList_GET_ITEM(alternatives, a);
        if (!PyList_CheckExact(alt))
            continue;
        int all = 1;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(alt) && all; i++) {
            PyObject *g = PyList_GET_ITEM(alt, i), *key, *values, *v = NULL;
            if (!PyTuple_CheckExact(g) || PyTuple_GET_SIZE(g) != 3) {
                all = 0;
                break;
            }
            key = PyTuple_GET_ITEM(g, 0);
            values = PyTuple_GET_ITEM(g, 1);
            int fold = PyObject_IsTrue(PyTuple_GET_ITEM(g, 2));
            if (fold < 0)
                return -1;
            if (PyUnicode_CheckExact(key))
                v = PyDict_GetItemWithError(item, key);
            else if (PyTuple_CheckExact(key) && PyTuple_GET_SIZE(key) == 2) {
                PyObject *flat = PyDict_GetItemWithError(item, PyTuple_GET_ITEM(key, 0));
                if (flat != NULL && PyDict_CheckExact(flat))
                    v = PyDict_GetItemWithError(flat, PyTuple_GET_ITEM(key, 1));
            }
            if (v == NULL && PyErr_Occurred())
                return -1;
            if (v == NULL || !PyUnicode_CheckExact(v)) {
                all = 0;
                break;
            }
            if (values == Py_None) {
                all = PyUnicode_GET_LENGTH(v) > 0;
                continue;
            }
            int found = contains(values, v, fold);
            if (found < 0)
                return -1;
            all = found;
        }
        if (all)
            return 1;
    }
    return 0;
}

/* The rules (list of (guards, sufficient, rule)) of an event's source, borrowed, or NULL
   (no error set: none). source_of's answer from the kind where the table has it. */
static PyObject *
rules_of(PyObject *ev, PyObject *by_source, PyObject *kind_to_source, PyObject *source_of)
{
    PyObject *source = NULL;
    if (PyDict_CheckExact(ev)) {
        PyObject *kind = PyDict_GetItemWithError(ev, s_kind);
        if (kind == NULL && PyErr_Occurred())
            return NULL;
        if (kind != NULL && PyUnicode_CheckExact(kind)) {
            source = PyDict_GetItemWithError(kind_to_source, kind);
            if (source == NULL && PyErr_Occurred())
                return NULL;
            Py_XINCREF(source);
        }
    }
    if (source == NULL && (source = PyObject_CallOneArg(source_of, ev)) == NULL)
        return NULL;
    int named = PyObject_IsTrue(source); /* by_source.get(source_of(ev) or "") */
    PyObject *rules = named < 0 ? NULL : PyDict_GetItemWithError(by_source, named ? source : s_empty);
    Py_DECREF(source);
    return rules;
}

/* wanted(by_source, events, kind_to_source, source_of, passes[, positions]) -> list:
   DetectFilter.wanted, or with `positions` true DetectFilter.wanted_positions. Per event
   and rule: the guards, then the sufficient conditions, and only then the rule. */
static PyObject *
wanted(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if ((nargs != 5 && nargs != 6) || !PyDict_CheckExact(args[0]) || !PyDict_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "wanted(by_source: dict, events, kind_to_source: dict, source_of, passes[, positions])");
        return NULL;
    }
    PyObject *by_source = args[0], *kind_to_source = args[2], *source_of = args[3], *py_passes = args[4];
    int positions = nargs == 6 ? PyObject_IsTrue(args[5]) : 0;
    if (positions < 0)
        return NULL;
    PyObject *it = PyObject_GetIter(args[1]), *out = PyList_New(0), *ev = NULL;
    Py_ssize_t index = -1;
    if (it == NULL || out == NULL)
        goto error;
    while ((ev = PyIter_Next(it)) != NULL) {
        index++;
        PyObject *rules = rules_of(ev, by_source, kind_to_source, source_of);
        if (rules == NULL && PyErr_Occurred())
            goto error;
        if (rules != NULL) {
            Py_INCREF(rules); /* a rule's accepts runs Python: hold the list */
            PyObject *seq = PySequence_Fast(rules, "the rules of a source must be a sequence");
            Py_DECREF(rules);
            if (seq == NULL)
                goto error;
            int take = 0;
            for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && !take; i++) {
                PyObject *entry = PySequence_Fast_GET_ITEM(seq, i), *guards, *sure, *rule;
                if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 3) {
                    PyErr_SetString(PyExc_TypeError, "a source's rules must be (guards, sufficient, rule) triples");
                    take = -1;
                    break;
                }
                guards = PyTuple_GET_ITEM(entry, 0);
                sure = PyTuple_GET_ITEM(entry, 1);
                rule = PyTuple_GET_ITEM(entry, 2);
                int pass = PyObject_IsTrue(guards);
                if (pass > 0)
                    pass = guards_pass(guards, ev, py_passes);
                else if (pass == 0)
                    pass = 1; /* no guards */
                if (pass < 0) {
                    take = -1;
                    break;
                }
                if (!pass)
                    continue;
                take = sure_holds(sure, ev);
                if (take != 0)
                    break; /* taken without asking the rule, or an error */
                PyObject *r = PyObject_CallMethodOneArg(rule, s_accepts, ev);
                if (r == NULL) {
                    take = -1;
                    break;
                }
                take = PyObject_IsTrue(r);
                Py_DECREF(r);
            }
            Py_DECREF(seq);
            if (take < 0)
                goto error;
            if (take) {
                PyObject *found = positions ? PyLong_FromSsize_t(index) : Py_NewRef(ev);
                int failed = found == NULL || PyList_Append(out, found) < 0;
                Py_XDECREF(found);
                if (failed)
                    goto error;
            }
        }
        Py_CLEAR(ev);
    }
    if (PyErr_Occurred())
        goto error;
    Py_DECREF(it);
    return out;
error:
    Py_XDECREF(ev);
    Py_XDECREF(it);
    Py_XDECREF(out);
    return NULL;
}

/* holds(alternatives, item) -> bool: sufficient.holds */
static PyObject *
holds(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "holds(alternatives, item)");
        return NULL;
    }
    int r = sure_holds(args[0], args[1]);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

/* passes(guards, item, python_passes) -> bool: guards.passes */
static PyObject *
passes(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "passes(guards, item, python_passes)");
        return NULL;
    }
    int r = guards_pass(args[0], args[1], args[2]);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

static PyMethodDef methods[] = {
    {"wanted", (PyCFunction)(void (*)(void))wanted, METH_FASTCALL,
     "wanted(by_source, events, kind_to_source, source_of, passes[, positions]): DetectFilter.wanted"},
    {"passes", (PyCFunction)(void (*)(void))passes, METH_FASTCALL,
     "passes(guards, item, python_passes): guards.passes"},
    {"holds", (PyCFunction)(void (*)(void))holds, METH_FASTCALL,
     "holds(alternatives, item): sufficient.holds"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_routing", "The rule pre-filter of ingest (DetectFilter.wanted) in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__routing(void)
{
    if ((s_kind = PyUnicode_InternFromString("kind")) == NULL
        || (s_lower = PyUnicode_InternFromString("lower")) == NULL
        || (s_empty = PyUnicode_InternFromString("")) == NULL
        || (s_accepts = PyUnicode_InternFromString("accepts")) == NULL)
        return NULL;
    return PyModule_Create(&module);
}
