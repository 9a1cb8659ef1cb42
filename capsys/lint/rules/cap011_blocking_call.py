"""CAP011 blocking-call-in-async-behaviour: a blocking call inside an ``async`` behaviour.

## What it does
Finds calls that block the thread (``time.sleep``, ``requests.*`` and the request
methods of a ``requests.Session``/``httpx.Client``, ``urllib.request.urlopen``, blocking socket calls, ``subprocess.run`` and friends,
``open(...)``, ``Path.read_text``-style file I/O) written directly in the body of an
``async def`` behaviour. Calls inside a nested ``def`` or ``lambda`` are not reported:
they may well be handed to a thread.

## Why is this bad?
An async behaviour shares its worker's event loop with other agents: while the call
blocks, none of them runs.

## Example
```python
class Poller(Agent):
    @behaviour
    async def poll(self) -> None:
        time.sleep(1.0)
```

## Use instead
```python
        await anyio.sleep(1.0)
```
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from capsys.diagnostics import format_message
from capsys.lint.context import AgentClass, FileContext, Site
from capsys.lint.model import Finding
from capsys.lint.rules._common import agent_fields, agent_method, bound_around, self_name

CODE = "CAP011"

_SLEEP = "use await anyio.sleep(...)"
_HTTP = "use an async HTTP client, or anyio.to_thread.run_sync on immutable arguments"
_PROCESS = "use await anyio.run_process(...)"
_FILE = "use anyio.open_file(...) / anyio.Path, or anyio.to_thread.run_sync"
_SOCKET = "use anyio.connect_tcp(...) and its async socket streams"
_THREAD = "move the call to a thread with anyio.to_thread.run_sync"

_FUNCTIONS: dict[str, str] = {
    "time.sleep": _SLEEP,
    "urllib.request.urlopen": _HTTP,
    "socket.create_connection": _SOCKET,
    "socket.getaddrinfo": "use await anyio.getaddrinfo(...)",
    "socket.gethostbyname": "use await anyio.getaddrinfo(...)",
    "socket.gethostbyname_ex": "use await anyio.getaddrinfo(...)",
    "socket.gethostbyaddr": "use await anyio.getnameinfo(...)",
    "subprocess.run": _PROCESS,
    "subprocess.call": _PROCESS,
    "subprocess.check_call": _PROCESS,
    "subprocess.check_output": _PROCESS,
    "subprocess.getoutput": _PROCESS,
    "subprocess.getstatusoutput": _PROCESS,
    "os.system": _PROCESS,
    "os.wait": _PROCESS,
    "os.waitpid": _PROCESS,
    "builtins.open": _FILE,
    "builtins.input": _THREAD,
    "io.open": _FILE,
    "shutil.copy": _THREAD,
    "shutil.copy2": _THREAD,
    "shutil.copyfile": _THREAD,
    "shutil.copytree": _THREAD,
    "shutil.rmtree": _THREAD,
    "shutil.move": _THREAD,
    "select.select": _THREAD,
    "urllib.request.urlretrieve": _HTTP,
}
_REQUESTS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})
_PATH_METHODS = frozenset(
    {"read_text", "read_bytes", "write_text", "write_bytes", "open", "touch", "unlink"}
)
_PATH_CLASSES = frozenset({"pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath"})
_SOCKET_METHODS = frozenset(
    {"recv", "recv_into", "recvfrom", "send", "sendall", "sendto", "accept", "connect", "makefile"}
)
_SOCKET_CLASSES = frozenset({"socket.socket", "socket.create_connection"})
# Synchronous HTTP sessions: their request methods block like requests.get().
_SESSION_CLASSES = {
    "requests.Session": "requests.Session",
    "requests.session": "requests.Session",
    "requests.sessions.Session": "requests.Session",
    "httpx.Client": "httpx.Client",
}


def _blocking_function(ctx: FileContext, site: Site[cst.Call]) -> tuple[str, str] | None:
    call = site.node
    qualified = ctx.names.qualified(call.func)
    if qualified is None:
        return None
    head: cst.BaseExpression = call.func
    while isinstance(head, cst.Attribute):
        head = head.value
    if isinstance(head, cst.Name) and bound_around(ctx, head.value, site, imports_too=False):
        return None  # `time = Clock(); time.sleep(1)`: a local, not the module
    hint = _FUNCTIONS.get(qualified)
    if hint is not None:
        return qualified.removeprefix("builtins."), hint
    module, _, attr = qualified.rpartition(".")
    if module in ("requests", "httpx") and attr in _REQUESTS:
        return qualified, _HTTP
    return None


def _receiver_class(
    ctx: FileContext, receiver: cst.BaseExpression, function: cst.FunctionDef, agent: AgentClass
) -> str | None:
    if isinstance(receiver, cst.Call):
        return ctx.names.qualified(receiver.func)
    if isinstance(receiver, cst.Name):
        return ctx.evident_class(receiver, function) or _with_class(ctx, receiver, function)
    if (
        isinstance(receiver, cst.Attribute)
        and isinstance(receiver.value, cst.Name)
        and receiver.value.value == self_name(function)
    ):
        return _field_class(ctx, agent, receiver.attr.value)
    return None


def _field_class(ctx: FileContext, agent: AgentClass, field: str) -> str | None:
    """The class of ``self.<field>`` when every declaration and assignment of it in the
    class agrees: annotated ``C`` (in the class body or on ``self``), or assigned
    ``C(...)`` or a parameter annotated ``C``. None when unsure."""
    found: set[str | None] = set()
    body = agent.node.body.body if isinstance(agent.node.body, cst.IndentedBlock) else ()
    for stmt in body:  # a class-level declaration: `sock: socket.socket`
        for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ():
            if (
                isinstance(small, cst.AnnAssign)
                and isinstance(small.target, cst.Name)
                and small.target.value == field
            ):
                found.add(_annotation_class(ctx, small.annotation.annotation))
    for method, node in agent_fields(ctx, agent).get(field, []):
        if isinstance(node, cst.AnnAssign):
            found.add(_annotation_class(ctx, node.annotation.annotation))
        elif (
            isinstance(node, cst.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0].target, cst.Attribute)
        ):
            value = node.value
            if isinstance(value, cst.Call):
                found.add(ctx.names.qualified(value.func))
            elif isinstance(value, cst.Name):
                found.add(ctx.evident_class(value, method))
            else:
                return None
        else:
            return None
    if len(found) != 1:
        return None
    return found.pop()


def _annotation_class(ctx: FileContext, annotation: cst.BaseExpression) -> str | None:
    return (
        ctx.names.qualified(annotation)
        if isinstance(annotation, (cst.Name, cst.Attribute))
        else None
    )


def _with_class(ctx: FileContext, name: cst.Name, function: cst.FunctionDef) -> str | None:
    """The class of ``x`` bound only by ``with C(...) as x`` (a session, a socket: their
    ``__enter__`` returns the object itself)."""
    binds = ctx.bindings(function).get(name.value, [])
    found = {
        ctx.names.qualified(node.item.func)
        for node in binds
        if isinstance(node, cst.WithItem)
        and node.asname is not None
        and isinstance(node.asname.name, cst.Name)
        and isinstance(node.item, cst.Call)
    }
    if len(found) != 1 or len(binds) != 1 or ctx.param(function, name.value) is not None:
        return None
    return found.pop()


def _blocking_method(
    ctx: FileContext, call: cst.Call, function: cst.FunctionDef, agent: AgentClass
) -> tuple[str, str] | None:
    func = call.func
    if not isinstance(func, cst.Attribute):
        return None
    method = func.attr.value
    if method not in _PATH_METHODS and method not in _SOCKET_METHODS and method not in _REQUESTS:
        return None
    cls = _receiver_class(ctx, func.value, function, agent)
    session = _SESSION_CLASSES.get(cls or "")
    if session is not None and method in _REQUESTS:
        return f"{session}.{method}", _HTTP
    if cls in _PATH_CLASSES and method in _PATH_METHODS:
        return f"Path.{method}", _FILE
    if cls in _SOCKET_CLASSES and method in _SOCKET_METHODS:
        return f"socket.{method}", _SOCKET
    return None


def check(ctx: FileContext) -> Iterator[Finding]:
    for site in ctx.calls:
        found = agent_method(ctx, site)
        if found is None:
            continue
        agent, method = found
        behaviour = agent.behaviour(method)
        if behaviour is None or not behaviour.is_async or not site.scope.directly_in(method):
            continue
        blocking = _blocking_function(ctx, site) or _blocking_method(ctx, site.node, method, agent)
        if blocking is None:
            continue
        name, hint = blocking
        message = format_message(
            CODE, call=f"{name}()", owner=f"{agent.name}.{behaviour.name}", hint=hint
        )
        yield Finding(CODE, site.node, message)
