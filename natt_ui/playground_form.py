"""The playground's scenario form in Streamlit: inputs laid out by section, messages beside fields.

Values live in session state under "pg:f:<--set key>". Pressing Run (a form submit) checks the
whole form with natt_view.scenario_form.check; only a form with no message is stored as the
scenario to run, so a bad address, port or PSK, or an impossible combination, never starts a run.
"""
from __future__ import annotations

import streamlit as st

from natt_core.lab.presets import PRESETS, preset
from natt_view.scenario_form import BLANK as REQUIRED
from natt_ui.safe import plain
from natt_view.scenario_form import BLANK_BASE, FIELDS, SECTIONS, FormField, check, values_of

PREFIX = "pg"
BLANK = "blank"
#: what a topology does not use (a key, or a prefix ending in "."): the form hides these fields and
#: runs them at the starting scenario's values, so a blank form asks only for what the picture has
UNUSED = {
    "client-nat": ("address.server_private", "address.server_nat_public", "server.keepalive_interval", "nat2."),
    "server-nat": ("address.server", "nat."),
    "both-nat": ("address.server",),
    "double-nat": ("address.server_private", "address.server_nat_public", "server.keepalive_interval",
                   "nat2.forwards"),
}


def used(key: str, topology: str) -> bool:
    """Whether the field `key` matters in `topology`."""
    return not any(key == u or (u.endswith(".") and key.startswith(u)) for u in UNUSED.get(topology, ()))


def topology() -> str:
    return str(st.session_state.get(wkey("topology"), ""))


def wkey(key: str) -> str:
    return f"{PREFIX}:f:{key}"


def load(start: str, reset_step: bool = True) -> None:
    """Fill the form from a preset (and run it as it is) or blank it (and run nothing)."""
    base = BLANK_BASE if start == BLANK else start
    for key, value in values_of(preset(base), blank=start == BLANK).items():
        st.session_state[wkey(key)] = value
    st.session_state[f"{PREFIX}:base"] = base
    st.session_state[f"{PREFIX}:errors"] = {}
    st.session_state[f"{PREFIX}:ran"] = None if start == BLANK else ()
    if reset_step:
        st.session_state[f"{PREFIX}:run:step"] = 1


def load_link(sets: list[str]) -> None:
    """Apply `?set=key=value` lines of a shared link to the loaded form, then check and run it."""
    known = {f.key for f in FIELDS}
    for line in sets:
        key, sep, value = line.partition("=")
        if sep and key in known:
            st.session_state[wkey(key)] = value
    submit()


def is_secret(setting: str) -> bool:
    """A `--set` line that carries a pre-shared key or a PPP password: kept out of links (URLs end up
    in logs and chats)."""
    return setting.partition("=")[0].strip().endswith((".psk", ".ppp_password"))


def on_start_change() -> None:
    load(st.session_state[f"{PREFIX}:scenario"])


def submit() -> None:
    """Check the form; remember the settings to run, or the messages to show beside the fields."""
    base = st.session_state[f"{PREFIX}:base"]
    start = values_of(preset(base))
    values = {f.key: str(st.session_state.get(wkey(f.key), "")) if used(f.key, topology()) else start[f.key]
              for f in FIELDS}
    settings, errors = check(base, values)
    st.session_state[f"{PREFIX}:errors"] = errors
    st.session_state[f"{PREFIX}:ran"] = None if errors else settings
    st.session_state[f"{PREFIX}:run:step"] = 1


def _field(col, f: FormField, errors: dict[str, str]) -> None:
    with col:
        message = errors.get(f.key)
        if f.choices:
            current = st.session_state.get(wkey(f.key))
            if current not in f.choices:
                # a shared link asked for a value the list does not have: say which, then show a valid one
                if message is not None and current:
                    message = f"{current} is not on the list; {message}"
                    errors[f.key] = message
                st.session_state[wkey(f.key)] = f.choices[0]
            st.selectbox(f.label, f.choices, key=wkey(f.key), help=f.help or None)
        else:
            st.text_input(f.label, key=wkey(f.key), help=f.help or None,
                          placeholder="required" if f.key in REQUIRED else None)
        if message is not None:
            st.error(f"**{f.key}**: {plain(message, 300)}", icon=":material/error:")


def render_form() -> None:
    """The whole form; the Run button checks it (see `submit`)."""
    errors: dict[str, str] = st.session_state.get(f"{PREFIX}:errors", {})
    # outside the form, so that choosing a topology redraws the form with only the fields it uses
    _field(st.container(), next(f for f in FIELDS if f.key == "topology"), errors)
    now = topology()
    with st.form(f"{PREFIX}:form", border=True, enter_to_submit=False):
        for title, fields in SECTIONS.items():
            shown = [f for f in fields if f.key != "topology" and used(f.key, now)]
            if not shown:
                continue
            st.markdown(f"**{title}**")
            cols = st.columns(3, gap="medium")
            for i, f in enumerate(shown):
                _field(cols[i % 3], f, errors)
        if "_form" in errors:
            st.error(f"This combination cannot run: {plain(errors['_form'], 300)}")
        st.form_submit_button("Run this scenario", type="primary", icon=":material/play_arrow:",
                              on_click=submit, key=f"{PREFIX}:submit")
    if errors:
        st.error(f"Nothing was run: {len(errors)} field{'s' if len(errors) > 1 else ''} "
                 f"need{'' if len(errors) > 1 else 's'} fixing (marked in red above).")


def start_options() -> list[str]:
    return [BLANK] + list(PRESETS)


def start_label(name: str) -> str:
    return "blank form — fill it in yourself" if name == BLANK else f"{name} — {PRESETS[name].title}"
