"""Lessons 7 and 9 under AppTest: the VPN's phases with a navigator, PPP inside L2TP inside ESP, both
NAT-OA behaviours, and the three several-clients cases with SA lists, NAT table and the server's SPD.

Every assertion reads what the page drew from the engine's runs.
"""
from __future__ import annotations

from .test_app_pages import html_text, open_page


def _button(at, label_start: str):
    return next(b for b in at.button if b.label.startswith(label_start))


def test_lesson_7_phase_navigator_jumps_and_shows_ppp_inside_l2tp_inside_esp():
    at = open_page("lessons/07_l2tp_end_to_end.py", forwards="500,4500")
    assert not at.exception, at.exception
    labels = [b.label for b in at.button if "·" in b.label]
    assert [x.split(" · ")[0] for x in labels] == ["IKE", "L2TP tunnel", "L2TP session", "PPP LCP",
                                                   "authentication", "IPCP", "ping"]
    assert labels[0] == "IKE · 9" and not any(x.endswith("· —") for x in labels)
    assert any("address 10.99.0.10, ping answered" in c.value for c in at.caption)
    _button(at, "authentication").click().run()
    assert not at.exception, at.exception
    step = at.session_state["l7:step"]
    assert any(m.value.startswith("### This step in the VPN: **authentication**, packet 1 of 3") for m in at.markdown)
    layers = next(m.value for m in at.markdown if m.value.startswith("**Layers, outside in:**"))
    for name in ("`ESP`", "`inner UDP`", "`L2TP data`", "`PPP`", "`CHAP`"):
        assert name in layers
    assert layers.index("`ESP`") < layers.index("`L2TP data`") < layers.index("`PPP`") < layers.index("`CHAP`")
    assert at.subheader[0].value.startswith(f"Step {step} of ")
    _button(at, "ping").click().run()
    layers = next(m.value for m in at.markdown if m.value.startswith("**Layers, outside in:**"))
    assert "`inner IPv4`" in layers and "`ICMP`" in layers


def test_lesson_7_failing_run_greys_out_the_phases_it_never_reached():
    at = open_page("lessons/07_l2tp_end_to_end.py")
    assert not at.exception
    off = [b for b in at.button if b.label.endswith("· —")]
    assert {b.label.split(" · ")[0] for b in off} == {"L2TP tunnel", "L2TP session", "PPP LCP", "authentication",
                                                      "IPCP", "ping"}
    assert all(b.disabled for b in off)


def test_lesson_7_shows_both_nat_oa_behaviours_and_the_switch_marks_one():
    at = open_page("lessons/07_l2tp_end_to_end.py", server_nat_oa="no")
    assert not at.exception
    body = html_text(at)
    i = body.index("sends NAT-OA (strongSwan)")
    assert "OAr&#x27; 192.168.1.10" in body[i:] and "fixed up" in body[i:]
    j = body.index("▶ sends none (libreswan)")
    assert "check is skipped, as Linux and Windows do" in body[j:] and "✓ ping answered" in body[j:]


def test_lesson_9_shows_all_three_several_clients_cases():
    at = open_page("lessons/09_several_clients.py")
    assert not at.exception, at.exception
    body = html_text(at)
    i = body.index("Plain NAPT, Windows Server 2003 RRAS-like server")
    assert "multi-client-helper" in body and "multi-client-linux-server" in body
    assert "NAT_PORT_TAKEN" in body and "SPD_POLICY_MISMATCH" in body and i >= 0
    md = "\n".join(m.value for m in at.markdown)
    assert "### The server's security policy database (SPD)" in md


def test_lesson_9_linux_server_case_shows_the_spd_with_one_selector_for_two_clients():
    at = open_page("lessons/09_several_clients.py", case="linux-server")
    assert not at.exception, at.exception
    body = html_text(at)
    assert "replaced" in body and "selector taken by" in body and "192.168.1.10:1701/udp &lt;-&gt; 192.168.1.30:1701/udp" in body
    assert "same selector" in " ".join(e.value for e in at.error)
    # IKE is up for both, the VPN only for client2; the SA lists of both peers match by cookies and SPIs
    assert "✗ IKE up, VPN down" in body and "✓ IKE up, VPN up: address 10.99.0.10" in body
    assert body.count("✓ same cookies") == 2 and body.count("✓ SPIs match") == 2


def test_lesson_9_windows_case_every_client_connects_with_its_own_spd_entry():
    at = open_page("lessons/09_several_clients.py", case="napt")
    assert not at.exception, at.exception
    assert "It works" in " ".join(s.value for s in at.success)
    body = html_text(at)
    assert body.count("active") >= 2 and "replaced" not in body


def test_real_world_configs_are_offered_beside_the_scenario_and_built_when_clicked():
    import io
    import zipfile

    from natt_core.lab.presets import preset
    from natt_core.lab.settings import apply_settings
    from natt_ui.downloads import lazy_configs

    at = open_page("lessons/09_several_clients.py", case="linux-server")
    assert not at.exception
    labels = [el.proto.label for el in at.sidebar.get("download_button")]
    assert {"strongSwan (swanctl.conf)", "libreswan + xl2tpd", "Windows client (PowerShell)"} <= set(labels)
    scenario = apply_settings(preset("multi-client-helper"), ["nat.helper=none", "server.profile=linux-xl2tpd",
                                                              "client.ppp_auth=chap-md5"])
    built = {name: build() for name, build, *_ in lazy_configs(scenario)}
    assert set(built) == {f"multi-client-helper-{t}.zip" for t in ("strongswan", "libreswan", "windows")}
    files = {t: zipfile.ZipFile(io.BytesIO(b)) for t, b in built.items()}
    libreswan = files["multi-client-helper-libreswan.zip"]
    assert {"server/ipsec.conf", "server/xl2tpd.conf", "server/chap-secrets", "client/ipsec.conf"} <= set(
        libreswan.namelist())
    assert "type=transport" in libreswan.read("server/ipsec.conf").decode()
    windows = files["multi-client-helper-windows.zip"]
    assert windows.namelist() == ["client/add-vpn.ps1"]
    assert "Add-VpnConnection" in windows.read("client/add-vpn.ps1").decode()
    assert {"server/swanctl.conf", "client/swanctl.conf"} == set(files["multi-client-helper-strongswan.zip"].namelist())
