# SPDX-License-Identifier: MIT
# app.py: the Python example function (runtime python3.11, handler app.handler).
# Greets the event's "name" with $GREETING, counts the invocations this execution environment
# has served in a module-level counter (it restarts at 1 after a cold start), and logs one line.
import os

invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    greeting = os.environ.get("GREETING", "Hello")
    print(f"hello-python: request {context.aws_request_id} for {name} (invocation {invocations})")
    return {
        "message": f"{greeting}, {name}!",
        "invocations": invocations,
        "requestId": context.aws_request_id,
    }
