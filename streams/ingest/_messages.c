/* Where a consumed batch's records and events come from, in C.

   streams/runtime.py `_unpack_python` in C: a consumed batch of confluent_kafka Messages
   -> (records, errors, counts, top), equal to the Python reference:
   - records: (value, topic, partition, offset) of each message without an error, in order;
   - errors: the error of each message that has one, in order;
   - counts: messages without an error per topic;
   - top: per (topic, partition), the highest offset among them.
   Ten thousand messages a batch, each asked five things: the methods are called through
   their descriptors, with no interpreter between them. Anything but an exact Message in a
   list raises TypeError before any output is made; runtime.py runs the Python version then. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_shared.h"

static PyTypeObject *message_type;
static PyObject *m_error, *m_value, *m_topic, *m_partition, *m_offset;

static inline PyObject *
ask(PyObject *method, PyObject *msg)
{
    return PyObject_Vectorcall(method, &msg, 1, NULL);
}

/* top[(topic, partition)] = offset when it is the highest so far */
static int
raise_top(PyObject *top, PyObject *topic, PyObject *partition, PyObject *offset)
{
    PyObject *key = PyTuple_Pack(2, topic, partition);
    if (key == NULL)
        return -1;
    PyObject *seen = PyDict_GetItemWithError(top, key);
    int rc = 0;
    if (seen == NULL) {
        rc = PyErr_Occurred() ? -1 : PyDict_SetItem(top, key, offset);
    } else {
        int higher = PyObject_RichCompareBool(offset, seen, Py_GE);
        rc = higher < 0 ? -1 : higher ? PyDict_SetItem(top, key, offset) : 0;
    }
    Py_DECREF(key);
    return rc;
}

/* counts[topic] += n */
static int
add_count(PyObject *counts, PyObject *topic, long n)
{
    PyObject *had = PyDict_GetItemWithError(counts, topic);
    if (had == NULL && PyErr_Occurred())
        return -1;
    long next = had == NULL ? n : PyLong_AsLong(had) + n;
    PyObject *value = PyLong_FromLong(next);
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItem(counts, topic, value);
    Py_DECREF(value);
    return rc;
}

/* A run of messages of one (topic, partition), as a batch holds them: its count and
   highest offset go into `counts` and `top` once, when the run ends. */
typedef struct {
    PyObject *topic, *partition, *top; /* owned, NULL before the first message */
    long n;
} Run;

static int
end_run(Run *run, PyObject *counts, PyObject *top)
{
    int rc = 0;
    if (run->topic != NULL) {
        rc = add_count(counts, run->topic, run->n);
        if (rc == 0)
            rc = raise_top(top, run->topic, run->partition, run->top);
    }
    Py_CLEAR(run->topic);
    Py_CLEAR(run->partition);
    Py_CLEAR(run->top);
    run->n = 0;
    return rc;
}

/* extend the run with a message, or end it and start another: 0, or -1 on error */
static int
add_to_run(Run *run, PyObject *topic, PyObject *partition, PyObject *offset, PyObject *counts, PyObject *top)
{
    if (run->topic == NULL || !same_coordinate(topic, run->topic) || !same_coordinate(partition, run->partition)) {
        if (end_run(run, counts, top) < 0)
            return -1;
        Py_INCREF(topic);
        Py_INCREF(partition);
        run->topic = topic;
        run->partition = partition;
    }
    run->n++;
    int higher = run->top == NULL ? 1 : PyObject_RichCompareBool(offset, run->top, Py_GE);
    if (higher > 0) {
        Py_INCREF(offset);
        Py_XSETREF(run->top, offset);
    }
    return higher < 0 ? -1 : 0;
}

/* Whether `list` is a list whose every item passes `ok`; else TypeError `what` (which
   the Python side takes as "let the reference decide"). */
static int
list_of(PyObject *list, int (*ok)(PyObject *), const char *what)
{
    if (PyList_CheckExact(list)) {
        Py_ssize_t i = 0, n = PyList_GET_SIZE(list);
        while (i < n && ok(PyList_GET_ITEM(list, i)))
            i++;
        if (i == n)
            return 1;
    }
    PyErr_SetString(PyExc_TypeError, what);
    return 0;
}

static int
is_message(PyObject *o)
{
    return Py_TYPE(o) == message_type;
}

static int
is_source(PyObject *o)
{
    return PyTuple_CheckExact(o) && PyTuple_GET_SIZE(o) >= 2;
}

