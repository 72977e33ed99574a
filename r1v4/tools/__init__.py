"""R1V4's own tools, run by the client where no server runs them (self-hosted servers, plans).

On the hosted API a server-side harness runs R1V4's tools and streams the whole trajectory. An
inference server (vLLM, SGLang, llama.cpp) only generates: the model stops at its first
``</tool_call>`` and waits for an observation. :class:`R1V4Tools` runs that call:

* ``code``: Python in a sandbox (:class:`BubblewrapSandbox`, Linux; another executor through
  the :class:`CodeExecutor` protocol), the conversation's images in its working directory as
  ``image_0.png``, ``image_1.png``, … (:data:`DEFAULT_IMAGE_NAME`; also opened as ``img`` and
  ``images``), its output and the images it saves returned as the observation
  ``{"result": …, "type": "code", "images": [data URIs]}``;
* ``text_search``, ``image_search``, ``web_content``: your backends (plain callables, sync or
  async; the LangChain and LlamaIndex adapters turn a framework tool into one), their results
  in the shapes of R1V4's published transcripts.

Each run gives a :class:`ToolResult`: the observation text, the images (:class:`ToolImage`), and
the events a hosted trajectory with that call parses into (``ServerToolCall``,
``GeneratedImage``, ``ServerToolResult``), so a reply continued by the client has the shape of
a hosted one.

:class:`PlanRunner` runs a planner's plan (``skywork/r1v4-vl-planner-lite``): each step with the
tool it names, R1V4's own or yours, each outcome a :class:`StepResult` (a failed step is
reported, never hidden; :data:`OnFailure` says whether the later steps run).

Modules: ``_toolset`` (:class:`R1V4Tools`), ``_results``, ``_observations``, ``_shapes``
(backend answers -> observation shapes), ``_backends``, ``_inputs`` (the conversation's images
and their names), ``_executor`` (the protocol), ``_limits``, ``_process_executor`` (the run
both executors below share), ``_bwrap``, ``_seccomp``, ``_unsandboxed``, ``_workspace``,
``_process``, ``_outcome``, ``_launcher``, ``_sandbox_main`` (the program run inside) and
``_follow_up`` (the observation message a continued reply sends).
"""

from r1v4._errors import SandboxUnavailableError
from r1v4.tools._backends import Backend
from r1v4.tools._bwrap import BubblewrapSandbox
from r1v4.tools._executor import (
    AsyncCodeExecutor,
    CodeExecutor,
    CodeFile,
    CodeJob,
    CodeOutcome,
    RunStatus,
)
from r1v4.tools._follow_up import observation_message
from r1v4.tools._inputs import DEFAULT_IMAGE_NAME, ConversationImage
from r1v4.tools._launcher import PYTHON_FLAGS, launcher_input, launcher_source
from r1v4.tools._limits import CodeLimits
from r1v4.tools._plans import (
    DEFAULT_ANSWER_TOOLS,
    OnFailure,
    PlanResult,
    PlanRunner,
    PlanTool,
    StepReason,
    StepResult,
    StepStatus,
)
from r1v4.tools._results import ToolImage, ToolResult, ToolStatus
from r1v4.tools._toolset import TOOL_NAMES, R1V4Tools
from r1v4.tools._unsandboxed import UnsandboxedExecutor

__all__ = [
    "DEFAULT_ANSWER_TOOLS",
    "DEFAULT_IMAGE_NAME",
    "PYTHON_FLAGS",
    "TOOL_NAMES",
    "AsyncCodeExecutor",
    "Backend",
    "BubblewrapSandbox",
    "CodeExecutor",
    "CodeFile",
    "CodeJob",
    "CodeLimits",
    "CodeOutcome",
    "ConversationImage",
    "OnFailure",
    "PlanResult",
    "PlanRunner",
    "PlanTool",
    "R1V4Tools",
    "RunStatus",
    "SandboxUnavailableError",
    "StepReason",
    "StepResult",
    "StepStatus",
    "ToolImage",
    "ToolResult",
    "ToolStatus",
    "UnsandboxedExecutor",
    "launcher_input",
    "launcher_source",
    "observation_message",
]
