"""Cached, deterministic runs: a (preset, --set settings) pair always gives the same Trace.

The engine is run once per distinct pair per server process (st.cache_resource: the Trace is
immutable, so sharing one object between sessions is safe and avoids copying it on every step).
"""
from __future__ import annotations

import streamlit as st

from natt_core.lab.presets import preset
from natt_core.lab.scenario import Scenario, run
from natt_core.lab.settings import apply_settings
from natt_core.lab.trace import Trace


def scenario_for(preset_name: str, settings: tuple[str, ...] = ()) -> Scenario:
    """The preset with its --set settings applied; ConfigError names what is wrong."""
    return apply_settings(preset(preset_name), list(settings))


@st.cache_resource(max_entries=64, show_spinner="Running the scenario…")
def _run(preset_name: str, settings: tuple[str, ...]) -> Trace:
    return run(scenario_for(preset_name, settings))


def get_trace(preset_name: str, settings: tuple[str, ...] = ()) -> Trace:
    """The Trace of a preset with settings (validated first, so errors are never cached)."""
    scenario_for(preset_name, settings)
    return _run(preset_name, tuple(settings))
