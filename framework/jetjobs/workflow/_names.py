"""Which names a workflow, its steps and its versions may have.

Names become NATS subject tokens and KV key parts, so they are limited to characters
that need no escaping there: letters, digits, ``_`` and ``-``. A version may also hold
dots (``"1.0"``); :func:`version_token` turns it into a token.
"""

from __future__ import annotations

import math
import re

from ._errors import WorkflowDefinitionError

STEP_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
WORKFLOW_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")
VERSION_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,31}")
RETRY_ON_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
COMPENSATE_PREFIX = "compensate-"
TASK_NAME_MAX = 200

_ESCAPES = {"_": "_5F", ".": "_2E"}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}


def check_step_name(name: object, field: str = "name") -> str:
    if not isinstance(name, str) or not STEP_NAME_RE.fullmatch(name):
        raise WorkflowDefinitionError(f"invalid step name {name!r}: use 1-64 letters, digits, '_' or '-'", field=field)
    return name


def check_workflow_name(name: object) -> str:
    if not isinstance(name, str) or not WORKFLOW_NAME_RE.fullmatch(name):
        raise WorkflowDefinitionError(f"invalid workflow name {name!r}: use 1-100 letters, digits, '_' or '-'")
    return name


def check_version(version: object) -> str:
    if not isinstance(version, str) or not VERSION_RE.fullmatch(version):
        raise WorkflowDefinitionError(
            f"invalid version {version!r}: use 1-32 letters, digits, '_', '-' or '.', not starting with '.'",
            field="version",
        )
    return version


def check_task_name(task: object) -> str:
    if not isinstance(task, str) or not task or len(task) > TASK_NAME_MAX or any(c.isspace() for c in task):
        raise WorkflowDefinitionError(
            f"invalid task name {task!r}: use 1-{TASK_NAME_MAX} characters without spaces", field="task"
        )
    return task


def version_token(version: str) -> str:
    """A subject/KV token for ``version``, different for every different version.

    ``_`` is the escape character: ``.`` becomes ``_2E`` and ``_`` itself ``_5F`` (their
    hex codes, as in URL encoding), letters, digits and ``-`` stay. The mapping is
    reversible (:func:`version_from_token`), so two versions never share a token.

    >>> version_token("1.0"), version_token("1_0"), version_token("2024-05")
    ('1_2E0', '1_5F0', '2024-05')
    """
    return "".join(_ESCAPES.get(c, c) for c in check_version(version))


def version_from_token(token: str) -> str:
    """The version whose :func:`version_token` is ``token``.

    >>> version_from_token("1_2E0")
    '1.0'
    """
    out: list[str] = []
    i = 0
    while i < len(token):
        if token[i] == "_":
            escape = token[i : i + 3]
            if escape not in _UNESCAPES:
                raise ValueError(f"not a version token: {token!r}")
            out.append(_UNESCAPES[escape])
            i += 3
        else:
            out.append(token[i])
            i += 1
    return "".join(out)


def compensation_name(step: str) -> str:
    """The name of the step that compensates ``step``."""
    return f"{COMPENSATE_PREFIX}{step}"


def check_seconds(value: object, key: str) -> float | None:
    """``value`` as float seconds (> 0), or None; ``key`` names the field in the error."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise WorkflowDefinitionError(f"{key} must be a number of seconds > 0, not {value!r}", field=key)
    return float(value)