static PyObject *
unpack(PyObject *Py_UNUSED(module), PyObject *msgs)
{
    if (!list_of(msgs, is_message, "unpack takes a list of Messages"))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(msgs);
    PyObject *records = PyList_New(0), *errors = PyList_New(0), *counts = PyDict_New(), *top = PyDict_New();
    PyObject *result = NULL;
    Run run = {NULL, NULL, NULL, 0};
    if (records == NULL || errors == NULL || counts == NULL || top == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *msg = PyList_GET_ITEM(msgs, i);
        PyObject *err = ask(m_error, msg);
        if (err == NULL)
            goto done;
        if (err != Py_None) {
            int rc = PyList_Append(errors, err);
            Py_DECREF(err);
            if (rc < 0)
                goto done;
            continue;
        }
        Py_DECREF(err);
        PyObject *value = ask(m_value, msg), *topic = ask(m_topic, msg), *partition = ask(m_partition, msg),
                 *offset = ask(m_offset, msg);
        PyObject *record = NULL;
        if (value != NULL && topic != NULL && partition != NULL && offset != NULL)
            record = PyTuple_Pack(4, value, topic, partition, offset);
        int rc = record == NULL ? -1 : PyList_Append(records, record);
        if (rc == 0)
            rc = add_to_run(&run, topic, partition, offset, counts, top);
        Py_XDECREF(record);
        Py_XDECREF(value);
        Py_XDECREF(topic);
        Py_XDECREF(partition);
        Py_XDECREF(offset);
        if (rc < 0)
            goto done;
    }
    if (end_run(&run, counts, top) == 0)
        result = PyTuple_Pack(4, records, errors, counts, top);
done:
    Py_XDECREF(run.topic);
    Py_XDECREF(run.partition);
    Py_XDECREF(run.top);
    Py_XDECREF(records);
    Py_XDECREF(errors);
    Py_XDECREF(counts);
    Py_XDECREF(top);
    return result;
}

/* streams/runtime.py `_partition_runs_python`: the runs of consecutive events of one
   (topic, partition) in a batch's event sources, as (topic, partition, start, end). The
   same runs for str topics and int partitions, as consumers give; equal values of other
   types may start a new run (of the same partition), which aggregates the same. */
static PyObject *
partition_runs(PyObject *Py_UNUSED(module), PyObject *sources)
{
    if (!list_of(sources, is_source, "partition_runs takes a list of source tuples"))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(sources);
    PyObject *runs = PyList_New(0);
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 1; runs != NULL && i <= n; i++) {
        PyObject *first = PyList_GET_ITEM(sources, start);
        if (i < n) {
            PyObject *src = PyList_GET_ITEM(sources, i);
            if (same_coordinate(PyTuple_GET_ITEM(src, 0), PyTuple_GET_ITEM(first, 0)) &&
                same_coordinate(PyTuple_GET_ITEM(src, 1), PyTuple_GET_ITEM(first, 1)))
                continue;
        }
        PyObject *run = Py_BuildValue("(OOnn)", PyTuple_GET_ITEM(first, 0), PyTuple_GET_ITEM(first, 1), start, i);
        if (run == NULL || PyList_Append(runs, run) < 0)
            Py_CLEAR(runs);
        Py_XDECREF(run);
        start = i;
    }
    return runs;
}

static PyMethodDef methods[] = {
    {"unpack", unpack, METH_O, "unpack(msgs): (records, errors, counts, top) of a consumed batch"},
    {"partition_runs", partition_runs, METH_O, "partition_runs(sources): [(topic, partition, start, end)]"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_messages", "streams.runtime's unpacking of a consumed batch, in C.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__messages(void)
{
    PyObject *ck = PyImport_ImportModule("confluent_kafka");
    if (ck == NULL)
        return NULL;
    PyObject *type = PyObject_GetAttrString(ck, "Message");
    Py_DECREF(ck);
    if (type == NULL)
        return NULL;
    if (!PyType_Check(type)) {
        Py_DECREF(type);
        PyErr_SetString(PyExc_ImportError, "confluent_kafka.Message is not a type");
        return NULL;
    }
    message_type = (PyTypeObject *)type;
    m_error = PyObject_GetAttrString(type, "error");
    m_value = PyObject_GetAttrString(type, "value");
    m_topic = PyObject_GetAttrString(type, "topic");
    m_partition = PyObject_GetAttrString(type, "partition");
    m_offset = PyObject_GetAttrString(type, "offset");
    if (m_error == NULL || m_value == NULL || m_topic == NULL || m_partition == NULL || m_offset == NULL)
        return NULL;
    return PyModule_Create(&module);
}
