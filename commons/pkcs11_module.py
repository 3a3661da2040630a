"""The process's one loaded PKCS#11 module per library path, and the lock every call into it holds.

PyKCS11 initialises a module with ``C_Initialize(NULL_PTR)``. By PKCS#11 v2.40 §5.4 (``C_Initialize``,
``CK_C_INITIALIZE_ARGS``) a NULL argument tells the module that the application will not call it
from several threads at once, and SoftHSM2 takes it at its word: it then disables its own mutexes
(``MutexFactory::disable`` in ``SoftHSM::C_Initialize``). Two threads of one process signing at
once, say an audit checkpoint and a token, or this project's session and model-signing's, would
then race inside the module's heap. :data:`PKCS11_LOCK` keeps that promise: every PKCS#11 call
of this process, ours and model-signing's, is made holding it.

A module also stays loaded for the life of the process. PyKCS11 finalises and unloads a module
when its last library object is collected. A later load initialises it again, and each
initialisation of SoftHSM2 registers a cleanup with OpenSSL that points into the code the
unload removed (SoftHSMv2 issue #567).
"""

from __future__ import annotations

import threading

import PyKCS11

PKCS11_LOCK = threading.RLock()
"""Held by every PKCS#11 call of the process; re-entrant, as signing finds its key again under it."""

_loaded: dict[str, PyKCS11.PyKCS11Lib] = {}


def loaded_module(module_path: str) -> PyKCS11.PyKCS11Lib:
    """The PyKCS11 library object of ``module_path``, loaded and initialised on first use and
    kept for the life of the process.

    Raises:
        PyKCS11.PyKCS11Error: the shared library cannot be loaded or refuses ``C_Initialize``.
    """
    with PKCS11_LOCK:
        if module_path not in _loaded:
            lib = PyKCS11.PyKCS11Lib()
            lib.load(module_path)
            _loaded[module_path] = lib
        return _loaded[module_path]
