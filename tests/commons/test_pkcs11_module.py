"""The process's PKCS#11 contract with SoftHSM2, on the session's real token: one caller at a
time (PyKCS11 initialises modules with ``C_Initialize(NULL_PTR)``, so SoftHSM2 runs without its
own mutexes) and one initialisation per process."""

from __future__ import annotations

import threading

import PyKCS11
import pytest
from release_keys import session_signer

from commons.key_store import key_store
from commons.pkcs11_keys import generate_key
from commons.pkcs11_module import PKCS11_LOCK, loaded_module
from commons.settings import Settings
from commons.softhsm import SOFTHSM_MODULE, softhsm_available

pytestmark = pytest.mark.skipif(not softhsm_available(),
                                reason="SoftHSM2 is not installed (Debian package softhsm2; .ci/run installs it)")

WAIT_S = 0.5


def _runs_only_once_the_lock_is_free(call) -> None:
    """Start ``call`` in a thread while this thread holds the process's PKCS#11 lock: it must not
    finish until the lock is let go, then it must finish."""
    done = threading.Event()
    failed: list[BaseException] = []

    def run():
        try:
            call()
        except BaseException as err:  # reported by the assertion below
            failed.append(err)
        done.set()

    with PKCS11_LOCK:
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        assert not done.wait(WAIT_S), "a PKCS#11 call ran while another thread held the lock"
    assert done.wait(60) and not failed, failed
    worker.join()


def test_signing_with_a_token_key_waits_for_the_lock():
    _, key = generate_key(key_store(Settings.from_env()), "lock-test")
    signature = []
    _runs_only_once_the_lock_is_free(lambda: signature.append(key.sign(b"checkpoint")))
    key.public_key().verify(signature[0], b"checkpoint")


def test_model_signings_release_signer_waits_for_the_lock_too(tmp_path):
    signer = session_signer()
    if signer.kind != "pkcs11":
        pytest.skip("the session's release key is a PEM file")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07" * 64)
    _runs_only_once_the_lock_is_free(lambda: signer.sign(tmp_path))
    assert (tmp_path / "model.sig").stat().st_size > 0


def test_the_module_stays_initialised_when_other_library_objects_go():
    pinned = loaded_module(str(SOFTHSM_MODULE))
    other = PyKCS11.PyKCS11Lib()
    other.load(str(SOFTHSM_MODULE))
    other.unload()  # the last user but ours: PyKCS11 would C_Finalize and dlclose here
    assert loaded_module(str(SOFTHSM_MODULE)) is pinned
    with PKCS11_LOCK:
        assert pinned.getSlotList(tokenPresent=True)  # still initialised: no CKR_CRYPTOKI_NOT_INITIALIZED
