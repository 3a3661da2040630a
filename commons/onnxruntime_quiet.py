"""onnxruntime, loaded with its telemetry switched off: import it from here.

onnxruntime's Linux build keeps a device id and an event database under
``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` in every process that opens a session, unless
``ORT_DISABLE_TELEMETRY`` is set before the library loads (it is read once, when it loads; set
later, it changes nothing). The command line sets it first thing, but a process that never ran it
(an MLflow pyfunc load of a registered model, a Dagster run worker, a notebook) loads onnxruntime
through our modules alone; importing it from here sets the opt-outs
(:func:`commons.settings.apply_library_opt_outs`) first in those too.
"""

from commons.settings import apply_library_opt_outs

apply_library_opt_outs()

import onnxruntime  # noqa: E402  (after the opt-outs, on purpose)

__all__ = ["onnxruntime"]
