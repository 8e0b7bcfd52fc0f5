# SPDX-License-Identifier: MIT
# The sample project's function: greets, and says how many invokes its environment has
# answered (1: this one was a cold start).

INVOKES = 0


def handler(event, context):
    global INVOKES
    INVOKES += 1
    return {"message": f"Hello, {event.get('name', 'world')}!", "invokes": INVOKES}
