/* Helpers the ingest accelerators share (_jsonlog.c, _hotloop.c, _eventjson.c, _messages.c):
 * one copy of each, included by each module (every module is its own extension). */
#ifndef SLUICE_SHARED_H
#define SLUICE_SHARED_H

#include <Python.h>

/* dict(zip(keys, values)) of n items, sized for them up front: a new reference */
static inline PyObject *
dict_of(PyObject *const *keys, PyObject *const *values, Py_ssize_t n)
{
#if PY_VERSION_HEX < 0x030D0000
    PyObject *d = _PyDict_NewPresized(n);
#else
    PyObject *d = PyDict_New();
#endif
    for (Py_ssize_t i = 0; d != NULL && i < n; i++)
        if (PyDict_SetItem(d, keys[i], values[i]) < 0)
            Py_CLEAR(d);
    return d;
}

/* the items of `extra` whose keys `d` lacks, added to it in their order (what enrichment
   does to an event's attributes: the event's own values win) */
static inline int
fill_missing(PyObject *d, PyObject *extra)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(extra, &pos, &key, &value))
        if (PyDict_SetDefault(d, key, value) == NULL)
            return -1;
    return 0;
}

/* The slot of a partition in a per-partition cache of n slots: its number modulo n
   (the records of a batch interleave a few partitions); any slot for what is no int. */
static inline int
partition_slot(PyObject *partition, int n)
{
    long number = PyLong_CheckExact(partition) ? PyLong_AsLong(partition) : 0;
    if (number == -1 && PyErr_Occurred())
        PyErr_Clear();
    return (int)((unsigned long)number % (unsigned long)n);
}

/* Whether two topics (or two partitions) are the same: consumers hand out a new str per
   record, so identity alone rarely holds. 0 for anything but an exact str or int. */
static inline int
same_coordinate(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b))
        return PyUnicode_Compare(a, b) == 0;
    if (PyLong_CheckExact(a) && PyLong_CheckExact(b))
        return PyObject_RichCompareBool(a, b, Py_EQ) == 1;
    return 0;
}

#endif
