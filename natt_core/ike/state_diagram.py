"""The state diagram of the one transition table (ike/states.py), drawn from the tables themselves:
Graphviz DOT text for the Reference page and docs/ENGINE.md (`python -m natt_core.ike.states`)."""
from __future__ import annotations

from typing import Mapping

from .states import STARTS_NEXT, TABLES, ExchangeTable, Msg, Role, State

#: Node colours by the role whose side of the exchange a state belongs to (both: shared).
ROLE_COLOURS = {Role.INITIATOR: "#dbeafe", Role.RESPONDER: "#ffedd5", None: "#dcfce7"}


def role_of(table: ExchangeTable, state: State) -> Role | None:
    """The role whose path through the table reaches this state (None: both roles' paths do)."""
    roles = []
    for role, first in table.begins.items():
        seen, todo = {first}, [first]
        while todo:
            here = todo.pop()
            for (s, _), nxt in table.transitions.items():
                if s is here and nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        if state in seen:
            roles.append(role)
    return roles[0] if len(roles) == 1 else None


def dot(tables: tuple[ExchangeTable, ...] | None = None,
        starts: Mapping[tuple[State, Msg], ExchangeTable] | None = None, name: str = "IKEv1") -> str:
    """Graphviz DOT text of the state tables, drawn from the tables themselves (nothing by hand):
    one cluster per exchange table, one solid edge per transition, one dashed edge per
    `STARTS_NEXT` entry. The text is data; rendering it is the caller's business."""
    tables = TABLES[name] if tables is None else tables
    starts = STARTS_NEXT if starts is None else starts
    out = [f"digraph {name} {{", "  rankdir=LR;",
           '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
           '  edge [fontname="Helvetica", fontsize=10];']
    placed: set[State] = set()
    for table in tables:
        cluster = "".join(c if c.isalnum() else "_" for c in f"{table.protocol}_{table.name}").lower()
        out += [f"  subgraph cluster_{cluster} {{", f'    label="{table.protocol} {table.name} ({table.rfc})";']
        for state in dict.fromkeys(s for key, nxt in table.transitions.items() for s in (key[0], nxt)):
            if state not in placed:
                placed.add(state)
                role = role_of(table, state)
                out.append(f'    {state.name} [fillcolor="{ROLE_COLOURS[role]}", '
                           f'tooltip="{role.value if role else "both roles"}"];')
        out.append("  }")
    for table in tables:
        for (state, msg), nxt in table.transitions.items():
            sender = table.sender(msg)
            tip = (f"sent by the {sender.value}" if sender else
                   "the local decision to begin" if msg.value == "start" else "a local decision")
            out.append(f'  {state.name} -> {nxt.name} [label="{msg.value}", tooltip="{tip}"];')
    # in the tables' own order, so the text does not depend on how `starts` was filled
    for owner, (state, msg) in ((t, key) for t in tables for key in t.transitions if key in starts):
        follow = starts[(state, msg)]
        role = role_of(owner, state)
        nxt = owner.transitions[(state, msg)]
        out.append(f'  {nxt.name} -> {follow.begins[role].name} [style=dashed, '
                   f'label="{role.value} starts {follow.name} after {msg.value}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def diagrams() -> str:
    """Every protocol's diagram, one DOT graph each (what the Reference page and docs/ENGINE.md show)."""
    return "".join(dot(name=name) for name in TABLES)
